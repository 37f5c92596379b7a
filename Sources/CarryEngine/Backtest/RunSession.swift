// One config's run, between the market events (handed over instant by instant) and its outputs: the `ReplayPipeline`
// (reducer and simulated exchange), the run's header and end records, gap alerts, equity
// sampling, the summary's figures, and a sink for its records. A backtest's sink is the run
// journal; a sweep's sink encodes the same records the same way and only hashes them, so a
// swept config's content hash is the hash the run journal of `carry backtest` would have.
//
// Invariants: records are numbered from the sink's first seq, contiguously, in the order
// the pipeline emits them; every record passes through `RunEventStatistics` before the sink;
// nothing here reads a clock or the market journal.

public import CarryCore
public import CarryJournal
import Foundation

/// The source a run reads: the market journal's id and the seq range it held at the start.
public struct SourceRange: Sendable, Equatable {
    public var id: JournalId
    public var firstSeq: UInt64
    public var lastSeq: UInt64

    /// The range of `journal` now.
    public init(_ journal: Journal) throws {
        id = journal.meta.journalId
        var first: UInt64 = 0, last: UInt64 = 0
        try journal.withSnapshot { snap in
            first = try snap.firstSeq()
            last = try snap.lastSeq()
        }
        firstSeq = first
        lastSeq = last
    }
}

/// Where a run's records go.
protocol RunRecordSink: AnyObject {
    /// The seq the first record gets.
    var firstSeq: UInt64 { get }
    /// Takes the next records, in seq order.
    func write(_ records: [PipelineOutput]) throws
    /// Everything is written: returns the SHA-256 over every record's bytes (the journal's
    /// content hash).
    func finish() throws -> Digest
}

/// Records into the run journal, pipelined (the writer thread commits while the run goes on).
final class JournalRunSink: RunRecordSink {
    private let journal: Journal
    private let writer: JournalWriter
    private var drafts: [EventDraft] = []
    private var tickets: [CommitTicket] = []
    let firstSeq: UInt64
    private var expected: UInt64

    init(journal: Journal) throws {
        self.journal = journal
        writer = try journal.makeWriter(options: JournalWriterOptions(maxBatchEvents: 50_000))
        firstSeq = writer.nextSeq
        expected = firstSeq
    }

    func write(_ records: [PipelineOutput]) throws {
        drafts.removeAll(keepingCapacity: true)
        for o in records { drafts.append(EventDraft(o.event, eventTime: o.time, recordTime: o.time, causation: o.causation)) }
        let ticket = try writer.enqueue(drafts)
        precondition(ticket.seqs.lowerBound == expected, "run journal seq drift: expected \(expected), got \(ticket.seqs.lowerBound)")
        expected += UInt64(records.count)
        tickets.append(ticket)
        // Bound the memory of outstanding tickets (the writer applies backpressure itself).
        if tickets.count > 64 { try tickets.removeFirst().wait() }
    }

    func finish() throws -> Digest {
        for t in tickets { try t.wait() }
        tickets.removeAll()
        try writer.close()
        return try journal.withSnapshot { try $0.contentHash() }
    }
}

/// Records encoded exactly as the journal frames them (seq, times, causation, payload,
/// CRC-32C) and hashed in order, never stored: `JournalSnapshot.contentHash` of the journal
/// they would make.
final class HashingRunSink: RunRecordSink {
    private var hasher = SHA256Hasher()
    private var buffer = ByteWriter(capacity: 1 << 16)
    let firstSeq: UInt64 = 1
    private var nextSeq: UInt64 = 1

    func write(_ records: [PipelineOutput]) throws {
        buffer.removeAll()
        for o in records {
            RecordCodec.encode(EventDraft(o.event, eventTime: o.time, recordTime: o.time, causation: o.causation), seq: nextSeq, into: &buffer)
            nextSeq += 1
        }
        buffer.withUnsafeBytes { hasher.update($0) }
    }

    func finish() throws -> Digest { hasher.finish() }
}

/// What a finished run produced.
struct RunSessionResult {
    var contentHash: Digest
    var stateHash: Digest
    var summary: BacktestSummary
    var portfolio: Portfolio
    var marks: [InstrumentId: Fixed]
    var runEvents: Int
}

/// One config's replay: market events in, instant by instant (`InstantSink`), records to a
/// sink, a summary out.
///
/// A struct, driven through `mutating` methods: its pipeline is touched for every market
/// record, and as a stored property of a class every access would pay a dynamic exclusivity
/// check (measured at 5 % of a backtest's time).
struct RunSession: InstantSink {
    let plan: BacktestPlan
    private var pipeline: ReplayPipeline<SimulatedExchange>
    private let sink: any RunRecordSink
    private let sampler: EquitySampler
    private var statistics: RunEventStatistics
    private var runEvents = 0

    init(plan: BacktestPlan, sink: any RunRecordSink, equityCSVPath: String?) throws {
        let config = plan.config
        self.plan = plan
        self.sink = sink
        pipeline = ReplayPipeline(
            reducer: CarryReducer(config: plan.engineConfig, reentryCooldownMs: config.reentryCooldownMs),
            venue: SimulatedExchange(fees: config.fees, slippage: config.slippage, margin: config.margin, latencyMs: config.latencyMs,
                                     initialCash: config.initialCapitalUsdt),
            firstSeq: sink.firstSeq, from: plan.from, to: plan.to, scanIntervalMs: config.scanIntervalMs)
        sampler = try EquitySampler(config: config, pairs: plan.pairs, csvPath: equityCSVPath)
        statistics = RunEventStatistics(pairs: plan.pairs, maxHoldingMs: config.strategy.maxHoldingMs)
    }

