// Replaying a paper session's journal: its market inputs, scan ticks and operator commands,
// in the order the session journaled them, through a fresh backtest pipeline (the reducer and
// the simulated exchange) with the session's config. Every record the pipeline writes is
// compared with the journal's, so the replay proves — or refutes, at the first record that
// differs — that the session decided exactly what a backtest over the same inputs decides.
//
// It serves twice: `carry parity` reports the result, and a paper session restarting from its
// journal rebuilds its state this way (the simulated exchange's book is not in the journal as
// state, only as the facts it produced; replaying regenerates it) and refuses to continue on a
// difference.
//
// Market inputs are grouped by time as the session processed them (an instant's events in one
// poll are one group; an instant split across polls — data arriving late — stays split, and is
// counted as late: a scan had already passed it).

public import CarryCore
public import CarryJournal

/// The first record a replay wrote differently from the journal.
public struct ReplayDivergence: Sendable, Equatable, CustomStringConvertible {
    public var seq: UInt64
    /// What the journal holds, and what the replay wrote ("(nothing)" past either end).
    public var journaled: String
    public var replayed: String

    public var description: String { "seq \(seq): journal has \(journaled); the replay wrote \(replayed)" }
}

/// What a replay found.
public struct ReplayOutcome: Sendable {
    /// The pipeline after the last journaled input (a restart continues from it).
    public var pipeline: ReplayPipeline<SimulatedExchange>
    /// Records compared, and the first that differed.
    public var compared: Int
    public var divergence: ReplayDivergence?
    /// Market records whose time was before a scan tick journaled earlier (arrived late).
    public var lateInputs: Int
    /// Decisions among the records compared (signals, intents, cancels, risk, pair transitions).
    public var decisions: Int
    /// The session's trading start (its first `run.started`'s `from`).
    public var tradingStart: Timestamp
    /// The last time of a journaled market input per stream, for resuming the feed: bars by
    /// instrument index, settlements by perp index.
    public var lastBar: [Int: Timestamp]
    public var lastFunding: [Int: Timestamp]
}

/// Replays session journals.
public enum SessionReplay {
    /// Reads every record of a journal, in seq order.
    public static func records(of journal: Journal) throws -> [RecordedEvent] {
        var out: [RecordedEvent] = []
        try journal.withSnapshot { snap in
            _ = try snap.scan { view in
                out.append(try view.decodeRecorded())
                return true
            }
        }
        return out
    }

    /// A fresh pipeline for a session trading from `tradingStart`.
    public static func pipeline(_ config: BacktestConfig, pairs: [ResolvedPair], tradingStart: Timestamp, firstSeq: UInt64) -> ReplayPipeline<SimulatedExchange> {
        var p = ReplayPipeline(
            reducer: CarryReducer(config: config.engineConfig(pairs: pairs), reentryCooldownMs: config.reentryCooldownMs),
            venue: SimulatedExchange(fees: config.fees, slippage: config.slippage, margin: config.margin, latencyMs: config.latencyMs,
                                     initialCash: config.initialCapitalUsdt),
            firstSeq: firstSeq, from: tradingStart, to: .distantFuture, scanIntervalMs: config.scanIntervalMs)
        p.journalsMarketInputs = true
        return p
    }

    /// The session's instruments, as its journal defines them (pairs in config order).
    public static func pairs(in records: [RecordedEvent], symbols: [String]) throws -> [ResolvedPair] {
        var defined: [InstrumentDefined] = []
        for r in records {
            if case .instrumentDefined(let d) = r.event { defined.append(d) }
        }
        return try symbols.map { symbol in
            guard let spot = defined.first(where: { $0.symbol == symbol && $0.kind == .spot }),
                  let perp = defined.first(where: { $0.symbol == symbol && $0.kind.isPerpetual }) else {
                throw SessionError("the journal defines no spot and perpetual instrument for \(symbol): it is not a session of this config")
            }
            return ResolvedPair(symbol: symbol, spot: spot, perp: perp)
        }
    }

