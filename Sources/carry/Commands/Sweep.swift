// `carry sweep`: many backtest configs over one decoded market journal, on every core;
// `carry sweep merge`: the slices of a sharded sweep joined.

import ArgumentParser
import CarryCore
import CarryEngine
import CarryJournal
import Foundation
import Synchronization

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a grid or list of backtest configs over one pass of the market journal; rank them.",
        discussion: """
        `carry sweep SWEEP.yaml` runs every config a sweep file describes (see config/sweep-example.yaml); `carry sweep merge DIR…` joins the slices of a sweep run with --shard.
        """,
        subcommands: [SweepRunCommand.self, SweepMergeCommand.self],
        defaultSubcommand: SweepRunCommand.self)
}

struct SweepRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a sweep file's configs (the default subcommand: `carry sweep SWEEP.yaml`).",
        discussion: """
        A sweep file names a base backtest config (`base:`, relative to the sweep file) and a `grid:` of dotted config keys to lists of values (every combination) and/or a `list:` of override maps (each crossed with the grid); `objective:` optionally sets the ranking. Every config goes through the backtest config's strict parser: an unknown key or an impossible value is refused with the sweep file's line.

        The market journal is scanned and decoded once; every config's reducer and simulated exchange run over the same decoded events, --jobs at a time. Each config's run journal is not stored: its records are framed and hashed exactly as `carry backtest` would journal them, so `carry backtest --config DIR/configs/NNN.yaml` reproduces a row's content_hash.

        Writes into --out (default <runsDirectory>/sweep-<hash>): sweep.json, configs/NNN.yaml, equity/NNN.csv, rows/NNN.json (one per finished config, written atomically), results.csv and results.json (ranked by the objective). Interrupted, it keeps every finished config; the same command again computes only the rest.

        Exit status: 0 done, 1 failed, 2 bad input (sweep file, key, grid, shard, more configs than --max-configs without --yes, --out holding another sweep).
        """)

    @OptionGroup var configOptions: ConfigOptions
    @OptionGroup var journalOptions: JournalOptions

    @Argument(help: ArgumentHelp("The sweep file.", valueName: "SWEEP.yaml"))
    var sweepFile: String

    @Option(help: ArgumentHelp("Output directory (default: <runsDirectory>/sweep-<sweep hash>[-shard-i-of-n]).", valueName: "DIR"))
    var out: String?

    @Option(help: ArgumentHelp("Configs run at once (default: the number of cores).", valueName: "N"))
    var jobs: Int?

    @Option(help: ArgumentHelp("Run only slice i of n (configs i, i+n, i+2n, …); join the slices with `carry sweep merge`.", valueName: "i/n"))
    var shard: String?

    @Option(help: ArgumentHelp("Rank by net | sharpe | calmar | apr (default: the sweep file's objective, else net).", valueName: "NAME"))
    var objective: String?

    @Option(name: .customLong("max-configs"), help: ArgumentHelp("Refuse a sweep of more configs than this unless --yes.", valueName: "N"))
    var maxConfigs = 500

    @Flag(help: "Run a sweep of more than --max-configs configs.")
    var yes = false

    @Option(help: ArgumentHelp("Start of the simulated span for every config, UTC; overrides the configs.", valueName: "DATE"))
    var from: String?

    @Option(help: ArgumentHelp("End of the simulated span for every config, UTC; overrides the configs.", valueName: "DATE"))
    var to: String?

    @Option(help: ArgumentHelp("Rows of the ranking to print.", valueName: "N"))
    var top = 10

    @Flag(name: .customLong("zero-basis"), help: ArgumentHelp(zeroBasisHelp))
    var zeroBasis = false

    @Flag(help: "Print only the ranking (no progress, no notices).")
    var quiet = false

    func run() throws {
        try reportingErrors {
            let spec = try SweepSpec.load(path: sweepFile)
            if let jobs, jobs < 1 { throw CLIError.badInput("--jobs \(jobs): run at least one config at a time") }
            let slice = try shard.map { try SweepShard(parsing: $0) } ?? .whole
            guard spec.count <= maxConfigs || yes else {
                throw CLIError.badInput("\(sweepFile) describes \(spec.count) configs, more than --max-configs \(maxConfigs): pass --yes to run them all, or narrow the grid")
            }
            let span = try SpanOverride(from: from, to: to, zeroBasis: zeroBasis)
            let points = try spec.points(adjust: span.apply)
            let source = try journalOptions.resolve(configOptions)
            guard Journal.exists(at: source) else {
                throw CLIError.badInput("no market journal at \(source). Run `carry import` (the bundled history) or `carry fetch` first, or pass --journal DIR.")
            }
            let market = try MarketJournal(readOnlyPath: source)
            let range = try SourceRange(market.journal)
            let hash = SweepManifest.hash(points: points, source: range)
            let objective = try parseObjective(objective) ?? spec.objective ?? .net
            let manifest = SweepManifest(sweepHash: hash.description, sweepFile: sweepFile, sourceJournal: range.id.description, sourceLastSeq: range.lastSeq,
                                         configs: points.count, shard: slice, numbers: slice.numbers(of: points.count), sweptKeys: spec.sweptKeys,
                                         objective: objective)
            let directory = try out ?? defaultOut(hash: hash, shard: slice)
            let store = try SweepStore(directory: directory, manifest: manifest)
            let mine = manifest.numbers.map { points[$0 - 1] }
            for p in mine { try store.writeConfig(p) }
            let finished = try store.finishedRows()
            let todo = mine.filter { finished[$0.number] == nil }
            var plans: [BacktestPlan] = []
            for p in todo {
                do {
                    plans.append(try BacktestDriver.plan(config: p.config, market: market))
                } catch let e as BacktestError {
                    throw CLIError.badInput("config \(p.number) (\(directory)/configs/\(p.config.source)): \(e.message)")
                }
            }
            let notice: (String) -> Void = { if !quiet { printNotice($0) } }
            notice("sweep \(hash.short): \(points.count) configs\(slice == .whole ? "" : ", slice \(slice) holds \(mine.count)"); \(finished.count) already done, \(todo.count) to run, \(min(jobs ?? ProcessInfo.processInfo.activeProcessorCount, max(1, todo.count))) at a time → \(directory)")
            let newRows = Mutex<[SweepRow]>([])
            if !todo.isEmpty {
                let t0 = monotonicSeconds()
                let tape = try MarketTape.decode(plans, market: market)
                notice(String(format: "decoded %d market events once (%d distinct span%@) in %.1f s", tape.decoded, tape.tapes.count, tape.tapes.count == 1 ? "" : "s",
                              monotonicSeconds() - t0))
                let jobsList = todo.enumerated().map { k, p in
                    SweepJob(number: p.number, plan: plans[k], tape: tape.tapeOfPlan[k], equityCSVPath: store.equityPartialPath(p))
                }
                let byNumber = Dictionary(uniqueKeysWithValues: todo.map { ($0.number, $0) })
                let progress = ProgressLine("sweep", logger: CLILogging.logger("carry.sweep"))
                let started = monotonicSeconds()
                try SweepEngine.run(jobsList, over: tape, threads: jobs ?? ProcessInfo.processInfo.activeProcessorCount, monitor: { p in
                    guard !quiet else { return }
                    let rate = Double(p.configEvents) / max(monotonicSeconds() - started, 1e-6)
                    progress.update("\(p.finished)/\(p.total) configs  \(formatRate(rate)) config-events/s",
                                    fraction: Double(p.configEvents) / Double(max(1, p.totalConfigEvents)))
                }, completed: { result in
                    let row = try store.record(result, point: byNumber[result.number]!)
                    newRows.withLock { $0.append(row) }
                })
                progress.finish()
                let seconds = monotonicSeconds() - started
                let configEvents = jobsList.reduce(0) { $0 + tape.tapes[$1.tape].events }
                notice(String(format: "ran %d configs in %.1f s: %@ config-events/s", todo.count, seconds, formatRate(Double(configEvents) / max(seconds, 1e-6))))
            }
            var rows = Array(finished.values)
            rows += newRows.withLock { $0 }
            let results = SweepResults(sweepHash: hash.description, objective: objective, configs: points.count, sweptKeys: spec.sweptKeys, rows: rows)
            try SweepStore.writeResults(results, to: directory)
            if results.zeroBasis { print(ZeroBasis.banner) }
            print("Sweep \(sweepFile) — \(points.count) configs\(slice == .whole ? "" : ", slice \(slice)"), ranked by \(objective.rawValue)\n")
            print(results.table(limit: top), terminator: "")
            print("\n" + results.validationText(), terminator: "")
            print("""

            Results  \(directory)/results.csv, results.json  (\(results.finished) configs)
            Re-run   carry backtest --config \(directory)/configs/NNN.yaml  reproduces a row's content hash
            """)
        }
    }

    /// `out/sweep-<hash>` (`-shard-i-of-n` for a slice): the same sweep lands in the same
    /// directory, so running it again resumes it.
    func defaultOut(hash: Digest, shard: SweepShard) throws -> String {
        let runs = try configOptions.paths().runsDirectory
        return "\(runs)/sweep-\(hash.short.prefix(8))" + (shard == .whole ? "" : "-shard-\(shard.index)-of-\(shard.count)")
    }
}

