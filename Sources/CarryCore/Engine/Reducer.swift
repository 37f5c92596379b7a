// The reducer: state plus one input gives the new state and the decisions it implies. Live
// trading, paper trading and backtests run exactly this code; they differ only in who feeds
// inputs and who executes the order commands.
//
// It owns the pair state machine (`PairMachine`), the order state machine (`OrderLifecycle`),
// risk (pre-trade, while holding, leg risk, delta drift, drawdown, the kill switch) and
// reconciliation. The strategy (`CarryStrategy`) and the sizer (`PositionSizer`) sit behind
// their own seams.
//
// Invariants:
// - Pure: time comes from the input, never a clock; no randomness; no IO.
// - The caller passes `nextSeq`, the seq the first returned decision will be journaled
//   under, and journals the decisions in order right after the input. That lets a decision
//   name another (an intent's causation is its signal; a pair's id is its opening signal's
//   seq) and makes a fold of the journal reproduce the decisions byte for byte (`Recovery`).
// - Decisions carry the input's time as their event time.
// - Prices come only from bars of the configured interval, at their close; funding rates
//   only from settlements, at their settlement time. Nothing reads ahead.
// - An order is never sent twice: an intent is one order; an unknown outcome waits for a
//   fact. A cancel is decided at most once per order.
// - Positions are the sum of fills (plus reconciliation corrections); every fill the venue
//   reports is booked, even one the engine objects to (it is real money), and the objection
//   halts new entries.

/// The state of one configured spot+perp pair.
public struct PairState: Sendable, Equatable {
    public var phase: PairPhase = .flat
    /// The seq of the signal that opened the pair (0 when flat).
    public var pairId: UInt64 = 0
    /// Target quantity of each leg while opening/open.
    public var targetQty: Fixed = .zero
    /// When both legs were filled.
    public var openedAt: Timestamp?
    /// When the pair last went flat (for the re-entry cool-down).
    public var closedAt: Timestamp?
    /// Orders of this pair that are not finished.
    public var openIntents: [UInt64] = []
    /// Naked exposure used, in full-pair-notional milliseconds, while one leg is ahead.
    public var legRiskUsedMs: Int64 = 0
    /// Close attempts made at the current instant (bounded: a close that keeps failing is
    /// retried at the next scan, not in a loop).
    public var closeAttempts: Int = 0
    public var lastCloseAttempt: Timestamp = .distantPast
    /// No rebalancing before this (after one ended unfilled).
    public var rebalanceAfter: Timestamp = .distantPast
    /// The missing leg was already sent again once (policy `complete`): next time, unwind.
    public var completedOnce = false
    /// Leg-risk budgets exhausted while opening (the second one always unwinds).
    public var budgetsExhausted = 0
    /// The venue refused a close because it holds nothing to reduce: our position is wrong,
    /// so closing waits for reconciliation instead of retrying.
    public var closeRefusedByVenue = false
    /// The perp leg's funding and the pair's fees + slippage booked when the pair was decided,
    /// so what the pair itself collected and paid is the difference.
    public var fundingMark: Fixed = .zero
    public var costMark: Fixed = .zero

    public init() {}
}

/// Why the engine stopped opening pairs.
public struct HaltState: Sendable, Equatable {
    public var rule: RiskRule
    public var since: Timestamp
}

/// The engine: market state, portfolio, pairs, orders, risk state.
public struct CarryReducer: Sendable, Equatable {
    public let config: EngineConfig
    /// Cool-down after a pair closes before it may reopen, in ms.
    public let reentryCooldownMs: Int64
    public private(set) var strategy: AnyCarryStrategy
    /// `strategy.observesBars`, kept (read on every bar: asking the strategy, then an enum,
    /// copied all 560 bytes of it each time).
    private let strategyObservesBars: Bool
    public let sizer: AnyPositionSizer
    public private(set) var instruments: [InstrumentDefined?] = []
    /// Last close of a bar of the engine's interval, by instrument index (the marks).
    public private(set) var marks: [Fixed?] = []
    public private(set) var portfolio: Portfolio
    public private(set) var pairs: [PairState]
    /// Every order decided, working or finished (finished ones are kept to recognise late and
    /// repeated facts; the oldest finished are dropped past `orderMemory`).
    public private(set) var orders: [UInt64: OrderTrack] = [:]
    /// Intents below this seq were forgotten (finished long ago).
    public private(set) var forgottenBelow: UInt64 = 0
    public private(set) var killSwitchEngaged = false
    public private(set) var peakEquity: Fixed
    public private(set) var now: Timestamp = .distantPast
    /// Set by a venue fact that broke an expectation: no new pairs until released.
    public private(set) var halt: HaltState?
    /// Set by a reconciliation that found a mismatch: no new pairs until one matches.
    public private(set) var reconciliationHold = false
    /// The last reason journaled for not entering each pair (cleared when it enters or stops
    /// qualifying), so "why not" is journaled when it changes, not at every scan.
    public private(set) var lastSkip: [EntryVeto?]
    /// Pair index by instrument id (spot or perp leg), for fills and bars.
    private var pairOfInstrument: [Int?] = []
    /// Pairs in a phase where one leg can be ahead of the other (leg risk is metered).
    private var legRiskPairs = 0
    /// Pairs not flat (counted at each transition: the scan and every equity sample ask).
    public private(set) var activePairs = 0
    /// The scan's view buffer, handed back at the end of each scan and refilled by the next
    /// (allocating it at every scan showed in a sweep's profile).
    private var viewBuffer = ScanBuffer()
    /// The positions' value at the marks as the last scan's drawdown check found it, kept
    /// until the next input, bar or mark (which may move it): `scanPositionsValue`.
    private var valuationMemo = ValuationMemo()
    /// Orders whose outcome is unknown (kept as a count: the pipeline asks every instant).
    public private(set) var unknownCount = 0
    /// Execution ids of liquidations booked (membership only: never iterated).
    private var liquidationExecutions: Set<String> = []
    /// A live session's funding ledger (nil: off — backtests and paper sessions).
    public private(set) var fundingLedger: FundingLedger?
    /// Liquidation prices of held perp positions (a cache for the margin buffer on each bar).
    private var liquidationMemo = LiquidationMemo()
    /// The last settlement and the last prediction seen per instrument (pre-flight of an
    /// operator's trade: current and predicted funding).
    public private(set) var lastSettled: [FundingSettled?] = []
    public private(set) var lastPredicted: [FundingPredicted?] = []

    /// Finished orders kept for recognising late facts.
    static let orderMemory = 4096
    /// How long after a cancel or expiry a raced fill may still arrive (reconciliation waits).
    static let lateFillGraceMs: Int64 = 2 * Millis.minute

    /// A fresh engine. `matchesFunding` keeps a funding ledger (a live session: the venue's
    /// payments matched to what the engine expected, differences alerted).
    public init(config: EngineConfig, reentryCooldownMs: Int64 = 8 * Millis.hour, matchesFunding: Bool = false) {
        self.config = config
        self.reentryCooldownMs = reentryCooldownMs
        fundingLedger = matchesFunding ? FundingLedger() : nil
        if let composite = config.composite {
            strategy = .composite(CompositeStrategy(config: composite, pairs: config.pairs, fees: config.fees, slippage: config.slippage))
            sizer = .conviction(ConvictionSizer(minNotionalUsdt: composite.minNotionalUsdt, maxNotionalUsdt: composite.maxNotionalUsdt))
        } else {
            strategy = .threshold(ThresholdStrategy(config: config.strategy, pairs: config.pairs))
            sizer = .fixed(FixedNotionalSizer(notionalUsdt: config.strategy.pairNotionalUsdt))
        }
        strategyObservesBars = strategy.observesBars
        portfolio = Portfolio(initialCash: config.initialCashUsdt)
        pairs = Array(repeating: PairState(), count: config.pairs.count)
        lastSkip = Array(repeating: nil, count: config.pairs.count)
        peakEquity = config.initialCashUsdt
        for (i, p) in config.pairs.enumerated() {
            grow(to: p.spot)
            grow(to: p.perp)
            precondition(pairOfInstrument[p.spot.index] == nil && pairOfInstrument[p.perp.index] == nil,
                         "an instrument is in two pairs: the config must list each symbol once")
            pairOfInstrument[p.spot.index] = i
            pairOfInstrument[p.perp.index] = i
        }
    }

