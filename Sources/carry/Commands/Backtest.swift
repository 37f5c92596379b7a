// `carry backtest`: the reducer pipeline over a market journal under a simulated clock.

import ArgumentParser
import CarryCore
import CarryEngine
import CarryJournal
import Foundation

struct BacktestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest",
        abstract: "Backtest the funding carry over a market journal and write a run journal and report.",
        discussion: """
        Replays the market journal (default: paths.marketJournal in config/carry.yaml; fill it with `carry import`) in time order under a simulated clock, runs the same reducer live trading uses, and executes its orders on the deterministic simulated exchange: fees, slippage, latency, funding at each real settlement, liquidation of the perp leg.

        Writes into --out: journal/ (the run journal: config, source journal id and seq range, every decision, simulated fill and funding payment — inspect it with carry-journal), equity.csv, report.html (self-contained), summary.txt. Prints the summary and the run journal's content hash (two runs of one config are byte-identical).

        Data gaps are warned about and treated as no data, never as prices. Exit status: 0 done, 1 failed, 2 bad config, symbols or dates.
        """)

    @OptionGroup var configOptions: ConfigOptions
    @OptionGroup var journalOptions: JournalOptions

    @Option(name: .customLong("config"), help: ArgumentHelp("The backtest config (default: <config-dir>/backtest.yaml).", valueName: "FILE"))
    var configFile: String?

    @Option(help: ArgumentHelp("Output directory (default: <runsDirectory>/backtest-<from>-<to>-<hash>).", valueName: "DIR"))
    var out: String?

    @Option(help: ArgumentHelp("Start of the simulated span, UTC (2025-09-13 or 2025-09-13T08:00:00Z); overrides the config.", valueName: "DATE"))
    var from: String?

    @Option(help: ArgumentHelp("End of the simulated span, UTC; overrides the config.", valueName: "DATE"))
    var to: String?

    @Option(help: ArgumentHelp("Comma-separated symbols to trade; overrides the config.", valueName: "LIST"))
    var symbols: String?

    @Flag(name: .customLong("zero-basis"), help: "Price every perp from its spot bar (zero basis; reads no perp bars): for spans with funding and spot bars but no perp bars. Sets zeroBasis: true in the journaled config; every report says so on its first line.")
    var zeroBasis = false

    @Flag(help: "Print only the summary (no progress, no notices).")
    var quiet = false

    func run() throws {
        try reportingErrors {
            let path = configFile ?? configOptions.directory + "/backtest.yaml"
            var config = try BacktestConfig.load(path: path)
            if let from {
                guard let t = Timestamp(iso8601: from) else { throw CLIError.badInput("--from \(from): expected a UTC date like 2025-09-13 or 2025-09-13T08:00:00Z") }
                config.from = t
            }
            if let to {
                guard let t = Timestamp(iso8601: to) else { throw CLIError.badInput("--to \(to): expected a UTC date like 2026-03-19 or 2026-03-19T00:00:00Z") }
                config.to = t
            }
            if let f = config.from, let t = config.to, f >= t { throw CLIError.badInput("--to (\(t.iso8601)) must be after --from (\(f.iso8601))") }
            if let symbols {
                config.symbols = symbols.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).uppercased() }.filter { !$0.isEmpty }
                if config.symbols.isEmpty { throw CLIError.badInput("--symbols: list at least one symbol") }
            }
            if zeroBasis { config.zeroBasis = true }
            config.canonicalText = config.canonical()
            // The run journal records the config file by name, not by where it lies, so the
            // same file run from anywhere (a sweep's configs/007.yaml) writes the same bytes.
            config.source = URL(fileURLWithPath: path).lastPathComponent
            let source = try journalOptions.resolve(configOptions)
            guard Journal.exists(at: source) else {
                throw CLIError.badInput("no market journal at \(source). Run `carry import` (the bundled history) or `carry fetch` first, or pass --journal DIR.")
            }
            let outDirectory = try out ?? defaultOut(config)
            let progress = ProgressLine("backtest", logger: CLILogging.logger("carry.backtest"))
            defer { progress.finish() }
            let result: BacktestResult
            do {
                result = try BacktestDriver.run(config: config, sourcePath: source, outDirectory: outDirectory,
                                                progress: quiet ? nil : { progress.update("replay", fraction: $0) })
            } catch let e as BacktestError {
                throw e.isBadInput ? CLIError.badInput(e.message) : CLIError.failed(e.message)
            }
            progress.finish()
            if !quiet {
                for w in result.warnings { printNotice("warning: \(w)") }
            }
            // Audit the run: rebuild the book from the run journal alone (plus the source's
            // bar closes) and demand the same final state.
            let rebuilt = try RunProjector.rebuild(runPath: result.runJournalPath, sourcePath: source)
            guard rebuilt.stateHash == result.stateHash else {
                throw CLIError.failed("the book rebuilt from \(result.runJournalPath) (state hash \(rebuilt.stateHash)) differs from the run's (\(result.stateHash)). This is a bug in Carry: keep \(outDirectory) and report it.")
            }
            let title = "Carry backtest — \(config.venue) \(config.symbols.joined(separator: ", ")), \(config.composite == nil ? "v1.0 threshold strategy (strategy_mode: simple)" : "v1.1 composite strategy (strategy_mode: composite)"), \(MarketStream.intervalName(config.barIntervalSeconds)) bars"
            let elapsed = progress.elapsedSeconds
            let book = rebuilt.projection
            let pnl = book.pnl
            let bookText = """

            Book at the end (rebuilt from the run journal)
              pairs             \(book.pairs.count) opened, \(book.activePairCount) still open; posted perp margin \(money(book.postedMargin)) USDT
              realized          \(money(pnl.realized.net, signed: true)) USDT (funding \(money(pnl.realized.funding, signed: true)), price \(money(pnl.realized.pricePnL, signed: true)), fees \(money(-pnl.realized.fees, signed: true)), slippage \(money(-pnl.realized.slippage, signed: true)))
              unrealized        \(money(pnl.unrealized.net, signed: true)) USDT (funding \(money(pnl.unrealized.funding, signed: true)), price \(money(pnl.unrealized.pricePnL, signed: true)), fees \(money(-pnl.unrealized.fees, signed: true)), slippage \(money(-pnl.unrealized.slippage, signed: true)))

            """
            let text = result.summary.text(title: title) + bookText
            let footer = """

            Run journal   \(result.runJournalPath)  (\(result.events.run) events; content hash \(result.contentHash))
            State hash    \(result.stateHash)  (rebuilt from the run journal: identical)
            Report        \(outDirectory)/report.html
            Equity curve  \(outDirectory)/equity.csv
            Replayed \(result.events.source) market events in \(String(format: "%.1f", elapsed)) s.

            """
            try (text + footer).write(toFile: outDirectory + "/summary.txt", atomically: true, encoding: .utf8)
            let series = ReportSeries.load(summary: result.summary, exposureCap: config.risk.maxTotalNotionalUsdt, equityCSV: outDirectory + "/equity.csv")
            try HTMLReport.render(title: title, result: result, configText: config.canonicalText, series: series,
                                  maxOpenPairs: config.composite == nil ? config.strategy.maxOpenPairs : nil)
                .write(toFile: outDirectory + "/report.html", atomically: true, encoding: .utf8)
            print(text + footer, terminator: "")
        }
    }

    /// `out/backtest-20250913-20260319-<config hash>`: distinct configs never collide.
    func defaultOut(_ config: BacktestConfig) throws -> String {
        let runs = try configOptions.paths().runsDirectory
        var h = SHA256Hasher()
        h.update(Array(config.canonicalText.utf8))
        let tag = h.finish().short.prefix(8)
        let f = config.from.map { $0.isoDate.replacingOccurrences(of: "-", with: "") } ?? "auto"
        let t = config.to.map { $0.isoDate.replacingOccurrences(of: "-", with: "") } ?? "auto"
        var dir = "\(runs)/backtest-\(f)-\(t)-\(tag)"
        var n = 2
        while FileManager.default.fileExists(atPath: dir) {
            dir = "\(runs)/backtest-\(f)-\(t)-\(tag)-\(n)"
            n += 1
        }
        return dir
    }
}
