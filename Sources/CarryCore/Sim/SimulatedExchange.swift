// The simulated exchange: deterministic matching, fees, slippage, exchange rules, funding
// settlement and liquidation of perpetual positions. Pure: it sees only the events it is
// given, in the order given.
//
// Rules (each is tested):
// - Fill price. With bar data, a bar's close is the first price observable at its close
//   time. An order decided at T fills at the close of the first bar of its instrument that
//   closes at or after T + latency (never a bar that closed earlier: no look-ahead). The fill
//   happens at that close time.
// - Slippage. Market orders pay half the spread plus impact = coefficient × participation,
//   participation = order value / the bar's quote volume; fill prices are rounded to the
//   tick against the trader. At most `maxParticipation` of a bar's volume fills per bar; the
//   rest waits for later bars. A bar with no volume fills nothing (a gap is not a price).
// - Fees. Taker rate on market orders, maker on limit orders, on the filled value, rounded
//   half-even to 8 decimals.
// - Rules. Quantities must be positive multiples of the step and at least the minimum
//   quantity and notional; limit prices multiples of the tick. Violations are rejected with
//   Bybit-like codes, never silently fixed.
// - Funding. At a settlement of a perpetual, a position of q (signed) pays
//   q × mark × rate (positive rate: longs pay shorts); the amount journaled is the account's
//   signed cash flow −q × mark × rate, rounded half-even to 8 decimals. The position is the
//   one held at the settlement instant: a fill at exactly the settlement time counts (the
//   driver applies fills of a timestamp before its settlements). Mark = the settlement's
//   mark price when the data has one, else the perp's last bar close at or before it.
// - Liquidation. Perp positions are isolated-margined at the configured leverage; when a
//   perp bar's extreme crosses the liquidation price, the position is closed at the
//   bankruptcy price (the liquidation price moved by the maintenance rate, so the forfeited
//   maintenance margin is a price loss, not a fee). The spot leg is
//   untouched — the real failure mode of this trade. Liquidation is checked against the
//   position held during the bar, before that bar's fills.
// - Time in force. An immediate-or-cancel order executes at the first bar that has volume
//   (its first observable price); what the participation cap leaves unfilled expires there
//   (`order.expired`). Good-till-cancel orders wait for later bars.
// - Balance and margin. An order that would take more than the account has is rejected
//   (110007, 170131 for spot): a spot buy needs its value and fee; a perp order that adds to
//   the position needs its margin (notional ÷ leverage); available = equity − spot held −
//   posted perp margin. Reduce-only orders need nothing.
// - Fee asset. With `spotBuyFeeInBase`, a spot buy's fee is taken in the coin bought, as
//   Bybit does: the position grows by the quantity less the fee.

/// A fact the simulated venue reports, with the time it happened and what caused it.
public struct VenueFact: Sendable, Equatable {
    public var event: Event
    public var time: Timestamp
    public var causation: CausationRef

    /// Builds a fact.
    public init(event: Event, time: Timestamp, causation: CausationRef) {
        self.event = event
        self.time = time
        self.causation = causation
    }
}

/// Venue reject codes (Bybit's where one exists, negative for Carry's own).
public enum SimRejectCode {
    /// Order quantity below the minimum / not a multiple of the step.
    public static let invalidQuantity: Int32 = 10001
    /// Order value below the minimum notional.
    public static let belowMinNotional: Int32 = 110094
    /// Price not a multiple of the tick.
    public static let invalidPrice: Int32 = 10001
    /// Reduce-only order with nothing to reduce.
    public static let reduceOnlyNothing: Int32 = 110017
    /// Unknown instrument.
    public static let unknownSymbol: Int32 = 10001
    /// A client order id the venue has seen before (derivatives / spot): the order exists.
    public static let duplicateClientId: Int32 = 110072
    public static let duplicateClientIdSpot: Int32 = 170141
    /// Insufficient balance (derivatives / spot).
    public static let insufficientBalance: Int32 = 110007
    public static let insufficientBalanceSpot: Int32 = 170131
}

