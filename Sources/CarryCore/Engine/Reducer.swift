// The reducer: state plus one input event gives the new state and the decisions it implies.
// Live trading and backtests run exactly this code; they differ only in who feeds inputs
// and who executes the order intents.
//
// Invariants:
// - Pure: time comes from the input, never a clock; no randomness; no IO.
// - The caller passes `nextSeq`, the seq the first returned decision will be journaled
//   under, and must journal the decisions in order right after. That lets a decision name
//   another (an intent's causation is its signal; a pair's id is its opening signal's seq)
//   and makes a replay of the journal reproduce the decisions byte for byte.
// - Decisions carry the input's time as their event time.
// - Prices come only from bars of the configured interval, at their close; funding rates
//   only from settlements, at their settlement time. Nothing reads ahead.

/// Something the reducer decided, with the event that caused it.
public struct Decision: Sendable, Equatable {
    public var event: Event
    public var causation: CausationRef

    /// Builds a decision.
    public init(_ event: Event, causation: CausationRef) {
        self.event = event
        self.causation = causation
    }
}

/// What the engine knows about one instrument's market.
public struct InstrumentMarket: Sendable, Equatable {
    /// The last close of a bar of the engine's interval (the mark).
    public var lastClose: Fixed?
    /// The last settled rate per 8 h, normalised with the interval it settled under (a later
    /// interval change does not rescale a rate already paid).
    public var fundingRate8h: Fixed?
    /// When that rate settled, and the input that carried it.
    public var fundingTime: Timestamp?
    public var fundingRef: CausationRef = .none
}

/// Where a pair is in its life.
public enum PairPhase: UInt8, Sendable, Equatable {
    case flat = 0
    case opening = 1
    case open = 2
    case closing = 3
}

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
    /// Open order intents of this pair.
    public var openIntents: [UInt64] = []
}

/// An order the engine has sent and not yet seen finish.
public struct OrderTrack: Sendable, Equatable {
    public var intent: OrderIntended
    public var pairIndex: Int?
    public var remaining: Fixed
}

/// The engine: market state, portfolio, pairs, orders, risk state.
public struct CarryReducer: Sendable {
    public let config: EngineConfig
    /// Cool-down after a pair closes before it may reopen, in ms.
    public let reentryCooldownMs: Int64
    public private(set) var instruments: [InstrumentDefined?] = []
    public private(set) var market: [InstrumentMarket] = []
    public private(set) var portfolio: Portfolio
    public private(set) var pairs: [PairState]
    public private(set) var orders: [UInt64: OrderTrack] = [:]
    public private(set) var killSwitchEngaged = false
    public private(set) var peakEquity: Fixed
    public private(set) var now: Timestamp = .distantPast
    /// Pair index by instrument id (spot or perp leg), for fills and bars.
    private var pairOfInstrument: [Int?] = []

    /// A fresh engine.
    public init(config: EngineConfig, reentryCooldownMs: Int64 = 8 * Millis.hour) {
        self.config = config
        self.reentryCooldownMs = reentryCooldownMs
        portfolio = Portfolio(initialCash: config.initialCashUsdt)
        pairs = Array(repeating: PairState(), count: config.pairs.count)
        peakEquity = config.initialCashUsdt
        for (i, p) in config.pairs.enumerated() {
            grow(to: p.spot)
            grow(to: p.perp)
            pairOfInstrument[p.spot.index] = i
            pairOfInstrument[p.perp.index] = i
        }
    }

    private mutating func grow(to id: InstrumentId) {
        while instruments.count <= id.index {
            instruments.append(nil)
            market.append(InstrumentMarket())
            pairOfInstrument.append(nil)
        }
    }

    /// The last close of an instrument (its mark).
    public func mark(_ id: InstrumentId) -> Fixed? { id.index < market.count ? market[id.index].lastClose : nil }

    /// Equity at the last closes.
    public var equity: Fixed { portfolio.equity(marks: { mark($0) }) }

    // MARK: - The reducer

