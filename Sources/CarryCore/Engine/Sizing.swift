// Sizing: a signal becomes quantities within the exchange's rules. The rules (qty step, min
// qty, min notional of both legs) are applied by one function, `PairQuantity.round`, which
// every sizer goes through.

/// What a sizer is asked.
public struct SizeRequest: Sendable, Equatable {
    public var spot: InstrumentDefined
    public var perp: InstrumentDefined
    public var spotPrice: Fixed
    public var perpPrice: Fixed
    /// How strongly the strategy believes in the entry, 0…1 (the threshold strategy: 1).
    public var conviction: Fixed

    /// Builds a request.
    public init(spot: InstrumentDefined, perp: InstrumentDefined, spotPrice: Fixed, perpPrice: Fixed, conviction: Fixed) {
        self.spot = spot
        self.perp = perp
        self.spotPrice = spotPrice
        self.perpPrice = perpPrice
        self.conviction = conviction
    }
}

/// What a sizer answers.
public enum SizeResult: Sendable, Equatable {
    /// Both legs' quantity.
    case qty(Fixed)
    /// Below what the exchange accepts: the common step and the unrounded quantity.
    case tooSmall(step: Fixed, raw: Fixed)
}

/// Turns a signal into a quantity for both legs.
public protocol PositionSizer: Sendable {
    func size(_ request: SizeRequest) -> SizeResult
}

/// The exchange's quantity rules for a pair, applied once for every sizer.
public enum PairQuantity {
    /// The largest quantity ≤ `raw` that is a multiple of both legs' steps and at least both
    /// legs' minimum quantity and minimum notional (at the given prices); nil when none is.
    /// The steps of spot and perp are decimal powers of ten on every venue Carry knows, so the
    /// larger step is a multiple of the smaller.
    public static func round(_ raw: Fixed, spot: InstrumentDefined, perp: InstrumentDefined, spotPrice: Fixed, perpPrice: Fixed) -> Fixed? {
        let step = Fixed.max(spot.qtyStep, perp.qtyStep)
        let qty = raw.rounded(toMultipleOf: step, .towardZero).rounded(scale: Int(step.scale), .towardZero)
        guard qty.isPositive, qty.isMultiple(of: spot.qtyStep), qty.isMultiple(of: perp.qtyStep) else { return nil }
        guard qty >= spot.minQty, qty >= perp.minQty else { return nil }
        guard qty.multiplied(by: spotPrice, scale: quoteScale, .towardZero) >= spot.minNotional,
              qty.multiplied(by: perpPrice, scale: quoteScale, .towardZero) >= perp.minNotional else { return nil }
        return qty
    }

    /// The common step of a pair's legs.
    public static func step(spot: InstrumentDefined, perp: InstrumentDefined) -> Fixed { Fixed.max(spot.qtyStep, perp.qtyStep) }
}

/// v1.0 sizing: the same notional for every pair, priced at the spot leg.
public struct FixedNotionalSizer: PositionSizer, Equatable {
    public var notionalUsdt: Fixed

    /// A sizer for `notionalUsdt` per leg.
    public init(notionalUsdt: Fixed) { self.notionalUsdt = notionalUsdt }

    public func size(_ r: SizeRequest) -> SizeResult {
        let step = PairQuantity.step(spot: r.spot, perp: r.perp)
        let raw = notionalUsdt.divided(by: r.spotPrice, scale: Int(step.scale) + 4, .towardZero)
        guard let qty = PairQuantity.round(raw, spot: r.spot, perp: r.perp, spotPrice: r.spotPrice, perpPrice: r.perpPrice) else {
            return .tooSmall(step: step, raw: raw)
        }
        return .qty(qty)
    }
}