struct SweepMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the slices of a sweep (run with --shard) into one directory and rank them.",
        discussion: "Every slice must come from the same sweep over the same market journal (sweep.json's hash); a slice of another sweep, or the same slice twice, is refused (exit 2). Configs no slice has finished are listed; run their slice again (it resumes), then merge again.")

    @Argument(help: ArgumentHelp("The slices' output directories.", valueName: "DIR"))
    var directories: [String]

    @Option(help: ArgumentHelp("Where to write the merged sweep.", valueName: "DIR"))
    var out: String

    @Option(help: ArgumentHelp("Rank by net | sharpe | calmar | apr (default: the first slice's).", valueName: "NAME"))
    var objective: String?

    @Option(help: ArgumentHelp("Rows of the ranking to print.", valueName: "N"))
    var top = 10

    func run() throws {
        try reportingErrors {
            guard !directories.isEmpty else { throw CLIError.badInput("give the slice directories to merge") }
            let first = directories.first.flatMap { FileManager.default.fileExists(atPath: $0 + "/sweep.json") ? $0 : nil }
            let objective = try parseObjective(objective) ?? first.map { try manifestObjective($0) } ?? .net
            let outcome = try SweepStore.merge(directories, into: out, objective: objective)
            let r = outcome.results
            if r.zeroBasis { print(ZeroBasis.banner) }
            print("Merged \(directories.count) slices: \(r.finished) of \(r.configs) configs, ranked by \(r.objective.rawValue)\n")
            print(r.table(limit: top), terminator: "")
            print("\n" + r.validationText(), terminator: "")
            print("\nResults  \(out)/results.csv, results.json")
            if !outcome.missing.isEmpty {
                let list = outcome.missing.prefix(20).map(String.init).joined(separator: ", ") + (outcome.missing.count > 20 ? ", …" : "")
                printNotice("warning: \(outcome.missing.count) configs have no result in these slices (\(list)): run their slice again, then merge again")
            }
        }
    }

    func manifestObjective(_ directory: String) throws -> SweepObjective {
        guard let data = FileManager.default.contents(atPath: directory + "/sweep.json"),
              let m = try? JSONDecoder().decode(SweepManifest.self, from: data) else { return .net }
        return m.objective
    }
}

