// The market events one run reads, grouped by instant, and the gaps in its streams. A
// backtest feeds it records straight from a scan of the market journal; a sweep feeds it the
// records it decoded once, for every plan that reads them. Either way a run sees the same
// groups and the same gap alerts, so its records are the same bytes.
//
// Invariants: records arrive in (time, seq) order and only for traded instruments at the
// plan's bar interval (the caller filters, so it can skip a record before decoding it); a
// group is handed over when a record of a later time arrives, with the gap alerts its own
// records revealed; a hole inside the simulated span becomes a warning and an alert, never
// an interpolated price.
//
// Zero-basis mode (`zeroBasis: true`): perp bars are never read; each spot bar is followed, in
// its group, by a copy under the pair's perp id (same prices and volumes, not counted as an
// input event), so the perp is priced exactly at spot. Both the backtest's scan and a sweep's
// tape go through `add`, so either way a run sees the same bars.

import CarryCore

/// A gap alert: its message and the source record after the hole (the alert's causation).
public typealias GapAlert = (message: String, seq: UInt64)

/// Groups one plan's market records by instant and watches its streams for gaps.
struct ReplayFeed {
    let plan: BacktestPlan
    private let interval: UInt32
    private var relevant: [Bool] = []
    /// Gap censuses of the bar and funding streams the plan reads, by instrument index.
    private var barCensus: [GapCensus?] = []
    private var fundingCensus: [GapCensus?] = []
    private var group = MarketGroup()
    private var groupTime = Timestamp.distantPast
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
        for p in plan.pairs {
            for d in [p.spot, p.perp] {
                while relevant.count <= d.id.index {
                    relevant.append(false)
                    barCensus.append(nil)
                    fundingCensus.append(nil)
                }
                relevant[d.id.index] = true
                barCensus[d.id.index] = GapCensus(cadenceMs: Int64(interval) * 1000)
            }
        }
        if plan.config.zeroBasis {
            perpOfSpot = Array(repeating: nil, count: relevant.count)
            isPerp = Array(repeating: false, count: relevant.count)
            for p in plan.pairs {
                perpOfSpot[p.spot.id.index] = p.perp.id
                isPerp[p.perp.id.index] = true
                barCensus[p.perp.id.index] = nil
            }
        }
    }

    /// True for the spot and perp instruments of the plan's pairs.
    func isTraded(_ id: InstrumentId) -> Bool { id.index < relevant.count && relevant[id.index] }

    /// True when the plan reads this record: a traded instrument, at the plan's bar interval
    /// (`nil` for records that are not bars), inside [warm-up start, to].
    func reads(_ id: InstrumentId, barInterval: UInt32?, at time: Timestamp) -> Bool {
        isTraded(id) && (barInterval == nil || barInterval == interval && !readsNoBars(of: id)) && time >= plan.warmupFrom && time <= plan.to
    }

    /// True for a perp in zero-basis mode (its bars come from the spot's).
    private func readsNoBars(of id: InstrumentId) -> Bool { id.index < isPerp.count && isPerp[id.index] }

    /// Takes a bar; first hands over the group of an earlier instant, if any.
    mutating func add(seq: UInt64, time: Timestamp, bar: BarClosed,
                             flush: (inout MarketGroup, Timestamp, [GapAlert]) throws -> Void) rethrows {
        let i = bar.instrumentId.index
        if readsNoBars(of: bar.instrumentId) { return }
        try advance(to: time, flush: flush)
        group.bars.append((seq, bar))
        if i < perpOfSpot.count, let perp = perpOfSpot[i] {
            var copy = bar
            copy.instrumentId = perp
            group.bars.append((seq, copy))
        }
        if var census = barCensus[i] {
            observe(&census, .bars(bar.instrumentId, intervalSeconds: interval), at: time, seq: seq)
            barCensus[i] = census
        }
    }

    /// Takes a funding settlement or interval change; first hands over an earlier group.
    mutating func add(seq: UInt64, time: Timestamp, event: Event,
                             flush: (inout MarketGroup, Timestamp, [GapAlert]) throws -> Void) rethrows {
        try advance(to: time, flush: flush)
        if case .fundingSettled(let f) = event {
            let i = f.instrumentId.index
            let cadence = Int64(max(f.intervalMinutes, 1)) * Millis.minute
            var census = fundingCensus[i] ?? GapCensus(cadenceMs: cadence)
            census.setCadence(cadence)
            observe(&census, .funding(f.instrumentId), at: time, seq: seq)
            fundingCensus[i] = census
        }
        group.others.append((seq, event))
    }

    /// Hands over the last group.
    mutating func finish(flush: (inout MarketGroup, Timestamp, [GapAlert]) throws -> Void) rethrows {
        if !group.isEmpty { try handOver(flush) }
    }

    private mutating func advance(to time: Timestamp, flush: (inout MarketGroup, Timestamp, [GapAlert]) throws -> Void) rethrows {
        if time != groupTime && !group.isEmpty { try handOver(flush) }
        groupTime = time
        events += 1
    }

    private mutating func handOver(_ flush: (inout MarketGroup, Timestamp, [GapAlert]) throws -> Void) rethrows {
        try flush(&group, groupTime, alerts)
        group.removeAll()
        alerts.removeAll()
    }

    /// Observes a stream; a hole inside the simulated span becomes a warning, and an alert
    /// journaled with the group of the time the stream resumes.
    private mutating func observe(_ census: inout GapCensus, _ stream: MarketStream, at time: Timestamp, seq: UInt64) {
        let before = census.gaps.count
        census.observe(time)
        if census.gaps.count > before, let gap = census.gaps.last, gap.before > plan.from, gap.after < plan.to {
            let w = "\(describe(stream)): gap \(gap) — treated as no data"
            warnings.append(w)
            alerts.append((w, seq))
        }
    }
}
