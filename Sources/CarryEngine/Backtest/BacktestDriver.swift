// The backtest driver: replays a market journal in time order under a simulated clock,
// emits the strategy's scan ticks, runs the reducer and the simulated exchange, and writes
// the run journal.
//
// The ordering rules within one timestamp (bars, then settlements, then the scan tick) live in
// `ReplayPipeline` (CarryCore), which live paper trading shares.
//
// Invariants: the reducer only ever receives events with time ≤ the simulated clock; every
// decision and venue fact is journaled before anything acts on it, with the simulated time
// as its record time, so two runs of one config over one journal are byte-identical.
// The market journal is read and decoded ahead on a thread of its own (`MarketReadAhead`;
// the pipeline takes its records in scan order), the run journal's writes are pipelined (a
// crashed backtest is simply re-run), and memory stays bounded: nothing grows with the
// length of the run except the journal on disk.

public import CarryCore
public import CarryJournal
import Foundation

/// A backtest could not start or run; the message says what to do.
public struct BacktestError: Error, CustomStringConvertible, Equatable {
    public var message: String
    /// True for problems with the request (bad symbol, dates); false for failures.
    public var isBadInput: Bool
    public init(_ message: String, badInput: Bool = true) {
        self.message = message
        isBadInput = badInput
    }
    public var description: String { message }
}

/// One spot+perp pair resolved against a market journal.
public struct ResolvedPair: Sendable, Equatable {
    public var symbol: String
    public var spot: InstrumentDefined
    public var perp: InstrumentDefined
}

/// What a backtest produced.
public struct BacktestResult: Sendable {
    public var runJournalPath: String
    public var sourceJournal: JournalId
    public var from: Timestamp
    public var to: Timestamp
    /// SHA-256 over every record of the run journal (equal for byte-identical runs).
    public var contentHash: Digest
    /// SHA-256 of the final portfolio and pair state.
    public var stateHash: Digest
    public var summary: BacktestSummary
    /// Warnings for the operator (data gaps, clamped ranges).
    public var warnings: [String]
    public var events: (source: Int, run: Int)
    public var portfolio: Portfolio
    public var pairs: [ResolvedPair]
    public var finalMarks: [InstrumentId: Fixed]
}

/// Runs backtests.
public enum BacktestDriver {
    /// Resolves the configured symbols to spot and perp instruments of the venue.
    public static func resolvePairs(_ config: BacktestConfig, market: MarketJournal) throws(BacktestError) -> [ResolvedPair] {
        var pairs: [ResolvedPair] = []
        for symbol in config.symbols {
            let perp = market.instrument(venue: config.venue, kind: .linearPerpetual, symbol: symbol)
            let spot = market.instrument(venue: config.venue, kind: .spot, symbol: symbol)
            guard let perp, let spot else {
                let known = Set(market.symbols(venue: config.venue, kind: .linearPerpetual)).intersection(market.symbols(venue: config.venue, kind: .spot)).sorted()
                let close = SymbolSuggestions.closest(to: symbol, in: known, limit: 5)
                let hint = close.isEmpty ? "" : " Close matches: \(close.joined(separator: ", "))."
                let missing = perp == nil && spot == nil ? "spot or perpetual" : (perp == nil ? "perpetual" : "spot")
                throw BacktestError("\(config.venue) \(symbol) has no \(missing) instrument in \(market.journal.path).\(hint) Symbols with both legs there: \(known.isEmpty ? "none" : known.joined(separator: ", ")). Import or fetch the data first (carry import, carry fetch).")
            }
            pairs.append(ResolvedPair(symbol: symbol, spot: spot, perp: perp))
        }
        return pairs
    }

