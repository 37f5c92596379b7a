// `carry-journal ls DIR` and `carry-journal export DIR`: the events a filter selects, as an
// aligned table, JSON Lines or CSV.
//
// Invariants: output is streamed (one snapshot, rows written as they are read), so listing
// millions of events needs no memory beyond the output buffer; CSV columns are one kind's
// fields, so a CSV export names exactly one kind.

import CarryCore
import CarryJournal

/// Output formats for listed events.
public enum ListFormat: String, Sendable, CaseIterable {
    /// Aligned columns for people.
    case table
    /// One JSON object per line.
    case jsonl
    /// RFC 4180 CSV with a header row (one kind).
    case csv
}

/// Lists (or exports) the events a filter selects.
public struct ListCommand {
    /// The journal directory.
    public var path: String
    /// What to select.
    public var filter: FilterOptions
    /// In what order and how many.
    public var order: ScanOrder
    /// How to print.
    public var format: ListFormat

    /// A listing.
    public init(path: String, filter: FilterOptions, order: ScanOrder, format: ListFormat) {
        self.path = path
        self.filter = filter
        self.order = order
        self.format = format
    }

    /// Prints the selected events; exit 0 (an empty selection prints only the header).
    public func run(_ io: ToolIO) throws -> ExitStatus {
        let tj = try ToolJournal.open(path)
        try tj.noteWriter(io)
        let f = try filter.resolve(in: tj)
        let renderer = EventRenderer(instruments: try tj.instruments())
        switch format {
        case .table:
            let table = EventTable(renderer: renderer, lastSeq: try tj.read { try $0.lastSeq() })
            try io.out.line(table.header)
            try tj.select(f, order: order) { e, _ in
                try io.out.line(table.row(e))
                return true
            }
        case .jsonl:
            try tj.select(f, order: order) { e, _ in
                try io.out.line(renderer.jsonLine(e))
                return true
            }
        case .csv:
            guard let kinds = f.kinds, kinds.count == 1, let kind = kinds.first else {
                throw ToolError.badInput("CSV needs exactly one event kind (its fields are the columns): add --kind, e.g. --kind funding.settled. For several kinds use --format jsonl.")
            }
            var headerDone = false
            try tj.select(f, order: order) { e, _ in
                let fields = e.event.fields
                if !headerDone {
                    try io.out.line((["seq", "eventTime", "recordTime", "causation"] + fields.map(\.name)).map(Text.csv).joined(separator: ","))
                    headerDone = true
                }
                let head = [String(e.seq), Text.time(e.eventTime), Text.time(e.recordTime), e.causation.isSet ? e.causation.description : ""]
                try io.out.line((head.map(Text.csv) + fields.map { renderer.csv($0.value) }).joined(separator: ","))
                return true
            }
            if !headerDone {
                // No rows: name the fixed columns, and say why there is nothing else.
                try io.out.line("seq,eventTime,recordTime,causation")
                try io.notice("note: no \(kind.name) events match the filter.")
            }
        }
        return .success
    }
}
