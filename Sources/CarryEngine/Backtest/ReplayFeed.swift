// The market events one run reads, handed over instant by instant, and the gaps in its
// streams. A backtest feeds it records as the read-ahead decoded them from the market
// journal; a sweep feeds it the records it decoded once, for every plan that reads them, and
// records what it hands over in a tape. Either way a run sees the same instants and the same
// gap alerts, so its records are the same bytes.
//
// Invariants: records arrive in (time, seq) order and only for traded instruments at the
// plan's bar interval (the caller filters, so it can skip a record before decoding it); an
// instant holds no definitions, so its bars are handed over as they arrive (`ReplayPipeline`
// applies an instant's bars before its other events anyway) and its settlements and interval
// changes, typed, when a record of a later time arrives, with the gap alerts its records
// revealed; a hole inside the simulated span becomes a warning and an alert, never an
// interpolated price.
//
// Zero-basis mode (`zeroBasis: true`): perp bars are never read; each spot bar is followed, in
// its instant, by a copy under the pair's perp id (same prices and volumes, not counted as an
// input event), so the perp is priced exactly at spot. Both the backtest's read-ahead and a
// sweep's tape go through `add`, so either way a run sees the same bars.

import CarryCore

/// A gap alert: its message and the source record after the hole (the alert's causation).
public typealias GapAlert = (message: String, seq: UInt64)

/// What a `ReplayFeed` hands an instant to, in this order: `begin`, each bar, `end`.
protocol InstantSink {
    mutating func begin(instant time: Timestamp) throws
    /// A bar of the open instant (in seq order); `seq` is its seq in the market journal.
    mutating func bar(_ bar: BarClosed, seq: UInt64, at time: Timestamp) throws
    /// Bars of the open instant offered by their marks first: the sink applies from the
    /// first those that can change nothing else and returns how many (the default: none);
    /// the next is then handed over whole.
    mutating func applyIdleMarks(_ marks: UnsafeBufferPointer<BarMark>, at time: Timestamp) -> Int
    /// The open instant's interval changes and settlements (each list in seq order), and the
    /// gap alerts its records revealed.
    mutating func end(instant time: Timestamp, intervalChanges: [(seq: UInt64, change: FundingIntervalChanged)],
                      settlements: [(seq: UInt64, settlement: FundingSettled)], alerts: [GapAlert]) throws
}

extension InstantSink {
    func applyIdleMarks(_ marks: UnsafeBufferPointer<BarMark>, at time: Timestamp) -> Int { 0 }
}

/// Hands one plan's market records to a sink instant by instant and watches its streams for
/// gaps.
struct ReplayFeed {
    let plan: BacktestPlan
    private let interval: UInt32
    private let cadenceMs: Int64
    /// True for the spot and perp instruments of the plan's pairs, by instrument index.
    private(set) var traded: [Bool] = []
    /// The time (ms) of the last bar of each traded instrument (Int64.min before the first),
    /// for the gaps in its bar stream: a plain array, read and written on every bar.
    private var lastBarMs: [Int64] = []
    /// Gap censuses of the funding streams the plan reads, by instrument index.
    private var fundingCensus: [GapCensus?] = []
    /// The instant being handed over; nil before the first record.
    private var instant: Timestamp?
    private var intervalChanges: [(seq: UInt64, change: FundingIntervalChanged)] = []
    private var settlements: [(seq: UInt64, settlement: FundingSettled)] = []
    private var alerts: [GapAlert] = []
    private let describe: (MarketStream) -> String
    /// Zero-basis mode: the perp id of each spot instrument (by index), and which are perps.
    private var perpOfSpot: [InstrumentId?] = []
    private var isPerp: [Bool] = []
    /// Gap warnings found so far, in the order found.
    private(set) var warnings: [String] = []
    /// Records taken so far (the run's input events).
    private(set) var events = 0

    /// A feed for `plan`; `describe` names a stream in warnings (`MarketJournal.describe`).
    init(plan: BacktestPlan, describe: @escaping (MarketStream) -> String) {
        self.plan = plan
        self.describe = describe
        interval = plan.config.barIntervalSeconds
        cadenceMs = Int64(interval) * 1000
        for p in plan.pairs {
            for d in [p.spot, p.perp] {
                while traded.count <= d.id.index {
                    traded.append(false)
                    lastBarMs.append(Int64.min)
                    fundingCensus.append(nil)
                }
                traded[d.id.index] = true
            }
        }
        if plan.config.zeroBasis {
            perpOfSpot = Array(repeating: nil, count: traded.count)
            isPerp = Array(repeating: false, count: traded.count)
            for p in plan.pairs {
                perpOfSpot[p.spot.id.index] = p.perp.id
                isPerp[p.perp.id.index] = true
            }
        }
    }