    /// The span every pair has bars (both legs) and funding for.
    static func commonSpan(_ pairs: [ResolvedPair], interval: UInt32, market: MarketJournal) throws(BacktestError) -> (Timestamp, Timestamp) {
        var lo = Timestamp.distantPast
        var hi = Timestamp.distantFuture
        for p in pairs {
            for (stream, what) in [(MarketStream.bars(p.spot.id, intervalSeconds: interval), "spot \(MarketStream.intervalName(interval)) bars"),
                                   (.bars(p.perp.id, intervalSeconds: interval), "perp \(MarketStream.intervalName(interval)) bars"),
                                   (.funding(p.perp.id), "funding")] {
                guard let e = market.extents[stream] else {
                    throw BacktestError("\(p.perp.venue) \(p.symbol) has no \(what) in \(market.journal.path). Import or fetch them, or choose another barInterval.")
                }
                lo = max(lo, e.first)
                hi = min(hi, e.last)
            }
        }
        guard lo < hi else {
            throw BacktestError("the pairs \(pairs.map(\.symbol).joined(separator: ", ")) have no span in common where every leg has bars and funding. Trade fewer symbols or import more data.")
        }
        return (lo, hi)
    }

    /// Runs one backtest and writes its run journal into `outDirectory/journal`.
    public static func run(config: BacktestConfig, sourcePath: String, outDirectory: String,
                           progress: ((Double) -> Void)? = nil) throws -> BacktestResult {
        let market = try MarketJournal(readOnlyPath: sourcePath)
        let pairs = try resolvePairs(config, market: market)
        let (dataFrom, dataTo) = try commonSpan(pairs, interval: config.barIntervalSeconds, market: market)
        var warnings: [String] = []
        var from = config.from ?? dataFrom
        var to = config.to ?? dataTo
        let spanText = "\(dataFrom.iso8601) → \(dataTo.iso8601)"
        if to <= dataFrom || from >= dataTo {
            throw BacktestError("no data for \(pairs.map(\.symbol).joined(separator: ", ")) between \(from.iso8601) and \(to.iso8601): the journal has all legs and funding for \(spanText). Choose --from/--to inside that range.")
        }
        if from < dataFrom {
            warnings.append("the data starts at \(dataFrom.iso8601); the backtest starts there instead of \(from.iso8601)")
            from = dataFrom
        }
        if to > dataTo {
            warnings.append("the data ends at \(dataTo.iso8601); the backtest ends there instead of \(to.iso8601)")
            to = dataTo
        }
        // Gaps in the streams this run reads are found as the replay meets them (as a live
        // engine would), warned about, journaled, and treated as no data.
        let engineConfig = EngineConfig(
            pairs: pairs.map { PairSpec(spot: $0.spot.id, perp: $0.perp.id) }, barIntervalSeconds: config.barIntervalSeconds,
            initialCashUsdt: config.initialCapitalUsdt, strategy: config.strategy, risk: config.risk, fees: config.fees,
            slippage: config.slippage, margin: config.margin, latencyMs: config.latencyMs, execution: config.execution)
        var runner = try Runner(config: config, engineConfig: engineConfig, pairs: pairs, market: market,
                                from: from, to: to, outDirectory: outDirectory, warnings: warnings)
        return try runner.run(progress: progress)
    }
}

/// One backtest in progress: a `ReplayPipeline` fed from the market journal, its output
/// written to the run journal.
///
/// A struct, run through a `mutating` method: its state is touched for every market record,
/// and as stored properties of a class every access would pay a dynamic exclusivity check
/// (measured at 5 % of a backtest's time).
struct Runner {
    let config: BacktestConfig
    let pairs: [ResolvedPair]
    let market: MarketJournal
    let from: Timestamp
    let to: Timestamp
    var warnings: [String]
    var pipeline: ReplayPipeline<SimulatedExchange>
    let journal: Journal
    let writer: JournalWriter
    let runPath: String
    let outDirectory: String
    var drafts: [EventDraft] = []
    var tickets: [CommitTicket] = []
    /// True for the spot and perp instruments of the configured pairs, by instrument index.
    var relevant: [Bool] = []
    var sourceEvents = 0
    var runEvents = 0
    let sampler: EquitySampler
    var lastSourceSeq: UInt64 = 0
    var firstSourceSeq: UInt64 = 0
    /// The close time (ms) of the last bar of each traded instrument (Int64.min before the
    /// first), for the gaps in its bar stream: a plain array, read and written on every bar.
    var lastBarMs: [Int64] = []
    /// Gap censuses of the funding streams this run reads, by instrument index.
    var fundingCensus: [GapCensus?] = []
    var pendingAlerts: [(String, UInt64)] = []
    /// Pairs opened, per pair index (for the summary).
    var opened: [Int] = []
    /// The non-bar events of the open instant (bars go to the pipeline as they are read).
    var intervalChanges: [(seq: UInt64, change: FundingIntervalChanged)] = []
    var settlements: [(seq: UInt64, settlement: FundingSettled)] = []