    private mutating func grow(to id: InstrumentId) {
        while instruments.count <= id.index {
            instruments.append(nil)
            marks.append(nil)
            pairOfInstrument.append(nil)
            lastSettled.append(nil)
            lastPredicted.append(nil)
        }
    }

    /// The last close of an instrument (its mark).
    public func mark(_ id: InstrumentId) -> Fixed? { id.index < marks.count ? marks[id.index] : nil }

    /// Equity at the last closes.
    public var equity: Fixed { portfolio.equity(marks: marks) }

    /// `portfolio.positionsValue(marks: marks)` as the last scan computed it, when no input,
    /// bar or mark has come since (the portfolio and marks move only with those; a scan's own
    /// decisions change neither): an equity sample right after a scan values the book once,
    /// not twice. Nil otherwise.
    public var scanPositionsValue: Fixed? { valuationMemo.positionsValue }

    /// True when new pairs may be opened.
    public var mayOpen: Bool { !killSwitchEngaged && halt == nil && !reconciliationHold }

    /// Orders sent and not finished, in seq order.
    public var workingOrders: [OrderTrack] { orders.values.filter { $0.state.isWorking }.sorted { $0.intentSeq < $1.intentSeq } }

    /// Orders decided but not yet handed to the venue, in seq order (after a restart: to send).
    public var unsentOrders: [OrderTrack] { orders.values.filter { $0.state == .intended }.sorted { $0.intentSeq < $1.intentSeq } }

    /// Orders whose outcome is unknown, in seq order (to query).
    public var unknownOrders: [OrderTrack] {
        unknownCount == 0 ? [] : orders.values.filter { $0.state == .unknown }.sorted { $0.intentSeq < $1.intentSeq }
    }

    /// Moves an order to a state, keeping the count of unknown ones.
    private mutating func setState(_ track: inout OrderTrack, _ state: OrderState) {
        if track.state == .unknown { unknownCount -= 1 }
        if state == .unknown { unknownCount += 1 }
        track.state = state
    }

    // MARK: - The reducer

    /// Applies one input. `ref` identifies it (a local seq, or a seq in the source journal);
    /// `nextSeq` is the seq the first returned decision will get.
    public mutating func apply(_ input: EngineInput, time: Timestamp, ref: CausationRef, nextSeq: UInt64) -> [Decision] {
        if case .market(.bar(let bar)) = input { return applyBar(bar, time: time, ref: ref, nextSeq: nextSeq) }
        valuationMemo.positionsValue = nil
        var out = DecisionBuffer(nextSeq: nextSeq)
        advanceClock(to: time, ref: ref, into: &out)
        switch input {
        case .market(let m):
            market(m, time: time, ref: ref)
            if case .fundingSettled(let f) = m, fundingLedger != nil { expectFunding(f, time: time, ref: ref, into: &out) }
        case .venue(let v):
            venue(v, ref: ref, into: &out)
        case .clock(let tick):
            if tick.purpose == .scan { scan(ref: ref, into: &out) } else { retryStuckCloses(ref: ref, into: &out) }
        case .command(.killSwitch(let engaged, _)):
            if engaged && !killSwitchEngaged {
                killSwitchEngaged = true
                flattenAll(ref: ref, into: &out)
            } else if !engaged {
                killSwitchEngaged = false
                halt = nil
                peakEquity = equity
            }
        case .command(.trade(let t)):
            operatorTrade(t, ref: ref, into: &out)
        }
        return out.decisions
    }

    /// A copy to read elsewhere (a session's published status: the operator's pre-flight and
    /// pairs table) without the order table. A copy sharing that table made the running
    /// engine's next order event copy all of it (copy on write; up to `orderMemory` orders),
    /// and the copies fragmented a long session's heap. The pre-flight and the pairs table read
    /// pairs, the book, marks and config only.
    public var withoutOrders: CarryReducer {
        var copy = self
        copy.orders = [:]
        return copy
    }

    /// Applies a journaled event if it is an input (decisions and run-control records decide
    /// nothing).
    public mutating func apply(_ event: Event, time: Timestamp, ref: CausationRef, nextSeq: UInt64) -> [Decision] {
        guard let input = EngineInput(event) else { return [] }
        return apply(input, time: time, ref: ref, nextSeq: nextSeq)
    }

    /// Applies a bar: exactly `apply(.market(.bar(bar)), …)` (the replay hot path).
    public mutating func applyBar(_ bar: BarClosed, time: Timestamp, ref: CausationRef, nextSeq: UInt64) -> [Decision] {
        valuationMemo.positionsValue = nil
        var out = DecisionBuffer(nextSeq: nextSeq)
        // Every bar of an instant but its first finds the clock there already.
        if time > now { advanceClock(to: time, ref: ref, into: &out) }
        let i = bar.instrumentId.index
        guard bar.intervalSeconds == config.barIntervalSeconds, i < marks.count else { return out.decisions }
        marks[i] = bar.close
        if strategyObservesBars { strategy.observe(.bar(bar), time: time, ref: ref) }
        guard let pairIndex = pairOfInstrument[i], pairs[pairIndex].phase != .flat else { return out.decisions }
        checkRisk(afterBarOf: pairIndex, bar: bar, ref: ref, into: &out)
        return out.decisions
    }

    /// True when a bar at `time` can change nothing but a mark (and the clock) if its
    /// instrument `isIdle`: the strategy reads no bars and no leg risk is metered (its clock
    /// advance meters nothing). Then `applyBar` decides nothing and `markOnly` is all it does.
    @inline(__always)
    public func barsMayOnlyMark(at time: Timestamp) -> Bool {
        !strategyObservesBars && (legRiskPairs == 0 || time <= now)
    }

    /// True when instrument index `i` is in no pair, or in a flat one.
    @inline(__always)
    public func isIdle(_ i: Int) -> Bool {
        guard i < pairOfInstrument.count, let p = pairOfInstrument[i] else { return true }
        return pairs[p].phase == .flat
    }

    /// `applyBar` for a bar that changes only its mark (`barsMayOnlyMark`, `isIdle`): the
    /// clock moves to `time` (metering nothing) and the mark is the close.
    @inline(__always)
    public mutating func markOnly(_ i: Int, intervalSeconds: UInt32, close: Fixed, at time: Timestamp) {
        valuationMemo.positionsValue = nil
        if time > now { now = time }
        guard intervalSeconds == config.barIntervalSeconds, i < marks.count else { return }
        marks[i] = close
    }

    private mutating func market(_ m: MarketInput, time: Timestamp, ref: CausationRef) {
        switch m {
        case .defined(let d):
            grow(to: d.id)
            instruments[d.id.index] = d
        case .fundingSettled(let f):
            grow(to: f.instrumentId)
            lastSettled[f.instrumentId.index] = f
        case .fundingPredicted(let f):
            grow(to: f.instrumentId)
            lastPredicted[f.instrumentId.index] = f
        case .bar, .quote, .fundingInterval:
            break
        }
        strategy.observe(m, time: time, ref: ref)
    }