    /// Applies one input. `ref` identifies the input (a local seq, or a seq in the source
    /// journal); `nextSeq` is the seq the first returned decision will get.
    public mutating func apply(_ event: Event, time: Timestamp, ref: CausationRef, nextSeq: UInt64) -> [Decision] {
        if time > now { now = time }
        var out = DecisionBuffer(nextSeq: nextSeq)
        switch event {
        case .instrumentDefined(let d):
            grow(to: d.id)
            instruments[d.id.index] = d
        case .barClosed(let bar):
            return applyBar(bar, time: time, ref: ref, nextSeq: nextSeq)
        case .fundingSettled(let f):
            grow(to: f.instrumentId)
            market[f.instrumentId.index].fundingRate8h = f.intervalMinutes > 0 ? FundingMath.per8h(f.ratePerInterval, intervalMinutes: f.intervalMinutes) : nil
            market[f.instrumentId.index].fundingTime = time
            market[f.instrumentId.index].fundingRef = ref
        case .clockTicked(let tick) where tick.purpose == .scan:
            scan(ref: ref, into: &out)
        case .orderRejected(let r):
            orderEnded(r.intentSeq, ref: ref, into: &out)
        case .orderCancelled(let c):
            orderEnded(c.intentSeq, ref: ref, into: &out)
        case .orderFilled(let fill):
            filled(fill, ref: ref, into: &out)
        case .fundingPaid(let payment):
            portfolio.apply(payment)
        case .killSwitchChanged(let k) where k.source == .operatorCommand:
            if k.engaged && !killSwitchEngaged {
                killSwitchEngaged = true
                flattenAll(reason: .flatten, ref: ref, into: &out)
            } else if !k.engaged {
                killSwitchEngaged = false
                peakEquity = equity
            }
        default:
            break
        }
        return out.decisions
    }

    /// Applies a bar: exactly `apply(.barClosed(bar), …)`, without wrapping it in an `Event`
    /// (the replay hot path).
    public mutating func applyBar(_ bar: BarClosed, time: Timestamp, ref: CausationRef, nextSeq: UInt64) -> [Decision] {
        if time > now { now = time }
        let i = bar.instrumentId.index
        guard bar.intervalSeconds == config.barIntervalSeconds, i < market.count else { return [] }
        market[i].lastClose = bar.close
        guard let pairIndex = pairOfInstrument[i], pairs[pairIndex].phase != .flat else { return [] }
        var out = DecisionBuffer(nextSeq: nextSeq)
        checkRisk(afterBarOf: pairIndex, bar: bar, ref: ref, into: &out)
        return out.decisions
    }

    // MARK: - Strategy

    /// The funding rate of a perp normalised to 8 h, with its source, if fresh.
    func freshRate(_ perp: InstrumentId) -> (rate8h: Fixed, ref: CausationRef)? {
        let m = market[perp.index]
        guard let rate8h = m.fundingRate8h, let t = m.fundingTime else { return nil }
        guard now.msSince(t) <= config.strategy.maxRateAgeMs else { return nil }
        return (rate8h, m.fundingRef)
    }

