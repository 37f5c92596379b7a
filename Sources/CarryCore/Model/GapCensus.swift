// Holes in a time series, found from its cadence. Gaps are reported, never filled: a
// missing bar is "no data", not a price.

/// A hole between two observations.
public struct Gap: Equatable, Sendable, CustomStringConvertible {
    /// The last observation before the hole.
    public var after: Timestamp
    /// The first observation after it.
    public var before: Timestamp
    /// How many observations the cadence expected in between.
    public var missing: Int

    @usableFromInline
    init(after: Timestamp, before: Timestamp, missing: Int) {
        self.after = after
        self.before = before
        self.missing = missing
    }

    public var description: String { "\(after.iso8601) → \(before.iso8601) (\(missing) missing)" }
}

/// Counts observations of one stream and the gaps between them.
public struct GapCensus: Sendable {
    /// The expected spacing in milliseconds.
    public private(set) var cadenceMs: Int64
    public private(set) var first: Timestamp?
    public private(set) var last: Timestamp?
    public private(set) var count = 0
    public private(set) var gaps: [Gap] = []

    /// A census for a stream with the given spacing.
    public init(cadenceMs: Int64) {
        precondition(cadenceMs > 0)
        self.cadenceMs = cadenceMs
    }

    /// Changes the expected spacing from now on (a funding interval change).
    public mutating func setCadence(_ ms: Int64) {
        precondition(ms > 0)
        cadenceMs = ms
    }

    /// Records an observation; times must not go backwards. A spacing of more than 1.5×
    /// the cadence is a gap (venues jitter timestamps by a few milliseconds). Returns true
    /// when this observation ended a gap (then `gaps.last` is that gap).
    @discardableResult
    public mutating func observe(_ t: Timestamp) -> Bool {
        var foundGap = false
        if let last {
            if let gap = Self.gap(after: last, before: t, cadenceMs: cadenceMs) {
                gaps.append(gap)
                foundGap = true
            }
        } else {
            first = t
        }
        last = t
        count += 1
        return foundGap
    }

    /// The gap between consecutive observations at `last` and `t` of a stream with this
    /// cadence, if their spacing makes one (the rule `observe` applies; a caller that only
    /// needs the gaps can keep the last time itself).
    @inlinable
    public static func gap(after last: Timestamp, before t: Timestamp, cadenceMs: Int64) -> Gap? {
        let delta = t.ms - last.ms
        guard delta * 2 > cadenceMs * 3 else { return nil }
        let missing = Int((delta + cadenceMs / 2) / cadenceMs) - 1
        return Gap(after: last, before: t, missing: max(missing, 1))
    }

    /// Total observations the gaps are missing.
    public var missingTotal: Int { gaps.reduce(0) { $0 + $1.missing } }
}
