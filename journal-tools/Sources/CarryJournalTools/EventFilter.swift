// Selecting events: by kind, instrument, event-time window, seq range and causation, shared
// by ls, tail, export and stats.
//
// Invariants: the time window is half-open, [from, to), on event time; seq bounds are
// inclusive. Header-only tests (seq, time, kind, causation) run before a payload is decoded.
// A journal in time order is bisected to the window's seqs instead of scanned.

public import CarryCore
public import CarryJournal

/// Filters as the user typed them; `resolve` checks them against a journal.
public struct FilterOptions: Sendable, Equatable {
    /// Kind names, codes or categories (`market`, `decision`, `venue`, `control`); any of them.
    public var kinds: [String] = []
    /// Instrument names, bare symbols or ids; any of them.
    public var symbols: [String] = []
    /// Inclusive start of the event-time window (ISO-8601 UTC or epoch ms).
    public var from: String?
    /// Exclusive end of the event-time window.
    public var to: String?
    /// `N`, `A..B`, `A..` or `..B`.
    public var seqs: String?
    /// `42`, `src:42`, `none` (inputs) or `any` (decisions and other caused events).
    public var causedBy: String?

    /// No filter.
    public init(kinds: [String] = [], symbols: [String] = [], from: String? = nil, to: String? = nil, seqs: String? = nil, causedBy: String? = nil) {
        self.kinds = kinds
        self.symbols = symbols
        self.from = from
        self.to = to
        self.seqs = seqs
        self.causedBy = causedBy
    }

    /// Resolves names against `journal` (instrument names need its definitions).
    public func resolve(in journal: ToolJournal) throws(ToolError) -> EventFilter {
        var f = EventFilter()
        if !kinds.isEmpty {
            f.kinds = Set(try Self.kindCodes(kinds, option: "--kind", unknownCodes: false).compactMap(EventKind.init(rawValue:)))
        }
        if !symbols.isEmpty {
            let table = try journal.instruments()
            var ids = Set<InstrumentId>()
            for item in symbols.flatMap({ $0.split(separator: ",").map(String.init) }) {
                let found = table.resolve(item.trimmingSpaces)
                if found.isEmpty {
                    let known = table.all.map { table.name($0.id) }
                    let hint = known.isEmpty ? "the journal defines no instruments" : "it defines " + known.joined(separator: ", ")
                    throw .badInput("\(journal.path): no instrument '\(item)'; \(hint).")
                }
                ids.formUnion(found)
            }
            f.instruments = ids
        }
        if let from { f.from = try Self.time(from, "--from") }
        if let to { f.to = try Self.time(to, "--to") }
        if let seqs { f.seqs = try Self.seqRange(seqs) }
        if let causedBy { f.causation = try Self.causation(causedBy) }
        return f
    }

    /// Kind names, codes or categories (repeated or comma-separated) as kind codes.
    /// `unknownCodes` also accepts a numeric code this build's catalogue lacks (a kind a
    /// newer Carry journals), for commands that never decode such records.
    public static func kindCodes(_ items: [String], option: String, unknownCodes: Bool) throws(ToolError) -> Set<UInt16> {
        var set = Set<UInt16>()
        for item in items.flatMap({ $0.split(separator: ",").map(String.init) }) {
            let name = item.trimmingSpaces
            if let kind = EventKind(name: name) {
                set.insert(kind.rawValue)
            } else if let category = EventCategory(rawValue: name) {
                for k in EventKind.allCases where k.category == category { set.insert(k.rawValue) }
            } else if unknownCodes, let code = UInt16(name) {
                set.insert(code)
            } else {
                let known = EventKind.allCases.map(\.name).joined(separator: ", ")
                let codes = unknownCodes ? "; a category: market, decision, venue, control; or a numeric kind code" : "; or a category: market, decision, venue, control"
                let what = option == "--kind" ? "" : " for \(option)"
                throw .badInput("unknown event kind '\(name)'\(what). Use one of: \(known)\(codes).")
            }
        }
        return set
    }

    static func time(_ text: String, _ option: String) throws(ToolError) -> Timestamp {
        guard let t = Timestamp(iso8601: text) else {
            throw .badInput("\(option) '\(text)' is not a time. Use ISO-8601 UTC (2024-01-31, 2024-01-31T08:00:00Z) or epoch milliseconds.")
        }
        return t
    }

    /// Parses `N`, `A..B`, `A..`, `..B` (inclusive).
    public static func seqRange(_ text: String) throws(ToolError) -> ClosedRange<UInt64> {
        let bad = ToolError.badInput("--seq '\(text)' is not a seq range. Use N, A..B, A.. or ..B (inclusive; seqs start at 1).")
        guard let dots = text.range(of: "..") else {
            guard let n = UInt64(text), n >= 1 else { throw bad }
            return n...n
        }
        let lo = text[..<dots.lowerBound], hi = text[dots.upperBound...]
        guard let a = lo.isEmpty ? 1 : UInt64(lo), let b = hi.isEmpty ? UInt64.max : UInt64(hi), a >= 1, a <= b else { throw bad }
        return a...b
    }

    /// Parses a causation reference: `42`, `src:42`, `none`, `any`.
    public static func causation(_ text: String) throws(ToolError) -> CausationMatch {
        switch text {
        case "none", "-": return .none
        case "any": return .any
        default:
            if let ref = parseRef(text) { return .exactly(ref) }
            throw .badInput("--caused-by '\(text)' is not a causation. Use a seq (42), a source seq (src:42), none or any.")
        }
    }