    private mutating func scan(ref: CausationRef, into out: inout DecisionBuffer) {
        let s = config.strategy
        if checkDrawdown(ref: ref, into: &out) { return }
        // Exits first, so freed capacity can be used by entries in the same scan.
        for (i, p) in config.pairs.enumerated() where pairs[i].phase == .open {
            let held = pairs[i].openedAt.map { now.msSince($0) } ?? 0
            let rate = freshRate(p.perp)
            var reason: String? = nil
            var components: [SignalComponent] = [SignalComponent(factor: .holdingTime, value: Fixed(held / Millis.hour), weight: .zero, sourceSeq: 0)]
            if let rate {
                components.insert(SignalComponent(factor: .fundingLevel, value: rate.rate8h, weight: Fixed(1), sourceSeq: rate.ref.raw), at: 0)
                components.append(SignalComponent(factor: .threshold, value: s.exitThresholdPerInterval8h, weight: .zero, sourceSeq: 0))
                if rate.rate8h < s.exitThresholdPerInterval8h { reason = "rate below exit threshold" }
            }
            if held >= s.maxHoldingMs { reason = "maximum holding time reached" }
            guard reason != nil else { continue }
            let signalSeq = out.add(.signalComputed(SignalComputed(strategy: .threshold, perp: p.perp, spot: p.spot, action: .exit, direction: .longSpotShortPerp,
                                                                   score: rate?.rate8h ?? .zero, components: components)), causation: ref)
            closePair(i, reason: .close, cause: .local(signalSeq), into: &out)
        }
        guard !killSwitchEngaged else { return }
        // Entries, best rate first (ties by pair order).
        var candidates: [(index: Int, rate8h: Fixed, ref: CausationRef)] = []
        for (i, p) in config.pairs.enumerated() where pairs[i].phase == .flat {
            if let closed = pairs[i].closedAt, now.msSince(closed) < reentryCooldownMs { continue }
            guard let rate = freshRate(p.perp), rate.rate8h >= s.entryThresholdPerInterval8h else { continue }
            guard mark(p.spot) != nil, mark(p.perp) != nil else { continue }
            candidates.append((i, rate.rate8h, rate.ref))
        }
        candidates.sort { $0.rate8h != $1.rate8h ? $0.rate8h > $1.rate8h : $0.index < $1.index }
        var active = pairs.filter { $0.phase != .flat }.count
        for c in candidates {
            guard active < s.maxOpenPairs else { break }
            if open(c.index, rate8h: c.rate8h, rateRef: c.ref, ref: ref, into: &out) { active += 1 }
        }
    }

    /// Sizes, risk-checks and (when allowed) opens a pair. Returns true when intents went out.
    private mutating func open(_ i: Int, rate8h: Fixed, rateRef: CausationRef, ref: CausationRef, into out: inout DecisionBuffer) -> Bool {
        let p = config.pairs[i]
        guard let spotDef = instruments[p.spot.index], let perpDef = instruments[p.perp.index],
              let spotPrice = mark(p.spot), let perpPrice = mark(p.perp) else { return false }
        let components = [
            SignalComponent(factor: .fundingLevel, value: rate8h, weight: Fixed(1), sourceSeq: rateRef.raw),
            SignalComponent(factor: .threshold, value: config.strategy.entryThresholdPerInterval8h, weight: .zero, sourceSeq: 0),
        ]
        let signalSeq = out.add(.signalComputed(SignalComputed(strategy: .threshold, perp: p.perp, spot: p.spot, action: .enter,
                                                               direction: .longSpotShortPerp, score: rate8h, components: components)), causation: ref)
        let step = Fixed.max(spotDef.qtyStep, perpDef.qtyStep)
        let raw = config.strategy.pairNotionalUsdt.divided(by: spotPrice, scale: Int(step.scale) + 4, .towardZero)
        let qty = raw.rounded(toMultipleOf: step, .towardZero).rounded(scale: Int(step.scale), .towardZero)
        guard qty.isPositive, qty.isMultiple(of: spotDef.qtyStep), qty.isMultiple(of: perpDef.qtyStep) else {
            _ = out.add(.riskBreached(RiskBreached(rule: .minOrderSize, action: .rejected, instrumentId: p.perp, limit: step, observed: raw)),
                        causation: .local(signalSeq))
            return false
        }
        let notional = qty.multiplied(by: perpPrice, scale: quoteScale, .up)
        let spotFees = config.fees.rates(for: spotDef).taker
        let perpFees = config.fees.rates(for: perpDef).taker
        let estimatedFees = notional.multiplied(by: spotFees + perpFees, scale: quoteScale, .up)
        let proposal = EntryProposal(qty: qty, spotPrice: spotPrice, perpPrice: perpPrice, notionalUsdt: notional,
                                     openNotionalUsdt: openNotional(), equityUsdt: equity, committedUsdt: committed(),
                                     estimatedFeesUsdt: estimatedFees)
        if let breach = RiskChecks.checkEntry(proposal, limits: config.risk, margin: config.margin) {
            _ = out.add(.riskBreached(RiskBreached(rule: breach.0, action: .rejected, instrumentId: p.perp, limit: breach.limit, observed: breach.observed)),
                        causation: .local(signalSeq))
            return false
        }
        pairs[i].phase = .opening
        pairs[i].pairId = signalSeq
        pairs[i].targetQty = qty
        pairs[i].openedAt = nil
        send(OrderIntended(pairId: signalSeq, leg: .spot, instrumentId: p.spot, side: .buy, type: .market, timeInForce: .immediateOrCancel,
                           qty: qty, limitPrice: nil, reduceOnly: false, reason: .open), pair: i, cause: .local(signalSeq), into: &out)
        send(OrderIntended(pairId: signalSeq, leg: .perp, instrumentId: p.perp, side: .sell, type: .market, timeInForce: .immediateOrCancel,
                           qty: qty, limitPrice: nil, reduceOnly: false, reason: .open), pair: i, cause: .local(signalSeq), into: &out)
        return true
    }