    /// Time moves forward: meter the leg risk of pairs with one leg ahead.
    private mutating func advanceClock(to time: Timestamp, ref: CausationRef, into out: inout DecisionBuffer) {
        guard time > now else { return }
        let elapsed = now == .distantPast ? 0 : time.msSince(now)
        now = time
        guard legRiskPairs > 0, elapsed > 0 else { return }
        for i in pairs.indices where pairs[i].phase == .opening {
            let naked = nakedFraction(i)
            guard naked.isPositive else { continue }
            // Full-pair-notional ms: naked share × elapsed, rounded up (never under-counted).
            let used = naked.multiplied(by: Fixed(elapsed), scale: 0, .up)
            pairs[i].legRiskUsedMs += Int64(clamping: used.mantissa)
            if pairs[i].legRiskUsedMs > config.execution.legRiskBudgetMs, pairs[i].phase == .opening {
                legRiskExceeded(i, ref: ref, into: &out)
            }
        }
    }

    /// |spot qty + perp qty| ÷ target qty: the share of the pair that is unhedged. (Inlined:
    /// called from a mutating method, a non-mutating call copied the whole reducer, 800 bytes,
    /// on every bar of an open pair.)
    @inline(__always)
    private func nakedFraction(_ i: Int) -> Fixed {
        let p = config.pairs[i]
        let target = pairs[i].targetQty
        guard target.isPositive else { return .zero }
        let imbalance = (portfolio.position(p.spot) + portfolio.position(p.perp)).magnitude
        // Hedged (the usual case, checked on every bar of an open pair): the quotient is 0 at
        // scale 6, without the 128-bit division.
        if imbalance.isZero { return Fixed(mantissa: 0, scale: 6) }
        return imbalance.divided(by: target, scale: 6, .up)
    }

    // MARK: - Pair transitions

    /// Moves pair `i` by `cause`, journaling the transition; a cause the table refuses is
    /// journaled as an alert and changes nothing. Returns whether it moved.
    @discardableResult
    private mutating func transition(_ i: Int, _ cause: PairCause, observed: Fixed = .zero, completing: Bool = false, ref: CausationRef,
                                     into out: inout DecisionBuffer) -> Bool {
        let from = pairs[i].phase
        let p = config.pairs[i]
        guard let to = PairMachine.next(from, cause, completeMissingLeg: completing) else {
            out.add(.alert(AlertRaised(severity: .warning, code: "pair.refused",
                                       message: "pair \(pairs[i].pairId): \(cause) refused in phase \(from)")), causation: ref)
            return false
        }
        out.add(.pair(PairTransition(pairId: pairs[i].pairId, spot: p.spot, perp: p.perp, from: from, to: to, cause: cause, observed: observed)),
                causation: ref)
        let wasMetered = from == .opening
        let isMetered = to == .opening
        if wasMetered && !isMetered { legRiskPairs -= 1 }
        if !wasMetered && isMetered { legRiskPairs += 1 }
        if from == .flat && to != .flat { activePairs += 1 }
        if from != .flat && to == .flat { activePairs -= 1 }
        pairs[i].phase = to
        switch to {
        case .flat:
            let closed = now
            forgetFinishedOrders(of: i)
            pairs[i] = PairState()
            pairs[i].closedAt = closed
        case .open where from == .opening:
            pairs[i].openedAt = now
        default:
            break
        }
        return true
    }

    // MARK: - Strategy

    /// What the strategy sees: every pair's phase and, for pairs not flat, what they hold,
    /// collected and paid.
    /// Built in `views` (the scan's buffer, refilled in place when no earlier view still shares
    /// it). Not mutating: as a mutating method it copied the whole reducer at each call.
    private func view(into views: inout [PairView]) -> StrategyView {
        views.removeAll(keepingCapacity: true)
        views.reserveCapacity(pairs.count)
        // Fields read in place: copying each `PairState` out (with its intents array), here and
        // in the scan's count of active pairs, showed as about a seventh of the scan in perf.
        for (i, spec) in config.pairs.enumerated() {
            var v = PairView(spec: spec, phase: pairs[i].phase, openedAt: pairs[i].openedAt)
            if pairs[i].phase != .flat {
                v.targetQty = pairs[i].targetQty
                v.fundingUsdt = fundingBooked(spec) - pairs[i].fundingMark
                v.costsUsdt = costsBooked(spec) - pairs[i].costMark
            } else {
                v.entryAllowed = mayOpen && !(pairs[i].closedAt.map { now.msSince($0) < reentryCooldownMs } ?? false)
            }
            views.append(v)
        }
        return StrategyView(now: now, pairs: views, marks: marks)
    }

    /// Funding booked on a pair's perp leg, ever.
    public func fundingBooked(_ p: PairSpec) -> Fixed { p.perp.index < portfolio.funding.count ? portfolio.funding[p.perp.index] : .zero }

    /// Fees and slippage booked on a pair's legs, ever.
    public func costsBooked(_ p: PairSpec) -> Fixed { costsBooked(p.spot) + costsBooked(p.perp) }

    func costsBooked(_ id: InstrumentId) -> Fixed {
        id.index < portfolio.fees.count ? portfolio.fees[id.index] + portfolio.slippage[id.index] : .zero
    }

    private mutating func scan(ref: CausationRef, into out: inout DecisionBuffer) {
        if fundingLedger?.open.isEmpty == false {
            // Expired in place (a copy taken out and written back would copy its table).
            let names = instruments, t = now
            for alert in fundingLedger?.expire(now: t, symbol: { id in Self.symbol(id, names) }) ?? [] { out.add(.alert(alert), causation: ref) }
        }
        if checkDrawdown(ref: ref, into: &out) { return }
        // Exits first, so freed capacity can be used by entries in the same scan.
        // The buffer of the last scan's view, taken (unique, so refilled in place).
        var buffer = viewBuffer.views
        viewBuffer.views = []
        var scanView = view(into: &buffer)
        let decidedBefore = out.decisions.count
        for exit in strategy.exits(scanView) where pairs[exit.pairIndex].phase == .open {
            let signalSeq = out.add(.signal(exit.signal), causation: ref)
            closePair(exit.pairIndex, cause: .exit, reason: .close, ref: .local(signalSeq), into: &out)
        }
        retryStuckCloses(ref: ref, into: &out)
        guard !killSwitchEngaged else { return }
        // The view again only when something was decided (the common scan decides nothing).
        if out.decisions.count != decidedBefore { scanView = view(into: &buffer) }
        let candidates = strategy.entries(scanView)
        var active = activePairs
        var considered = PairSet(count: pairs.count)
        for c in candidates where pairs[c.pairIndex].phase == .flat {
            let i = c.pairIndex
            considered.insert(i)
            if let veto = c.veto {
                skip(i, veto, ref: ref, into: &out)
                continue
            }
            if let closed = pairs[i].closedAt, now.msSince(closed) < reentryCooldownMs {
                skip(i, .cooldown, limit: Fixed(reentryCooldownMs), observed: Fixed(now.msSince(closed)), ref: ref, into: &out)
                continue
            }
            if halt != nil {
                skip(i, .engineHalted, limit: .zero, observed: .zero, ref: ref, into: &out)
                continue
            }
            if reconciliationHold {
                skip(i, .reconciliationHold, limit: .zero, observed: .zero, ref: ref, into: &out)
                continue
            }
            if active >= config.strategy.maxOpenPairs {
                skip(i, .crowdedOut, limit: Fixed(Int64(config.strategy.maxOpenPairs)), observed: Fixed(Int64(active)), ref: ref, into: &out)
                continue
            }
            switch open(i, candidate: c, view: scanView, ref: ref, into: &out) {
            case .opened:
                active += 1
                lastSkip[i] = nil
            case .refused:
                lastSkip[i] = EntryVeto(reason: .risk, factor: nil, limit: .zero, observed: .zero)
            case .skipped:
                break
            }
        }
        for i in pairs.indices where !considered.contains(i) && pairs[i].phase == .flat { lastSkip[i] = nil }
        viewBuffer.views = buffer
    }