/// The deterministic simulated exchange.
public struct SimulatedExchange: ExecutionVenue, Sendable {
    struct Pending: Sendable {
        var intentSeq: UInt64
        var intent: OrderIntended
        var eligibleAt: Timestamp
        var remaining: Fixed
        var fills: Int
    }

    let fees: FeeSchedule
    let slippage: SlippageModel
    let margin: MarginModel
    let latencyMs: Int64
    /// Definitions by dense id.
    private(set) var instruments: [InstrumentDefined?] = []
    /// Whether each id is defined, and is a perpetual (read on every bar without copying the
    /// definition, whose strings would be retained and released).
    private var isDefined: [Bool] = []
    private var isPerpetual: [Bool] = []
    private var pending: [Pending] = []
    /// Venue-side positions (signed, base asset) by instrument id.
    public private(set) var positions: [Fixed] = []
    /// Volume-weighted entry price of each perp position.
    public private(set) var entryPrice: [Fixed?] = []
    /// Last bar close per instrument, for marks.
    private var lastClose: [Fixed?] = []
    /// Liquidation price of each perp position, recomputed when its entry changes.
    private var liquidationAt: [Fixed?] = []
    /// The venue's view of the account's cash (quote asset), for reconciliation.
    public private(set) var cash: Fixed
    /// Take a spot buy's fee in the coin bought (Bybit), not in the quote asset.
    public let spotBuyFeeInBase: Bool
    /// What the venue knows of every order it was sent: status, executed quantity, fills.
    public private(set) var records: [UInt64: OrderRecord] = [:]

    /// The venue's record of one order.
    public struct OrderRecord: Sendable, Equatable {
        public var status: VenueOrderStatus
        public var cumQty: Fixed
        public var fills: [OrderFilled]
    }

    /// A venue with these rules and an opening cash balance.
    public init(fees: FeeSchedule, slippage: SlippageModel, margin: MarginModel, latencyMs: Int64, initialCash: Fixed, spotBuyFeeInBase: Bool = false) {
        self.fees = fees
        self.slippage = slippage
        self.margin = margin
        self.latencyMs = latencyMs
        self.cash = initialCash
        self.spotBuyFeeInBase = spotBuyFeeInBase
    }

    // MARK: - ExecutionVenue

    public mutating func execute(_ command: OrderCommand, commandSeq: UInt64, at time: Timestamp) -> [VenueFact] {
        switch command {
        case .submit(let intent): return submit(intentSeq: commandSeq, intent, at: time)
        case .cancel(let c): return cancel(intentSeq: c.intentSeq, at: time, reason: "cancelled: \(c.reason)")
        }
    }

    public mutating func due(through time: Timestamp) -> [VenueFact] { [] }
    public var holdsFacts: Bool { false }

    public mutating func query(intentSeq: UInt64, at time: Timestamp) -> [VenueFact] {
        let cause = CausationRef.local(intentSeq)
        guard let r = records[intentSeq] else {
            return [VenueFact(event: .orderStatus(OrderStatusReported(intentSeq: intentSeq, status: .notFound, cumQty: .zero, venueOrderId: "")),
                              time: time, causation: cause)]
        }
        return r.fills.map { VenueFact(event: .orderFilled($0), time: time, causation: cause) }
            + [VenueFact(event: .orderStatus(OrderStatusReported(intentSeq: intentSeq, status: r.status, cumQty: r.cumQty, venueOrderId: "sim-\(intentSeq)")),
                         time: time, causation: cause)]
    }

    public func snapshot() -> VenueSnapshot {
        var list: [VenuePosition] = []
        for i in positions.indices where !positions[i].isZero { list.append(VenuePosition(instrumentId: InstrumentId(UInt32(i)), qty: positions[i])) }
        return VenueSnapshot(positions: list, cash: cash, openOrders: pending.map(\.intentSeq).sorted())
    }

    /// Moves a position without an order (a trade made elsewhere on the account, for the
    /// fault simulation's reconciliation drift), paid at the last close.
    public mutating func externalTrade(_ id: InstrumentId, qty dq: Fixed) {
        guard id.index < positions.count, let price = lastClose[id.index] else { return }
        positions[id.index] += dq
        cash -= dq.multiplied(by: price, scale: quoteScale, .toNearestOrEven)
    }

