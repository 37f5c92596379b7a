// Runs many configs over one decoded market: each config is a `RunSession` (its own reducer,
// simulated exchange, equity sampler and statistics) fed its plan's shared tape, with a sink
// that frames and hashes its records exactly as the run journal would store them. Configs
// are independent, so they are spread over threads with a shared counter handing out the
// next one; a config's result depends on nothing but its config and the tape, whatever the
// number of threads or the order they finish in.

import CarryCore
public import CarryJournal
import Foundation
import Synchronization

/// One config to run.
public struct SweepJob: Sendable {
    public var number: Int
    public var plan: BacktestPlan
    /// Its tape in the `MarketTape`.
    public var tape: Int
    /// Where to write its equity CSV (nil: none).
    public var equityCSVPath: String?

    public init(number: Int, plan: BacktestPlan, tape: Int, equityCSVPath: String?) {
        self.number = number
        self.plan = plan
        self.tape = tape
        self.equityCSVPath = equityCSVPath
    }
}

/// What one swept config produced.
public struct SweepRunResult: Sendable {
    public var number: Int
    /// The content hash the run journal of the same config run by `carry backtest` has.
    public var contentHash: Digest
    public var stateHash: Digest
    public var summary: BacktestSummary
    /// Records the run journal would hold.
    public var runEvents: Int
    /// Market records read.
    public var inputEvents: Int
    /// The plan's warnings then the tape's gap warnings (a backtest's, in its order).
    public var warnings: [String]
}

/// How far a sweep has got.
public struct SweepProgress: Sendable {
    /// Configs finished (in this run).
    public var finished: Int
    public var total: Int
    /// Market events run through a config so far, summed over configs.
    public var configEvents: Int
    /// Market events every config of this run reads, summed.
    public var totalConfigEvents: Int
}

/// Runs configs over a `MarketTape`.
public enum SweepEngine {
    /// Runs one config over its tape.
    public static func run(_ job: SweepJob, over tape: PlanTape, source: SourceRange, eventsDone: ((Int) -> Void)? = nil) throws -> SweepRunResult {
        var session = try RunSession(plan: job.plan, sink: HashingRunSink(), equityCSVPath: job.equityCSVPath)
        session.begin(source: source)
        var pending = 0
        for k in tape.instants.indices {
            pending += tape.count(ofInstant: k)
            try tape.replay(instant: k, to: &session)
            if pending >= 8192, let eventsDone {
                eventsDone(pending)
                pending = 0
            }
        }
        eventsDone?(pending)
        let outcome = try session.end(inputEvents: tape.events)
        return SweepRunResult(number: job.number, contentHash: outcome.contentHash, stateHash: outcome.stateHash, summary: outcome.summary,
                              runEvents: outcome.runEvents, inputEvents: tape.events, warnings: job.plan.warnings + tape.warnings)
    }

    /// Runs `jobs` on `threads` threads. `completed` gets each result as it finishes (on the
    /// thread that ran it; calls may overlap); the calling thread calls `monitor` about every
    /// `monitorSeconds` until all are done. The first error stops the handing out of new
    /// configs and is rethrown once running ones end.
    public static func run(_ jobs: [SweepJob], over market: MarketTape, threads: Int, monitorSeconds: Double = 0.2,
                           monitor: (SweepProgress) -> Void = { _ in },
                           completed: @escaping @Sendable (SweepRunResult) throws -> Void) throws {
        let shared = Shared()
        let total = jobs.reduce(0) { $0 + market.tapes[$1.tape].events }
        let workers = max(1, min(threads, jobs.count))
        let done = DispatchSemaphore(value: 0)
        for _ in 0..<workers {
            let thread = Thread {
                while shared.failure.withLock({ $0 == nil }) {
                    let k = shared.next.add(1, ordering: .relaxed).oldValue
                    guard k < jobs.count else { break }
                    let job = jobs[k]
                    do {
                        let result = try run(job, over: market.tapes[job.tape], source: market.source) { n in
                            shared.events.add(n, ordering: .relaxed)
                        }
                        try completed(result)
                        shared.finished.add(1, ordering: .relaxed)
                    } catch {
                        shared.failure.withLock { if $0 == nil { $0 = error } }
                    }
                }
                done.signal()
            }
            // Deep enough for the reducer's value types on any platform default.
            thread.stackSize = 16 << 20
            thread.start()
        }
        var running = workers
        while running > 0 {
            if done.wait(timeout: .now() + monitorSeconds) == .success {
                running -= 1
            }
            monitor(SweepProgress(finished: shared.finished.load(ordering: .relaxed), total: jobs.count,
                                  configEvents: shared.events.load(ordering: .relaxed), totalConfigEvents: total))
        }
        if let error = shared.failure.withLock({ $0 }) { throw error }
    }

    /// State the worker threads share.
    private final class Shared: Sendable {
        let next = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        let events = Atomic<Int>(0)
        let failure = Mutex<(any Error)?>(nil)
    }
}