    /// Journals why pair `i` was not entered, when the reason changed since the last scan.
    private mutating func skip(_ i: Int, _ reason: SkipReason, limit: Fixed, observed: Fixed, ref: CausationRef, into out: inout DecisionBuffer) {
        skip(i, EntryVeto(reason: reason, factor: nil, limit: limit, observed: observed), ref: ref, into: &out)
    }

    /// Journals a veto when its reason (and factor) differ from the last one journaled for the pair.
    private mutating func skip(_ i: Int, _ veto: EntryVeto, ref: CausationRef, into out: inout DecisionBuffer) {
        if let last = lastSkip[i], last.reason == veto.reason, last.factor == veto.factor { return }
        lastSkip[i] = veto
        let p = config.pairs[i]
        out.add(.skipped(EntrySkipped(spot: p.spot, perp: p.perp, reason: veto.reason, factor: veto.factor, limit: veto.limit, observed: veto.observed)),
                causation: ref)
    }

    /// What became of an entry.
    private enum EntryOutcome {
        /// Intents for both legs went out.
        case opened
        /// A risk rule or the exchange's rules refused it (journaled as a breach).
        case refused
        /// Not attempted; the skip was journaled.
        case skipped
    }

    /// Sizes, risk-checks and (when allowed) opens a pair.
    private mutating func open(_ i: Int, candidate: EntryCandidate, view entryView: StrategyView, ref: CausationRef,
                               into out: inout DecisionBuffer) -> EntryOutcome {
        let p = config.pairs[i]
        guard let spotDef = instruments[p.spot.index], let perpDef = instruments[p.perp.index],
              let spotPrice = mark(p.spot), let perpPrice = mark(p.perp) else { return .refused }
        let capacity = Fixed.max(.zero, config.risk.maxTotalNotionalUsdt - openNotional())
        let sized = sizer.size(SizeRequest(spot: spotDef, perp: perpDef, spotPrice: spotPrice, perpPrice: perpPrice, conviction: candidate.conviction,
                                           capacityUsdt: capacity))
        if case .noRoom(let room, let minimum) = sized {
            skip(i, EntryVeto(reason: .cap, factor: nil, limit: room, observed: minimum), ref: ref, into: &out)
            return .skipped
        }
        let signalSeq = out.add(.signal(strategy.entrySignal(for: candidate, pair: p, view: entryView)), causation: ref)
        let qty: Fixed
        switch sized {
        case .qty(let q):
            qty = q
        case .scaled(let q, let requested, let room):
            qty = q
            out.add(.risk(RiskBreached(rule: .maxTotalNotional, action: .scaled, instrumentId: p.perp, limit: room, observed: requested)),
                    causation: .local(signalSeq))
        case .tooSmall(let step, let raw):
            out.add(.risk(RiskBreached(rule: .minOrderSize, action: .rejected, instrumentId: p.perp, limit: step, observed: raw)), causation: .local(signalSeq))
            return .refused
        case .noRoom:
            return .skipped
        }
        let proposal = entryProposal(qty: qty, spot: spotDef, perp: perpDef, spotPrice: spotPrice, perpPrice: perpPrice)
        if let breach = RiskChecks.checkEntry(proposal, limits: config.risk, margin: config.margin) {
            out.add(.risk(RiskBreached(rule: breach.0, action: .rejected, instrumentId: p.perp, limit: breach.limit, observed: breach.observed)),
                    causation: .local(signalSeq))
            return .refused
        }
        enter(i, qty: qty, signalSeq: signalSeq, into: &out)
        return .opened
    }

    /// What an entry of `qty` would do to the book, for `RiskChecks.checkEntry` (the
    /// strategy's entries and the operator's alike).
    func entryProposal(qty: Fixed, spot spotDef: InstrumentDefined, perp perpDef: InstrumentDefined, spotPrice: Fixed, perpPrice: Fixed) -> EntryProposal {
        let notional = qty.multiplied(by: perpPrice, scale: quoteScale, .up)
        let spotFees = config.fees.rates(for: spotDef).taker
        let perpFees = config.fees.rates(for: perpDef).taker
        let estimatedFees = notional.multiplied(by: spotFees + perpFees, scale: quoteScale, .up)
        return EntryProposal(qty: qty, spotPrice: spotPrice, perpPrice: perpPrice, notionalUsdt: notional,
                             openNotionalUsdt: openNotional(), equityUsdt: equity, committedUsdt: committed(),
                             estimatedFeesUsdt: estimatedFees)
    }

    /// Opens pair `i` at `qty` once its signal (`signalSeq`) and checks passed: the pair goes
    /// to opening and both legs' orders go out (the paired execution every entry shares).
    mutating func enter(_ i: Int, qty: Fixed, signalSeq: UInt64, into out: inout DecisionBuffer) {
        let p = config.pairs[i]
        pairs[i].pairId = signalSeq
        pairs[i].fundingMark = fundingBooked(p)
        pairs[i].costMark = costsBooked(p)
        transition(i, .entry, ref: .local(signalSeq), into: &out)
        pairs[i].targetQty = qty
        pairs[i].openedAt = nil
        pairs[i].legRiskUsedMs = 0
        send(OrderIntended(pairId: signalSeq, leg: .spot, instrumentId: p.spot, side: .buy, type: .market, timeInForce: .immediateOrCancel,
                           qty: qty, limitPrice: nil, reduceOnly: false, reason: .open), pair: i, cause: .local(signalSeq), into: &out)
        send(OrderIntended(pairId: signalSeq, leg: .perp, instrumentId: p.perp, side: .sell, type: .market, timeInForce: .immediateOrCancel,
                           qty: qty, limitPrice: nil, reduceOnly: false, reason: .open), pair: i, cause: .local(signalSeq), into: &out)
    }

    private mutating func send(_ intent: OrderIntended, pair: Int?, cause: CausationRef, into out: inout DecisionBuffer) {
        let seq = out.add(.submit(intent), causation: cause)
        orders[seq] = OrderTrack(intent: intent, intentSeq: seq, pairIndex: pair)
        if let pair { pairs[pair].openIntents.append(seq) }
    }

    private mutating func cancel(_ intentSeq: UInt64, reason: CancelReason, cause: CausationRef, into out: inout DecisionBuffer) {
        guard var track = orders[intentSeq], !track.state.isTerminal, !track.cancelRequested else { return }
        track.cancelRequested = true
        orders[intentSeq] = track
        out.add(.cancel(CancelIntended(intentSeq: intentSeq, reason: reason)), causation: cause)
    }

    /// Takes both legs of a pair to zero: moves it to closing (or unwinding), pulls its working
    /// opening orders, and sends reduce-only orders for what each leg holds beyond what is
    /// already being closed. A pair already closing or unwinding only records the cause.
    mutating func closePair(_ i: Int, cause: PairCause, reason: IntentReason, ref: CausationRef, into out: inout DecisionBuffer) {
        let phase = pairs[i].phase
        guard phase != .flat else { return }
        guard transition(i, cause, ref: ref, into: &out) else { return }
        if phase == .closing || phase == .unwinding { return }   // already on its way to flat: nothing more to send
        let cancelReason: CancelReason = cause == .killSwitch ? .killSwitch : (cause == .legRiskBudget ? .legRisk : .pairClosing)
        for seq in pairs[i].openIntents where orders[seq].map({ !$0.intent.reduceOnly }) == true {
            cancel(seq, reason: cancelReason, cause: ref, into: &out)
        }
        sendCloses(i, reason: reason, cause: ref, into: &out)
        settleIfFlat(i, ref: ref, into: &out)
    }

