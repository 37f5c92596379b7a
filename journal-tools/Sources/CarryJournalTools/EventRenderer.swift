// How events print: table rows (ls, tail), one-line summaries (causation chains), full
// field blocks (show), JSON objects (ls --json, export) and CSV cells (export).
//
// Invariants: every representation is built from the payload's `fields` in layout order, so
// a new event kind prints everywhere without a change here; money and quantities print
// through Fixed.description (exact, at the venue's own scale); instrument ids print as the
// names the journal's own `instrument.defined` events give them.

public import CarryCore

/// Renders events with a journal's instrument names.
public struct EventRenderer: Sendable {
    /// The instrument names.
    public var instruments: InstrumentTable

    /// A renderer for one journal's names.
    public init(instruments: InstrumentTable) { self.instruments = instruments }

    // MARK: Values

    /// A value as plain text: exact numbers, ISO-8601 UTC times, instrument names, `src:N` links.
    public func text(_ v: FieldValue) -> String {
        switch v {
        case .instrument(let i): return instruments.name(i)
        case .time(let t): return Text.time(t)
        case .list(let rows):
            return "[" + rows.map { row in row.map { text($0.value) }.joined(separator: " ") }.joined(separator: "; ") + "]"
        default: return v.plain
        }
    }

    /// A value inside a one-line summary: text quoted when it has spaces, long text cut.
    public func inline(_ v: FieldValue) -> String {
        switch v {
        case .text(let s): return Text.inline(s)
        default: return text(v)
        }
    }

    /// A value as JSON: integers as numbers, decimals as strings (exact, whatever the
    /// reader's number type), times as ISO-8601 strings, links as seq numbers or `"src:N"`
    /// strings (null for none), instruments as their names.
    public func json(_ v: FieldValue) -> String {
        switch v {
        case .int(let n): return String(n)
        case .uint(let n): return String(n)
        case .fixed(let f): return "\"" + f.description + "\""
        case .absent: return "null"
        case .time(let t): return Text.json(Text.time(t))
        case .text(let s), .name(let s): return Text.json(s)
        case .bool(let b): return b ? "true" : "false"
        case .instrument(let i): return Text.json(instruments.name(i))
        case .seq(let raw): return EventRenderer.jsonRef(CausationRef(raw: raw))
        case .list(let rows): return "[" + rows.map { jsonObject($0) }.joined(separator: ",") + "]"
        }
    }

    /// A causation link as JSON.
    public static func jsonRef(_ ref: CausationRef) -> String {
        if !ref.isSet { return "null" }
        return ref.isExternal ? "\"src:\(ref.seq)\"" : String(ref.seq)
    }

    /// Fields as a JSON object, in layout order.
    public func jsonObject(_ fields: [EventField]) -> String {
        "{" + fields.map { Text.json($0.name) + ":" + json($0.value) }.joined(separator: ",") + "}"
    }

    /// A value as a CSV cell: the plain text, quoted when needed; absent is empty.
    public func csv(_ v: FieldValue) -> String { Text.csv(text(v)) }

    // MARK: Events

    /// The event's primary instrument (the one `--symbol` and the SYMBOL column use), or `-`.
    public func symbol(_ event: Event) -> String {
        event.instrument.map { instruments.name($0) } ?? "-"
    }

    /// `name=value` pairs of every present field except the primary instrument.
    public func details(_ event: Event) -> String {
        let primary = event.instrument
        var skippedPrimary = false
        var parts: [String] = []
        for f in event.fields {
            if case .absent = f.value { continue }
            if !skippedPrimary, case .instrument(let i) = f.value, i == primary {
                skippedPrimary = true
                continue
            }
            parts.append("\(f.name)=\(inline(f.value))")
        }
        return parts.joined(separator: " ")
    }

