// `carry simulate`: the deterministic fault simulation (see CarryEngine/Simulation).

import ArgumentParser
import CarryCore
import CarryEngine
import Dispatch
import Foundation

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run the engine against a faulty simulated venue over many seeds and check its invariants after every step.",
        discussion: """
        Each seed builds a random market (minute bars, hourly funding, 1–3 pairs), runs the
        reducer against the simulated exchange with seeded venue faults — orders rejected
        (often the second leg), partial fills, acknowledgements lost, fills reported twice,
        fills arriving after the cancel that raced them, trades elsewhere on the account found
        by reconciliation — and kills and restarts the engine at random instants, rebuilding
        it from its journal. After every step it checks: no order sent twice for one intent,
        no pair naked beyond its leg-risk budget, positions equal to the sum of fills, equity
        equal to the venue's books and to the accounting identity, the rebuilt state equal to
        the running state, and after each restart the same decisions as an uninterrupted run.

        Every failure prints its seed; `carry simulate --seed S` replays exactly that seed.
        The last line is always `N seeds, M invariant violations`. Exit status 0 when there
        are none, 1 otherwise.

        Examples:
          carry simulate                     # 200 seeds (about a minute on 2 cores)
          carry simulate --seeds 100000      # the soak
          carry simulate --seed 4711 -v      # one seed, with its faults and crashes
        """)

    @Option(help: "How many seeds to run.")
    var seeds: Int = 200

    @Option(help: "The first seed (seeds run from here on).")
    var firstSeed: UInt64 = 1

    @Option(help: "Run only this seed (replay a failure).")
    var seed: UInt64?

    @Option(help: "Hours of simulated market per seed.")
    var hours: Int = 6

    @Option(help: "Worker threads (default: the machine's cores).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Run without faults or crashes (the engine against a well-behaved venue).")
    var noFaults = false

    @Flag(name: .shortAndLong, help: "Print each seed's faults, crashes and records.")
    var verbose = false

    @Flag(help: "With --seed: print the seed's whole journal (every input and decision).")
    var dump = false

    func validate() throws {
        guard seeds > 0 else { throw ValidationError("--seeds must be at least 1 (got \(seeds))") }
        guard (1...240).contains(hours) else { throw ValidationError("--hours must be 1…240 (got \(hours))") }
        guard jobs > 0 else { throw ValidationError("--jobs must be at least 1 (got \(jobs))") }
    }

    func run() throws {
        var options = FaultSimulationOptions()
        options.hours = hours
        if noFaults {
            options.rates = .none
            options.maxCrashes = 0
        }
        options.keepJournal = dump
        let opts = options
        let list: [UInt64] = seed.map { [$0] } ?? (0..<UInt64(seeds)).map { firstSeed &+ $0 }
        let started = Date()
        let results = Results(count: list.count)
        let workers = min(jobs, list.count)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var i = w
            while i < list.count {
                results.store(i, FaultSimulation.run(seed: list[i], options: opts))
                let done = results.finished()
                if list.count >= 1000 && done % 1000 == 0 {
                    let rate = Double(done) / max(Date().timeIntervalSince(started), 1e-6)
                    FileHandle.standardError.write(Data("simulate: \(done)/\(list.count) seeds, \(Int(rate))/s, ETA \(Int(Double(list.count - done) / max(rate, 1e-6))) s\n".utf8))
                }
                i += workers
            }
        }
        var violations = 0, crashes = 0, records = 0, pairs = 0
        var faults = FaultCounts()
        for r in results.all() {
            violations += r.violations.count
            crashes += r.crashes
            records += r.records
            pairs += r.pairsOpened
            faults += r.faults
            if verbose || !r.violations.isEmpty {
                print("seed \(r.seed): \(r.pairsOpened) pairs opened, \(r.records) records, \(r.crashes) crashes, leg policy \(r.policy == .unwind ? "unwind" : "complete"), faults: \(describe(r.faults))")
            }
            for e in r.journal {
                let fields = e.event.fields.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
                print("  \(e.seq) \(e.eventTime.iso8601) \(e.event.kind) c=\(e.causation) \(fields)")
            }
            for v in r.violations.prefix(5) { print("  violation: \(v)") }
            if !r.violations.isEmpty { print("  replay: carry simulate --seed \(r.seed) --hours \(hours)\(noFaults ? " --no-faults" : "")") }
        }
        let seconds = Date().timeIntervalSince(started)
        print("survived \(faults.total) injected faults (\(describe(faults))) and \(crashes) kills with restarts; \(pairs) pairs opened; \(records) records journaled; \(String(format: "%.1f", seconds)) s")
        print("\(list.count) seeds, \(violations) invariant violations")
        if violations > 0 { throw ExitCode(1) }
    }

    private func describe(_ f: FaultCounts) -> String {
        "\(f.rejected) rejected, \(f.lostAcks) acks lost, \(f.partials) partial, \(f.duplicateFills) duplicate fills, \(f.fillsAfterCancel) fills after cancel, \(f.drifts) drifts"
    }
}

/// Per-seed results written from worker threads.
private final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var reports: [SeedReport?]
    private var done = 0

    init(count: Int) { reports = Array(repeating: nil, count: count) }

    func store(_ i: Int, _ r: SeedReport) {
        lock.lock()
        reports[i] = r
        done += 1
        lock.unlock()
    }

    func finished() -> Int {
        lock.lock()
        defer { lock.unlock() }
        return done
    }

    func all() -> [SeedReport] {
        lock.lock()
        defer { lock.unlock() }
        return reports.compactMap { $0 }
    }
}