    /// Quote value the account can still commit: equity − spot held − posted perp margin.
    private func available() -> Fixed {
        var equity = cash, held = Fixed.zero
        for i in positions.indices where !positions[i].isZero {
            guard let price = lastClose[i], let def = instruments[i] else { continue }
            let value = positions[i].multiplied(by: price, scale: quoteScale, .toNearestOrEven)
            equity += value
            if def.kind.isPerpetual {
                held += value.magnitude.divided(by: margin.perpLeverage, scale: quoteScale, .up)
            } else {
                held += value.magnitude
            }
        }
        return equity - held
    }

    /// Orders not yet fully filled.
    public var openOrderCount: Int { pending.count }

    private mutating func grow(to id: InstrumentId) {
        while instruments.count <= id.index {
            instruments.append(nil)
            isDefined.append(false)
            isPerpetual.append(false)
            positions.append(.zero)
            entryPrice.append(nil)
            lastClose.append(nil)
            liquidationAt.append(nil)
        }
    }

    /// Learns (or updates) an instrument's rules.
    public mutating func define(_ d: InstrumentDefined) {
        grow(to: d.id)
        instruments[d.id.index] = d
        isDefined[d.id.index] = true
        isPerpetual[d.id.index] = d.kind.isPerpetual
    }

    /// Accepts or rejects an order decided at `time`. Accepted orders wait for a price. (The
    /// executor journals `order.submitted` before it calls this: the venue only answers.)
    public mutating func submit(intentSeq: UInt64, _ intent: OrderIntended, at time: Timestamp) -> [VenueFact] {
        let cause = CausationRef.local(intentSeq)
        func reject(_ code: Int32, _ reason: String) -> [VenueFact] {
            records[intentSeq] = OrderRecord(status: .rejected, cumQty: .zero, fills: [])
            return [VenueFact(event: .orderRejected(OrderRejected(intentSeq: intentSeq, code: code, reason: reason)), time: time, causation: cause)]
        }
        guard intent.instrumentId.index < instruments.count, let def = instruments[intent.instrumentId.index] else {
            return reject(SimRejectCode.unknownSymbol, "unknown instrument \(intent.instrumentId)")
        }
        if records[intentSeq] != nil {
            // The venue keys orders by client order id: a second send of one intent is refused
            // and changes nothing (the first order stands).
            let code = def.kind == .spot ? SimRejectCode.duplicateClientIdSpot : SimRejectCode.duplicateClientId
            return [VenueFact(event: .orderRejected(OrderRejected(intentSeq: intentSeq, code: code, reason: "duplicate client order id")),
                              time: time, causation: cause)]
        }
        let qty = intent.qty
        guard qty.isPositive, qty.isMultiple(of: def.qtyStep), qty >= def.minQty else {
            return reject(SimRejectCode.invalidQuantity, "quantity \(qty) must be a positive multiple of \(def.qtyStep) and at least \(def.minQty)")
        }
        if let limit = intent.limitPrice, !(limit.isPositive && limit.isMultiple(of: def.tickSize)) {
            return reject(SimRejectCode.invalidPrice, "limit price \(limit) must be a positive multiple of the tick \(def.tickSize)")
        }
        if intent.reduceOnly {
            let pos = positions[def.id.index]
            let reduces = (intent.side == .sell && pos.isPositive) || (intent.side == .buy && pos.isNegative)
            if !reduces { return reject(SimRejectCode.reduceOnlyNothing, "reduce-only order but no position to reduce") }
        }
        let referenceForNotional = intent.limitPrice ?? lastClose[def.id.index]
        if let ref = referenceForNotional, qty.multiplied(by: ref, scale: quoteScale, .towardZero) < def.minNotional {
            return reject(SimRejectCode.belowMinNotional, "order value below the minimum notional \(def.minNotional)")
        }
        if !intent.reduceOnly, let ref = referenceForNotional {
            let value = qty.multiplied(by: ref, scale: quoteScale, .up)
            let need = def.kind.isPerpetual ? value.divided(by: margin.perpLeverage, scale: quoteScale, .up)
                                            : value + value.multiplied(by: fees.rates(for: def).taker, scale: quoteScale, .up)
            let adds = def.kind.isPerpetual ? (intent.side == .sell ? !positions[def.id.index].isPositive : !positions[def.id.index].isNegative) : intent.side == .buy
            if adds, need > available() {
                return reject(def.kind.isPerpetual ? SimRejectCode.insufficientBalance : SimRejectCode.insufficientBalanceSpot,
                              "insufficient balance: the order needs \(need), available \(available())")
            }
        }
        pending.append(Pending(intentSeq: intentSeq, intent: intent, eligibleAt: time.adding(ms: latencyMs), remaining: qty, fills: 0))
        records[intentSeq] = OrderRecord(status: .new, cumQty: .zero, fills: [])
        return [VenueFact(event: .orderAccepted(OrderAccepted(intentSeq: intentSeq, venueOrderId: "sim-\(intentSeq)")), time: time, causation: cause)]
    }

