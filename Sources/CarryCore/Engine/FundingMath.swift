// Funding arithmetic: the payment a position receives at a settlement, rates re-expressed per
// 8 h, settlement instants. Shared by the simulated exchange, the reducer, projections and tests.

/// Funding arithmetic, shared by the simulated exchange, projections and tests.
public enum FundingMath {
    /// The account's cash flow for a position of `positionQty` (signed) at a settlement:
    /// −qty × mark × rate, rounded once, half-even, to 8 decimals. Positive = received.
    public static func payment(positionQty: Fixed, markPrice: Fixed, ratePerInterval: Fixed) -> Fixed {
        -positionQty.multiplied(by: markPrice, ratePerInterval, scale: quoteScale, .toNearestOrEven)
    }

    /// A rate per `intervalMinutes` expressed per 8 hours (× 480 / interval), to compare
    /// symbols that settle every 8 h, 4 h or 1 h.
    /// Exact for any number of decimals (the inverse perps' 20-decimal rates included):
    /// rate × 480 ÷ interval is formed in 128 bits and rounded once, half-even, to 12 decimals.
    public static func per8h(_ rate: Fixed, intervalMinutes: UInt32) -> Fixed {
        precondition(intervalMinutes > 0)
        return rate.multiplied(by: 480, dividedBy: Int64(intervalMinutes), scale: 12, .toNearestOrEven)
    }

    /// Settlement instants of an interval in (after, through]: multiples of the interval
    /// since the epoch (00:00, 08:00, 16:00 UTC for 8 h).
    public static func settlements(after: Timestamp, through: Timestamp, intervalMinutes: UInt32) -> [Timestamp] {
        let period = Int64(intervalMinutes) * Millis.minute
        var t = after.floored(toMultipleOf: period).adding(ms: period)
        var out: [Timestamp] = []
        while t <= through {
            out.append(t)
            t = t.adding(ms: period)
        }
        return out
    }
}