    /// Reduce-only orders for what each leg holds beyond what working reduce-only orders cover.
    private mutating func sendCloses(_ i: Int, reason: IntentReason, cause: CausationRef, into out: inout DecisionBuffer) {
        let p = config.pairs[i]
        for (leg, id) in [(Leg.spot, p.spot), (Leg.perp, p.perp)] {
            let pos = portfolio.position(id)
            var covered = Fixed.zero
            for seq in pairs[i].openIntents {
                if let o = orders[seq], o.intent.instrumentId == id, o.intent.reduceOnly { covered += o.remaining }
            }
            let qty = pos.magnitude - covered
            guard qty.isPositive else { continue }
            let closeQty = closeQuantity(qty, instrument: id)
            guard closeQty.isPositive else { continue }
            send(OrderIntended(pairId: pairs[i].pairId, leg: leg, instrumentId: id, side: pos.isPositive ? .sell : .buy, type: .market,
                               timeInForce: .immediateOrCancel, qty: closeQty, limitPrice: nil, reduceOnly: true, reason: reason),
                 pair: i, cause: cause, into: &out)
        }
    }

    /// A quantity the venue accepts for closing `qty` (down to the step); a remainder below the
    /// step (a base-coin fee's dust) stays — it cannot be sold.
    private func closeQuantity(_ qty: Fixed, instrument id: InstrumentId) -> Fixed {
        guard let def = instruments[id.index], def.qtyStep.isPositive else { return qty }
        if qty.isMultiple(of: def.qtyStep) { return qty }
        return qty.rounded(toMultipleOf: def.qtyStep, .towardZero).rounded(scale: Int(def.qtyStep.scale), .towardZero)
    }

    private mutating func flattenAll(ref: CausationRef, into out: inout DecisionBuffer) {
        for i in pairs.indices where pairs[i].phase != .flat {
            closePair(i, cause: .killSwitch, reason: .flatten, ref: ref, into: &out)
        }
    }

    /// Pairs closing or unwinding with nothing working and a position left (a close order was
    /// rejected, cancelled or expired): close again, at most three times per instant.
    private mutating func retryStuckCloses(ref: CausationRef, into out: inout DecisionBuffer) {
        for i in pairs.indices where (pairs[i].phase == .closing || pairs[i].phase == .unwinding) && pairs[i].openIntents.isEmpty {
            retryClose(i, ref: ref, into: &out)
        }
    }

    private mutating func retryClose(_ i: Int, ref: CausationRef, into out: inout DecisionBuffer) {
        if pairs[i].lastCloseAttempt != now {
            pairs[i].lastCloseAttempt = now
            pairs[i].closeAttempts = 0
        }
        guard pairs[i].closeAttempts < 3, !pairs[i].closeRefusedByVenue, hasClosableQuantity(i) else { return }
        pairs[i].closeAttempts += 1
        guard transition(i, .closeRetry, ref: ref, into: &out) else { return }
        sendCloses(i, reason: pairs[i].phase == .unwinding ? .flatten : .close, cause: ref, into: &out)
    }

    private func hasClosableQuantity(_ i: Int) -> Bool {
        let p = config.pairs[i]
        return [p.spot, p.perp].contains { closeQuantity(portfolio.position($0).magnitude, instrument: $0).isPositive }
    }

    // MARK: - Venue facts

    private mutating func venue(_ v: VenueInput, ref: CausationRef, into out: inout DecisionBuffer) {
        switch v {
        case .submitted(let s):
            orderSignal(s.intentSeq, .sent, ref: ref, into: &out)
        case .accepted(let a):
            orderSignal(a.intentSeq, .acknowledged, ref: ref, into: &out)
        case .rejected(let r):
            if r.code == SimRejectCode.reduceOnlyNothing, let i = orders[r.intentSeq]?.pairIndex {
                pairs[i].closeRefusedByVenue = true
                reconciliationHold = true
            }
            if orderSignal(r.intentSeq, .refused, ref: ref, into: &out) { orderEnded(r.intentSeq, ref: ref, into: &out) }
        case .cancelled(let c):
            if orderSignal(c.intentSeq, .cancelled, ref: ref, into: &out) { orderEnded(c.intentSeq, ref: ref, into: &out) }
        case .expired(let e):
            if orderSignal(e.intentSeq, .expired, ref: ref, into: &out) { orderEnded(e.intentSeq, ref: ref, into: &out) }
        case .unknown(let u):
            orderSignal(u.intentSeq, .noAnswer, ref: ref, into: &out)
        case .status(let s):
            statusReported(s, ref: ref, into: &out)
        case .filled(let fill):
            filled(fill, ref: ref, into: &out)
        case .fundingPaid(let payment):
            portfolio.apply(payment)
            if fundingLedger != nil, let alert = fundingLedger!.paid(payment, symbol: symbol(payment.instrumentId)) {
                out.add(.alert(alert), causation: ref)
            }
        case .snapshot(let snapshot):
            reconcile(snapshot, ref: ref, into: &out)
        }
    }

    /// Feeds an order fact to the order state machine. A fact for an intent the engine never
    /// made, or one the machine refuses, is a breach that halts new entries. Returns whether
    /// the order moved (or stayed) by the table.
    @discardableResult
    private mutating func orderSignal(_ intentSeq: UInt64, _ signal: OrderSignal, ref: CausationRef, into out: inout DecisionBuffer) -> Bool {
        guard var track = orders[intentSeq] else {
            if intentSeq != 0 && intentSeq < forgottenBelow { return false }   // a late echo of an order finished long ago
            breach(.unknownIntent, instrument: nil, limit: .zero, observed: Fixed(Int64(clamping: intentSeq)), ref: ref, into: &out)
            return false
        }
        guard let next = OrderLifecycle.next(track.state, signal) else {
            breach(.orderStateRefused, instrument: track.intent.instrumentId, limit: Fixed(Int64(track.state.rawValue)),
                   observed: Fixed(Int64(clamping: intentSeq)), ref: ref, into: &out)
            return false
        }
        let wasTerminal = track.state.isTerminal
        setState(&track, next)
        orders[intentSeq] = track
        return !wasTerminal
    }

    /// Journals a breach and halts new entries.
    private mutating func breach(_ rule: RiskRule, instrument: InstrumentId?, limit: Fixed, observed: Fixed, ref: CausationRef, into out: inout DecisionBuffer) {
        out.add(.risk(RiskBreached(rule: rule, action: .halted, instrumentId: instrument, limit: limit, observed: observed)), causation: ref)
        if halt == nil { halt = HaltState(rule: rule, since: now) }
    }

    private mutating func statusReported(_ s: OrderStatusReported, ref: CausationRef, into out: inout DecisionBuffer) {
        guard let before = orders[s.intentSeq] else {
            orderSignal(s.intentSeq, .reported(s.status), ref: ref, into: &out)
            return
        }
        let moved = orderSignal(s.intentSeq, .reported(s.status), ref: ref, into: &out)
        if s.status != .notFound, s.cumQty != before.filledQty {
            // The venue executed more (or less) than the fills we have: a fill is missing.
            out.add(.reconciled(Reconciled(instrumentId: before.intent.instrumentId, status: .missingFill, localQty: before.filledQty,
                                           venueQty: s.cumQty, localCash: nil, venueCash: nil)), causation: ref)
            reconciliationHold = true
        }
        if moved, let after = orders[s.intentSeq], after.state.isTerminal { orderEnded(s.intentSeq, ref: ref, into: &out) }
    }

