// `carry compare`: two or more backtest configs over the same span, side by side.

import ArgumentParser
import CarryCore
import CarryEngine
import CarryJournal
import Foundation

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Backtest two or more configs over the same span and print them side by side.",
        discussion: """
        Runs every config over one decoded pass of the market journal (the sweep engine) and prints one table: net P&L split into funding, basis/price, fees and slippage; APR; Sharpe, Sortino and Calmar after the collateral cost; max drawdown and its dates; turnover; time in market; exposure against risk.maxTotalNotionalUsdt; exit reasons; per-symbol rows. Each column equals what `carry backtest --config` of that file reports, content hash included.

        Writes into --out (default <runsDirectory>/compare-<hash>): compare.txt (the table), compare.html (self-contained: the table, every equity curve, drawdown and exposure — as a share of each config's own risk.maxTotalNotionalUsdt — on one chart each), compare.json (exact figures) and equity-N.csv per config.

        Example (v1.0 vs v1.1 on the bundled data): carry compare config/backtest.yaml config/backtest-composite.yaml

        Exit status: 0 done, 1 failed, 2 bad config, symbols or dates.
        """)

    @OptionGroup var configOptions: ConfigOptions
    @OptionGroup var journalOptions: JournalOptions

    @Argument(help: ArgumentHelp("Backtest config files (two or more).", valueName: "CONFIG"))
    var configs: [String]

    @Option(help: ArgumentHelp("Start of the span for every config, UTC; overrides the configs.", valueName: "DATE"))
    var from: String?

    @Option(help: ArgumentHelp("End of the span for every config, UTC; overrides the configs.", valueName: "DATE"))
    var to: String?

    @Option(help: ArgumentHelp("Output directory (default: <runsDirectory>/compare-<hash>).", valueName: "DIR"))
    var out: String?

    @Option(help: ArgumentHelp("Configs run at once (default: the number of cores).", valueName: "N"))
    var jobs: Int?

    @Flag(name: .customLong("zero-basis"), help: ArgumentHelp(zeroBasisHelp))
    var zeroBasis = false

    func run() throws {
        try reportingErrors {
            guard configs.count >= 2 else { throw CLIError.badInput("give two or more config files to compare (got \(configs.count))") }
            if let jobs, jobs < 1 { throw CLIError.badInput("--jobs \(jobs): run at least one config at a time") }
            let span = try SpanOverride(from: from, to: to, zeroBasis: zeroBasis)
            var loaded: [BacktestConfig] = []
            var labels: [String] = []
            for path in configs {
                var c = try BacktestConfig.load(path: path)
                span.apply(&c)
                // Journaled by name, as `carry backtest` does: the content hashes agree.
                c.source = URL(fileURLWithPath: path).lastPathComponent
                c.canonicalText = c.canonical()
                loaded.append(c)
                var label = c.source
                var n = 2
                while labels.contains(label) {
                    label = "\(c.source) (\(n))"
                    n += 1
                }
                labels.append(label)
            }
            let source = try journalOptions.resolve(configOptions)
            guard Journal.exists(at: source) else {
                throw CLIError.badInput("no market journal at \(source). Run `carry import` (the bundled history) or `carry fetch` first, or pass --journal DIR.")
            }
            var h = SHA256Hasher()
            for c in loaded { h.update(Array((c.source + "\n" + c.canonicalText + "\u{0}").utf8)) }
            let directory = try out ?? "\(configOptions.paths().runsDirectory)/compare-\(h.finish().short.prefix(8))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let market = try MarketJournal(readOnlyPath: source)
            let runs = try Comparison.run(loaded, labels: labels, market: market, threads: jobs ?? ProcessInfo.processInfo.activeProcessorCount,
                                          equityPaths: loaded.indices.map { "\(directory)/equity-\($0 + 1).csv" })
            for r in runs where !r.result.warnings.isEmpty {
                for w in r.result.warnings { printNotice("warning: \(r.label): \(w)") }
            }
            let table = Comparison.table(runs)
            try table.write(toFile: directory + "/compare.txt", atomically: true, encoding: .utf8)
            try Comparison.html(runs, equityPaths: loaded.indices.map { "\(directory)/equity-\($0 + 1).csv" })
                .write(toFile: directory + "/compare.html", atomically: true, encoding: .utf8)
            try Comparison.writeJSON(runs, to: directory + "/compare.json")
            print(table, terminator: "")
            print("""

            Report   \(directory)/compare.html  (table, equity curves, drawdowns)
            Data     \(directory)/compare.json, equity-1.csv … equity-\(runs.count).csv
            """)
        }
    }
}