    /// The run's header: `run.started`, `config.applied` (with `config.source` as its source),
    /// the plan's warnings, and the traded instruments' definitions, so the run journal is
    /// self-describing.
    mutating func begin(source: SourceRange) {
        let config = plan.config
        pipeline.record(.runStarted(RunStarted(mode: .backtest, sourceJournal: source.id, sourceFirstSeq: source.firstSeq, sourceLastSeq: source.lastSeq,
                                               from: plan.from, to: plan.to, seed: 0, carryVersion: CarryVersion.current)), time: plan.from, causation: .none)
        pipeline.record(.configApplied(ConfigApplied(source: config.source, text: config.canonicalText)), time: plan.from, causation: .none)
        for w in plan.warnings {
            pipeline.record(.alertRaised(AlertRaised(severity: .warning, code: "data", message: w)), time: plan.from, causation: .none)
        }
        for p in plan.pairs {
            for d in [p.spot, p.perp] { pipeline.define(d, at: plan.from) }
        }
    }

    // MARK: InstantSink (`ReplayPipeline`'s begin, bar, end)

    /// Opens an instant: the scan ticks due before it, the venue's facts due by it.
    mutating func begin(instant time: Timestamp) {
        let sampler = self.sampler
        pipeline.begin(instant: time, trading: time >= plan.from, afterTick: { t, reducer in Self.sample(sampler, at: t, reducer) })
    }

    /// One bar of the open instant.
    mutating func bar(_ bar: BarClosed, seq: UInt64, at time: Timestamp) {
        pipeline.bar(bar, seq: seq, at: time)
    }

    /// Bars of the open instant by their marks, applied while that is all they can change
    /// (`ReplayPipeline.applyIdleMarks`).
    mutating func applyIdleMarks(_ marks: UnsafeBufferPointer<BarMark>, at time: Timestamp) -> Int {
        pipeline.applyIdleMarks(marks, at: time)
    }

    /// Closes an instant: its interval changes and settlements, its scan tick, then the gap
    /// alerts its records revealed; then the output goes to the sink.
    mutating func end(instant time: Timestamp, intervalChanges: [(seq: UInt64, change: FundingIntervalChanged)],
                      settlements: [(seq: UInt64, settlement: FundingSettled)], alerts: [GapAlert]) throws {
        let sampler = self.sampler
        pipeline.end(instant: time, intervalChanges: intervalChanges, settlements: settlements, trading: time >= plan.from,
                     afterTick: { t, reducer in Self.sample(sampler, at: t, reducer) })
        for alert in alerts {
            pipeline.record(.alertRaised(AlertRaised(severity: .warning, code: "data", message: alert.message)), time: time, causation: .source(alert.seq))
        }
        try drain()
    }

    /// The remaining ticks, `run.ended`, and every record flushed; `inputEvents` is the
    /// number of market records the run read.
    mutating func end(inputEvents: Int) throws -> RunSessionResult {
        let sampler = self.sampler
        pipeline.finish(afterTick: { t, reducer in Self.sample(sampler, at: t, reducer) })
        let reducer = pipeline.reducer
        pipeline.record(.runEnded(RunEnded(outcome: reducer.killSwitchEngaged ? .killSwitch : .completed, inputEvents: UInt64(inputEvents),
                                           message: "backtest \(plan.from.iso8601) → \(plan.to.iso8601)")), time: plan.to, causation: .none)
        try drain(force: true)
        let contentHash = try sink.finish()
        try sampler.close()
        var marks: [InstrumentId: Fixed] = [:]
        for p in plan.pairs {
            for d in [p.spot, p.perp] { if let m = reducer.mark(d.id) { marks[d.id] = m } }
        }
        var summary = sampler.tracker.summary(portfolio: reducer.portfolio, marks: marks, pairs: plan.pairs, from: plan.from, to: plan.to,
                                              events: statistics, killSwitch: reducer.killSwitchEngaged)
        summary.zeroBasis = plan.config.zeroBasis
        return RunSessionResult(contentHash: contentHash, stateHash: StateDigest.of(reducer.portfolio, marks: marks), summary: summary,
                          portfolio: reducer.portfolio, marks: marks, runEvents: runEvents)
    }

    /// Moves the pipeline's output to the sink in batches (memory stays bounded).
    private mutating func drain(force: Bool = false) throws {
        guard pipeline.output.count >= 4096 || (force && !pipeline.output.isEmpty) else { return }
        let out = pipeline.takeOutput()
        for o in out { statistics.observe(o.event) }
        runEvents += out.count
        try sink.write(out)
    }

    /// Samples equity at a scan tick, with the marks read from the reducer's array (a closure
    /// capturing the reducer would copy all of it at every tick). Static, with the sampler
    /// passed in: a closure capturing `self` would overlap the pipeline's mutating access.
    private static func sample(_ sampler: EquitySampler, at time: Timestamp, _ reducer: borrowing CarryReducer) {
        sampler.sample(at: time, portfolio: reducer.portfolio, marks: reducer.marks, openPairs: reducer.activePairs,
                       positionsValue: reducer.scanPositionsValue)
    }
}
