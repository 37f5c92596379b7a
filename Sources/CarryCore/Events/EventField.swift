// A uniform, ordered view of an event's fields, so tools can print any event as a table
// row, a JSON object or a CSV line without a switch over every kind.

/// One typed field value, for presentation only.
public enum FieldValue: Sendable, Equatable {
    case int(Int64)
    case uint(UInt64)
    case fixed(Fixed)
    case absent
    case time(Timestamp)
    case text(String)
    case bool(Bool)
    case instrument(InstrumentId)
    /// A journal seq (causation links); external seqs point into the source journal.
    case seq(UInt64)
    /// An enumeration case by name.
    case name(String)
    /// A list of records (signal components).
    case list([[EventField]])

    /// Plain text with no quoting: numbers exact, times ISO-8601.
    public var plain: String {
        switch self {
        case .int(let v): return String(v)
        case .uint(let v): return String(v)
        case .fixed(let v): return v.description
        case .absent: return ""
        case .time(let t): return t.iso8601
        case .text(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .instrument(let i): return String(i.rawValue)
        case .seq(let s): return CausationRef(raw: s).description
        case .name(let n): return n
        case .list(let rows):
            return rows.map { row in row.map { "\($0.name)=\($0.value.plain)" }.joined(separator: " ") }.joined(separator: "; ")
        }
    }
}

/// A named field of an event.
public struct EventField: Sendable, Equatable {
    /// The field name as tools print it (camelCase, units in the name).
    public var name: String
    /// The value.
    public var value: FieldValue
    /// Builds a field.
    public init(_ name: String, _ value: FieldValue) {
        self.name = name
        self.value = value
    }
}

extension FieldValue {
    /// `.fixed` when present, `.absent` otherwise.
    public static func optional(_ v: Fixed?) -> FieldValue { v.map(FieldValue.fixed) ?? .absent }
}

/// A causation link. Seqs are local to the journal that holds the event, except that a run
/// journal may point into the market journal it replayed: those links have the top bit set.
public struct CausationRef: Equatable, Sendable, CustomStringConvertible {
    /// The flag bit marking a seq in the run's source journal.
    public static let externalFlag: UInt64 = 1 << 63

    /// The raw 64-bit value stored in the record header.
    public var raw: UInt64

    /// Wraps a raw header value.
    public init(raw: UInt64) { self.raw = raw }
    /// A link to `seq` in the same journal.
    public static func local(_ seq: UInt64) -> CausationRef { CausationRef(raw: seq) }
    /// A link to `seq` in the source (market) journal of a run.
    public static func source(_ seq: UInt64) -> CausationRef { CausationRef(raw: seq | externalFlag) }
    /// No cause (an input).
    public static let none = CausationRef(raw: 0)

    /// True when the link points into the source journal.
    public var isExternal: Bool { raw & CausationRef.externalFlag != 0 }
    /// The seq without the flag.
    public var seq: UInt64 { raw & ~CausationRef.externalFlag }
    /// True when there is a link.
    public var isSet: Bool { raw != 0 }

    /// `-` for none, `42` for local, `src:42` for the source journal.
    public var description: String {
        if raw == 0 { return "-" }
        return isExternal ? "src:\(seq)" : String(seq)
    }
}