    /// `42` or `src:42` as a causation link.
    public static func parseRef(_ text: String) -> CausationRef? {
        if text.hasPrefix("src:"), let n = UInt64(text.dropFirst(4)), n > 0, n < CausationRef.externalFlag { return .source(n) }
        if let n = UInt64(text), n > 0, n < CausationRef.externalFlag { return .local(n) }
        return nil
    }
}

/// How `--caused-by` matches a header's causation.
public enum CausationMatch: Sendable, Equatable {
    /// Exactly this link.
    case exactly(CausationRef)
    /// No link (inputs).
    case none
    /// Any link.
    case any

    func matches(_ ref: CausationRef) -> Bool {
        switch self {
        case .exactly(let r): return ref == r
        case .none: return !ref.isSet
        case .any: return ref.isSet
        }
    }
}

/// A resolved filter.
public struct EventFilter: Sendable {
    /// Kinds to keep; nil keeps all.
    public var kinds: Set<EventKind>?
    /// Instruments to keep (an event matches when any of its instrument fields is one); nil keeps all.
    public var instruments: Set<InstrumentId>?
    /// Event-time window [from, to).
    public var from: Timestamp?
    public var to: Timestamp?
    /// Seq bounds.
    public var seqs: ClosedRange<UInt64> = 1...UInt64.max
    /// Causation.
    public var causation: CausationMatch?

    /// Keeps everything.
    public init() {}

    /// The tests that need only the header.
    @inline(__always)
    public func matches(_ h: RecordHeader) -> Bool {
        if let from, h.eventTime < from { return false }
        if let to, h.eventTime >= to { return false }
        if let kinds {
            guard let k = h.kind, kinds.contains(k) else { return false }
        }
        if let causation, !causation.matches(h.causation) { return false }
        return true
    }

    /// The tests that need the payload.
    public func matches(_ event: Event) -> Bool {
        guard let instruments else { return true }
        return EventFilter.instrumentIds(of: event).contains { instruments.contains($0) }
    }

    /// True for the kinds whose only instrument is the one `RecordView.instrument()` reads
    /// without decoding (the market kinds); others (a signal names a perp and a spot) are
    /// matched on their decoded fields.
    @inline(__always)
    static func namesOneInstrument(_ kindCode: UInt16) -> Bool {
        kindCode >= EventKind.instrumentDefined.rawValue && kindCode <= EventKind.fundingIntervalChanged.rawValue
    }

    /// Every instrument an event names in its top-level fields (a signal names its perp and its spot).
    public static func instrumentIds(of event: Event) -> [InstrumentId] {
        event.fields.compactMap { if case .instrument(let i) = $0.value { return i } else { return nil } }
    }
}

/// How to walk the selected events.
public struct ScanOrder: Sendable, Equatable {
    /// Newest first.
    public var reverse = false
    /// In event-time order (ties by seq) instead of seq order.
    public var byTime = false
    /// Stop after this many matches (nil: no limit).
    public var limit: Int?

    /// Seq order, everything.
    public init(reverse: Bool = false, byTime: Bool = false, limit: Int? = nil) {
        self.reverse = reverse
        self.byTime = byTime
        self.limit = limit
    }
}

extension ToolJournal {
    /// Visits the events `filter` selects, in `order`, inside one snapshot, until `body`
    /// returns false. Returns the number visited.
    @discardableResult
    public func select(_ filter: EventFilter, order: ScanOrder = ScanOrder(), _ body: (RecordedEvent, RecordView) throws -> Bool) throws(ToolError) -> Int {
        if order.limit == 0 { return 0 }
        if order.byTime && order.reverse {
            throw .badInput("--by-time and --reverse cannot be combined: time order is read forwards only.")
        }
        var count = 0
        let path = self.path
        try read { snap in
            func visit(_ view: RecordView) throws -> Bool {
                guard filter.matches(view.header) else { return true }
                // A market record about another instrument is skipped without being decoded.
                if let instruments = filter.instruments, EventFilter.namesOneInstrument(view.header.kindCode) {
                    let id: InstrumentId?
                    do { id = try view.instrument() } catch { throw ToolJournal.damaged(view.header.seq, error, path: path) }
                    if let id, !instruments.contains(id) { return true }
                }
                let recorded = try ToolJournal.decodeRecorded(view, path: path)
                guard filter.matches(recorded.event) else { return true }
                count += 1
                guard try body(recorded, view) else { return false }
                if let limit = order.limit, count >= limit { return false }
                return true
            }
            if order.byTime {
                try snap.scanByTime(from: filter.from ?? .distantPast, through: filter.to.map { $0.adding(ms: -1) } ?? .distantFuture,
                                    seqs: filter.seqs, visit)
                return
            }
            var seqs = filter.seqs
            // In a journal written in time order, seq order is time order: bisect to the window.
            if filter.from != nil || filter.to != nil, try snap.disorderFromSeq() == 0 {
                let last = try snap.lastSeq()
                guard last > 0 else { return }
                let lo = try filter.from.map { try snap.firstSeq(atOrAfter: $0, lower: 1, upper: last) } ?? 1
                let hi = try filter.to.map { try snap.firstSeq(atOrAfter: $0, lower: 1, upper: last) &- 1 } ?? last
                guard lo <= hi, max(lo, seqs.lowerBound) <= min(hi, seqs.upperBound) else { return }
                seqs = max(lo, seqs.lowerBound)...min(hi, seqs.upperBound)
            }
            try snap.scan(from: seqs.lowerBound, through: seqs.upperBound, reverse: order.reverse, visit)
        }
        return count
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
