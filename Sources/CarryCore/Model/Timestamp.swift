// Time in the core is a value carried by events, never read from a clock.
//
// Invariant: a Timestamp is UTC milliseconds since the Unix epoch, the unit every venue
// uses. Calendar conversion is done here with integer arithmetic (proleptic Gregorian), so
// the pure core can print and parse dates without Foundation.

/// A UTC instant in milliseconds since 1970-01-01T00:00:00Z.
public struct Timestamp: Hashable, Comparable, Sendable {
    /// Milliseconds since the Unix epoch, UTC.
    public var ms: Int64

    /// Wraps milliseconds since the epoch.
    @inlinable public init(ms: Int64) { self.ms = ms }

    /// The earliest representable instant; "no time yet".
    public static let distantPast = Timestamp(ms: Int64.min)
    /// The latest representable instant; "no bound".
    public static let distantFuture = Timestamp(ms: Int64.max)

    @inlinable public static func < (a: Timestamp, b: Timestamp) -> Bool { a.ms < b.ms }

    /// The instant `deltaMs` milliseconds later (earlier when negative).
    @inlinable public func adding(ms deltaMs: Int64) -> Timestamp { Timestamp(ms: ms + deltaMs) }

    /// Milliseconds from `other` to `self`.
    @inlinable public func msSince(_ other: Timestamp) -> Int64 { ms - other.ms }

    /// The latest multiple of `periodMs` at or before this instant (UTC-aligned).
    @inlinable public func floored(toMultipleOf periodMs: Int64) -> Timestamp {
        precondition(periodMs > 0)
        let r = ms % periodMs
        return Timestamp(ms: r >= 0 ? ms - r : ms - r - periodMs)
    }
}

/// Common durations in milliseconds.
public enum Millis {
    /// One second.
    public static let second: Int64 = 1_000
    /// One minute.
    public static let minute: Int64 = 60_000
    /// One hour.
    public static let hour: Int64 = 3_600_000
    /// One day.
    public static let day: Int64 = 86_400_000
    /// A 365-day year, the convention for annualising funding.
    public static let year: Int64 = 365 * 86_400_000

    /// `1h`, `8h`, `1d`: an interval in seconds in the largest whole unit.
    public static func intervalName(seconds: UInt32) -> String { formatDuration(Int64(seconds) * 1000) }

    /// A duration in the largest whole unit: `8h`, `250ms`, `30d`; `∞` for `Int64.max`.
    public static func formatDuration(_ ms: Int64) -> String {
        if ms == Int64.max { return "∞" }
        for (suffix, factor) in [("d", day), ("h", hour), ("m", minute), ("s", Int64(1000))] where ms >= factor && ms % factor == 0 {
            return "\(ms / factor)\(suffix)"
        }
        return "\(ms)ms"
    }
}

/// A calendar date and time of day in UTC.
public struct CivilTime: Equatable, Sendable {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int
    public var millisecond: Int
}

extension Timestamp {
    /// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ z0: Int) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    /// The UTC calendar fields of this instant.
    public var civil: CivilTime {
        let days = Int((ms >= 0 ? ms : ms - Millis.day + 1) / Millis.day)
        let msOfDay = Int(ms - Int64(days) * Millis.day)
        let (y, m, d) = Timestamp.civilFromDays(days)
        return CivilTime(year: y, month: m, day: d,
                         hour: msOfDay / 3_600_000, minute: (msOfDay / 60_000) % 60,
                         second: (msOfDay / 1000) % 60, millisecond: msOfDay % 1000)
    }

    /// Builds an instant from UTC calendar fields; nil if a field is out of range.
    public init?(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0, millisecond: Int = 0) {
        guard (1...12).contains(month), (1...31).contains(day), (0...23).contains(hour),
              (0...59).contains(minute), (0...59).contains(second), (0...999).contains(millisecond) else { return nil }
        let days = Timestamp.daysFromCivil(year: year, month: month, day: day)
        // Reject 2023-02-30 and friends by converting back.
        let back = Timestamp.civilFromDays(days)
        guard back.year == year, back.month == month, back.day == day else { return nil }
        self.init(ms: Int64(days) * Millis.day + Int64(hour) * Millis.hour + Int64(minute) * Millis.minute
                  + Int64(second) * Millis.second + Int64(millisecond))
    }

    /// `2024-01-31T08:00:00Z`, or with `.sss` when the instant has milliseconds.
    public var iso8601: String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { b in
            String(decoding: UnsafeBufferPointer(rebasing: b[0..<renderISO8601(into: b)]), as: UTF8.self)
        }
    }

    /// Appends `iso8601`'s bytes (UTF-8) to `bytes`, without making a String: an equity
    /// sample writes one per scan tick.
    public func writeISO8601(to bytes: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { b in
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: b[0..<renderISO8601(into: b)]))
        }
    }

    /// Writes the text of `iso8601` at the start of `b` (32 bytes suffice for years of four
    /// digits); returns its length.
    private func renderISO8601(into b: UnsafeMutableBufferPointer<UInt8>) -> Int {
        let c = civil
        // Written digit by digit: this runs once per equity sample and per log line.
        var n = 0
        func put(_ v: Int, _ width: Int) {
            var v = v
            var i = n + width - 1
            while i >= n {
                b[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v % 10)
                v /= 10
                i -= 1
            }
            n += width
        }
        func char(_ c: Unicode.Scalar) {
            b[n] = UInt8(ascii: c)
            n += 1
        }
        put(c.year, 4); char("-"); put(c.month, 2); char("-"); put(c.day, 2); char("T")
        put(c.hour, 2); char(":"); put(c.minute, 2); char(":"); put(c.second, 2)
        if c.millisecond != 0 { char("."); put(c.millisecond, 3) }
        char("Z")
        return n
    }

    /// `2024-01-31` (the UTC day).
    public var isoDate: String {
        let c = civil
        return "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))"
    }

    /// Parses `2024-01-31`, `2024-01-31T08:00`, `2024-01-31T08:00:00Z`,
    /// `2024-01-31 08:00:00.123Z` (UTC only), or a plain integer of epoch milliseconds.
    public init?(iso8601 text: String) {
        if let ms = Int64(text) {
            self.init(ms: ms)
            return
        }
        var s = Substring(text)
        if s.hasSuffix("Z") { s = s.dropLast() }
        let parts = s.split(whereSeparator: { $0 == "T" || $0 == " " })
        guard parts.count == 1 || parts.count == 2 else { return nil }
        let date = parts[0].split(separator: "-")
        guard date.count == 3, date[0].count == 4, let y = Int(date[0]), let mo = Int(date[1]), let d = Int(date[2]) else { return nil }
        var h = 0, mi = 0, sec = 0, milli = 0
        if parts.count == 2 {
            let time = parts[1].split(separator: ":")
            guard time.count >= 2, time.count <= 3, let hh = Int(time[0]), let mm = Int(time[1]) else { return nil }
            h = hh
            mi = mm
            if time.count == 3 {
                let secParts = time[2].split(separator: ".")
                guard let ss = Int(secParts[0]) else { return nil }
                sec = ss
                if secParts.count == 2 {
                    guard secParts[1].count == 3, let mmm = Int(secParts[1]) else { return nil }
                    milli = mmm
                }
            }
        }
        self.init(year: y, month: mo, day: d, hour: h, minute: mi, second: sec, millisecond: milli)
    }
}

private func pad(_ value: Int, _ width: Int) -> String {
    let s = String(value)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}

extension Timestamp: CustomStringConvertible {
    /// ISO-8601 in UTC.
    public var description: String { iso8601 }
}
