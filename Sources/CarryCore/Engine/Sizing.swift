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
    /// Room left under the portfolio cap (total notional of open pairs), quote asset.
    public var capacityUsdt: Fixed

    /// Builds a request.
    public init(spot: InstrumentDefined, perp: InstrumentDefined, spotPrice: Fixed, perpPrice: Fixed, conviction: Fixed, capacityUsdt: Fixed) {
        self.spot = spot
        self.perp = perp
        self.spotPrice = spotPrice
        self.perpPrice = perpPrice
        self.conviction = conviction
        self.capacityUsdt = capacityUsdt
    }
}

/// What a sizer answers.
public enum SizeResult: Sendable, Equatable {
    /// Both legs' quantity.
    case qty(Fixed)
    /// Both legs' quantity, made smaller than the conviction asked to fit under the cap.
    case scaled(Fixed, requestedUsdt: Fixed, capacityUsdt: Fixed)
    /// Below what the exchange accepts: the common step and the unrounded quantity.
    case tooSmall(step: Fixed, raw: Fixed)
    /// The cap leaves less room than the smallest size allowed.
    case noRoom(capacityUsdt: Fixed, minimumUsdt: Fixed)
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

/// v1.1 sizing: a notional between a minimum and a maximum by conviction
/// (min + conviction × (max − min)), scaled down to the room left under the portfolio cap, or
/// refused when that room is below the minimum. The quantity is the notional at the dearer
/// leg's price, so neither leg's notional exceeds what was sized.
public struct ConvictionSizer: PositionSizer, Equatable {
    public var minNotionalUsdt: Fixed
    public var maxNotionalUsdt: Fixed

    /// A sizer between `minNotionalUsdt` and `maxNotionalUsdt` per leg.
    public init(minNotionalUsdt: Fixed, maxNotionalUsdt: Fixed) {
        precondition(minNotionalUsdt.isPositive && minNotionalUsdt <= maxNotionalUsdt)
        self.minNotionalUsdt = minNotionalUsdt
        self.maxNotionalUsdt = maxNotionalUsdt
    }

    /// The notional a conviction asks for (clamped to 0…1).
    public func notional(conviction: Fixed) -> Fixed {
        let c = Fixed.min(Fixed(1), Fixed.max(.zero, conviction))
        return minNotionalUsdt + (maxNotionalUsdt - minNotionalUsdt).multiplied(by: c, scale: quoteScale, .towardZero)
    }

    public func size(_ r: SizeRequest) -> SizeResult {
        let requested = notional(conviction: r.conviction)
        var target = requested
        if requested > r.capacityUsdt {
            guard r.capacityUsdt >= minNotionalUsdt else { return .noRoom(capacityUsdt: Fixed.max(.zero, r.capacityUsdt), minimumUsdt: minNotionalUsdt) }
            target = r.capacityUsdt
        }
        let step = PairQuantity.step(spot: r.spot, perp: r.perp)
        let raw = target.divided(by: Fixed.max(r.spotPrice, r.perpPrice), scale: Int(step.scale) + 4, .towardZero)
        guard let qty = PairQuantity.round(raw, spot: r.spot, perp: r.perp, spotPrice: r.spotPrice, perpPrice: r.perpPrice) else {
            return .tooSmall(step: step, raw: raw)
        }
        return target < requested ? .scaled(qty, requestedUsdt: requested, capacityUsdt: r.capacityUsdt) : .qty(qty)
    }
}

/// The sizers Carry has, as one concrete type.
public enum AnyPositionSizer: PositionSizer, Equatable {
    case fixed(FixedNotionalSizer)
    case conviction(ConvictionSizer)

    public func size(_ r: SizeRequest) -> SizeResult {
        switch self {
        case .fixed(let s): return s.size(r)
        case .conviction(let s): return s.size(r)
        }
    }
}
