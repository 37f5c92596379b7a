// Positions, cash and P&L attribution, folded from fills and funding payments.
//
// Accounting (linear contracts, quote-asset cash): a fill of signed quantity dq at price f
// with reference price r and fee φ moves cash by −round8(dq·f) − φ. Split that as
//   round8(dq·f) = round8(dq·r) + slippage,   slippage = round8(dq·f) − round8(dq·r)
// so that, with marks P,
//   equity = cash + Σ round8(q·P)
//          = initial + [Σ round8(q·P) − Σ round8(dq·r)] − fees − slippage + funding
// exactly: price P&L is the bracket. A short perp works the same way (selling adds cash,
// the negative position subtracts value), which is the P&L of a linear perpetual.
//
// Invariant: `equity(marks) == initialCash + pricePnL(marks) + funding − fees − slippage`
// to the last unit, for any marks.
//
// The totals across instruments (fees, slippage, funding, reference cost, fills) are kept as
// running sums beside the per-instrument ones: an equity sample reads them at every scan tick.
// `Fixed` addition is exact and its scale is the larger of the two, so a running sum has the
// same value *and* spelling as the per-instrument sums added up afterwards.

/// What a fill moves, split as the accounting above: the signed change of the position,
/// round8(dq × fill price), round8(dq × reference price) and the slippage between them, and
/// the fee valued in the quote asset.
///
/// A fee taken in the base coin (Bybit's spot buys) leaves cash alone and shrinks the position
/// by the fee: it is booked as a sale of those coins at the fill price whose proceeds pay the
/// fee, so its value is a fee and the identity above still holds to the unit.
public struct FillAmounts: Sendable, Equatable {
    /// Signed change of the position (the traded quantity less a base-coin fee).
    public var dq: Fixed
    /// round8(traded quantity × fill price), signed: what cash pays for the trade.
    public var notional: Fixed
    /// What the position change cost at reference prices (round8(traded × reference), less
    /// the value of a base-coin fee).
    public var reference: Fixed
    /// round8(traded × fill price) − round8(traded × reference price).
    public var slippage: Fixed
    /// The fee in the quote asset.
    public var fee: Fixed
    /// The part of the fee cash pays (zero for a base-coin fee).
    public var cashFee: Fixed

    public init(_ fill: OrderFilled) {
        let traded = fill.side == .buy ? fill.qty : -fill.qty
        dq = fill.positionDelta
        notional = traded.multiplied(by: fill.price, scale: quoteScale, .toNearestOrEven)
        let tradeReference = traded.multiplied(by: fill.referencePrice, scale: quoteScale, .toNearestOrEven)
        slippage = notional - tradeReference
        fee = fill.feeInQuote
        cashFee = fill.feeAsset == .quote ? fill.fee : .zero
        reference = fill.feeAsset == .quote ? tradeReference : tradeReference - fee
    }
}

/// An account's positions and P&L, by instrument.
public struct Portfolio: Sendable, Equatable {
    /// Cash at the start.
    public let initialCash: Fixed
    /// Quote-asset cash (perp trades move it as if the contract were bought or sold).
    public private(set) var cash: Fixed
    /// Signed position per instrument (base asset).
    public private(set) var qty: [Fixed] = []
    /// Σ round8(dq × reference price) per instrument.
    public private(set) var referenceCost: [Fixed] = []
    public private(set) var fees: [Fixed] = []
    public private(set) var slippage: [Fixed] = []
    public private(set) var funding: [Fixed] = []
    public private(set) var fills: [Int] = []
    /// Volume-weighted entry price of each perp position (same rule as the venue).
    public private(set) var entryPrice: [Fixed?] = []
    /// Fills that were liquidations.
    public private(set) var liquidations = 0
    /// Σ of `fees`, `slippage`, `funding`, `referenceCost` and `fills` over instruments,
    /// maintained with them (equal to summing the arrays, to the last unit and scale).
    public private(set) var totalFees: Fixed = .zero
    public private(set) var totalSlippage: Fixed = .zero
    public private(set) var totalFunding: Fixed = .zero
    public private(set) var totalReferenceCost: Fixed = .zero
    public private(set) var totalFills = 0

    /// An empty account.
    public init(initialCash: Fixed) {
        self.initialCash = initialCash
        self.cash = initialCash
    }

    mutating func grow(to id: InstrumentId) {
        while qty.count <= id.index {
            qty.append(.zero)
            referenceCost.append(.zero)
            fees.append(.zero)
            slippage.append(.zero)
            funding.append(.zero)
            fills.append(0)
            entryPrice.append(nil)
        }
    }

    /// The position of an instrument.
    public func position(_ id: InstrumentId) -> Fixed { id.index < qty.count ? qty[id.index] : .zero }

    /// Books a fill. `isPerp` decides whether an entry price is tracked.
    public mutating func apply(_ fill: OrderFilled, isPerp: Bool) {
        let i = fill.instrumentId.index
        grow(to: fill.instrumentId)
        let a = FillAmounts(fill)
        cash -= a.notional
        cash -= a.cashFee
        referenceCost[i] += a.reference
        slippage[i] += a.slippage
        fees[i] += a.fee
        fills[i] += 1
        totalReferenceCost += a.reference
        totalSlippage += a.slippage
        totalFees += a.fee
        totalFills += 1
        if fill.isLiquidation { liquidations += 1 }
        if isPerp { entryPrice[i] = Self.entryPrice(position: qty[i], entry: entryPrice[i], fill: a.dq, at: fill.price) }
        qty[i] += a.dq
    }

