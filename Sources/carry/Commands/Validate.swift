// `carry validate`: a sweep's configs walked forward (chosen on one window, tested on the
// next; only the tests reported) and split by funding regime, over one decode of the market.

import ArgumentParser
import CarryCore
import CarryEngine
import CarryJournal
import Foundation

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Validate a sweep against overfitting: walk-forward out-of-sample results and a split by funding regime.",
        discussion: """
        Takes the same sweep file as `carry sweep` (every config it describes is a candidate).

        --walk-forward train=90d,test=30d[,step=30d]: the span every config can trade is cut into folds. On each fold every config runs the train window alone; the best by the objective (as `carry sweep` ranks) then runs the test window alone, starting flat with its initial capital. Only the test windows are reported — per fold (which config was chosen, its in-sample deflated Sharpe, its test figures) and stitched (net P&L, APR, Sharpe after the collateral cost, max drawdown). No window reads market data after its own end. A fold's test equals `carry backtest --config DIR/configs/NNN.yaml --from TEST_FROM --to TEST_TO`.

        --regimes 2022,2023,2025-26: every config over each span on its own (a year, a run of years, FROM..TO or NAME=FROM..TO), ranked, with the deflated Sharpe of the best (N = every config) and the PBO by CSCV within the span.

        --zero-basis prices every perp from its spot bar (for spans with funding and spot bars but no perp bars, like the bundled 2022–23); the report says so on its first line and each config file records zeroBasis: true.

        Writes DIR/validation.txt (what is printed) and DIR/configs/NNN.yaml. Exit status: 0 done, 1 failed, 2 bad input (sweep file, windows, regimes, a window without data).
        """)

    @OptionGroup var configOptions: ConfigOptions
    @OptionGroup var journalOptions: JournalOptions

    @Argument(help: ArgumentHelp("The sweep file (as for carry sweep).", valueName: "SWEEP.yaml"))
    var sweepFile: String

    @Option(name: .customLong("walk-forward"), help: ArgumentHelp("Walk forward: train=DURATION,test=DURATION[,step=DURATION] (step defaults to test).", valueName: "SPEC"))
    var walkForward: String?

    @Option(help: ArgumentHelp("Comma-separated spans each reported on its own: 2022, 2025-26, 2024-03-01..2024-09-01, name=FROM..TO.", valueName: "LIST"))
    var regimes: String?

    @Flag(name: .customLong("zero-basis"), help: ArgumentHelp(zeroBasisHelp))
    var zeroBasis = false

    @Option(help: ArgumentHelp("Rank by net | sharpe | calmar | apr (default: the sweep file's objective, else net).", valueName: "NAME"))
    var objective: String?

    @Option(help: ArgumentHelp("Blocks S of the PBO's cross-validation (even).", valueName: "S"))
    var blocks = 16

    @Option(help: ArgumentHelp("Start of the span to walk forward over, UTC (default: the configs' own).", valueName: "DATE"))
    var from: String?

    @Option(help: ArgumentHelp("End of the span to walk forward over, UTC.", valueName: "DATE"))
    var to: String?

    @Option(help: ArgumentHelp("Output directory (default: <runsDirectory>/validate-<hash>).", valueName: "DIR"))
    var out: String?

    @Option(help: ArgumentHelp("Configs run at once (default: the number of cores).", valueName: "N"))
    var jobs: Int?

    @Option(name: .customLong("max-configs"), help: ArgumentHelp("Refuse a sweep of more configs than this unless --yes.", valueName: "N"))
    var maxConfigs = 500

    @Flag(help: "Run a sweep of more than --max-configs configs.")
    var yes = false

    @Option(help: ArgumentHelp("Rows of each regime's ranking to print.", valueName: "N"))
    var top = 5

    @Flag(help: "Print only the report (no progress, no notices).")
    var quiet = false

    func run() throws {
        try reportingErrors {
            guard walkForward != nil || regimes != nil else {
                throw CLIError.badInput("say what to validate: --walk-forward train=90d,test=30d and/or --regimes 2022,2023,2025-26")
            }
            if let jobs, jobs < 1 { throw CLIError.badInput("--jobs \(jobs): run at least one config at a time") }
            guard blocks >= 2 && blocks % 2 == 0 else { throw CLIError.badInput("--blocks \(blocks): must be an even number, at least 2 (16 is usual)") }
            let wf: WalkForwardSpec?
            let spans: [RegimeSpan]
            do {
                wf = try walkForward.map { try WalkForwardSpec(parsing: $0) }
                spans = try (regimes ?? "").split(separator: ",").map { try RegimeSpan(parsing: $0.trimmingCharacters(in: .whitespaces)) }
            } catch let e as BacktestError {
                throw CLIError.badInput(e.message)
            }
            if regimes != nil && spans.isEmpty { throw CLIError.badInput("--regimes: list at least one span, e.g. --regimes 2022,2023") }
            let spec = try SweepSpec.load(path: sweepFile)
            guard spec.count <= maxConfigs || yes else {
                throw CLIError.badInput("\(sweepFile) describes \(spec.count) configs, more than --max-configs \(maxConfigs): pass --yes to run them all, or narrow the grid")
            }
            let span = try SpanOverride(from: from, to: to, zeroBasis: zeroBasis)
            let points = try spec.points(adjust: span.apply)
            let objective = try parseObjective(objective) ?? spec.objective ?? .net
            let source = try journalOptions.resolve(configOptions)
            guard Journal.exists(at: source) else {
                throw CLIError.badInput("no market journal at \(source). Run `carry import` (the bundled history) or `carry fetch` first, or pass --journal DIR.")
            }
            let market = try MarketJournal(readOnlyPath: source)
            // The sweep's own hash (configs and the market journal's identity and extent) and the
            // validation's settings: another journal or other settings, another directory.
            var h = SHA256Hasher()
            h.update(Array(SweepManifest.hash(points: points, source: try SourceRange(market.journal)).description.utf8))
            h.update(Array("\(walkForward ?? "")|\(regimes ?? "")|\(objective.rawValue)|\(blocks)".utf8))
            let directory = try out ?? "\(configOptions.paths().runsDirectory)/validate-\(h.finish().short.prefix(8))"
            try FileManager.default.createDirectory(atPath: directory + "/configs", withIntermediateDirectories: true)
            for p in points {
                let path = "\(directory)/configs/\(p.config.source)"
                try SweepStore.configFile(p, sweepFile: sweepFile, of: points.count, path: path).write(toFile: path, atomically: true, encoding: .utf8)
            }
            let notice: (String) -> Void = { if !quiet { printNotice($0) } }
            if zeroBasis { notice("warning: \(ZeroBasis.banner)") }
            let threads = jobs ?? ProcessInfo.processInfo.activeProcessorCount
            let progress = ProgressLine("validate", logger: CLILogging.logger("carry.validate"))
            let started = monotonicSeconds()
            let report: ValidationReport
            do {
                report = try Validation.run(points: points, walkForward: wf, regimes: spans, market: market, objective: objective, threads: threads,
                                            blocks: blocks, sweptKeys: spec.sweptKeys, label: { String($0.config.source.dropLast(".yaml".count)) },
                                            monitor: { what, p in
                                                guard !quiet else { return }
                                                progress.update("\(what): \(p.finished)/\(p.total) runs", fraction: Double(p.configEvents) / Double(max(1, p.totalConfigEvents)))
                                            })
            } catch let e as BacktestError {
                throw e.isBadInput ? CLIError.badInput(e.message) : CLIError.failed(e.message)
            }
            progress.finish()
            notice(String(format: "decoded %d market events once; ran %d config-windows in %.1f s", report.decoded, report.configRuns, monotonicSeconds() - started))
            let title = "Carry validate — \(sweepFile): \(points.count) configs, objective \(objective.rawValue)"
            let text = report.text(title: title, top: top) + """

            Configs  \(directory)/configs/NNN.yaml  (re-run a fold's test: carry backtest --config … --from TEST_FROM --to TEST_TO)
            Report   \(directory)/validation.txt

            """
            try text.write(toFile: directory + "/validation.txt", atomically: true, encoding: .utf8)
            print(text, terminator: "")
        }
    }
}