    private mutating func send(_ intent: OrderIntended, pair: Int?, cause: CausationRef, into out: inout DecisionBuffer) {
        let seq = out.add(.orderIntended(intent), causation: cause)
        orders[seq] = OrderTrack(intent: intent, pairIndex: pair, remaining: intent.qty)
        if let pair { pairs[pair].openIntents.append(seq) }
    }

    /// Sends reduce-only orders taking both legs of a pair to zero.
    private mutating func closePair(_ i: Int, reason: IntentReason, cause: CausationRef, into out: inout DecisionBuffer) {
        let p = config.pairs[i]
        pairs[i].phase = .closing
        for (leg, id) in [(Leg.spot, p.spot), (Leg.perp, p.perp)] {
            let pos = portfolio.position(id)
            // What is still in flight on this leg will be flattened when it fills.
            guard !pos.isZero else { continue }
            send(OrderIntended(pairId: pairs[i].pairId, leg: leg, instrumentId: id, side: pos.isPositive ? .sell : .buy, type: .market,
                               timeInForce: .immediateOrCancel, qty: pos.magnitude, limitPrice: nil, reduceOnly: true, reason: reason),
                 pair: i, cause: cause, into: &out)
        }
        settleIfFlat(i)
    }

    private mutating func flattenAll(reason: IntentReason, ref: CausationRef, into out: inout DecisionBuffer) {
        for i in pairs.indices where pairs[i].phase != .flat {
            closePair(i, reason: reason, cause: ref, into: &out)
        }
    }

    // MARK: - Venue facts

    private mutating func filled(_ fill: OrderFilled, ref: CausationRef, into out: inout DecisionBuffer) {
        let id = fill.instrumentId
        grow(to: id)
        portfolio.apply(fill, isPerp: instruments[id.index]?.kind.isPerpetual ?? false)
        if var track = orders[fill.intentSeq] {
            track.remaining = fill.leavesQty
            orders[fill.intentSeq] = track
            if fill.leavesQty.isZero { orderEnded(fill.intentSeq, ref: ref, into: &out, completed: true) }
        }
        guard let i = pairOfInstrument[id.index] else { return }
        if fill.isLiquidation {
            // The perp leg was liquidated; the spot leg is now naked: close it.
            _ = out.add(.riskBreached(RiskBreached(rule: .liquidation, action: .closed, instrumentId: id, limit: .zero, observed: fill.price)), causation: ref)
            closePair(i, reason: .flatten, cause: ref, into: &out)
            return
        }
        if killSwitchEngaged && (pairs[i].phase == .opening || pairs[i].phase == .open) {
            closePair(i, reason: .flatten, cause: ref, into: &out)
            return
        }
        advancePair(i)
        if pairs[i].phase == .closing, !portfolio.position(id).isZero, pairs[i].openIntents.isEmpty {
            // An opening fill landed after the pair started closing: flatten it too.
            closePair(i, reason: .close, cause: ref, into: &out)
        }
    }

