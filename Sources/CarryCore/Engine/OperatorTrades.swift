// An operator's paired trade (`carry trade open|close`) as the engine sees it: a journaled
// input (`operator.trade`) that goes through the same sizing (`FixedNotionalSizer` at the
// asked notional → `PairQuantity.round`), the same pre-trade risk checks (`RiskChecks.checkEntry`)
// and the same paired execution (both legs' market IOC orders, the pair machine, the
// leg-risk budget and unwind) as the strategy's entries; a close is a strategy exit.
//
// `preflight` is what the operator is shown before confirming; the engine decides on the
// command with the same function, so a trade the pre-flight passes is refused later only if
// the book changed in between (and then with the reason journaled).
//
// What the operator may override: the strategy's signal and the re-entry cool-down. What it
// may not: the kill switch, a halt, a reconciliation hold, `strategy.maxOpenPairs`, the risk
// limits and the exchange's quantity rules.

/// Why an operator's trade is refused.
public struct TradeRefusal: Sendable, Equatable {
    /// A risk rule (journaled as `risk.breached` rejected, as an automatic entry's), or nil for
    /// a refusal before sizing (journaled as `alert.raised operator.refused`).
    public var rule: RiskRule?
    public var limit: Fixed
    public var observed: Fixed
    /// What to tell the operator.
    public var message: String

    /// Builds a refusal.
    public init(rule: RiskRule?, limit: Fixed = .zero, observed: Fixed = .zero, message: String) {
        self.rule = rule
        self.limit = limit
        self.observed = observed
        self.message = message
    }
}

/// Everything the operator is shown before a pair is opened, from the engine's state: the
/// instruments' rules, the marks (last closes), the book, the config's limits, fees and
/// slippage, and the funding the engine has seen. Money in USDT, exact.
public struct TradePreflight: Sendable, Equatable {
    public var symbol: String
    /// The pair's index in the config, and its phase now (nil: not a configured pair).
    public var pairIndex: Int?
    public var phase: PairPhase = .flat
    public var notionalUsdt: Fixed
    /// Marks: the last bar close of each leg.
    public var spotPrice: Fixed?
    public var perpPrice: Fixed?
    /// The exchange's rules: the pair's common step, the larger minimum quantity, each leg's minimum notional.
    public var qtyStep: Fixed = .zero
    public var minQty: Fixed = .zero
    public var spotMinNotional: Fixed = .zero
    public var perpMinNotional: Fixed = .zero
    /// Both legs' quantity (the notional at the spot price, through `PairQuantity.round`); nil when below the rules.
    public var qty: Fixed?
    public var spotNotionalUsdt: Fixed = .zero
    public var perpNotionalUsdt: Fixed = .zero
    /// Leverage the perp is traded at (`margin.perpLeverage`) and the limit (`risk.maxLeverage`).
    public var leverage: Fixed = .zero
    public var maxLeverage: Fixed = .zero
    public var perpMarginUsdt: Fixed = .zero
    /// Equity, value tied up already, and what stays free after the entry (spot cost, perp margin, fees).
    public var equityUsdt: Fixed = .zero
    public var committedUsdt: Fixed = .zero
    public var freeAfterUsdt: Fixed = .zero
    public var minFreeCashUsdt: Fixed = .zero
    /// Open notional of every pair, and the limits.
    public var openNotionalUsdt: Fixed = .zero
    public var maxPairNotionalUsdt: Fixed = .zero
    public var maxTotalNotionalUsdt: Fixed = .zero
    /// Estimated cost of opening both legs (taker fees, half spreads) and of the round trip (open + close at the same prices).
    public var openFeesUsdt: Fixed = .zero
    public var openSlippageUsdt: Fixed = .zero
    public var roundTripCostUsdt: Fixed = .zero
    /// Funding: the last settled rate per interval and the interval; the venue's prediction for the next settlement.
    public var fundingRate: Fixed?
    public var fundingIntervalMinutes: UInt32 = 0
    public var predictedRate: Fixed?
    /// Funding the short perp collects per hour at the current and the predicted rate.
    public var fundingPerHourUsdt: Fixed?
    public var predictedFundingPerHourUsdt: Fixed?
    /// Round-trip cost ÷ funding per hour (nil when the rate does not pay).
    public var breakevenHours: Fixed?
    public var predictedBreakevenHours: Fixed?
    /// Why it would be refused (nil: the engine would open it now).
    public var refusal: TradeRefusal?

