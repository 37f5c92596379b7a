// An exact decimal: a signed 64-bit mantissa and a decimal scale.
//
// Invariants:
// - value = mantissa × 10^-scale, 0 ≤ scale ≤ Fixed.maxScale.
// - The scale is part of the value's *spelling*, not of its identity: 1.0 == 1.00, and both
//   hash alike. Keeping the scale lets a venue's string ("46216.93000000") print back byte
//   for byte, and lets an instrument's tick decide how many digits an order carries.
// - No operation here ever rounds silently. Addition and subtraction are exact and trap on
//   overflow (like Int); multiplication and division take the result scale and a rounding
//   rule from the caller.

/// An exact fixed-point decimal used for every price, quantity, fee, rate and amount.
///
/// Carry never does accounting in `Double`: venues send decimal strings, and a fill of
/// `0.003` BTC at `43127.5` must cost exactly `129.3825`, every run, on every machine.
/// `Fixed` parses such strings exactly, prints them back exactly, and makes every rounding
/// an explicit decision of the caller.
public struct Fixed: Sendable {
    /// The integer digits of the number, sign included.
    public let mantissa: Int64
    /// How many of the mantissa's digits are decimals.
    public let scale: UInt8

    /// The largest scale a value may carry. Int128 holds 10^38, which every intermediate
    /// needs when two scales are aligned.
    public static let maxScale: UInt8 = 38

    /// Creates `mantissa × 10^-scale`.
    @inlinable
    public init(mantissa: Int64, scale: UInt8) {
        precondition(scale <= Fixed.maxScale, "Fixed scale \(scale) exceeds \(Fixed.maxScale)")
        self.mantissa = mantissa
        self.scale = scale
    }

    /// An integer value at scale 0.
    @inlinable
    public init(_ integer: Int64) {
        self.mantissa = integer
        self.scale = 0
    }

    /// Zero at scale 0.
    public static let zero = Fixed(mantissa: 0, scale: 0)

    /// True when the value is zero at any scale.
    @inlinable public var isZero: Bool { mantissa == 0 }
    /// True when the value is below zero.
    @inlinable public var isNegative: Bool { mantissa < 0 }
    /// True when the value is above zero.
    @inlinable public var isPositive: Bool { mantissa > 0 }
    /// -1, 0 or 1.
    @inlinable public var signum: Int { mantissa == 0 ? 0 : (mantissa < 0 ? -1 : 1) }
    /// The absolute value, same scale. Traps for Int64.min, which no venue can send.
    @inlinable public var magnitude: Fixed { Fixed(mantissa: mantissa < 0 ? -mantissa : mantissa, scale: scale) }

    /// An approximation for statistics (signal z-scores, charts). Never for accounting.
    public var doubleValue: Double {
        Double(mantissa) / Fixed.pow10Double(Int(scale))
    }
}

// MARK: - Powers of ten

extension Fixed {
    /// 10^0 ... 10^38 as Int128. A literal table: a lazily initialised global would cost a
    /// `swift_once` call on every rescale.
    @usableFromInline
    static func pow10(_ n: Int) -> Int128 {
        precondition(n >= 0 && n <= 38, "10^\(n) is outside the supported range")
        if n <= 18 { return Int128(pow10Int64(n)) }
        var v = Int128(pow10Int64(18))
        for _ in 18..<n { v &*= 10 }
        return v
    }

    /// 10^n for 0 ≤ n ≤ 18 (the powers an Int64 holds).
    @inlinable
    static func pow10Int64(_ n: Int) -> Int64 {
        switch n {
        case 0: return 1
        case 1: return 10
        case 2: return 100
        case 3: return 1_000
        case 4: return 10_000
        case 5: return 100_000
        case 6: return 1_000_000
        case 7: return 10_000_000
        case 8: return 100_000_000
        case 9: return 1_000_000_000
        case 10: return 10_000_000_000
        case 11: return 100_000_000_000
        case 12: return 1_000_000_000_000
        case 13: return 10_000_000_000_000
        case 14: return 100_000_000_000_000
        case 15: return 1_000_000_000_000_000
        case 16: return 10_000_000_000_000_000
        case 17: return 100_000_000_000_000_000
        case 18: return 1_000_000_000_000_000_000
        default: preconditionFailure("10^\(n) does not fit in an Int64")
        }
    }

