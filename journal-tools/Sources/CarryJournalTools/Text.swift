// Text helpers shared by every command: times, padding, JSON and CSV escaping, sizes.
//
// Invariants: numbers print exactly (Fixed.description, integers in full); times print as
// ISO-8601 UTC; nothing here depends on the locale, the clock or hashing order, so the same
// journal always prints the same bytes.

public import CarryCore

/// Formatting used by every command.
public enum Text {
    /// The earliest and latest instants printed as calendar dates (years 0001–9999); a damaged
    /// header can hold any 64-bit value, and the calendar arithmetic is only meant for these.
    static let printableTimes: ClosedRange<Int64> = -62_135_596_800_000...253_402_300_799_999

    /// ISO-8601 UTC (`2024-01-31T08:00:00Z`), or `<ms>ms` for an instant outside years 1–9999.
    public static func time(_ t: Timestamp) -> String {
        printableTimes.contains(t.ms) ? t.iso8601 : "\(t.ms)ms"
    }

    /// The UTC day of an instant (`2024-01-31`), or `<ms>ms` outside years 1–9999.
    public static func day(_ t: Timestamp) -> String {
        printableTimes.contains(t.ms) ? t.isoDate : "\(t.ms)ms"
    }

    /// Pads on the right to `width` characters (never truncates).
    public static func pad(_ s: String, _ width: Int) -> String {
        let n = s.count
        return n >= width ? s : s + String(repeating: " ", count: width - n)
    }

    /// Pads on the left to `width` characters (numbers in columns).
    public static func padLeft(_ s: String, _ width: Int) -> String {
        let n = s.count
        return n >= width ? s : String(repeating: " ", count: width - n) + s
    }

    /// A JSON string literal.
    public static func json(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// A CSV cell (RFC 4180): quoted when it holds a comma, a quote or a line break.
    public static func csv(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingAll("\"", with: "\"\"") + "\""
    }

    /// A text value inside a one-line summary: bare when it is a single plain word, otherwise
    /// quoted with escapes; cut to `limit` characters with the total length noted.
    public static func inline(_ s: String, limit: Int = 60) -> String {
        let plain = !s.isEmpty && s.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value != 0x7F && $0 != "\"" && $0 != "=" }
        if s.count <= limit { return plain ? s : json(s) }
        return json(String(s.prefix(limit))) + "…(\(s.utf8.count) bytes)"
    }

    /// `12.3 MiB` with one decimal, computed in integers so it never varies.
    public static func bytes(_ n: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var unit = 0
        var scaled = n
        while scaled >= 1024 * 1024 && unit < units.count - 2 {
            scaled /= 1024
            unit += 1
        }
        if scaled < 1024 { return unit == 0 ? "\(n) B" : "\(scaled) \(units[unit])" }
        let tenths = (scaled * 10 + 512) / 1024
        return "\(tenths / 10).\(tenths % 10) \(units[unit + 1])"
    }

    /// `n` as a percentage of `total` with one decimal, in integers.
    public static func percent(_ n: Int64, of total: Int64) -> String {
        guard total > 0 else { return "-" }
        let tenths = (n * 1000 + total / 2) / total
        return "\(tenths / 10).\(tenths % 10)%"
    }

    /// Splits `text` into lines without dropping empty ones.
    public static func lines(_ text: String) -> [Substring] {
        text.split(separator: "\n", omittingEmptySubsequences: false)
    }
}

extension String {
    /// Every occurrence of `target` replaced (no Foundation in this module's public surface).
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        out.reserveCapacity(count)
        for c in self {
            if c == target { out += replacement } else { out.append(c) }
        }
        return out
    }
}