    init(config: BacktestConfig, engineConfig: EngineConfig, pairs: [ResolvedPair], market: MarketJournal,
         from: Timestamp, to: Timestamp, outDirectory: String, warnings: [String]) throws {
        self.config = config
        self.pairs = pairs
        self.market = market
        self.from = from
        self.to = to
        self.warnings = warnings
        self.outDirectory = outDirectory
        try FileManager.default.createDirectory(atPath: outDirectory, withIntermediateDirectories: true)
        runPath = outDirectory + "/journal"
        // A deterministic identity: the same config over the same source is the same run.
        var h = SHA256Hasher()
        h.update(Array(config.canonicalText.utf8))
        h.update(market.journal.meta.journalId.high)
        h.update(market.journal.meta.journalId.low)
        h.update(UInt64(bitPattern: from.ms))
        h.update(UInt64(bitPattern: to.ms))
        let d = h.finish().bytes
        let id = JournalId(high: d[0..<8].reduce(0) { $0 << 8 | UInt64($1) }, low: d[8..<16].reduce(0) { $0 << 8 | UInt64($1) })
        if Journal.exists(at: runPath) {
            throw BacktestError("\(outDirectory) already holds a run journal. Choose another --out, or delete that directory to re-run.")
        }
        journal = try Journal.openOrCreate(runPath, create: JournalCreateOptions(purpose: .backtest, journalId: id, createdAt: from))
        writer = try journal.makeWriter(options: JournalWriterOptions(maxBatchEvents: 50_000))
        pipeline = ReplayPipeline(
            reducer: CarryReducer(config: engineConfig, reentryCooldownMs: config.reentryCooldownMs),
            venue: SimulatedExchange(fees: config.fees, slippage: config.slippage, margin: config.margin, latencyMs: config.latencyMs,
                                   initialCash: config.initialCapitalUsdt),
            firstSeq: writer.nextSeq, from: from, to: to, scanIntervalMs: config.scanIntervalMs)
        sampler = try EquitySampler(config: config, csvPath: outDirectory + "/equity.csv")
        opened = Array(repeating: 0, count: pairs.count)
        for p in pairs {
            for d in [p.spot, p.perp] {
                while relevant.count <= d.id.index {
                    relevant.append(false)
                    lastBarMs.append(Int64.min)
                    fundingCensus.append(nil)
                }
                relevant[d.id.index] = true
            }
        }
    }

    /// Observes a bar of a traded instrument (`GapCensus`'s rule for its stream).
    mutating func observeBar(_ id: InstrumentId, at time: Timestamp, seq: UInt64) {
        let last = lastBarMs[id.index]
        lastBarMs[id.index] = time.ms
        let cadenceMs = Int64(config.barIntervalSeconds) * 1000
        // The next bar exactly one interval on (nearly always) is never a gap.
        guard last != Int64.min, time.ms - last != cadenceMs,
              let gap = GapCensus.gap(after: Timestamp(ms: last), before: time, cadenceMs: cadenceMs) else { return }
        noteGap(gap, .bars(id, intervalSeconds: config.barIntervalSeconds), seq: seq)
    }