    /// Replays `records` (a whole session journal) under `config`.
    public static func replay(_ records: [RecordedEvent], config: BacktestConfig) throws -> ReplayOutcome {
        let (pipeline, written, late, at) = try regenerate(records, config: config)
        var divergence: ReplayDivergence?
        var decisions = 0
        let n = max(records.count, written.count)
        for i in 0..<n {
            let j = i < records.count ? records[i] : nil
            let w = i < written.count ? written[i] : nil
            if let j, let w, j.event == w.event, j.eventTime == w.time, j.causation == w.causation {
                if (32..<64).contains(j.event.kind.rawValue) { decisions += 1 }   // the decision family (codes 32–63)
                continue
            }
            let seq = j?.seq ?? (records.last.map { $0.seq + 1 + UInt64(i - records.count) } ?? UInt64(i + 1))
            divergence = ReplayDivergence(seq: seq, journaled: j.map { describe($0.event, $0.eventTime, $0.causation) } ?? "(nothing)",
                                          replayed: w.map { describe($0.event, $0.time, $0.causation) } ?? "(nothing)")
            break
        }
        return ReplayOutcome(pipeline: pipeline, compared: min(records.count, written.count), divergence: divergence, lateInputs: late,
                             decisions: decisions, tradingStart: at.tradingStart, lastBar: at.lastBar, lastFunding: at.lastFunding)
    }

    /// The session's market inputs, scan ticks and operator commands through a fresh backtest
    /// pipeline: the pipeline after them, every record it wrote (seq = the journal's first
    /// seq + index), the late inputs, and where the journal left its streams.
    static func regenerate(_ records: [RecordedEvent], config: BacktestConfig) throws
        -> (ReplayPipeline<SimulatedExchange>, [PipelineOutput], Int, (tradingStart: Timestamp, lastBar: [Int: Timestamp], lastFunding: [Int: Timestamp])) {
        let at = try SessionSteps.position(of: records)
        let pairs = try pairs(in: records, symbols: config.symbols)
        var pipeline = pipeline(config, pairs: pairs, tradingStart: at.tradingStart, firstSeq: records.first?.seq ?? 1)
        var group = MarketGroup()
        var groupTime = Timestamp.distantPast
        var lastTick = Timestamp.distantPast
        var late = 0
        var written: [PipelineOutput] = []

        func flush() {
            guard !group.isEmpty else { return }
            pipeline.process(group: &group, at: groupTime, trading: groupTime >= at.tradingStart, afterTick: { _, _ in })
            written += pipeline.takeOutput()
        }
        for r in records {
            let t = r.eventTime
            switch r.event {
            case .barClosed, .fundingSettled, .fundingIntervalChanged:
                if t != groupTime { flush() }
                group.append(seq: 0, r.event)
                groupTime = t
                if t <= lastTick, r.event.kind != .fundingIntervalChanged { late += 1 }
            case .clockTicked(let tick) where tick.purpose == .scan:
                flush()
                pipeline.tick(through: t, afterTick: { _, _ in })
                written += pipeline.takeOutput()
                lastTick = max(lastTick, t)
            case .instrumentDefined(let d) where !r.causation.isSet:
                flush()
                pipeline.define(d, at: t)
                written += pipeline.takeOutput()
            case .runStarted, .configApplied, .runEnded, .sessionStats:
                // The session's own records: written again so seqs stay aligned.
                flush()
                pipeline.record(r.event, time: t, causation: r.causation)
                written += pipeline.takeOutput()
            default:
                if let input = EngineInput(r.event), case .command = input, !r.causation.isSet {
                    flush()
                    pipeline.inject(input, at: t)
                    written += pipeline.takeOutput()
                }
                // Everything else (decisions, the simulated venue's facts) is regenerated.
            }
        }
        flush()
        return (pipeline, written, late, at)
    }

    static func describe(_ e: Event, _ t: Timestamp, _ c: CausationRef) -> String {
        "\(e.kind.name) at \(t.iso8601) caused by \(c) {" + e.fields.map { "\($0.name)=\($0.value)" }.joined(separator: " ") + "}"
    }
}