    static func pow10Double(_ n: Int) -> Double {
        var d = 1.0
        for _ in 0..<n { d *= 10 }
        return d
    }

    /// Builds a Fixed from an Int128 mantissa, trapping when it does not fit: an overflow in
    /// money arithmetic is a broken invariant, never something to wrap or clamp.
    @inlinable
    static func checked(_ wide: Int128, scale: Int, _ what: StaticString) -> Fixed {
        guard let narrow = Int64(exactly: wide) else {
            preconditionFailure("Fixed overflow in \(what): \(wide) at scale \(scale)")
        }
        return Fixed(mantissa: narrow, scale: UInt8(scale))
    }

    /// Same, returning nil instead of trapping.
    @inlinable
    static func fitting(_ wide: Int128, scale: Int) -> Fixed? {
        guard let narrow = Int64(exactly: wide), scale >= 0, scale <= Int(maxScale) else { return nil }
        return Fixed(mantissa: narrow, scale: UInt8(scale))
    }

    /// The mantissa of `self` expressed at a larger or equal `scale`, in Int128.
    /// Returns nil when it does not fit in Int128 (only possible for scale gaps above 19).
    @inlinable
    func wideMantissa(atScale target: Int) -> Int128? {
        let shift = target - Int(scale)
        precondition(shift >= 0)
        if shift == 0 { return Int128(mantissa) }
        // Most rescales fit in 64 bits: one multiply, no 128-bit overflow check (a libcall).
        if shift <= 18 {
            let (r, o) = mantissa.multipliedReportingOverflow(by: Fixed.pow10Int64(shift))
            if !o { return Int128(r) }
        }
        let (r, o) = Int128(mantissa).multipliedReportingOverflow(by: Fixed.pow10(shift))
        return o ? nil : r
    }
}

// MARK: - Rounding

extension Fixed {
    /// Divides `numerator` by `denominator` (> 0 or < 0) rounding by `rule`.
    @usableFromInline
    static func divide(_ numerator: Int128, by denominator: Int128, rounding rule: FloatingPointRoundingRule) -> Int128 {
        precondition(denominator != 0, "division by zero")
        // Both in 64 bits (nearly always): the same rule on one hardware division instead of
        // the 128-bit division routine.
        if let n = Int64(exactly: numerator), let d = Int64(exactly: denominator), n != Int64.min {
            return Int128(divide(n, by: d, rounding: rule))
        }
        return divide(wide: numerator, by: denominator, rounding: rule)
    }

    /// `divide` for a numerator and denominator that fit in 64 bits (numerator ≠ Int64.min,
    /// so no quotient overflows).
    @usableFromInline
    static func divide(_ numerator: Int64, by denominator: Int64, rounding rule: FloatingPointRoundingRule) -> Int64 {
        let q = numerator / denominator          // truncates toward zero
        let r = numerator % denominator
        if r == 0 { return q }
        let twiceRem = UInt128(r.magnitude) * 2
        let den = UInt128(denominator.magnitude)
        let half = twiceRem < den ? -1 : (twiceRem == den ? 0 : 1)
        return q + Int64(roundingStep(negative: (numerator < 0) != (denominator < 0), half: half, evenQuotient: q % 2 == 0, rule))
    }

    /// `divide` in 128 bits.
    @usableFromInline
    static func divide(wide numerator: Int128, by denominator: Int128, rounding rule: FloatingPointRoundingRule) -> Int128 {
        let q = numerator / denominator          // truncates toward zero
        let r = numerator % denominator
        if r == 0 { return q }
        let twiceRem = r.magnitude * 2
        let den = denominator.magnitude
        let half = twiceRem < den ? -1 : (twiceRem == den ? 0 : 1)
        return q + Int128(roundingStep(negative: (numerator < 0) != (denominator < 0), half: half, evenQuotient: q % 2 == 0, rule))
    }