    /// Cancels an open order (kill switch, pair abandoned).
    public mutating func cancel(intentSeq: UInt64, at time: Timestamp, reason: String) -> [VenueFact] {
        guard let i = pending.firstIndex(where: { $0.intentSeq == intentSeq }) else { return [] }
        let p = pending.remove(at: i)
        records[intentSeq]?.status = .cancelled
        return [VenueFact(event: .orderCancelled(OrderCancelled(intentSeq: intentSeq, remainingQty: p.remaining, reason: reason)),
                          time: time, causation: .local(intentSeq))]
    }

    /// True when a bar of instrument index `i` can only move its last close: the venue holds
    /// no position there (nothing to liquidate) and no order of it waits for a price. A
    /// stricter test than `onBar`'s (any waiting order, eligible or not), so `markOnly` is
    /// exactly what `onBar` would do with such a bar.
    @inline(__always)
    public func isIdle(_ i: Int) -> Bool {
        guard i < isDefined.count, isDefined[i] else { return true }
        guard positions[i].isZero else { return false }
        for k in pending.indices where pending[k].intent.instrumentId.index == i { return false }
        return true
    }

    /// `onBar` for a bar of an instrument `isIdle` on: it moves only the last close.
    @inline(__always)
    public mutating func markOnly(_ i: Int, close: Fixed) {
        guard i < isDefined.count, isDefined[i] else { return }
        lastClose[i] = close
    }

    /// A bar closed: fill eligible orders on its instrument, then check liquidation.
    /// `barRef` is the bar's journal reference (the cause of a liquidation).
    public mutating func onBar(_ bar: BarClosed, barRef: CausationRef) -> [VenueFact] {
        let id = bar.instrumentId
        guard id.index < isDefined.count, isDefined[id.index] else { return [] }
        lastClose[id.index] = bar.close
        let closeTime = bar.closeTime
        // The common case, decided without touching the definition: no order of this
        // instrument to fill, and no position whose liquidation price the bar crossed.
        let liquidates = isPerpetual[id.index] && crossesLiquidation(bar)
        guard liquidates || pending.contains(where: { $0.intent.instrumentId == id && $0.eligibleAt <= closeTime }) else { return [] }
        let def = instruments[id.index]!
        // The position held during the bar meets the bar's extreme before the bar's fills.
        var facts = liquidates ? checkLiquidation(bar: bar, def: def, cause: barRef) : []
        var i = 0
        while i < pending.count {
            if pending[i].intent.instrumentId == id && pending[i].eligibleAt <= closeTime {
                var order = pending[i]
                let observed = bar.volumeQuote.isPositive || order.intent.type == .limit
                if let fact = fill(&order, bar: bar, def: def) { facts.append(fact) }
                if !order.remaining.isZero && order.intent.timeInForce == .immediateOrCancel && observed {
                    // IOC: what did not execute at the first observable price expires.
                    records[order.intentSeq]?.status = .expired
                    facts.append(VenueFact(event: .orderExpired(OrderExpired(intentSeq: order.intentSeq, remainingQty: order.remaining)),
                                           time: closeTime, causation: .local(order.intentSeq)))
                    order.remaining = .zero
                }
                if order.remaining.isZero {
                    pending.remove(at: i)
                    continue
                }
                pending[i] = order
            }
            i += 1
        }
        return facts
    }