/// `--zero-basis`'s help.
let zeroBasisHelp = "Price every perp from its spot bar (zero basis; no perp bars read) in every config — for spans with funding and spot bars but no perp bars (the bundled 2022–23). Sets zeroBasis: true in each config (so a re-run reproduces it); every report says so on its first line."

/// `--objective NAME`, refused unless it names an objective.
func parseObjective(_ text: String?) throws -> SweepObjective? {
    guard let text else { return nil }
    guard let o = SweepObjective(rawValue: text) else {
        throw CLIError.badInput("--objective \(text): must be one of \(SweepObjective.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return o
}

/// `--from`/`--to` given on the command line, applied to every config after parsing.
struct SpanOverride {
    var from: Timestamp?
    var to: Timestamp?
    /// `--zero-basis`: every config prices its perps from the spot bars.
    var zeroBasis = false

    init(from: String?, to: String?, zeroBasis: Bool = false) throws {
        self.zeroBasis = zeroBasis
        if let from {
            guard let t = Timestamp(iso8601: from) else { throw CLIError.badInput("--from \(from): expected a UTC date like 2025-09-13 or 2025-09-13T08:00:00Z") }
            self.from = t
        }
        if let to {
            guard let t = Timestamp(iso8601: to) else { throw CLIError.badInput("--to \(to): expected a UTC date like 2026-03-19 or 2026-03-19T00:00:00Z") }
            self.to = t
        }
        if let f = self.from, let t = self.to, f >= t { throw CLIError.badInput("--to (\(t.iso8601)) must be after --from (\(f.iso8601))") }
    }

    func apply(_ config: inout BacktestConfig) {
        if let from { config.from = from }
        if let to { config.to = to }
        if zeroBasis { config.zeroBasis = true }
    }
}