    private mutating func filled(_ fill: OrderFilled, ref: CausationRef, into out: inout DecisionBuffer) {
        let id = fill.instrumentId
        guard fill.qty.isPositive, fill.price.isPositive else {
            breach(.invalidFill, instrument: id, limit: .zero, observed: fill.qty, ref: ref, into: &out)
            return
        }
        grow(to: id)
        let isPerp = instruments[id.index]?.kind.isPerpetual ?? false
        if fill.isLiquidation {
            // Reported by the stream and again by a query: book it once.
            guard liquidationExecutions.insert(fill.executionId).inserted else { return }
            portfolio.apply(fill, isPerp: isPerp)
            guard let i = pairOfInstrument[id.index] else { return }
            // The perp leg was liquidated; the spot leg is now naked: close it.
            out.add(.risk(RiskBreached(rule: .liquidation, action: .closed, instrumentId: id, limit: .zero, observed: fill.price)), causation: ref)
            closePair(i, cause: .risk, reason: .flatten, ref: ref, into: &out)
            return
        }
        guard var track = orders[fill.intentSeq] else {
            if fill.intentSeq != 0 && fill.intentSeq < forgottenBelow {
                // An order finished long ago (and forgotten) still reports a fill: it is real
                // money, so it is booked, said, and the pair takes care of the position.
                portfolio.apply(fill, isPerp: isPerp)
                out.add(.alert(AlertRaised(severity: .warning, code: "fill.late",
                                           message: "fill \(fill.executionId) of intent \(fill.intentSeq), finished long ago, booked")), causation: ref)
                if let i = pairOfInstrument[id.index] { advancePair(i, ref: ref, into: &out) }
                return
            }
            // Real money all the same: book it, and stop opening until someone looks.
            portfolio.apply(fill, isPerp: isPerp)
            breach(.unknownIntent, instrument: id, limit: .zero, observed: Fixed(Int64(clamping: fill.intentSeq)), ref: ref, into: &out)
            return
        }
        if track.executionIds.contains(fill.executionId) {
            out.add(.alert(AlertRaised(severity: .info, code: "fill.duplicate",
                                       message: "execution \(fill.executionId) of intent \(fill.intentSeq) reported again; ignored")), causation: ref)
            return
        }
        let newFilled = track.filledQty + fill.qty
        let complete = newFilled >= track.intent.qty || fill.leavesQty.isZero
        let signal: OrderSignal = complete ? .finalFill : .partialFill
        let wasTerminal = track.state.isTerminal
        let accepted = OrderLifecycle.next(track.state, signal) != nil
        portfolio.apply(fill, isPerp: isPerp)
        track.filledQty = newFilled
        track.executionIds.append(fill.executionId)
        if let next = OrderLifecycle.next(track.state, signal) { setState(&track, next) }
        orders[fill.intentSeq] = track
        if newFilled > track.intent.qty {
            breach(.overfill, instrument: id, limit: track.intent.qty, observed: newFilled, ref: ref, into: &out)
        } else if !accepted {
            breach(.orderStateRefused, instrument: id, limit: Fixed(Int64(track.state.rawValue)), observed: Fixed(Int64(clamping: fill.intentSeq)),
                   ref: ref, into: &out)
        }
        if complete && !wasTerminal {
            orderEnded(fill.intentSeq, ref: ref, into: &out, completed: true)
        } else if let i = track.pairIndex {
            afterFill(i, ref: ref, into: &out)
        }
    }

    /// A fill moved a pair's positions (its order still working, or finished earlier).
    private mutating func afterFill(_ i: Int, ref: CausationRef, into out: inout DecisionBuffer) {
        if killSwitchEngaged && (pairs[i].phase == .opening || pairs[i].phase == .open) {
            closePair(i, cause: .killSwitch, reason: .flatten, ref: ref, into: &out)
            return
        }
        advancePair(i, ref: ref, into: &out)
    }

    private mutating func orderEnded(_ intentSeq: UInt64, ref: CausationRef, into out: inout DecisionBuffer, completed: Bool = false) {
        orders[intentSeq]?.endedAt = now
        guard let track = orders[intentSeq], let i = track.pairIndex else { return }
        pairs[i].openIntents.removeAll { $0 == intentSeq }
        if !completed && track.intent.reason == .open && pairs[i].phase == .opening {
            // One leg will not fill (fully): say so.
            let p = config.pairs[i]
            let imbalance = portfolio.position(p.spot) + portfolio.position(p.perp)
            // Recorded, not acted on here: the pair transition that follows says what is done.
            out.add(.risk(RiskBreached(rule: .legImbalance, action: .warned, instrumentId: track.intent.instrumentId,
                                       limit: .zero, observed: imbalance)), causation: ref)
        }
        if killSwitchEngaged && (pairs[i].phase == .opening || pairs[i].phase == .open) {
            closePair(i, cause: .killSwitch, reason: .flatten, ref: ref, into: &out)
            return
        }
        advancePair(i, ref: ref, into: &out)
    }

    /// Moves a pair along once its orders say where it stands.
    private mutating func advancePair(_ i: Int, ref: CausationRef, into out: inout DecisionBuffer) {
        let p = config.pairs[i]
        let spot = portfolio.position(p.spot)
        let perp = portfolio.position(p.perp)
        let working = !pairs[i].openIntents.isEmpty
        switch pairs[i].phase {
        case .opening:
            guard !working else { return }
            // Dust below the step (a base-coin fee's remainder) is not a leg.
            let spotHeld = closeQuantity(spot.magnitude, instrument: p.spot).isPositive
            let perpHeld = closeQuantity(perp.magnitude, instrument: p.perp).isPositive
            if spotHeld && perpHeld {
                transition(i, .legsFilled, ref: ref, into: &out)
                checkDrift(i, ref: ref, into: &out)
            } else if !spotHeld && !perpHeld {
                transition(i, .nothingFilled, ref: ref, into: &out)
            } else if config.execution.legFailure == .complete && !pairs[i].completedOnce {
                completeMissingLeg(i, ref: ref, into: &out)
            } else {
                transition(i, .legFailed, observed: (spot + perp).magnitude, ref: ref, into: &out)
                sendCloses(i, reason: .flatten, cause: ref, into: &out)
                settleIfFlat(i, ref: ref, into: &out)
            }
        case .rebalancing:
            guard !working else { return }
            if nakedFraction(i) <= config.execution.deltaBand {
                transition(i, .rebalanced, ref: ref, into: &out)
            } else {
                transition(i, .legFailed, observed: nakedFraction(i), ref: ref, into: &out)
                pairs[i].rebalanceAfter = now.adding(ms: config.execution.rebalanceRetryMs)
            }
        case .closing, .unwinding:
            if !settleIfFlat(i, ref: ref, into: &out) && !working { retryClose(i, ref: ref, into: &out) }
        case .open:
            checkDrift(i, ref: ref, into: &out)
        case .flat:
            // A fill that raced a cancel, or a corrected position, left a flat pair holding
            // something: unwind it rather than leave it naked.
            guard hasClosableQuantity(i), !working else { return }
            guard transition(i, .strayPosition, ref: ref, into: &out) else { return }
            sendCloses(i, reason: .flatten, cause: ref, into: &out)
        }
    }

    /// Sends the leg that is missing (policy `complete`): the filled leg's quantity, as a market order.
    private mutating func completeMissingLeg(_ i: Int, ref: CausationRef, into out: inout DecisionBuffer) {
        let p = config.pairs[i]
        let spot = portfolio.position(p.spot)
        let perp = portfolio.position(p.perp)
        let missingSpot = spot.isZero
        let qty = closeQuantity(missingSpot ? perp.magnitude : spot.magnitude, instrument: missingSpot ? p.spot : p.perp)
        guard qty.isPositive else {
            transition(i, .legFailed, ref: ref, into: &out)
            sendCloses(i, reason: .flatten, cause: ref, into: &out)
            settleIfFlat(i, ref: ref, into: &out)
            return
        }
        pairs[i].completedOnce = true
        pairs[i].legRiskUsedMs = 0
        send(OrderIntended(pairId: pairs[i].pairId, leg: missingSpot ? .spot : .perp, instrumentId: missingSpot ? p.spot : p.perp,
                           side: missingSpot ? .buy : .sell, type: .market, timeInForce: .immediateOrCancel, qty: qty, limitPrice: nil,
                           reduceOnly: false, reason: .open), pair: i, cause: ref, into: &out)
    }