    private mutating func fill(_ order: inout Pending, bar: BarClosed, def: InstrumentDefined) -> VenueFact? {
        let intent = order.intent
        let reference = bar.close
        var qty = order.remaining
        if intent.reduceOnly {
            let pos = positions[def.id.index].magnitude
            qty = Fixed.min(qty, pos)
            if qty.isZero {
                // The position is already gone (liquidated, or closed by another order):
                // the order ends, and says so, so the engine does not wait for it forever.
                let left = order.remaining
                order.remaining = .zero
                records[order.intentSeq]?.status = .cancelled
                return VenueFact(event: .orderCancelled(OrderCancelled(intentSeq: order.intentSeq, remainingQty: left,
                                                                       reason: "reduce-only: no position left to reduce")),
                                 time: bar.closeTime, causation: .local(order.intentSeq))
            }
        }
        let rates = fees.rates(for: def)
        var price: Fixed
        let liquidity: Liquidity
        switch intent.type {
        case .market:
            guard bar.volumeQuote.isPositive else { return nil }
            // Cap by participation, in whole steps.
            let capValue = bar.volumeQuote.multiplied(by: slippage.maxParticipation, scale: quoteScale, .towardZero)
            let capQty = capValue.divided(by: reference, scale: Int(def.qtyStep.scale) + 2, .towardZero).rounded(toMultipleOf: def.qtyStep, .towardZero)
            qty = Fixed.min(qty, capQty)
            if qty < def.minQty || qty.isZero { return nil }
            let value = qty.multiplied(by: reference, scale: quoteScale, .towardZero)
            let participation = value.divided(by: bar.volumeQuote, scale: 12, .toNearestOrEven)
            let impact = slippage.halfSpread + slippage.impactCoefficient.multiplied(by: participation, scale: 12, .toNearestOrEven)
            let factor = intent.side == .buy ? Fixed(1) + impact : Fixed(1) - impact
            // On the tick, against the trader, written at the tick's scale (4624.17, not 4624.170000000000).
            price = reference.multiplied(by: factor, scale: 12, .toNearestOrEven)
                .rounded(toMultipleOf: def.tickSize, intent.side == .buy ? .up : .down)
                .rounded(scale: Int(def.tickSize.scale), .toNearestOrEven)
            liquidity = .taker
        case .limit:
            guard let limit = intent.limitPrice else { return nil }
            let crosses = intent.side == .buy ? bar.low <= limit : bar.high >= limit
            guard crosses else { return nil }
            price = limit
            liquidity = .maker
        }
        if price.isNegative || price.isZero { price = def.tickSize }
        let rate = liquidity == .taker ? rates.taker : rates.maker
        let feeInBase = spotBuyFeeInBase && def.kind == .spot && intent.side == .buy
        let fee = feeInBase ? qty.multiplied(by: rate, scale: quoteScale, .toNearestOrEven)
                            : qty.multiplied(by: price, scale: quoteScale, .toNearestOrEven).multiplied(by: rate, scale: quoteScale, .toNearestOrEven)
        order.remaining = order.remaining - qty
        order.fills += 1
        let filled = OrderFilled(intentSeq: order.intentSeq, instrumentId: def.id, side: intent.side, price: price, qty: qty, fee: fee,
                                 liquidity: liquidity, referencePrice: intent.type == .market ? reference : price,
                                 leavesQty: order.remaining, isLiquidation: false, executionId: "sim-\(order.intentSeq)-\(order.fills)",
                                 feeAsset: feeInBase ? .base : .quote)
        applyFill(filled, def: def)
        if var r = records[order.intentSeq] {
            r.cumQty += qty
            r.fills.append(filled)
            r.status = order.remaining.isZero ? .filled : .partiallyFilled
            records[order.intentSeq] = r
        }
        return VenueFact(event: .orderFilled(filled), time: bar.closeTime, causation: .local(order.intentSeq))
    }

