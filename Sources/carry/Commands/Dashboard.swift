// `carry dashboard`: the monitoring page over a journal.

import ArgumentParser
import CarryDashboard
import CarryJournal
import Foundation

struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "A read-only web page over a journal (paper or live session, or a backtest run), updating live as the journal grows.",
        discussion: """
        Shows each pair's funding (last settled, per 8 h, predicted, next settlement with a countdown), \
        the strategy's last score and its components, positions per leg, delta and drift against \
        the band, margin buffer, equity and the P&L split (funding, price/basis, fees, slippage) \
        over time, funding received per settlement, recent orders, risk breaches, alerts, the kill \
        switch and reconciliation. Charts are drawn by the page itself (no network access needed).

        Served on 127.0.0.1 by default. Binding any other address (--host) requires the \
        environment variable CARRY_DASHBOARD_TOKEN (16 characters or more): every request and \
        stream must then carry it (Authorization: Bearer, or ?token= in the page's URL). The page \
        is read-only: nothing on it can place or cancel an order.

        Exit status: 0 stopped; 1 the journal could not be read; 2 bad input (no journal, no token).
        """)

    @Option(name: .customLong("journal"), help: ArgumentHelp("The journal to show.", valueName: "DIR"))
    var journal: String

    @Option(help: "TCP port (0: pick a free one and print it).")
    var port = 8787

    @Option(help: "Address to bind (127.0.0.1 by default; any other needs CARRY_DASHBOARD_TOKEN).")
    var host = "127.0.0.1"

    @Option(name: .customLong("exit-with-parent"), help: .hidden)
    var parentPid: Int32?

    func run() async throws {
        if let parentPid {
            // Served for a `carry run` session: stop when that process is gone.
            Thread.detachNewThread {
                while getppid() == parentPid { Thread.sleep(forTimeInterval: 0.5) }
                Foundation.exit(0)
            }
        }
        try await reportingErrors {
            var options = DashboardOptions(journalPath: journal)
            options.port = port
            options.host = host
            options.token = ProcessInfo.processInfo.environment["CARRY_DASHBOARD_TOKEN"]
            do { try DashboardServer.validate(options) } catch let e as DashboardError { throw CLIError.badInput(e.message) }
            let logger = CLILogging.logger("carry.dashboard")
            let shownHost = options.host
            do {
                try await DashboardServer.run(options: options, logger: logger) { bound in
                    print("dashboard on http://\(shownHost):\(bound)/")
                    fflush(nil)
                }
            } catch let e as JournalError {
                throw e
            } catch let e as DashboardError {
                throw CLIError.badInput(e.message)
            }
        }
    }
}