    /// The leg-risk budget ran out on an opening pair: unwind (cancel the working leg, close
    /// the filled one) or, by policy, complete the missing leg.
    private mutating func legRiskExceeded(_ i: Int, ref: CausationRef, into out: inout DecisionBuffer) {
        let used = Fixed(pairs[i].legRiskUsedMs)
        out.add(.risk(RiskBreached(rule: .legRisk, action: .closed, instrumentId: config.pairs[i].perp,
                                   limit: Fixed(config.execution.legRiskBudgetMs), observed: used)), causation: ref)
        pairs[i].budgetsExhausted += 1
        if config.execution.legFailure == .complete && !pairs[i].completedOnce && pairs[i].budgetsExhausted == 1 {
            // Complete once; a second exhausted budget unwinds (a leg that cannot be had within
            // the budget is not chased forever, even if the cancel of the first try never resolves).
            guard transition(i, .legRiskBudget, observed: used, completing: true, ref: ref, into: &out) else { return }
            pairs[i].legRiskUsedMs = 0
            for seq in pairs[i].openIntents { cancel(seq, reason: .legRisk, cause: ref, into: &out) }
            return
        }
        closePair(i, cause: .legRiskBudget, reason: .flatten, ref: ref, into: &out)
    }

    /// A pair's legs differ by more than the band: trim the larger leg (reduce-only).
    private mutating func checkDrift(_ i: Int, ref: CausationRef, into out: inout DecisionBuffer) {
        // The drift first: within the band (nearly always, and checked on every bar) nothing
        // else needs looking at. The conditions are independent and free of effects.
        guard pairs[i].phase == .open else { return }
        let drift = nakedFraction(i)
        guard drift > config.execution.deltaBand, pairs[i].openIntents.isEmpty, now >= pairs[i].rebalanceAfter else { return }
        let p = config.pairs[i]
        let spot = portfolio.position(p.spot)
        let perp = portfolio.position(p.perp)
        let excessSpot = spot.magnitude > perp.magnitude
        let id = excessSpot ? p.spot : p.perp
        let qty = closeQuantity((spot + perp).magnitude, instrument: id)
        guard qty.isPositive else { return }
        out.add(.risk(RiskBreached(rule: .deltaDrift, action: .warned, instrumentId: p.perp, limit: config.execution.deltaBand, observed: drift)),
                causation: ref)
        guard transition(i, .deltaDrift, observed: drift, ref: ref, into: &out) else { return }
        let held = portfolio.position(id)
        send(OrderIntended(pairId: pairs[i].pairId, leg: excessSpot ? .spot : .perp, instrumentId: id, side: held.isPositive ? .sell : .buy,
                           type: .market, timeInForce: .immediateOrCancel, qty: qty, limitPrice: nil, reduceOnly: true, reason: .rebalance),
             pair: i, cause: ref, into: &out)
    }

    /// Goes flat when both legs are empty (or dust below the step) and nothing works.
    @discardableResult
    private mutating func settleIfFlat(_ i: Int, ref: CausationRef, into out: inout DecisionBuffer) -> Bool {
        guard pairs[i].openIntents.isEmpty, !hasClosableQuantity(i) else { return false }
        return transition(i, .flat, ref: ref, into: &out)
    }

    /// Forgets the finished orders of a pair gone flat, beyond the memory kept for late facts.
    private mutating func forgetFinishedOrders(of i: Int) {
        guard orders.count > Self.orderMemory else { return }
        let finished = orders.values.filter { $0.state.isTerminal }.map(\.intentSeq).sorted()
        for seq in finished.prefix(orders.count - Self.orderMemory) {
            orders.removeValue(forKey: seq)
            forgottenBelow = Swift.max(forgottenBelow, seq + 1)
        }
    }

    // MARK: - The funding ledger

    /// A settlement reached the engine: what it expects its perp position to be paid.
    private mutating func expectFunding(_ f: FundingSettled, time: Timestamp, ref: CausationRef, into out: inout DecisionBuffer) {
        let id = f.instrumentId
        guard id.index < instruments.count, instruments[id.index]?.kind.isPerpetual ?? false else { return }
        let pos = portfolio.position(id)
        let markPrice = f.markPrice ?? mark(id) ?? .zero
        let amount = pos.isZero ? Fixed.zero : FundingMath.payment(positionQty: pos, markPrice: markPrice, ratePerInterval: f.ratePerInterval)
        let expected = FundingPaid(instrumentId: id, settlementTime: time, positionQty: pos, markPrice: markPrice, ratePerInterval: f.ratePerInterval,
                                   amount: amount)
        if let alert = fundingLedger!.expect(expected, symbol: symbol(id)) { out.add(.alert(alert), causation: ref) }
    }

    /// An instrument's symbol and kind, for messages.
    private func symbol(_ id: InstrumentId) -> String { Self.symbol(id, instruments) }

    private static func symbol(_ id: InstrumentId, _ instruments: [InstrumentDefined?]) -> String {
        guard id.index < instruments.count, let d = instruments[id.index] else { return "instrument \(id.rawValue)" }
        return "\(d.symbol) \(d.kind.isPerpetual ? "perp" : "spot")"
    }

    // MARK: - Reconciliation

    /// Compares the venue's book with ours: matching instruments are confirmed; a difference
    /// with an order in flight is a missing fill (wait for it); one without is position drift
    /// (adopt the venue's quantity). Any mismatch holds new entries until a later snapshot
    /// matches throughout.
    private mutating func reconcile(_ snapshot: VenueSnapshot, ref: CausationRef, into out: inout DecisionBuffer) {
        var mismatch = false
        var unresolved = false
        var corrected: InstrumentId?
        var venueQty: [InstrumentId: Fixed] = [:]
        for p in snapshot.positions {
            guard p.instrumentId.index < instruments.count, instruments[p.instrumentId.index] != nil else {
                breach(.unknownInstrument, instrument: p.instrumentId, limit: .zero, observed: p.qty, ref: ref, into: &out)
                mismatch = true
                continue
            }
            venueQty[p.instrumentId, default: .zero] += p.qty
        }
        var traded: [InstrumentId] = []
        for p in config.pairs { traded += [p.spot, p.perp] }
        for id in venueQty.keys.sorted(by: { $0.rawValue < $1.rawValue }) where !traded.contains(id) { traded.append(id) }
        for id in traded {
            let local = portfolio.position(id)
            let venue = venueQty[id] ?? .zero
            if local == venue {
                out.add(.reconciled(Reconciled(instrumentId: id, status: .matched, localQty: local, venueQty: venue, localCash: nil, venueCash: nil)),
                        causation: ref)
                continue
            }
            mismatch = true
            // In flight: working, or ended by a cancel or expiry so recently that a fill which
            // raced it may still arrive (correcting now would count that fill twice).
            let inFlight = orders.values.contains { o in
                guard o.intent.instrumentId == id, o.state != .intended else { return false }
                if !o.state.isTerminal { return true }
                guard o.state == .cancelled || o.state == .expired, let ended = o.endedAt else { return false }
                return now.msSince(ended) <= Self.lateFillGraceMs
            }
            if inFlight {
                unresolved = true
                out.add(.reconciled(Reconciled(instrumentId: id, status: .missingFill, localQty: local, venueQty: venue, localCash: nil, venueCash: nil)),
                        causation: ref)
            } else {
                out.add(.reconciled(Reconciled(instrumentId: id, status: .positionDrift, localQty: local, venueQty: venue, localCash: nil, venueCash: nil)),
                        causation: ref)
                if let m = mark(id) {
                    corrected = corrected ?? id
                    portfolio.correct(id, to: venue, at: m, isPerp: instruments[id.index]?.kind.isPerpetual ?? false)
                    out.add(.reconciled(Reconciled(instrumentId: id, status: .corrected, localQty: local, venueQty: venue, localCash: nil, venueCash: nil)),
                            causation: ref)
                    if let i = pairOfInstrument[id.index] { advancePair(i, ref: ref, into: &out) }
                }
            }
        }
        // Orders: the venue works one we consider finished or never made; or we wait on one it does not have.
        let venueOpen = Set(snapshot.openOrders)
        for seq in snapshot.openOrders.sorted() {
            let known = orders[seq]
            if known == nil || known!.state.isTerminal {
                mismatch = true
                unresolved = true
                out.add(.reconciled(Reconciled(instrumentId: known?.intent.instrumentId ?? InstrumentId(UInt32.max), status: .unknownOrder,
                                               localQty: .zero, venueQty: Fixed(Int64(clamping: seq)), localCash: nil, venueCash: nil)), causation: ref)
            }
        }
        for track in workingOrders where (track.state == .accepted || track.state == .partiallyFilled) && !venueOpen.contains(track.intentSeq) {
            mismatch = true
            unresolved = true
            // It ended without our hearing: its outcome is unknown until a query says.
            if var t = orders[track.intentSeq] {
                setState(&t, .unknown)
                orders[track.intentSeq] = t
            }
            out.add(.reconciled(Reconciled(instrumentId: track.intent.instrumentId, status: .unknownOrder, localQty: Fixed(Int64(clamping: track.intentSeq)),
                                           venueQty: .zero, localCash: nil, venueCash: nil)), causation: ref)
        }
        if let cash = snapshot.cash, cash != portfolio.cash {
            mismatch = true
            out.add(.reconciled(Reconciled(instrumentId: corrected ?? InstrumentId(UInt32.max), status: .cashDrift, localQty: .zero, venueQty: .zero,
                                           localCash: portfolio.cash, venueCash: cash)), causation: ref)
            if !unresolved, let id = corrected ?? config.pairs.first?.spot {
                // Positions now agree and nothing is in flight: the venue's cash is the truth.
                portfolio.correctCash(to: cash, attributeTo: id)
                out.add(.reconciled(Reconciled(instrumentId: id, status: .corrected, localQty: .zero, venueQty: .zero,
                                               localCash: cash, venueCash: cash)), causation: ref)
            }
        }
        reconciliationHold = mismatch
        for i in pairs.indices where pairs[i].closeRefusedByVenue && !unresolved {
            pairs[i].closeRefusedByVenue = false
            if pairs[i].phase == .closing || pairs[i].phase == .unwinding { advancePair(i, ref: ref, into: &out) }
        }
    }