    init(symbol: String, notionalUsdt: Fixed) {
        self.symbol = symbol
        self.notionalUsdt = notionalUsdt
    }
}

extension CarryReducer {
    /// The configured pair whose perpetual's symbol is `symbol` (case-insensitive), by index.
    public func pairIndex(symbol: String) -> Int? {
        let wanted = symbol.uppercased()
        return config.pairs.firstIndex { p in instruments.indices.contains(p.perp.index) && instruments[p.perp.index]?.symbol.uppercased() == wanted }
    }

    /// The configured symbols (each pair's perpetual).
    public var pairSymbols: [String] {
        config.pairs.map { p in instruments.indices.contains(p.perp.index) ? instruments[p.perp.index]?.symbol ?? "?" : "?" }
    }

    /// The pre-flight of opening `symbol`'s pair at `notionalUsdt` per leg. `predictedRate`
    /// is the venue's prediction for the next settlement when the caller read one (the engine's
    /// own `funding.predicted` input otherwise).
    public func preflight(symbol: String, notionalUsdt: Fixed, predictedRate: Fixed? = nil) -> TradePreflight {
        var f = TradePreflight(symbol: symbol, notionalUsdt: notionalUsdt)
        guard let i = pairIndex(symbol: symbol) else {
            f.refusal = TradeRefusal(rule: nil, message: "\(symbol) is not a pair this session trades (it trades \(pairSymbols.joined(separator: ", ")))")
            return f
        }
        let p = config.pairs[i]
        f.pairIndex = i
        f.phase = pairs[i].phase
        f.leverage = config.margin.perpLeverage
        f.maxLeverage = config.risk.maxLeverage
        f.equityUsdt = equity
        f.committedUsdt = committed()
        f.openNotionalUsdt = openNotional()
        f.maxPairNotionalUsdt = config.risk.maxPairNotionalUsdt
        f.maxTotalNotionalUsdt = config.risk.maxTotalNotionalUsdt
        f.minFreeCashUsdt = config.risk.minFreeCashUsdt
        if let settled = lastSettled.indices.contains(p.perp.index) ? lastSettled[p.perp.index] : nil {
            f.fundingRate = settled.ratePerInterval
            f.fundingIntervalMinutes = settled.intervalMinutes
        }
        f.predictedRate = predictedRate ?? (lastPredicted.indices.contains(p.perp.index) ? lastPredicted[p.perp.index]?.predictedRatePerInterval : nil)
        guard let spotDef = instruments[p.spot.index], let perpDef = instruments[p.perp.index] else {
            f.refusal = TradeRefusal(rule: nil, message: "the engine has no instrument rules for \(symbol) yet: wait for the session's first step")
            return f
        }
        if f.fundingIntervalMinutes == 0 { f.fundingIntervalMinutes = perpDef.fundingIntervalMinutes }
        f.qtyStep = PairQuantity.step(spot: spotDef, perp: perpDef)
        f.minQty = Fixed.max(spotDef.minQty, perpDef.minQty)
        f.spotMinNotional = spotDef.minNotional
        f.perpMinNotional = perpDef.minNotional
        guard let spotPrice = mark(p.spot), let perpPrice = mark(p.perp) else {
            f.refusal = TradeRefusal(rule: nil, message: "the engine has no price for both legs of \(symbol) yet (no closed bar): wait for the next bar")
            return f
        }
        f.spotPrice = spotPrice
        f.perpPrice = perpPrice
        let sized = FixedNotionalSizer(notionalUsdt: notionalUsdt).size(
            SizeRequest(spot: spotDef, perp: perpDef, spotPrice: spotPrice, perpPrice: perpPrice, conviction: Fixed(1), capacityUsdt: config.risk.maxTotalNotionalUsdt))
        switch sized {
        case .tooSmall(let step, let raw), .noRoom(let step, let raw):
            let minimum = Fixed.max(spotDef.minNotional, perpDef.minNotional)
            f.refusal = TradeRefusal(rule: .minOrderSize, limit: step, observed: raw,
                                     message: "\(notionalUsdt) USDT is below what the venue accepts for \(symbol): \(raw) at \(spotPrice) rounds below the step "
                                         + "\(step) or the minimum (quantity \(f.minQty), notional \(minimum) USDT per leg)")
        case .qty(let qty), .scaled(let qty, _, _):
            f.qty = qty
            f.spotNotionalUsdt = qty.multiplied(by: spotPrice, scale: quoteScale, .up)
            f.perpNotionalUsdt = qty.multiplied(by: perpPrice, scale: quoteScale, .up)
            f.perpMarginUsdt = f.perpNotionalUsdt.divided(by: config.margin.perpLeverage, scale: quoteScale, .up)
            let proposal = entryProposal(qty: qty, spot: spotDef, perp: perpDef, spotPrice: spotPrice, perpPrice: perpPrice)
            f.freeAfterUsdt = RiskChecks.freeAfter(proposal, margin: config.margin)
            f.openFeesUsdt = f.spotNotionalUsdt.multiplied(by: config.fees.rates(for: spotDef).taker, scale: quoteScale, .up)
                + f.perpNotionalUsdt.multiplied(by: config.fees.rates(for: perpDef).taker, scale: quoteScale, .up)
            f.openSlippageUsdt = (f.spotNotionalUsdt + f.perpNotionalUsdt).multiplied(by: config.slippage.halfSpread, scale: quoteScale, .up)
            f.roundTripCostUsdt = (f.openFeesUsdt + f.openSlippageUsdt).multiplied(by: Fixed(2), scale: quoteScale, .up)
            let hours = Fixed(Int64(f.fundingIntervalMinutes)).divided(by: Fixed(60), scale: 6, .toNearestOrEven)
            let perpNotional = f.perpNotionalUsdt, roundTrip = f.roundTripCostUsdt
            func perHour(_ rate: Fixed?) -> Fixed? {
                guard let rate, hours.isPositive else { return nil }
                return perpNotional.multiplied(by: rate, scale: quoteScale, .towardZero).divided(by: hours, scale: quoteScale, .towardZero)
            }
            func breakeven(_ perHour: Fixed?) -> Fixed? {
                guard let perHour, perHour.isPositive else { return nil }
                return roundTrip.divided(by: perHour, scale: 2, .up)
            }
            let now = perHour(f.fundingRate), predicted = perHour(f.predictedRate)
            f.fundingPerHourUsdt = now
            f.predictedFundingPerHourUsdt = predicted
            f.breakevenHours = breakeven(now)
            f.predictedBreakevenHours = breakeven(predicted)
            if let breach = RiskChecks.checkEntry(proposal, limits: config.risk, margin: config.margin) {
                f.refusal = TradeRefusal(rule: breach.0, limit: breach.limit, observed: breach.observed, message: Self.explain(breach.0, limit: breach.limit, observed: breach.observed))
            }
        }
        // States that refuse any entry come first in what the operator is told.
        if let state = entryBlocked(i) { f.refusal = TradeRefusal(rule: nil, message: state) }
        return f
    }

