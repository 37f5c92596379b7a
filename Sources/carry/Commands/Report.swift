// `carry report JOURNAL`: a paper or live session's technical success metrics, from its journal
// alone (`SessionReport`): venue API availability, order fill rate, delta drift, funding
// settlements expected vs received, net funding after fees and the P&L split.

import ArgumentParser
import CarryCore
import CarryEngine
import CarryJournal
import Foundation

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "A session's technical success metrics from its journal: venue availability, fill rate, delta drift, funding settlements, P&L split.",
        discussion: """
        Reads a `carry run` session journal (paper or live; a running session's committed part \
        is fine) and prints, each with its target: venue API availability (share of requests that \
        worked, from the session.stats records; stream time where the session had streams), \
        order fill rate (filled ÷ submitted), delta drift (max and mean of |spot + perp| ÷ target \
        over open pairs at each scan, from fills), funding settlements expected vs received, net \
        funding after fees and the P&L split (price, funding, fees, slippage). --json prints one \
        JSON object (decimals as exact strings).

        Exit status: 0 printed; 2 not a session journal.
        """)

    @Argument(help: ArgumentHelp("The session journal directory.", valueName: "JOURNAL"))
    var journal: String

    @Flag(help: "One JSON object instead of the table.")
    var json = false

    func run() throws {
        try reportingErrors {
            guard Journal.exists(at: journal) else { throw CLIError.badInput("no journal at \(journal)") }
            let report: SessionReport
            do { report = try SessionReport.build(journal: try Journal.open(journal)) } catch let e as SessionError { throw CLIError.badInput("\(journal): \(e.message)") }
            print(json ? report.json(journalPath: journal) : report.text(journalPath: journal), terminator: "")
        }
    }
}
