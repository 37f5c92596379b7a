// A journal opened for inspection, with what every command needs beside the records: the
// instrument names, the run's identity, and whether a writer is appending right now.
//
// Invariants: opened read-only (LMDB's MDB_RDONLY: the data file is mapped read-only and
// never written); every read is a short snapshot, so a live writer is never held back by
// pinned pages.

public import CarryCore
public import CarryJournal

/// A journal open for reading, plus the context tools print events in.
public final class ToolJournal {
    /// The directory as given.
    public let path: String
    /// The open journal (read-only).
    public let journal: Journal
    private var instrumentCache: InstrumentTable?
    private var runCache: RunContext??
    /// Who was appending when the journal was opened (read from /proc/locks once).
    public let writer: WriterActivity

    init(path: String, journal: Journal) {
        self.path = path
        self.journal = journal
        writer = Journal.writerActivity(path: path)
    }

    /// Opens `path` read-only. A missing directory, a directory without a journal, a newer
    /// schema or a truncated file are `ToolError`s with what to do (exit 2 or 1).
    public static func open(_ path: String) throws(ToolError) -> ToolJournal {
        do {
            return ToolJournal(path: path, journal: try Journal.open(path, readOnly: true))
        } catch {
            throw ToolError.from(error)
        }
    }

    /// Identity and schema.
    public var meta: JournalMeta { journal.meta }

    /// Runs `body` in one read snapshot, mapping journal errors to tool errors.
    @discardableResult
    public func read<T>(_ body: (JournalSnapshot) throws -> T) throws(ToolError) -> T {
        do {
            return try journal.withSnapshot(body)
        } catch {
            throw ToolError.from(error)
        }
    }

    // MARK: Instruments

    /// The instrument names, from every `instrument.defined` event in the journal (one scan
    /// of the headers; only definitions are decoded). Cached.
    public func instruments() throws(ToolError) -> InstrumentTable {
        if let instrumentCache { return instrumentCache }
        var table = InstrumentTable()
        let code = EventKind.instrumentDefined.rawValue
        try read { snap in
            try snap.scan { view in
                if view.header.kindCode == code, case .instrumentDefined(let d) = try Self.decode(view, path: path) {
                    table.add(d)
                }
                return true
            }
        }
        instrumentCache = table
        return table
    }

    // MARK: Run context

    /// What a run journal says about itself: its `run.started` (the first one) and every
    /// `config.applied`, from the leading control events. Nil for a journal without
    /// `run.started` (imports write one too; synthetic journals may not).
    public func run() throws(ToolError) -> RunContext? {
        if let runCache { return runCache }
        var context: RunContext? = nil
        try read { snap in
            // A run journal opens with run.started and config.applied; look at its first few
            // events only, so huge market journals cost nothing.
            try snap.scan(from: 1, through: 64) { view in
                if view.header.kindCode == EventKind.runStarted.rawValue, context == nil,
                   case .runStarted(let r) = try Self.decode(view, path: path) {
                    context = RunContext(seq: view.header.seq, started: r)
                }
                return true
            }
        }
        runCache = .some(context)
        return context
    }

    /// The `config.applied` in force at `seq`: the last one before it. Nil when none.
    public func config(before seq: UInt64) throws(ToolError) -> RecordedEvent? {
        var found: RecordedEvent? = nil
        try read { snap in
            try snap.scan(from: 1, through: seq &- 1, reverse: true) { view in
                guard view.header.kindCode == EventKind.configApplied.rawValue else { return true }
                found = try Self.decodeRecorded(view, path: path)
                return false
            }
        }
        return found
    }

    // MARK: Decoding

    /// Decodes a record's payload; a failure is corruption (exit 1) with the seq and why.
    public static func decode(_ view: RecordView, path: String) throws(ToolError) -> Event {
        do {
            return try view.decode()
        } catch {
            throw damaged(view.header.seq, error, path: path)
        }
    }

    /// Decodes a record with its header fields.
    public static func decodeRecorded(_ view: RecordView, path: String) throws(ToolError) -> RecordedEvent {
        do {
            return try view.decodeRecorded()
        } catch {
            throw damaged(view.header.seq, error, path: path)
        }
    }

    static func damaged(_ seq: UInt64, _ error: CodecError, path: String) -> ToolError {
        let why = error.code == .unknownKind || error.code == .unsupportedVersion
            ? "\(error.message)"
            : "\(error.message); the journal is damaged"
        return ToolError(.failed, "\(path): seq \(seq) cannot be decoded: \(why). Run `carry-journal verify \(path)`.")
    }

    /// The event at `seq`, or exit 2 naming the seqs the journal does hold.
    public func event(at seq: UInt64) throws(ToolError) -> RecordedEvent {
        let found: RecordedEvent?? = try read { snap in
            try snap.withRecord(at: seq) { view in try Self.decodeRecorded(view, path: path) }
        }
        if let found, let event = found { return event }
        let last = try read { try $0.lastSeq() }
        let held = last == 0 ? "the journal is empty" : "it holds seqs 1–\(last)"
        throw ToolError.badInput("\(path): seq \(seq) does not exist; \(held).")
    }
}

/// A run journal's identity: where its inputs came from.
public struct RunContext: Sendable {
    /// The seq of its `run.started`.
    public var seq: UInt64
    /// The event.
    public var started: RunStarted
}

extension ToolJournal {
    /// Says on stderr when a writer is appending: the command reads a consistent snapshot
    /// (what was committed when it started), and later commits are not in its output.
    public func noteWriter(_ io: ToolIO) throws {
        if case .active(let pid) = writer {
            try io.notice("note: a writer (pid \(pid)) is appending to \(path); reading the snapshot committed so far.")
        }
    }
}