    /// The entry price of a position after a fill of signed quantity `dq` at `price` — the
    /// venues' rule, shared with the simulated exchange: opened or flipped through zero, the
    /// fill's price; increased, the volume-weighted average (rounded half-even to 8 decimals);
    /// reduced, unchanged; closed, none.
    public static func entryPrice(position before: Fixed, entry: Fixed?, fill dq: Fixed, at price: Fixed) -> Fixed? {
        let after = before + dq
        if after.isZero { return nil }
        if before.isZero || before.signum != after.signum { return price }
        guard before.signum == dq.signum, let entry else { return entry }
        let total = before.magnitude.multiplied(by: entry, scale: 12, .toNearestOrEven) + dq.magnitude.multiplied(by: price, scale: 12, .toNearestOrEven)
        return total.divided(by: after.magnitude, scale: 8, .toNearestOrEven)
    }

    /// Sets a position to what the venue holds (reconciliation), as a trade at `mark` with
    /// the mark as its reference: cash pays for the difference, no fee, no slippage, so
    /// equity at that mark is unchanged and the accounting identity holds.
    public mutating func correct(_ id: InstrumentId, to venueQty: Fixed, at mark: Fixed, isPerp: Bool) {
        grow(to: id)
        let i = id.index
        let dq = venueQty - qty[i]
        guard !dq.isZero else { return }
        let value = dq.multiplied(by: mark, scale: quoteScale, .toNearestOrEven)
        cash -= value
        referenceCost[i] += value
        totalReferenceCost += value
        qty[i] = venueQty
        if isPerp { entryPrice[i] = venueQty.isZero ? nil : (entryPrice[i] ?? mark) }
    }

    /// Sets cash to what the venue holds (reconciliation, after positions were corrected: a
    /// trade made elsewhere moved cash at a price the engine never saw). The difference is
    /// booked as price P&L of `instrument`, so the accounting identity still holds.
    public mutating func correctCash(to venueCash: Fixed, attributeTo id: InstrumentId) {
        grow(to: id)
        let d = venueCash - cash
        cash = venueCash
        referenceCost[id.index] -= d
        totalReferenceCost -= d
    }

    /// Books a funding payment.
    public mutating func apply(_ payment: FundingPaid) {
        grow(to: payment.instrumentId)
        cash += payment.amount
        funding[payment.instrumentId.index] += payment.amount
        totalFunding += payment.amount
    }

    /// Value of one position at a mark.
    public func value(_ id: InstrumentId, mark: Fixed) -> Fixed {
        position(id).multiplied(by: mark, scale: quoteScale, .toNearestOrEven)
    }

    /// Cash plus every position at its mark (a missing mark values the position at zero,
    /// which only happens before an instrument's first bar).
    public func equity(marks: (InstrumentId) -> Fixed?) -> Fixed {
        cash + positionsValue(marks: marks)
    }

    /// Σ round8(q × mark) over held positions (a missing mark counts zero).
    public func positionsValue(marks: (InstrumentId) -> Fixed?) -> Fixed {
        var total = Fixed.zero
        for i in qty.indices where !qty[i].isZero {
            if let m = marks(InstrumentId(UInt32(i))) { total += qty[i].multiplied(by: m, scale: quoteScale, .toNearestOrEven) }
        }
        return total
    }

    /// Equity and total price P&L at the marks, valuing the positions once (an equity sample
    /// wants both): exactly `(equity(marks:), totalPricePnL(marks:))`.
    public func valuation(marks: (InstrumentId) -> Fixed?) -> (equity: Fixed, pricePnL: Fixed) {
        let value = positionsValue(marks: marks)
        return (cash + value, value - totalReferenceCost)
    }

    /// `positionsValue(marks:)` with the marks as an array by instrument index (a missing or
    /// short entry is no mark), as the reducer keeps them: no closure call per position.
    public func positionsValue(marks: [Fixed?]) -> Fixed {
        var total = Fixed.zero
        for i in qty.indices where !qty[i].isZero {
            if i < marks.count, let m = marks[i] { total += qty[i].multiplied(by: m, scale: quoteScale, .toNearestOrEven) }
        }
        return total
    }

    /// `equity(marks:)` with the marks as an array by instrument index.
    public func equity(marks: [Fixed?]) -> Fixed { cash + positionsValue(marks: marks) }

    /// `valuation(marks:)` with the marks as an array by instrument index.
    public func valuation(marks: [Fixed?]) -> (equity: Fixed, pricePnL: Fixed) {
        let value = positionsValue(marks: marks)
        return (cash + value, value - totalReferenceCost)
    }

    /// Price P&L of one instrument: its value at the mark less what it cost at reference prices.
    public func pricePnL(_ id: InstrumentId, mark: Fixed?) -> Fixed {
        guard id.index < qty.count else { return .zero }
        guard !qty[id.index].isZero else { return -referenceCost[id.index] }
        let value = mark.map { qty[id.index].multiplied(by: $0, scale: quoteScale, .toNearestOrEven) } ?? .zero
        return value - referenceCost[id.index]
    }

    /// Total price P&L at the marks: Σ value at the mark − Σ reference cost. (Addition is
    /// exact and keeps the larger scale, so the order of the sums changes neither value nor
    /// spelling.)
    public func totalPricePnL(marks: (InstrumentId) -> Fixed?) -> Fixed {
        positionsValue(marks: marks) - totalReferenceCost
    }
}