    /// `117 order.intended BTCUSDT.linear pairId=110 …` for chains and explanations.
    public func oneLine(_ e: RecordedEvent, seqWidth: Int = 0) -> String {
        var s = Text.padLeft(String(e.seq), seqWidth) + "  " + Text.pad(e.event.kind.name, 18) + "  " + Text.time(e.eventTime)
        if let i = e.event.instrument { s += "  " + instruments.name(i) }
        let d = details(e.event)
        if !d.isEmpty { s += "  " + d }
        return s
    }

    /// One JSON object per event (ls --json, tail --json, export --format jsonl):
    /// `{"seq":…,"event":…,"eventTime":…,"recordTime":…,"causation":…,"fields":{…}}`.
    public func jsonLine(_ e: RecordedEvent) -> String {
        "{\"seq\":\(e.seq),\"event\":\(Text.json(e.event.kind.name)),\"eventTime\":\(Text.json(Text.time(e.eventTime)))"
            + ",\"recordTime\":\(Text.json(Text.time(e.recordTime))),\"causation\":\(EventRenderer.jsonRef(e.causation))"
            + ",\"fields\":\(jsonObject(e.event.fields))}"
    }

    /// `name  value` lines for every field (show), lists as indented sub-tables and long
    /// text as indented lines.
    public func fieldBlock(_ fields: [EventField], indent: String) -> [String] {
        let width = fields.map(\.name.count).max() ?? 0
        var lines: [String] = []
        for f in fields {
            let label = indent + Text.pad(f.name, width) + "  "
            switch f.value {
            case .list(let rows):
                lines.append(label + "(\(rows.count))")
                lines += table(rows, indent: indent + "  ")
            case .text(let s) where s.contains("\n"):
                lines.append(label + "|")
                for l in Text.lines(s) { lines.append(indent + "  " + String(l)) }
            case .instrument(let i):
                lines.append(label + "\(instruments.name(i)) (\(i))")
            case .absent:
                lines.append(label + "-")
            default:
                lines.append(label + text(f.value))
            }
        }
        return lines
    }

    /// Rows of fields as an aligned table with the first row's names as its header.
    public func table(_ rows: [[EventField]], indent: String) -> [String] {
        guard let first = rows.first else { return [] }
        let names = first.map(\.name)
        let cells = rows.map { $0.map { text($0.value) } }
        var widths = names.map(\.count)
        for row in cells {
            for (i, c) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) }
        }
        func render(_ row: [String]) -> String {
            var s = indent
            for (i, c) in row.enumerated() {
                s += i == row.count - 1 ? c : Text.pad(c, (i < widths.count ? widths[i] : 0) + 2)
            }
            return s
        }
        return [render(names)] + cells.map(render)
    }
}

/// The columns of the `ls` and `tail` table, sized from the journal so rows align.
public struct EventTable: Sendable {
    let seqWidth: Int
    let symbolWidth: Int
    let causeWidth: Int
    /// Renders values.
    public let renderer: EventRenderer

    /// Column widths for a journal whose seqs reach `lastSeq`.
    public init(renderer: EventRenderer, lastSeq: UInt64) {
        self.renderer = renderer
        let digits = String(lastSeq).count
        seqWidth = max(3, digits)
        symbolWidth = max(6, renderer.instruments.all.map { renderer.instruments.name($0.id).count }.max() ?? 0)
        causeWidth = max(5, digits)
    }

    /// The header line.
    public var header: String {
        Text.padLeft("SEQ", seqWidth) + "  " + Text.pad("EVENT TIME", 24) + "  " + Text.pad("KIND", 18) + "  "
            + Text.pad("SYMBOL", symbolWidth) + "  " + Text.pad("CAUSE", causeWidth) + "  DETAILS"
    }

    /// One row.
    public func row(_ e: RecordedEvent) -> String {
        let details = renderer.details(e.event)
        let line = Text.padLeft(String(e.seq), seqWidth) + "  " + Text.pad(Text.time(e.eventTime), 24) + "  "
            + Text.pad(e.event.kind.name, 18) + "  " + Text.pad(renderer.symbol(e.event), symbolWidth) + "  "
            + Text.pad(e.causation.description, causeWidth)
        return details.isEmpty ? line : line + "  " + details
    }
}
