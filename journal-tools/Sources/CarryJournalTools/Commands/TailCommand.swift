// `carry-journal tail DIR [-n N] [-f]`: the last events, and with -f every event a writer
// commits from then on.
//
// Invariants: read-only; each poll is one short read transaction (LMDB readers never block
// the writer, and a short transaction pins no pages the writer wants to reuse); a map the
// writer grew is adopted by the read path (MDB_MAP_RESIZED). A new commit is printed at
// the first poll after it (every `pollMs`), so output lags the writer by at most one poll
// interval.

import CarryCore
import CarryJournal

#if canImport(Glibc)
import Glibc
#endif

/// Prints the last events and optionally follows the journal.
public struct TailCommand {
    /// The journal directory.
    public var path: String
    /// How many of the latest events to print first.
    public var count: Int
    /// Keep printing new commits until interrupted.
    public var follow: Bool
    /// What to print.
    public var filter: FilterOptions
    /// One JSON object per line instead of table rows.
    public var json: Bool
    /// How often to look for new commits.
    public var pollMs: Int
    /// Stop after this many followed polls (tests); nil runs until interrupted.
    public var maxPolls: Int?

    /// A tail.
    public init(path: String, count: Int = 10, follow: Bool = false, filter: FilterOptions = FilterOptions(), json: Bool = false,
                pollMs: Int = 100, maxPolls: Int? = nil) {
        self.path = path
        self.count = count
        self.follow = follow
        self.filter = filter
        self.json = json
        self.pollMs = pollMs
        self.maxPolls = maxPolls
    }

    /// Prints; with `follow`, returns only when interrupted (or after `maxPolls`).
    public func run(_ io: ToolIO) throws -> ExitStatus {
        let tj = try ToolJournal.open(path)
        if follow, case .active(let pid) = tj.writer {
            try io.notice("note: following a journal a writer (pid \(pid)) is appending to; read-only, the writer is not disturbed.")
        } else {
            try tj.noteWriter(io)
        }
        let f = try filter.resolve(in: tj)
        var renderer = EventRenderer(instruments: try tj.instruments())
        var last = try tj.read { try $0.lastSeq() }
        var table = EventTable(renderer: renderer, lastSeq: max(last, 999_999))
        if !json { try io.out.line(table.header) }

        // The last `count` matches, newest first from a reverse scan, printed oldest first.
        var recent: [RecordedEvent] = []
        if count > 0 {
            var bounded = f
            bounded.seqs = f.seqs.lowerBound...min(f.seqs.upperBound, max(last, f.seqs.lowerBound))
            try tj.select(bounded, order: ScanOrder(reverse: true, limit: count)) { e, _ in
                recent.append(e)
                return true
            }
        }
        for e in recent.reversed() { try emit(e, renderer: renderer, table: table, io) }
        try io.out.flush()
        guard follow else { return .success }

        var polls = 0
        while maxPolls.map({ polls < $0 }) ?? true {
            polls += 1
            usleep(UInt32(pollMs) * 1000)
            let now = try tj.read { try $0.lastSeq() }
            guard now > last else { continue }
            // The table depends only on the names and the seq width: rebuilt when they change.
            if String(max(now, 999_999)).count != String(max(last, 999_999)).count {
                table = EventTable(renderer: renderer, lastSeq: max(now, 999_999))
            }
            var next = f
            next.seqs = max(last + 1, f.seqs.lowerBound)...min(now, f.seqs.upperBound)
            if next.seqs.lowerBound <= next.seqs.upperBound {
                try tj.select(next) { e, _ in
                    if case .instrumentDefined(let d) = e.event {
                        renderer.instruments.add(d)
                        table = EventTable(renderer: renderer, lastSeq: max(now, 999_999))
                    }
                    try emit(e, renderer: renderer, table: table, io)
                    return true
                }
            }
            last = now
            try io.out.flush()
        }
        return .success
    }

    func emit(_ e: RecordedEvent, renderer: EventRenderer, table: EventTable, _ io: ToolIO) throws {
        try io.out.line(json ? renderer.jsonLine(e) : table.row(e))
    }
}