    /// How far (−1, 0 or +1) a truncated quotient moves under `rule` when the remainder is not
    /// zero: `negative` is the exact quotient's sign, `half` how twice the remainder compares
    /// with the divisor (−1 below, 0 equal, 1 above). One rule table for every width.
    @inlinable
    static func roundingStep(negative: Bool, half: Int, evenQuotient: Bool, _ rule: FloatingPointRoundingRule) -> Int {
        let away = negative ? -1 : 1
        switch rule {
        case .towardZero: return 0
        case .awayFromZero: return away
        case .down: return negative ? -1 : 0
        case .up: return negative ? 0 : 1
        case .toNearestOrAwayFromZero: return half >= 0 ? away : 0
        case .toNearestOrEven: return half > 0 || (half == 0 && !evenQuotient) ? away : 0
        @unknown default: preconditionFailure("unknown rounding rule")
        }
    }

    /// The value at `scale` decimals: padded exactly when the scale grows, rounded by `rule`
    /// when it shrinks. Traps if the result does not fit.
    public func rounded(scale target: Int, _ rule: FloatingPointRoundingRule) -> Fixed {
        precondition(target >= 0 && target <= Int(Fixed.maxScale), "scale \(target) out of range")
        let current = Int(scale)
        if target == current { return self }
        if target > current {
            guard let wide = wideMantissa(atScale: target) else {
                preconditionFailure("Fixed overflow rescaling \(self) to scale \(target)")
            }
            return Fixed.checked(wide, scale: target, "rescale")
        }
        let q = Fixed.divide(Int128(mantissa), by: Fixed.pow10(current - target), rounding: rule)
        return Fixed.checked(q, scale: target, "rescale")
    }

    /// The value at a larger-or-equal scale without any rounding, or nil if digits would be
    /// lost or the mantissa would overflow.
    public func exactly(scale target: Int) -> Fixed? {
        guard target >= 0, target <= Int(Fixed.maxScale) else { return nil }
        let current = Int(scale)
        if target >= current {
            guard let wide = wideMantissa(atScale: target) else { return nil }
            return Fixed.fitting(wide, scale: target)
        }
        let divisor = Fixed.pow10(current - target)
        let m = Int128(mantissa)
        guard m % divisor == 0 else { return nil }
        return Fixed.fitting(m / divisor, scale: target)
    }

    /// The nearest multiple of `step` (a tick size or quantity step) under `rule`,
    /// expressed at `max(scale, step.scale)`. `step` must be positive.
    public func rounded(toMultipleOf step: Fixed, _ rule: FloatingPointRoundingRule) -> Fixed {
        precondition(step.mantissa > 0, "step must be positive, got \(step)")
        let s = Swift.max(Int(scale), Int(step.scale))
        guard let a = wideMantissa(atScale: s), let b = step.wideMantissa(atScale: s) else {
            preconditionFailure("Fixed overflow rounding \(self) to a multiple of \(step)")
        }
        let units = Fixed.divide(a, by: b, rounding: rule)
        let (r, o) = units.multipliedReportingOverflow(by: b)
        precondition(!o, "Fixed overflow rounding \(self) to a multiple of \(step)")
        return Fixed.checked(r, scale: s, "round to step")
    }

    /// True when the value is an exact multiple of `step`.
    public func isMultiple(of step: Fixed) -> Bool {
        precondition(step.mantissa > 0, "step must be positive, got \(step)")
        let s = Swift.max(Int(scale), Int(step.scale))
        guard let a = wideMantissa(atScale: s), let b = step.wideMantissa(atScale: s) else { return false }
        return a % b == 0
    }

    /// The same value with trailing zero decimals removed (1.2300 → 1.23, 5.00 → 5).
    public var normalized: Fixed {
        var m = mantissa
        var s = scale
        while s > 0 && m % 10 == 0 {
            m /= 10
            s -= 1
        }
        return Fixed(mantissa: m, scale: s)
    }
}

// MARK: - Arithmetic