    /// True for the spot and perp instruments of the plan's pairs.
    func isTraded(_ id: InstrumentId) -> Bool { id.index < traded.count && traded[id.index] }

    /// True when the plan reads this record: a traded instrument, at the plan's bar interval
    /// (`nil` for records that are not bars), inside [warm-up start, to].
    func reads(_ id: InstrumentId, barInterval: UInt32?, at time: Timestamp) -> Bool {
        isTraded(id) && (barInterval == nil || barInterval == interval && !readsNoBars(of: id)) && time >= plan.warmupFrom && time <= plan.to
    }

    /// What the backtest's read-ahead reads for this feed: exactly the records `reads` accepts.
    var selection: MarketReadAhead.Selection {
        MarketReadAhead.Selection(traded: traded, readsBars: traded.indices.map { traded[$0] && !($0 < isPerp.count && isPerp[$0]) },
                                  barIntervalSeconds: interval, from: plan.warmupFrom, through: plan.to)
    }

    /// True for a perp in zero-basis mode (its bars come from the spot's).
    private func readsNoBars(of id: InstrumentId) -> Bool { id.index < isPerp.count && isPerp[id.index] }

    /// Takes a bar: hands it over at once (after closing an earlier instant, if any); in
    /// zero-basis mode a spot bar's copy under the perp's id follows it, and a perp's own bar
    /// is dropped (the read-ahead does not select it; a tape of an older plan might).
    mutating func add<S: InstantSink>(seq: UInt64, time: Timestamp, bar: BarClosed, to sink: inout S) throws {
        let i = bar.instrumentId.index
        if readsNoBars(of: bar.instrumentId) { return }
        try advance(to: time, sink: &sink)
        try sink.bar(bar, seq: seq, at: time)
        if i < perpOfSpot.count, let perp = perpOfSpot[i] {
            var copy = bar
            copy.instrumentId = perp
            try sink.bar(copy, seq: seq, at: time)
        }
        let last = lastBarMs[i]
        lastBarMs[i] = time.ms
        // The next bar exactly one interval on (nearly always) is never a gap.
        guard last != Int64.min, time.ms - last != cadenceMs,
              let gap = GapCensus.gap(after: Timestamp(ms: last), before: time, cadenceMs: cadenceMs) else { return }
        note(gap, .bars(bar.instrumentId, intervalSeconds: interval), seq: seq)
    }

    /// Takes a funding settlement or interval change (any other event is not the feed's: a
    /// programming error); it is handed over when its instant closes.
    mutating func add<S: InstantSink>(seq: UInt64, time: Timestamp, event: Event, to sink: inout S) throws {
        try advance(to: time, sink: &sink)
        switch event {
        case .fundingSettled(let f):
            let i = f.instrumentId.index
            // The cadence is the interval it settled under.
            let cadence = Int64(max(f.intervalMinutes, 1)) * Millis.minute
            if fundingCensus[i] == nil { fundingCensus[i] = GapCensus(cadenceMs: cadence) }
            fundingCensus[i]!.setCadence(cadence)
            if fundingCensus[i]!.observe(time), let gap = fundingCensus[i]!.gaps.last { note(gap, .funding(f.instrumentId), seq: seq) }
            settlements.append((seq, f))
        case .fundingIntervalChanged(let c):
            intervalChanges.append((seq, c))
        default:
            preconditionFailure("a replay feed takes bars, settlements and interval changes only")
        }
    }

    /// Closes the last instant.
    mutating func finish<S: InstantSink>(to sink: inout S) throws {
        if let open = instant { try close(open, sink: &sink) }
        instant = nil
    }

    private mutating func advance<S: InstantSink>(to time: Timestamp, sink: inout S) throws {
        if time != instant {
            if let open = instant { try close(open, sink: &sink) }
            try sink.begin(instant: time)
            instant = time
        }
        events += 1
    }

    private mutating func close<S: InstantSink>(_ time: Timestamp, sink: inout S) throws {
        try sink.end(instant: time, intervalChanges: intervalChanges, settlements: settlements, alerts: alerts)
        intervalChanges.removeAll(keepingCapacity: true)
        settlements.removeAll(keepingCapacity: true)
        alerts.removeAll()
    }

    /// A hole in a stream inside the simulated span becomes a warning, and an alert journaled
    /// at the end of the instant the stream resumes.
    private mutating func note(_ gap: Gap, _ stream: MarketStream, seq: UInt64) {
        guard gap.before > plan.from, gap.after < plan.to else { return }
        let w = "\(describe(stream)): gap \(gap) — treated as no data"
        warnings.append(w)
        alerts.append((w, seq))
    }
}
