// Parsing and printing of Fixed.
//
// Invariant: for every accepted plain decimal string s (no exponent, no leading '+', no
// redundant leading zeros), Fixed(s)!.description == s. That is what lets a venue's price
// string, a CSV cell or a config value print back byte for byte.

/// Why a decimal string was refused.
public enum FixedParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The text is empty.
    case empty
    /// A character that is not part of a decimal number, at a byte offset.
    case invalidCharacter(offset: Int)
    /// More significant digits than an Int64 mantissa holds (18, or 19 below 9.22e18).
    case tooManyDigits
    /// More decimals than `Fixed.maxScale`.
    case scaleTooLarge

    public var description: String {
        switch self {
        case .empty: return "empty number"
        case .invalidCharacter(let offset): return "invalid character at position \(offset + 1)"
        case .tooManyDigits: return "too many significant digits for a 64-bit mantissa"
        case .scaleTooLarge: return "too many decimals (at most \(Fixed.maxScale))"
        }
    }
}

extension Fixed {
    /// Parses a decimal string exactly: `-12.3400`, `0.0001`, `1e-8`, `+5`.
    /// Returns nil when the text is not a number that fits (see `parse` for the reason).
    public init?(_ text: some StringProtocol) {
        guard let value = try? Fixed.parse(text) else { return nil }
        self = value
    }

    /// Parses a decimal string exactly, saying why when it cannot.
    public static func parse(_ text: some StringProtocol) throws(FixedParseError) -> Fixed {
        var text = String(text)
        let result: Result<Fixed, FixedParseError> = text.withUTF8 { utf8 in
            Result { () throws(FixedParseError) -> Fixed in try parse(utf8: UnsafeRawBufferPointer(utf8)) }
        }
        return try result.get()
    }

    /// Parses ASCII bytes without allocating; the hot path for CSV and JSON readers.
    public static func parse(utf8 bytes: UnsafeRawBufferPointer) throws(FixedParseError) -> Fixed {
        let n = bytes.count
        if n == 0 { throw .empty }
        var i = 0
        var negative = false
        let first = bytes[0]
        if first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            i = 1
            if n == 1 { throw .invalidCharacter(offset: 0) }
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var scale = 0
        var sawDot = false
        var sawDigit = false
        while i < n {
            let c = bytes[i]
            if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                sawDigit = true
                let d = UInt64(c &- UInt8(ascii: "0"))
                if mantissa == 0 && d == 0 {
                    // Leading zeros add no digits; after the dot they still add scale.
                } else {
                    digits += 1
                    if digits > 19 { throw .tooManyDigits }
                    let (m1, o1) = mantissa.multipliedReportingOverflow(by: 10)
                    let (m2, o2) = m1.addingReportingOverflow(d)
                    if o1 || o2 { throw .tooManyDigits }
                    mantissa = m2
                }
                if sawDot { scale += 1 }
            } else if c == UInt8(ascii: ".") && !sawDot {
                sawDot = true
            } else if (c == UInt8(ascii: "e") || c == UInt8(ascii: "E")) && sawDigit {
                return try applyExponent(bytes, from: i + 1, mantissa: mantissa, scale: scale, negative: negative)
            } else {
                throw .invalidCharacter(offset: i)
            }
            i += 1
        }
        if !sawDigit { throw .invalidCharacter(offset: n - 1) }
        return try make(mantissa: mantissa, scale: scale, negative: negative)
    }

    private static func applyExponent(_ bytes: UnsafeRawBufferPointer, from start: Int, mantissa: UInt64, scale: Int, negative: Bool) throws(FixedParseError) -> Fixed {
        var i = start
        let n = bytes.count
        var expNegative = false
        if i < n && (bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+")) {
            expNegative = bytes[i] == UInt8(ascii: "-")
            i += 1
        }
        if i >= n { throw .invalidCharacter(offset: n - 1) }
        var exponent = 0
        while i < n {
            let c = bytes[i]
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { throw .invalidCharacter(offset: i) }
            exponent = exponent * 10 + Int(c &- UInt8(ascii: "0"))
            if exponent > 100 { throw .scaleTooLarge }
            i += 1
        }
        var newScale = scale + (expNegative ? exponent : -exponent)
        var m = mantissa
        while newScale < 0 {
            let (r, o) = m.multipliedReportingOverflow(by: 10)
            if o { throw .tooManyDigits }
            m = r
            newScale += 1
        }
        return try make(mantissa: m, scale: newScale, negative: negative)
    }

    private static func make(mantissa: UInt64, scale: Int, negative: Bool) throws(FixedParseError) -> Fixed {
        if scale > Int(maxScale) { throw .scaleTooLarge }
        if negative {
            guard mantissa <= UInt64(Int64.max) else { throw .tooManyDigits }
            return Fixed(mantissa: -Int64(mantissa), scale: UInt8(scale))
        }
        guard mantissa <= UInt64(Int64.max) else { throw .tooManyDigits }
        return Fixed(mantissa: Int64(mantissa), scale: UInt8(scale))
    }
}

extension Fixed: CustomStringConvertible, LosslessStringConvertible {
    /// The exact decimal text at this value's own scale: `Fixed("46216.93000000")!.description`
    /// is `"46216.93000000"`.
    public var description: String {
        var out = ""
        write(to: &out)
        return out
    }

    /// The text with exactly `fractionDigits` decimals, rounding half-even if that is fewer
    /// than the value has. For reports; venues get `rounded(toMultipleOf:)` first.
    public func formatted(fractionDigits: Int, _ rule: FloatingPointRoundingRule = .toNearestOrEven) -> String {
        rounded(scale: fractionDigits, rule).description
    }

    /// Appends the exact decimal text to `target` without intermediate arrays.
    public func write(to target: inout String) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { buffer in
            let start = render(into: buffer)
            target += String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<64]), as: UTF8.self)
        }
    }

    /// Appends the exact decimal text (`description`'s UTF-8) to `bytes`, without making a
    /// String: the equity curve writes six of these per scan tick.
    public func write(to bytes: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { buffer in
            let start = render(into: buffer)
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[start..<64]))
        }
    }

    /// Writes the text right-aligned at the end of a 64-byte `buffer` (20 digits, a dot, a
    /// sign and up to 38 leading zeros fit); returns where it starts.
    private func render(into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var magnitude = mantissa.magnitude
        var pos = 64
        // The decimals (every one, leading zeros included), then the dot.
        let decimals = Int(scale)
        if decimals > 0 {
            for _ in 0..<decimals {
                pos -= 1
                buffer[pos] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            }
            pos -= 1
            buffer[pos] = UInt8(ascii: ".")
        }
        // The integer part, at least one digit ("0.5", not ".5").
        repeat {
            pos -= 1
            buffer[pos] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
            magnitude /= 10
        } while magnitude != 0
        if mantissa < 0 {
            pos -= 1
            buffer[pos] = UInt8(ascii: "-")
        }
        return pos
    }
}

extension Fixed: ExpressibleByIntegerLiteral {
    /// Integer literals are exact at scale 0.
    public init(integerLiteral value: Int64) { self.init(value) }
}