extension Fixed {
    /// Exact sum at the larger of the two scales. Traps on overflow.
    @inlinable
    public static func + (a: Fixed, b: Fixed) -> Fixed {
        if a.scale == b.scale {
            let (r, o) = a.mantissa.addingReportingOverflow(b.mantissa)
            precondition(!o, "Fixed overflow in addition")
            return Fixed(mantissa: r, scale: a.scale)
        }
        let s = Swift.max(Int(a.scale), Int(b.scale))
        guard let x = a.wideMantissa(atScale: s), let y = b.wideMantissa(atScale: s) else {
            preconditionFailure("Fixed overflow in addition")
        }
        return checked(x + y, scale: s, "addition")
    }

    /// Exact difference at the larger of the two scales. Traps on overflow.
    @inlinable
    public static func - (a: Fixed, b: Fixed) -> Fixed {
        a + (-b)
    }

    /// Negation, same scale.
    @inlinable
    public static prefix func - (a: Fixed) -> Fixed {
        let (r, o) = Int64(0).subtractingReportingOverflow(a.mantissa)
        precondition(!o, "Fixed overflow in negation")
        return Fixed(mantissa: r, scale: a.scale)
    }

    /// In-place exact sum.
    @inlinable
    public static func += (a: inout Fixed, b: Fixed) { a = a + b }
    /// In-place exact difference.
    @inlinable
    public static func -= (a: inout Fixed, b: Fixed) { a = a - b }

    /// Exact product with an integer, same scale. Traps on overflow.
    @inlinable
    public func multiplied(by n: Int64) -> Fixed {
        let (r, o) = mantissa.multipliedReportingOverflow(by: n)
        precondition(!o, "Fixed overflow in multiplication by \(n)")
        return Fixed(mantissa: r, scale: scale)
    }

    /// The product rounded to `scale` decimals by `rule`. The full product is formed in
    /// Int128 (two Int64 mantissas always fit), so only the final rounding loses anything.
    public func multiplied(by other: Fixed, scale target: Int, _ rule: FloatingPointRoundingRule) -> Fixed {
        precondition(target >= 0 && target <= Int(Fixed.maxScale), "scale \(target) out of range")
        // Two 64-bit factors always fit in 128 bits: a wrapping multiply (no overflow check,
        // which would be a libcall) is exact.
        let product = Int128(mantissa) &* Int128(other.mantissa)
        let productScale = Int(scale) + Int(other.scale)
        return Fixed.rescaleWide(product, from: productScale, to: target, rule, "multiplication")
    }