    /// Observes a funding settlement's stream (the cadence is the interval it settled under).
    mutating func observeFunding(_ f: FundingSettled, at time: Timestamp, seq: UInt64) {
        let i = f.instrumentId.index
        let cadence = Int64(max(f.intervalMinutes, 1)) * Millis.minute
        if fundingCensus[i] == nil { fundingCensus[i] = GapCensus(cadenceMs: cadence) }
        fundingCensus[i]!.setCadence(cadence)
        guard fundingCensus[i]!.observe(time), let gap = fundingCensus[i]!.gaps.last else { return }
        noteGap(gap, .funding(f.instrumentId), seq: seq)
    }

    /// A hole in a relevant stream inside the simulated span becomes a warning, and an alert
    /// journaled at the end of the instant the stream resumes.
    mutating func noteGap(_ gap: Gap, _ stream: MarketStream, seq: UInt64) {
        guard gap.before > from, gap.after < to else { return }
        let w = "\(market.describe(stream)): gap \(gap) — treated as no data"
        warnings.append(w)
        pendingAlerts.append((w, seq))
    }

    /// Closes the open instant: its other events and scan tick through the pipeline, then the
    /// gap alerts found at that time; then the output goes to the run journal.
    mutating func endInstant(_ time: Timestamp) throws {
        let sampler = self.sampler
        pipeline.end(instant: time, intervalChanges: intervalChanges, settlements: settlements, trading: time >= from,
                     afterTick: { t, reducer in Self.sample(sampler, at: t, reducer) })
        intervalChanges.removeAll(keepingCapacity: true)
        settlements.removeAll(keepingCapacity: true)
        for (message, seq) in pendingAlerts {
            pipeline.record(.alertRaised(AlertRaised(severity: .warning, code: "data", message: message)), time: time, causation: .source(seq))
        }
        pendingAlerts.removeAll()
        try drain()
    }

    // MARK: Journaling

    /// Moves the pipeline's output to the run journal (pipelined; memory stays bounded).
    mutating func drain(force: Bool = false) throws {
        guard pipeline.output.count >= 4096 || (force && !pipeline.output.isEmpty) else { return }
        let out = pipeline.takeOutput()
        let expected = pipeline.nextSeq - UInt64(out.count)
        drafts.removeAll(keepingCapacity: true)
        for o in out {
            drafts.append(EventDraft(o.event, eventTime: o.time, recordTime: o.time, causation: o.causation))
            countOpening(o.event, pairs: pairs, into: &opened)
        }
        runEvents += out.count
        let ticket = try writer.enqueue(drafts)
        precondition(ticket.seqs.lowerBound == expected, "run journal seq drift: expected \(expected), got \(ticket.seqs.lowerBound)")
        tickets.append(ticket)
        // Bound the memory of outstanding tickets (the writer applies backpressure itself).
        if tickets.count > 64 { try tickets.removeFirst().wait() }
    }

    /// Samples equity at a scan tick.
    static func sample(_ sampler: EquitySampler, at time: Timestamp, _ reducer: borrowing CarryReducer) {
        // Counted by index: a reduce over `pairs` copied every PairState (and its array).
        var openPairs = 0
        for i in reducer.pairs.indices where reducer.pairs[i].phase != .flat { openPairs += 1 }
        sampler.sample(at: time, portfolio: reducer.portfolio, valuation: reducer.portfolio.valuation(marks: reducer.marks), openPairs: openPairs)
    }