    /// Books a fill on the venue's side: the same accounting as the engine's `FillAmounts`.
    private mutating func applyFill(_ fill: OrderFilled, def: InstrumentDefined) {
        let i = def.id.index
        let a = FillAmounts(fill)
        let before = positions[i]
        let after = before + a.dq
        cash -= a.notional
        cash -= a.cashFee
        positions[i] = after
        if def.kind.isPerpetual {
            entryPrice[i] = Portfolio.entryPrice(position: before, entry: entryPrice[i], fill: a.dq, at: fill.price)
            liquidationAt[i] = entryPrice[i].map { margin.liquidationPrice(entry: $0, short: after.isNegative) }
        }
    }

    /// True when the bar's extreme crosses the liquidation price of the position held.
    private func crossesLiquidation(_ bar: BarClosed) -> Bool {
        let i = bar.instrumentId.index
        let pos = positions[i]
        guard !pos.isZero, let liq = liquidationAt[i] else { return false }
        return pos.isNegative ? bar.high >= liq : bar.low <= liq
    }

    private mutating func checkLiquidation(bar: BarClosed, def: InstrumentDefined, cause: CausationRef) -> [VenueFact] {
        let i = def.id.index
        let pos = positions[i]
        guard crossesLiquidation(bar), let liq = liquidationAt[i] else { return [] }
        let short = pos.isNegative
        // Closed at the bankruptcy price (the liquidation price moved by the maintenance rate):
        // the forfeited maintenance margin is part of the price loss, not a fee.
        let one = Fixed(1)
        let bankrupt = liq.multiplied(by: short ? one + margin.maintenanceMarginRate : one - margin.maintenanceMarginRate, scale: 12, .toNearestOrEven)
        let price = bankrupt.rounded(toMultipleOf: def.tickSize, short ? .up : .down).rounded(scale: Int(def.tickSize.scale), .toNearestOrEven)
        let qty = pos.magnitude
        let side: Side = short ? .buy : .sell
        let filled = OrderFilled(intentSeq: 0, instrumentId: def.id, side: side, price: price, qty: qty, fee: .zero, liquidity: .taker,
                                 referencePrice: price, leavesQty: .zero, isLiquidation: true, executionId: "sim-liq-\(bar.closeTime.ms)-\(def.id.rawValue)")
        applyFill(filled, def: def)
        var facts = [VenueFact(event: .orderFilled(filled), time: bar.closeTime, causation: cause)]
        // Reduce-only orders on a liquidated position have nothing left to do: cancel them.
        for order in pending where order.intent.instrumentId == def.id && order.intent.reduceOnly {
            records[order.intentSeq]?.status = .cancelled
            facts.append(VenueFact(event: .orderCancelled(OrderCancelled(intentSeq: order.intentSeq, remainingQty: order.remaining,
                                                                         reason: "position liquidated")),
                                   time: bar.closeTime, causation: .local(order.intentSeq)))
        }
        pending.removeAll { $0.intent.instrumentId == def.id && $0.intent.reduceOnly }
        return facts
    }

    /// A funding settlement of a perpetual at `time`: pay or charge the position held now.
    public mutating func onFundingSettled(_ f: FundingSettled, at time: Timestamp, cause: CausationRef) -> [VenueFact] {
        let id = f.instrumentId
        // Decided without copying the definition (its Strings), which only the alert needs.
        guard id.index < isPerpetual.count, isPerpetual[id.index] else { return [] }
        let pos = positions[id.index]
        guard !pos.isZero else { return [] }
        guard let mark = f.markPrice ?? lastClose[id.index] else {
            let symbol = instruments[id.index]?.symbol ?? "\(id)"
            return [VenueFact(event: .alertRaised(AlertRaised(severity: .warning, code: "funding.noMark",
                                                                message: "no mark price for \(symbol) at \(time.iso8601): funding not settled")),
                              time: time, causation: cause)]
        }
        let amount = FundingMath.payment(positionQty: pos, markPrice: mark, ratePerInterval: f.ratePerInterval)
        cash += amount
        return [VenueFact(event: .fundingPaid(FundingPaid(instrumentId: id, settlementTime: time, positionQty: pos, markPrice: mark,
                                                          ratePerInterval: f.ratePerInterval, amount: amount)),
                          time: time, causation: cause)]
    }
}