    /// The product of three factors (size × mark × rate) rounded once to `scale`.
    /// Rounding once avoids the double-rounding drift of two successive products; the full
    /// product (up to 192 bits) is kept exactly until that one rounding.
    public func multiplied(by b: Fixed, _ c: Fixed, scale target: Int, _ rule: FloatingPointRoundingRule) -> Fixed {
        precondition(target >= 0 && target <= Int(Fixed.maxScale), "scale \(target) out of range")
        let negative = ((mantissa < 0) != (b.mantissa < 0)) != (c.mantissa < 0)
        // Each partial product fits in 128 bits: wrapping arithmetic is exact here.
        let ab = UInt128(mantissa.magnitude) &* UInt128(b.mantissa.magnitude)
        let (abLow, abHigh) = (UInt64(truncatingIfNeeded: ab), UInt64(truncatingIfNeeded: ab >> 64))
        let cm = UInt128(c.mantissa.magnitude)
        // 192-bit product as three 64-bit limbs, least significant first (locals, not an
        // array: this runs for every funding payment).
        let p0 = UInt128(abLow) &* cm
        let p1 = UInt128(abHigh) &* cm &+ (p0 >> 64)
        var l0 = UInt64(truncatingIfNeeded: p0), l1 = UInt64(truncatingIfNeeded: p1), l2 = UInt64(truncatingIfNeeded: p1 >> 64)
        let sourceScale = Int(scale) + Int(b.scale) + Int(c.scale)
        if target >= sourceScale {
            guard l2 == 0, l1 >> 63 == 0 else { preconditionFailure("Fixed overflow in multiplication") }
            let wide = Int128(UInt128(l1) << 64 | UInt128(l0))
            return Fixed.rescaleWide(negative ? -wide : wide, from: sourceScale, to: target, rule, "multiplication")
        }
        // Divide 2·|product| by 10^k: the quotient's low bit and the exactness of the
        // division tell below / at / above half, which is all any rounding rule needs.
        var l3 = l2 >> 63
        l2 = (l2 << 1) | (l1 >> 63)
        l1 = (l1 << 1) | (l0 >> 63)
        l0 = l0 << 1
        var k = sourceScale - target
        var exact = true
        while k > 0 {
            let step = Swift.min(k, 19)
            var divisor: UInt64 = 1
            for _ in 0..<step { divisor &*= 10 }
            let d = UInt128(divisor)
            var remainder: UInt128 = 0
            func divideLimb(_ limb: inout UInt64) {
                let cur = (remainder << 64) | UInt128(limb)
                limb = UInt64(truncatingIfNeeded: cur / d)
                remainder = cur % d
            }
            divideLimb(&l3)
            divideLimb(&l2)
            divideLimb(&l1)
            divideLimb(&l0)
            if remainder != 0 { exact = false }
            k -= step
        }
        guard l3 == 0, l2 == 0, l1 >> 63 == 0 else { preconditionFailure("Fixed overflow in multiplication") }
        let twice = UInt128(l1) << 64 | UInt128(l0)
        var q = twice >> 1
        let halfBit = twice & 1 == 1
        let inexact = halfBit || !exact
        if inexact {
            let aboveHalf = halfBit && !exact
            let tie = halfBit && exact
            let roundAway: Bool
            switch rule {
            case .towardZero: roundAway = false
            case .awayFromZero: roundAway = true
            case .down: roundAway = negative
            case .up: roundAway = !negative
            case .toNearestOrAwayFromZero: roundAway = aboveHalf || tie
            case .toNearestOrEven: roundAway = aboveHalf || (tie && q & 1 == 1)
            @unknown default: preconditionFailure("unknown rounding rule")
            }
            if roundAway { q += 1 }
        }
        guard q <= UInt128(Int64.max) else { preconditionFailure("Fixed overflow in multiplication") }
        let m = Int64(q)
        return Fixed(mantissa: negative ? -m : m, scale: UInt8(target))
    }

    /// The quotient rounded to `scale` decimals by `rule`. Traps on division by zero.
    public func divided(by other: Fixed, scale target: Int, _ rule: FloatingPointRoundingRule) -> Fixed {
        precondition(other.mantissa != 0, "Fixed division by zero")
        precondition(target >= 0 && target <= Int(Fixed.maxScale), "scale \(target) out of range")
        // value = (m1 / 10^s1) / (m2 / 10^s2); result mantissa = m1 × 10^(t + s2 - s1) / m2
        let exponent = target + Int(other.scale) - Int(scale)
        var numerator = Int128(mantissa)
        var denominator = Int128(other.mantissa)
        if exponent >= 0 && exponent <= 18, case (let n, false) = mantissa.multipliedReportingOverflow(by: Fixed.pow10Int64(exponent)) {
            // The scaled numerator fits in 64 bits (one multiply, no 128-bit overflow check).
            numerator = Int128(n)
        } else if exponent >= 0 {
            let (n, o) = numerator.multipliedReportingOverflow(by: Fixed.pow10(exponent))
            precondition(!o, "Fixed overflow in division")
            numerator = n
        } else {
            let (d, o) = denominator.multipliedReportingOverflow(by: Fixed.pow10(-exponent))
            precondition(!o, "Fixed overflow in division")
            denominator = d
        }
        return Fixed.checked(Fixed.divide(numerator, by: denominator, rounding: rule), scale: target, "division")
    }