    /// Why pair `i` cannot be opened by an operator now, whatever its size (nil: it can).
    func entryBlocked(_ i: Int) -> String? {
        if pairs[i].phase != .flat { return "the \(pairSymbols[i]) pair is \(pairs[i].phase), not flat: close it first (carry trade close \(pairSymbols[i]))" }
        if killSwitchEngaged { return "the kill switch is engaged: no new pairs until it is released (carry kill --release)" }
        if let halt { return "the engine is halted (\(halt.rule)) since \(halt.since.iso8601): no new pairs until an operator releases it" }
        if reconciliationHold { return "a reconciliation found the venue and the engine apart: no new pairs until one matches" }
        let active = pairs.reduce(0) { $0 + ($1.phase == .flat ? 0 : 1) }
        if active >= config.strategy.maxOpenPairs { return "\(active) pairs are open, strategy.maxOpenPairs is \(config.strategy.maxOpenPairs)" }
        return nil
    }

    /// A risk rule's refusal in words.
    static func explain(_ rule: RiskRule, limit: Fixed, observed: Fixed) -> String {
        let limit = limit.normalized, observed = observed.normalized
        switch rule {
        case .balance: return "insufficient balance: after the spot cost, the perp margin and the fees \(observed) USDT would stay free, the minimum is \(limit) USDT"
        case .maxPairNotional: return "the pair's notional \(observed) USDT exceeds risk.maxPairNotionalUsdt \(limit)"
        case .maxTotalNotional: return "the book's notional would be \(observed) USDT, over risk.maxTotalNotionalUsdt \(limit)"
        case .maxLeverage: return "leverage \(observed) exceeds risk.maxLeverage \(limit)"
        case .marginBuffer: return "the perp's distance to liquidation \(observed) is below risk.minMarginBuffer \(limit)"
        default: return "\(rule): limit \(limit), observed \(observed)"
        }
    }

