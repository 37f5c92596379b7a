// carry-bench sweep: a sweep of ≥ 100 configs over the 1.6 M-event journal `carry-bench
// pipeline` builds, in config-events/s (market events × configs ÷ wall seconds), beside a
// sample of the same configs run as separate backtests in the same invocation, extrapolated
// to every config: `BacktestDriver.run` (scan, decode, run journal written), then with what
// `carry backtest` adds (the audit rebuild of the book from the run journal, the report) —
// everything a `carry backtest` process does but start and load its catalogue. Both figures also as CPU seconds, since these
// machines are shared: a busy neighbour slows wall time, not the CPU time a run needs.
// The sample's content hashes must equal the sweep's rows (printed), so the comparison is
// of like with like.

import ArgumentParser
import CarryCore
import CarryEngine
import CarryJournal
import CarryTesting
import Foundation
import Synchronization

struct SweepBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Sweep config-events/s over the large pipeline journal vs the same configs run as separate backtests (a sample, extrapolated).")

    @Option(help: "Synthetic symbols of the large journal (each a spot+perp pair built from a real series).")
    var symbols = 20

    @Option(help: "Configs run as separate backtests (first, middle, last … of the grid), extrapolated to all.")
    var sample = 3

    @Option(help: "Threads of the sweep (default: the number of cores).")
    var jobs: Int?

    @Option(help: "Configs of each grid to run (the first N; at least 100 for the issue's figure).")
    var configs = 100

    @Flag(name: .customLong("no-equity"), help: "Write no equity curves (to measure what they cost; `carry sweep` always writes them).")
    var noEquity = false

    @Flag(help: "Also run the v1.1 composite strategy's grid (100 more configs).")
    var composite = false

    @Option(help: "A market journal holding the bundled history (default: import data/ into a scratch journal).")
    var market: String?

    func run() throws {
        let threads = jobs ?? ProcessInfo.processInfo.activeProcessorCount
        print("carry-bench sweep — \(ProcessInfo.processInfo.processorCount) cores, \(threads) sweep threads")
        let scratch = ScratchDirectory("bench-sweep")
        let source = market ?? BundledMarket.path
        let built = try PipelineBench.buildLargeJournal(symbols: symbols, from: source, into: scratch.sub("large"))
        print("large journal: \(built.events) events (\(symbols) symbols × \(built.span)), \(String(format: "%.0f", built.seconds)) s to build")
        let symbolList = built.symbols.joined(separator: ", ")
        // v1.0: 5 entry × 4 exit thresholds × 5 holding limits = 100 configs.
        try measure(name: "v1.0 threshold", scratch: scratch, threads: threads, base: """
            symbols: [\(symbolList)]
            strategy: {entryThreshold: 0.0001, exitThreshold: 0, maxOpenPairs: 3}
            """, grid: """
            grid:
              strategy.entryThreshold: [0.00005, 0.0001, 0.00015, 0.0002, 0.0003]
              strategy.exitThreshold: [-0.00005, 0, 0.00002, 0.00004]
              strategy.maxHolding: [7d, 14d, 30d, 60d, 90d]
            """)
        if composite {
            // v1.1: 5 entry scores × 4 fee gates × 5 target multiples = 100 configs.
            try measure(name: "v1.1 composite", scratch: scratch, threads: threads, base: """
                strategy_mode: composite
                symbols: [\(symbolList)]
                warmup: 8d
                strategy: {maxOpenPairs: 3}
                """, grid: """
                grid:
                  composite.entryScore: [0.1, 0.2, 0.3, 0.4, 0.5]
                  composite.feeGateMultiple: [0, 0.5, 1, 2]
                  composite.targetProfitMultiple: [0, 1, 2, 3, 5]
                """)
        }
        print("target: ≥ 20M config-events/s on 2 cores and ≥ 10× the separate backtests")
    }

    func measure(name: String, scratch: ScratchDirectory, threads: Int, base: String, grid: String) throws {
        let dir = scratch.sub("sweep-\(name.filter(\.isLetter))")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try base.write(toFile: dir + "/base.yaml", atomically: true, encoding: .utf8)
        try ("base: base.yaml\n" + grid).write(toFile: dir + "/sweep.yaml", atomically: true, encoding: .utf8)
        let spec = try SweepSpec.load(path: dir + "/sweep.yaml")
        let points = try spec.points(Array(1...min(configs, spec.count)))
        try FileManager.default.createDirectory(atPath: dir + "/equity", withIntermediateDirectories: true)

        // The sweep, as `carry sweep` runs it: plans, one decode, every config on `threads`
        // threads, each writing its equity curve and hashing its records.
        let cpu0 = cpuSeconds()
        let t0 = now()
        let market = try MarketJournal(readOnlyPath: scratch.sub("large"))
        var plans: [BacktestPlan] = []
        for p in points { plans.append(try BacktestDriver.plan(config: p.config, market: market)) }
        let tape = try MarketTape.decode(plans, market: market)
        let decodeSeconds = now() - t0
        let jobs = points.indices.map { SweepJob(number: points[$0].number, plan: plans[$0], tape: tape.tapeOfPlan[$0], equityCSVPath: noEquity ? nil : "\(dir)/equity/\($0 + 1).csv") }
        let hashes = Mutex<[Int: Digest]>([:])
        try SweepEngine.run(jobs, over: tape, threads: threads, completed: { r in hashes.withLock { $0[r.number] = r.contentHash } })
        let sweepSeconds = now() - t0
        let sweepCPU = cpuSeconds() - cpu0
        let configEvents = Double(tape.tapes[0].events) * Double(points.count)
        let rss = procStatusMiB("VmHWM")

        // The same configs as separate backtests: a sample spread over the grid.
        let picks = sample <= 1 ? [0] : (0..<sample).map { $0 * (points.count - 1) / (sample - 1) }
        // The driver alone, then what `carry backtest` adds after it: the audit rebuild of the
        // book from the run journal and the reports.
        var separateSeconds = 0.0, separateCPU = 0.0, auditSeconds = 0.0, auditCPU = 0.0
        var matching = 0
        for (k, i) in picks.enumerated() {
            let c0 = cpuSeconds()
            let s0 = now()
            let out = dir + "/separate-\(k)"
            let r = try BacktestDriver.run(config: points[i].config, sourcePath: scratch.sub("large"), outDirectory: out)
            separateSeconds += now() - s0
            separateCPU += cpuSeconds() - c0
            let c1 = cpuSeconds()
            let s1 = now()
            let rebuilt = try RunProjector.rebuild(runPath: r.runJournalPath, sourcePath: scratch.sub("large"))
            try HTMLReport.render(title: "bench", result: r, configText: points[i].config.canonicalText).write(toFile: out + "/report.html", atomically: true, encoding: .utf8)
            auditSeconds += now() - s1
            auditCPU += cpuSeconds() - c1
            if hashes.withLock({ $0[points[i].number] }) == r.contentHash && rebuilt.stateHash == r.stateHash { matching += 1 }
            try? FileManager.default.removeItem(atPath: out)
        }
        let scale = Double(points.count) / Double(picks.count)
        let extrapolated = separateSeconds * scale, extrapolatedCPU = separateCPU * scale
        let withAudit = (separateSeconds + auditSeconds) * scale, withAuditCPU = (separateCPU + auditCPU) * scale

        print("")
        print("\(name): \(points.count) configs × \(tape.tapes[0].events) market events = \(String(format: "%.0f", configEvents / 1e6))M config-events")
        print(pad("measurement", 46) + pad("wall s", 10) + pad("config-ev/s", 16) + pad("CPU s", 10) + "config-ev per CPU s")
        print(pad("sweep (\(threads) threads; decode once: \(String(format: "%.1f", decodeSeconds)) s)", 46) + pad(String(format: "%.1f", sweepSeconds), 10)
              + pad(rate(configEvents / sweepSeconds), 16) + pad(String(format: "%.1f", sweepCPU), 10) + rate(configEvents / sweepCPU))
        print(pad("separate backtests (\(picks.count) run, ×\(points.count / max(1, picks.count)) extrapolated)", 46)
              + pad(String(format: "%.1f", extrapolated), 10) + pad(rate(configEvents / extrapolated), 16) + pad(String(format: "%.1f", extrapolatedCPU), 10)
              + rate(configEvents / extrapolatedCPU))
        print(pad("  + audit rebuild and report (carry backtest)", 46) + pad(String(format: "%.1f", withAudit), 10) + pad(rate(configEvents / withAudit), 16)
              + pad(String(format: "%.1f", withAuditCPU), 10) + rate(configEvents / withAuditCPU))
        print(String(format: "sweep vs separate driver runs: %.1fx faster by wall time, %.1fx by CPU time", extrapolated / sweepSeconds, extrapolatedCPU / sweepCPU))
        print(String(format: "sweep vs separate carry backtest work (with its audit): %.1fx by wall time, %.1fx by CPU time", withAudit / sweepSeconds,
                     withAuditCPU / sweepCPU))
        print("sampled separate runs whose content hash equals their sweep row (and whose audit agrees): \(matching)/\(picks.count)")
        print(String(format: "peak RSS so far (the decoded tape, %d instants, included): %.0f MiB", tape.tapes[0].instants.count, rss))
        try? FileManager.default.removeItem(atPath: dir + "/equity")
    }

    /// User + system CPU seconds of this process so far.
    func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