    /// self × numerator ÷ denominator, formed exactly in 128 bits and rounded once to
    /// `scale` decimals (a rate re-expressed per another interval: × 480 ÷ minutes). Works for
    /// any scale the value has, however many decimals. Traps on a zero denominator.
    public func multiplied(by numerator: Int64, dividedBy denominator: Int64, scale target: Int, _ rule: FloatingPointRoundingRule) -> Fixed {
        precondition(denominator != 0, "Fixed division by zero")
        precondition(target >= 0 && target <= Int(Fixed.maxScale), "scale \(target) out of range")
        // Two 64-bit factors always fit in 128 bits (a wrapping multiply is exact).
        var n = Int128(mantissa) &* Int128(numerator)
        var d = Int128(denominator)
        let shift = target - Int(scale)
        if shift >= 0 && shift <= 18, let narrow = Int64(exactly: n), case (let r, false) = narrow.multipliedReportingOverflow(by: Fixed.pow10Int64(shift)) {
            n = Int128(r)   // the scaled numerator fits in 64 bits: no 128-bit overflow check
        } else if shift >= 0 {
            let (r, o) = n.multipliedReportingOverflow(by: Fixed.pow10(shift))
            precondition(!o, "Fixed overflow in scaling")
            n = r
        } else {
            d *= Fixed.pow10(-shift)
        }
        return Fixed.checked(Fixed.divide(n, by: d, rounding: rule), scale: target, "scaling")
    }

    /// The quotient by an integer, rounded to `scale` decimals.
    public func divided(by n: Int64, scale target: Int, _ rule: FloatingPointRoundingRule) -> Fixed {
        divided(by: Fixed(n), scale: target, rule)
    }

    @usableFromInline
    static func rescaleWide(_ wide: Int128, from source: Int, to target: Int, _ rule: FloatingPointRoundingRule, _ what: StaticString) -> Fixed {
        if source == target { return checked(wide, scale: target, what) }
        if source > target {
            return checked(divide(wide, by: pow10(source - target), rounding: rule), scale: target, what)
        }
        let (r, o) = wide.multipliedReportingOverflow(by: pow10(target - source))
        precondition(!o, "Fixed overflow in \(what)")
        return checked(r, scale: target, what)
    }

    /// The smaller of two values (the first when equal).
    @inlinable public static func min(_ a: Fixed, _ b: Fixed) -> Fixed { b < a ? b : a }
    /// The larger of two values (the first when equal).
    @inlinable public static func max(_ a: Fixed, _ b: Fixed) -> Fixed { b > a ? b : a }
}

// MARK: - Comparison

extension Fixed: Comparable, Hashable {
    /// Compares numerically: scales are aligned in Int128; when alignment overflows, the
    /// overflowing side is the larger in magnitude, which decides.
    @inlinable
    static func compare(_ a: Fixed, _ b: Fixed) -> Int {
        if a.scale == b.scale {
            return a.mantissa == b.mantissa ? 0 : (a.mantissa < b.mantissa ? -1 : 1)
        }
        if a.signum != b.signum { return a.signum < b.signum ? -1 : 1 }
        let s = Swift.max(Int(a.scale), Int(b.scale))
        switch (a.wideMantissa(atScale: s), b.wideMantissa(atScale: s)) {
        case let (x?, y?):
            return x == y ? 0 : (x < y ? -1 : 1)
        case (nil, _):
            return a.signum  // |a| is the larger; same sign as b
        case (_, nil):
            return -b.signum
        }
    }

    /// Numeric equality: 1.0 == 1.00.
    @inlinable
    public static func == (a: Fixed, b: Fixed) -> Bool { compare(a, b) == 0 }

    /// Numeric order.
    @inlinable
    public static func < (a: Fixed, b: Fixed) -> Bool { compare(a, b) < 0 }

    /// Hashes the normalized value so that equal numbers hash alike.
    public func hash(into hasher: inout Hasher) {
        let n = normalized
        hasher.combine(n.mantissa)
        hasher.combine(n.scale)
    }

    /// True when both the value and its spelling (scale) are the same.
    @inlinable
    public func isIdentical(to other: Fixed) -> Bool {
        mantissa == other.mantissa && scale == other.scale
    }
}