    /// Acts on an operator's trade: an open goes through `preflight`'s checks and, when they
    /// pass, `enter` (a manual signal is the pair's id); a close is an exit of an open pair.
    /// A refusal is journaled: `risk.breached` rejected (after the signal, as an automatic
    /// entry's) for a risk or size rule, `alert.raised operator.refused` otherwise.
    mutating func operatorTrade(_ t: OperatorTrade, ref: CausationRef, into out: inout DecisionBuffer) {
        guard let i = config.pairs.firstIndex(where: { $0.perp == t.perp && $0.spot == t.spot }) else {
            refuse("no configured pair has perp \(t.perp.rawValue) and spot \(t.spot.rawValue)", ref: ref, into: &out)
            return
        }
        let symbol = pairSymbols[i]
        let p = config.pairs[i]
        func signal(_ action: SignalAction, _ components: [SignalComponent]) -> UInt64 {
            out.add(.signal(SignalComputed(strategy: .manual, perp: p.perp, spot: p.spot, action: action, direction: .longSpotShortPerp,
                                           score: .zero, components: components)), causation: ref)
        }
        switch t.action {
        case .open:
            let f = preflight(symbol: symbol, notionalUsdt: t.notionalUsdt)
            if let r = f.refusal, r.rule == nil {
                refuse("open \(symbol) \(t.notionalUsdt) USDT refused: \(r.message)", ref: ref, into: &out)
                return
            }
            var components: [SignalComponent] = []
            if let m = f.spotPrice { components.append(SignalComponent(factor: .mark, value: m, weight: .zero, sourceSeq: 0)) }
            if let m = f.perpPrice { components.append(SignalComponent(factor: .mark, value: m, weight: .zero, sourceSeq: 0)) }
            if let rate = f.fundingRate { components.append(SignalComponent(factor: .fundingLevel, value: rate, weight: .zero, sourceSeq: 0)) }
            components.append(SignalComponent(factor: .roundTripCost, value: f.roundTripCostUsdt, weight: .zero, sourceSeq: 0))
            let signalSeq = signal(.enter, components)
            if let r = f.refusal, let rule = r.rule {
                out.add(.risk(RiskBreached(rule: rule, action: .rejected, instrumentId: p.perp, limit: r.limit, observed: r.observed)), causation: .local(signalSeq))
                return
            }
            guard let qty = f.qty else { return }
            enter(i, qty: qty, signalSeq: signalSeq, into: &out)
        case .close:
            guard pairs[i].phase == .open || pairs[i].phase == .rebalancing else {
                refuse("close \(symbol) refused: the pair is \(pairs[i].phase)"
                       + (pairs[i].phase == .flat ? ", nothing to close" : ", already on its way"), ref: ref, into: &out)
                return
            }
            let signalSeq = signal(.exit, [])
            closePair(i, cause: .exit, reason: .close, ref: .local(signalSeq), into: &out)
        }
    }

    private func refuse(_ message: String, ref: CausationRef, into out: inout DecisionBuffer) {
        out.add(.alert(AlertRaised(severity: .warning, code: "operator.refused", message: message)), causation: ref)
    }
}