    // MARK: - Risk while holding

    /// The drawdown stop over the whole book, checked at each scan tick — when every bar of
    /// the instant has been applied, so marks of one leg never run ahead of the other's.
    /// Returns true when it engaged the kill switch.
    private mutating func checkDrawdown(ref: CausationRef, into out: inout DecisionBuffer) -> Bool {
        let value = portfolio.positionsValue(marks: marks)
        valuationMemo.positionsValue = value
        let e = portfolio.cash + value
        if e > peakEquity { peakEquity = e }
        let dd = RiskChecks.drawdown(equity: e, peak: peakEquity)
        guard !killSwitchEngaged && dd >= config.risk.maxDrawdown else { return false }
        killSwitchEngaged = true
        out.add(.risk(RiskBreached(rule: .drawdown, action: .killSwitch, instrumentId: nil, limit: config.risk.maxDrawdown, observed: dd)), causation: ref)
        let k = out.add(.killSwitch(KillSwitchChanged(engaged: true, source: .automatic,
                                                      reason: "drawdown \(dd) reached the limit \(config.risk.maxDrawdown)")), causation: ref)
        flattenAll(ref: .local(k), into: &out)
        return true
    }

    /// The margin buffer of a held pair's perp leg, and an open pair's delta drift, on each of its bars.
    private mutating func checkRisk(afterBarOf i: Int, bar: BarClosed, ref: CausationRef, into out: inout DecisionBuffer) {
        let p = config.pairs[i]
        if pairs[i].phase == .open { checkDrift(i, ref: ref, into: &out) }
        // Opening and rebalancing pairs are watched like open ones (closing ones are already leaving).
        let watched = pairs[i].phase == .open || pairs[i].phase == .opening || pairs[i].phase == .rebalancing
        guard watched, bar.instrumentId == p.perp, p.perp.index < portfolio.entryPrice.count, let entry = portfolio.entryPrice[p.perp.index] else { return }
        let pos = portfolio.position(p.perp)
        guard !pos.isZero else { return }
        let liquidation = liquidationMemo.price(p.perp, entry: entry, short: pos.isNegative, margin: config.margin)
        let buffer = RiskChecks.marginBuffer(price: bar.close, liquidationPrice: liquidation, short: pos.isNegative)
        if buffer < config.risk.exitMarginBuffer {
            out.add(.risk(RiskBreached(rule: .marginBuffer, action: .closed, instrumentId: p.perp, limit: config.risk.exitMarginBuffer, observed: buffer)),
                    causation: ref)
            closePair(i, cause: .risk, reason: .close, ref: ref, into: &out)
        }
    }

    /// Delta drift of the whole book: Σ|spot + perp| × mark ÷ Σ pair notional (0 when flat).
    public var bookDrift: Fixed {
        var naked = Fixed.zero, notional = Fixed.zero
        for (i, p) in config.pairs.enumerated() where pairs[i].phase != .flat {
            guard let m = mark(p.spot) else { continue }
            naked += (portfolio.position(p.spot) + portfolio.position(p.perp)).magnitude.multiplied(by: m, scale: quoteScale, .up)
            notional += pairs[i].targetQty.multiplied(by: m, scale: quoteScale, .up)
        }
        return notional.isPositive ? naked.divided(by: notional, scale: 6, .up) : .zero
    }

    /// Notional of the perp legs of every non-flat pair, at their marks.
    func openNotional() -> Fixed {
        var total = Fixed.zero
        for (i, p) in config.pairs.enumerated() where pairs[i].phase != .flat {
            let qty = Fixed.max(pairs[i].targetQty, portfolio.position(p.perp).magnitude)
            if let m = mark(p.perp) { total += qty.multiplied(by: m, scale: quoteScale, .up) }
        }
        return total
    }

    /// Value tied up: spot holdings at their marks plus posted perp margin.
    func committed() -> Fixed {
        var total = Fixed.zero
        for p in config.pairs {
            if let m = mark(p.spot) { total += portfolio.position(p.spot).magnitude.multiplied(by: m, scale: quoteScale, .up) }
            if let m = mark(p.perp) {
                let notional = portfolio.position(p.perp).magnitude.multiplied(by: m, scale: quoteScale, .up)
                total += notional.divided(by: config.margin.perpLeverage, scale: quoteScale, .up)
            }
        }
        return total
    }
}

/// A set of pair indices, in one word for up to 64 pairs (no allocation on the scan path),
/// spilling to an array beyond.
struct PairSet {
    private var low: UInt64 = 0
    private var high: [Bool]

    init(count: Int) { high = count > 64 ? Array(repeating: false, count: count - 64) : [] }

    mutating func insert(_ i: Int) {
        if i < 64 { low |= 1 << UInt64(i) } else { high[i - 64] = true }
    }

    func contains(_ i: Int) -> Bool { i < 64 ? low & (1 << UInt64(i)) != 0 : high[i - 64] }
}

/// The positions' value a scan found, until the book or a mark moves. Not state (a function
/// of it while set): equal whatever it holds.
struct ValuationMemo: Sendable, Equatable {
    var positionsValue: Fixed?

    static func == (a: ValuationMemo, b: ValuationMemo) -> Bool { true }
}

/// A buffer the scan reuses. Not state: equal whatever it holds.
struct ScanBuffer: Sendable, Equatable {
    var views: [PairView] = []

    static func == (a: ScanBuffer, b: ScanBuffer) -> Bool { true }
}