    private mutating func orderEnded(_ intentSeq: UInt64, ref: CausationRef, into out: inout DecisionBuffer, completed: Bool = false) {
        guard let track = orders.removeValue(forKey: intentSeq) else { return }
        guard let i = track.pairIndex else { return }
        pairs[i].openIntents.removeAll { $0 == intentSeq }
        if !completed && track.intent.reason == .open && pairs[i].phase == .opening {
            // One leg will never fill: do not keep half a pair.
            let p = config.pairs[i]
            let imbalance = portfolio.position(p.spot) + portfolio.position(p.perp)
            _ = out.add(.riskBreached(RiskBreached(rule: .legImbalance, action: .closed, instrumentId: track.intent.instrumentId,
                                                   limit: .zero, observed: imbalance)), causation: ref)
            closePair(i, reason: .flatten, cause: ref, into: &out)
            return
        }
        advancePair(i)
    }

    /// Moves a pair to open when both legs are filled, to flat when both are empty.
    private mutating func advancePair(_ i: Int) {
        let p = config.pairs[i]
        let spot = portfolio.position(p.spot)
        let perp = portfolio.position(p.perp)
        switch pairs[i].phase {
        case .opening:
            if spot == pairs[i].targetQty && perp == -pairs[i].targetQty && pairs[i].openIntents.isEmpty {
                pairs[i].phase = .open
                pairs[i].openedAt = now
            }
        case .closing:
            settleIfFlat(i)
        case .open, .flat:
            break
        }
    }

    private mutating func settleIfFlat(_ i: Int) {
        let p = config.pairs[i]
        if portfolio.position(p.spot).isZero && portfolio.position(p.perp).isZero && pairs[i].openIntents.isEmpty {
            pairs[i] = PairState(phase: .flat, pairId: 0, targetQty: .zero, openedAt: nil, closedAt: now, openIntents: [])
        }
    }

    // MARK: - Risk while holding

    /// The drawdown stop over the whole book, checked at each scan tick — when every bar of
    /// the instant has been applied, so marks of one leg never run ahead of the other's.
    /// Returns true when it engaged the kill switch.
    private mutating func checkDrawdown(ref: CausationRef, into out: inout DecisionBuffer) -> Bool {
        let e = equity
        if e > peakEquity { peakEquity = e }
        let dd = RiskChecks.drawdown(equity: e, peak: peakEquity)
        guard !killSwitchEngaged && dd >= config.risk.maxDrawdown else { return false }
        killSwitchEngaged = true
        _ = out.add(.riskBreached(RiskBreached(rule: .drawdown, action: .killSwitch, instrumentId: nil, limit: config.risk.maxDrawdown, observed: dd)), causation: ref)
        let k = out.add(.killSwitchChanged(KillSwitchChanged(engaged: true, source: .automatic,
                                                             reason: "drawdown \(dd) reached the limit \(config.risk.maxDrawdown)")), causation: ref)
        flattenAll(reason: .flatten, ref: .local(k), into: &out)
        return true
    }

    /// The margin buffer of an open pair's perp leg, checked on each of its bars.
    private mutating func checkRisk(afterBarOf i: Int, bar: BarClosed, ref: CausationRef, into out: inout DecisionBuffer) {
        // Distance to liquidation of an open perp leg.
        let p = config.pairs[i]
        guard pairs[i].phase == .open, bar.instrumentId == p.perp, let entry = portfolio.entryPrice[p.perp.index] else { return }
        let pos = portfolio.position(p.perp)
        guard !pos.isZero else { return }
        let buffer = RiskChecks.marginBuffer(price: bar.close, entry: entry, short: pos.isNegative, margin: config.margin)
        if buffer < config.risk.exitMarginBuffer {
            _ = out.add(.riskBreached(RiskBreached(rule: .marginBuffer, action: .closed, instrumentId: p.perp, limit: config.risk.exitMarginBuffer, observed: buffer)),
                        causation: ref)
            closePair(i, reason: .close, cause: ref, into: &out)
        }
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

/// Collects decisions and knows the seq each will be journaled under.
struct DecisionBuffer {
    var nextSeq: UInt64
    var decisions: [Decision] = []

    init(nextSeq: UInt64) { self.nextSeq = nextSeq }

    /// Adds a decision; returns the seq it will have.
    mutating func add(_ event: Event, causation: CausationRef) -> UInt64 {
        let seq = nextSeq + UInt64(decisions.count)
        decisions.append(Decision(event, causation: causation))
        return seq
    }
}
