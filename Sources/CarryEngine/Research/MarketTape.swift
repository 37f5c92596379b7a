// The market journal decoded once for a whole sweep: one scan by time over the span every
// config needs, each record decoded at most once and handed to the `ReplayFeed` of every
// plan that reads it. A plan is what the replay depends on — the traded instruments, the bar
// interval, the warm-up start and the span — so configs that differ only in strategy,
// sizing, costs or risk share one tape. A tape holds its instants as a `ReplayFeed` handed
// them over (bars as decoded `BarClosed` values, settlements and interval changes typed) with
// their gap alerts, immutable and shared by every thread that runs its configs.

public import CarryCore
import CarryJournal

/// One instant of a tape: its market events and the gap alerts they revealed.
public struct TapeGroup: Sendable {
    public var time: Timestamp
    /// In seq order, as are the two lists below; each bar's source seq at the same index in
    /// `barSeqs`. (Apart: a bar read out of a `(seq, bar)` tuple was copied on its way to the
    /// pipeline — 168- and 152-byte memcpys, the largest item in a perf profile of a swept config.)
    public var bars: [BarClosed] = []
    public var barSeqs: [UInt64] = []
    public var intervalChanges: [(seq: UInt64, change: FundingIntervalChanged)] = []
    public var settlements: [(seq: UInt64, settlement: FundingSettled)] = []
    public var alerts: [GapAlert] = []

    /// Market records of the instant.
    public var count: Int { bars.count + intervalChanges.count + settlements.count }

    /// Hands the instant to `sink` as the feed handed it over.
    func replay<S: InstantSink>(to sink: inout S) throws {
        try sink.begin(instant: time)
        try bars.withUnsafeBufferPointer { bars in
            try barSeqs.withUnsafeBufferPointer { seqs in
                for i in bars.indices { try sink.bar(bars[i], seq: seqs[i], at: time) }
            }
        }
        try sink.end(instant: time, intervalChanges: intervalChanges, settlements: settlements, alerts: alerts)
    }
}

/// Records what a feed hands over, instant by instant.
struct TapeRecorder: InstantSink {
    var groups: [TapeGroup] = []
    private var open = TapeGroup(time: .distantPast)

    mutating func begin(instant time: Timestamp) {
        // Instants of one plan hold about as many bars each.
        let capacity = open.bars.count
        open = TapeGroup(time: time)
        open.bars.reserveCapacity(capacity)
        open.barSeqs.reserveCapacity(capacity)
    }

    mutating func bar(_ bar: BarClosed, seq: UInt64, at time: Timestamp) {
        open.bars.append(bar)
        open.barSeqs.append(seq)
    }

    mutating func end(instant time: Timestamp, intervalChanges: [(seq: UInt64, change: FundingIntervalChanged)],
                      settlements: [(seq: UInt64, settlement: FundingSettled)], alerts: [GapAlert]) {
        open.intervalChanges = intervalChanges
        open.settlements = settlements
        open.alerts = alerts
        groups.append(open)
    }
}

/// One plan's market events, grouped by instant.
public struct PlanTape: Sendable {
    public var groups: [TapeGroup]
    /// Market records the plan reads (a run's `run.ended` input count).
    public var events: Int
    /// Gap warnings, in the order found.
    public var warnings: [String]
}

/// The decoded market of a sweep: one tape per distinct plan.
public struct MarketTape: Sendable {
    public var source: SourceRange
    public var tapes: [PlanTape]
    /// Tape index of each plan given to `decode`, in that order.
    public var tapeOfPlan: [Int]
    /// Records decoded (each once, whatever the number of plans).
    public var decoded: Int

    /// The key under which plans share a tape.
    struct PlanKey: Hashable {
        var instruments: [UInt32]
        var interval: UInt32
        var warmupFrom: Int64
        var from: Int64
        var to: Int64
        /// Zero-basis plans read other records (spot bars copied as the perp's), so they never
        /// share a tape with plans that price the perp from its own bars.
        var zeroBasis: Bool

        init(_ plan: BacktestPlan) {
            instruments = plan.pairs.flatMap { [$0.spot.id.rawValue, $0.perp.id.rawValue] }.sorted()
            interval = plan.config.barIntervalSeconds
            warmupFrom = plan.warmupFrom.ms
            from = plan.from.ms
            to = plan.to.ms
            zeroBasis = plan.config.zeroBasis
        }
    }

    /// Scans `market` once and builds the tape of every distinct plan among `plans`.
    public static func decode(_ plans: [BacktestPlan], market: MarketJournal) throws -> MarketTape {
        var keys: [PlanKey] = []
        var feeds: [ReplayFeed] = []
        var tapeOfPlan: [Int] = []
        var keyIndex: [PlanKey: Int] = [:]
        for plan in plans {
            let key = PlanKey(plan)
            if let k = keyIndex[key] {
                tapeOfPlan.append(k)
            } else {
                keyIndex[key] = keys.count
                tapeOfPlan.append(keys.count)
                keys.append(key)
                feeds.append(ReplayFeed(plan: plan, describe: market.describe))
            }
        }
        var recorders = Array(repeating: TapeRecorder(), count: feeds.count)
        var any: [Bool] = []
        for k in keys {
            for raw in k.instruments {
                while any.count <= Int(raw) { any.append(false) }
                any[Int(raw)] = true
            }
        }
        let source = try SourceRange(market.journal)
        guard !feeds.isEmpty else { return MarketTape(source: source, tapes: [], tapeOfPlan: [], decoded: 0) }
        let from = Timestamp(ms: keys.map(\.warmupFrom).min()!)
        let through = Timestamp(ms: keys.map(\.to).max()!)
        let barKind = EventKind.barClosed.rawValue
        let fundingKind = EventKind.fundingSettled.rawValue
        let intervalKind = EventKind.fundingIntervalChanged.rawValue
        var decoded = 0
        try market.journal.withSnapshot { snap in
            try snap.scanByTime(from: from, through: through) { view in
                let kind = view.header.kindCode
                guard kind == barKind || kind == fundingKind || kind == intervalKind else { return true }
                guard let id = try view.instrument(), id.index < any.count, any[id.index] else { return true }
                let interval = try view.barIntervalSeconds()
                let t = view.header.eventTime
                let seq = view.header.seq
                if kind == barKind {
                    var bar: BarClosed?
                    for f in feeds.indices where feeds[f].reads(id, barInterval: interval, at: t) {
                        if bar == nil { bar = try view.decodeBar(); decoded += 1 }
                        try feeds[f].add(seq: seq, time: t, bar: bar!, to: &recorders[f])
                    }
                } else {
                    var event: Event?
                    for f in feeds.indices where feeds[f].reads(id, barInterval: nil, at: t) {
                        if event == nil { event = try view.decode(); decoded += 1 }
                        try feeds[f].add(seq: seq, time: t, event: event!, to: &recorders[f])
                    }
                }
                return true
            }
        }
        var tapes: [PlanTape] = []
        for f in feeds.indices {
            try feeds[f].finish(to: &recorders[f])
            tapes.append(PlanTape(groups: recorders[f].groups, events: feeds[f].events, warnings: feeds[f].warnings))
        }
        return MarketTape(source: source, tapes: tapes, tapeOfPlan: tapeOfPlan, decoded: decoded)
    }
}
