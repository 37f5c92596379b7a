// Pre-trade and portfolio risk checks as pure functions: the same numbers in give the same
// verdict out, in a backtest and live.

/// What a proposed pair entry would do to the book.
public struct EntryProposal: Sendable, Equatable {
    /// Quantity of each leg (base asset).
    public var qty: Fixed
    public var spotPrice: Fixed
    public var perpPrice: Fixed
    /// Notional of the perp leg (quote asset).
    public var notionalUsdt: Fixed
    /// Notional already open across pairs (quote asset, per leg).
    public var openNotionalUsdt: Fixed
    /// Equity now.
    public var equityUsdt: Fixed
    /// Value tied up already: spot holdings plus posted perp margin.
    public var committedUsdt: Fixed
    /// Fees the entry will cost at taker rates (estimate).
    public var estimatedFeesUsdt: Fixed

    /// Builds a proposal.
    public init(qty: Fixed, spotPrice: Fixed, perpPrice: Fixed, notionalUsdt: Fixed, openNotionalUsdt: Fixed, equityUsdt: Fixed,
                committedUsdt: Fixed, estimatedFeesUsdt: Fixed) {
        self.qty = qty
        self.spotPrice = spotPrice
        self.perpPrice = perpPrice
        self.notionalUsdt = notionalUsdt
        self.openNotionalUsdt = openNotionalUsdt
        self.equityUsdt = equityUsdt
        self.committedUsdt = committedUsdt
        self.estimatedFeesUsdt = estimatedFeesUsdt
    }
}

/// The rules every order passes before it is sent.
public enum RiskChecks {
    /// Distance from `price` to the liquidation price of a new short perp, as a fraction of
    /// price (0.49 means the perp can rise 49 % before liquidation).
    public static func marginBuffer(price: Fixed, entry: Fixed, short: Bool, margin: MarginModel) -> Fixed {
        marginBuffer(price: price, liquidationPrice: margin.liquidationPrice(entry: entry, short: short), short: short)
    }

    /// The same, from the position's liquidation price (`MarginModel.liquidationPrice`).
    public static func marginBuffer(price: Fixed, liquidationPrice liq: Fixed, short: Bool) -> Fixed {
        let distance = short ? liq - price : price - liq
        return distance.divided(by: price, scale: 6, .down)
    }

    /// The first rule a pair entry breaks, or nil when it may go. Rules, in order: max pair
    /// notional, max total notional, max leverage, margin buffer ≥ minimum, and a balance that
    /// can pay the spot leg, post the perp margin and the fees and keep the free minimum.
    public static func checkEntry(_ p: EntryProposal, limits: RiskLimits, margin: MarginModel) -> (RiskRule, limit: Fixed, observed: Fixed)? {
        if p.notionalUsdt > limits.maxPairNotionalUsdt {
            return (.maxPairNotional, limits.maxPairNotionalUsdt, p.notionalUsdt)
        }
        let total = p.openNotionalUsdt + p.notionalUsdt
        if total > limits.maxTotalNotionalUsdt {
            return (.maxTotalNotional, limits.maxTotalNotionalUsdt, total)
        }
        if margin.perpLeverage > limits.maxLeverage {
            return (.maxLeverage, limits.maxLeverage, margin.perpLeverage)
        }
        let buffer = marginBuffer(price: p.perpPrice, entry: p.perpPrice, short: true, margin: margin)
        if buffer < limits.minMarginBuffer {
            return (.marginBuffer, limits.minMarginBuffer, buffer)
        }
        let free = freeAfter(p, margin: margin)
        if free < limits.minFreeCashUsdt {
            return (.balance, limits.minFreeCashUsdt, free)
        }
        return nil
    }

    /// What stays free after the entry: equity less what is tied up already, the spot leg's
    /// cost, the perp leg's margin and the estimated fees (the balance rule's figure).
    public static func freeAfter(_ p: EntryProposal, margin: MarginModel) -> Fixed {
        let spotCost = p.qty.multiplied(by: p.spotPrice, scale: quoteScale, .up)
        let perpMargin = p.notionalUsdt.divided(by: margin.perpLeverage, scale: quoteScale, .up)
        return p.equityUsdt - p.committedUsdt - spotCost - perpMargin - p.estimatedFeesUsdt
    }

    /// Peak-to-trough drawdown as a fraction of the peak (0 when equity is at its peak).
    public static func drawdown(equity: Fixed, peak: Fixed) -> Fixed {
        guard peak.isPositive, equity < peak else { return .zero }
        return (peak - equity).divided(by: peak, scale: 6, .up)
    }
}