    mutating func run(progress: ((Double) -> Void)?) throws -> BacktestResult {
        let sourceId = market.journal.meta.journalId
        let warmupFrom = from.adding(ms: -config.warmupMs)
        // Source seq range the run may read.
        try market.journal.withSnapshot { snap in
            firstSourceSeq = try snap.firstSeq()
            lastSourceSeq = try snap.lastSeq()
        }
        pipeline.record(.runStarted(RunStarted(mode: .backtest, sourceJournal: sourceId, sourceFirstSeq: firstSourceSeq, sourceLastSeq: lastSourceSeq,
                                               from: from, to: to, seed: 0, carryVersion: CarryVersion.current)), time: from, causation: .none)
        pipeline.record(.configApplied(ConfigApplied(source: config.source, text: config.canonicalText)), time: from, causation: .none)
        for w in warnings {
            pipeline.record(.alertRaised(AlertRaised(severity: .warning, code: "data", message: w)), time: from, causation: .none)
        }
        // The traded instruments' definitions, so the run journal is self-describing.
        for p in pairs {
            for d in [p.spot, p.perp] { pipeline.define(d, at: from) }
        }
        let sampler = self.sampler
        // The instant being read; nil before the first record.
        var instant: Timestamp?
        let spanMs = Double(max(1, to.ms - warmupFrom.ms))
        var lastProgress = 0.0
        // Only bars, settlements and interval changes of the traded instruments at the bar
        // interval, read and decoded on the reader's thread: an instant never holds a
        // definition, so its bars go to the pipeline as they come (`process`'s order: the
        // bars, then the other events, then the tick).
        let reader = MarketReadAhead(journal: market.journal, selection: MarketReadAhead.Selection(
            traded: relevant, barIntervalSeconds: config.barIntervalSeconds, from: warmupFrom, through: to))
        defer { reader.stop() }
        while let batch = try reader.next() {
            var nextBar = 0
            var nextOther = 0
            try batch.bars.withUnsafeBufferPointer { bars in
                for isBar in batch.isBar {
                    let t = isBar ? bars[nextBar].time : batch.others[nextOther].time
                    if t != instant {
                        if let open = instant { try endInstant(open) }
                        pipeline.begin(instant: t, trading: t >= from, afterTick: { t, reducer in Self.sample(sampler, at: t, reducer) })
                        instant = t
                    }
                    if isBar {
                        pipeline.bar(bars[nextBar].bar, seq: bars[nextBar].seq, at: t)
                        observeBar(bars[nextBar].bar.instrumentId, at: t, seq: bars[nextBar].seq)
                        nextBar += 1
                    } else {
                        let seq = batch.others[nextOther].seq
                        switch batch.others[nextOther].event {
                        case .fundingSettled(let f):
                            observeFunding(f, at: t, seq: seq)
                            settlements.append((seq, f))
                        case .fundingIntervalChanged(let c):
                            intervalChanges.append((seq, c))
                        default:
                            preconditionFailure("the read-ahead selects bars, settlements and interval changes only")
                        }
                        nextOther += 1
                    }
                    sourceEvents += 1
                    if let progress, sourceEvents % 50_000 == 0 {
                        let f = Double(t.ms - warmupFrom.ms) / spanMs
                        if f - lastProgress >= 0.01 {
                            lastProgress = f
                            progress(f)
                        }
                    }
                }
            }
            reader.recycle(batch)
        }
        if let open = instant { try endInstant(open) }
        pipeline.finish(afterTick: { t, reducer in Self.sample(sampler, at: t, reducer) })
        let reducer = pipeline.reducer
        pipeline.record(.runEnded(RunEnded(outcome: reducer.killSwitchEngaged ? .killSwitch : .completed, inputEvents: UInt64(sourceEvents),
                                           message: "backtest \(from.iso8601) → \(to.iso8601)")), time: to, causation: .none)
        try drain(force: true)
        for t in tickets { try t.wait() }
        tickets.removeAll()
        try writer.close()
        try sampler.close()
        progress?(1)

        let contentHash = try journal.withSnapshot { try $0.contentHash() }
        var marks: [InstrumentId: Fixed] = [:]
        for p in pairs {
            for d in [p.spot, p.perp] { if let m = reducer.mark(d.id) { marks[d.id] = m } }
        }
        let summary = sampler.tracker.summary(portfolio: reducer.portfolio, marks: marks, pairs: pairs, from: from, to: to,
                                    pairsOpened: opened, killSwitch: reducer.killSwitchEngaged)
        return BacktestResult(runJournalPath: runPath, sourceJournal: sourceId, from: from, to: to, contentHash: contentHash,
                              stateHash: StateDigest.of(reducer.portfolio, marks: marks),
                              summary: summary, warnings: warnings, events: (sourceEvents, runEvents), portfolio: reducer.portfolio,
                              pairs: pairs, finalMarks: marks)
    }
}
