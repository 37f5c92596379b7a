// The subcommands' argument parsing and help. Each one builds a CarryJournalTools command
// and runs it; the exit statuses are the tool's (see CarryJournalCLI).

import ArgumentParser
import CarryJournalTools

#if canImport(Glibc)
import Glibc
#endif

/// The filter options ls, tail, stats and export share.
struct FilterArguments: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Event kinds, codes or categories (market, decision, venue, control); repeat or comma-separate.", valueName: "kind"))
    var kind: [String] = []

    @Option(name: .long, help: ArgumentHelp("Instruments: BTCUSDT (every kind), BTCUSDT.linear, BTCUSDT.spot, or an id; repeat or comma-separate.", valueName: "symbol"))
    var symbol: [String] = []

    @Option(name: .long, help: ArgumentHelp("Event time at or after (ISO-8601 UTC such as 2024-01-31 or 2024-01-31T08:00:00Z, or epoch ms).", valueName: "time"))
    var from: String?

    @Option(name: .long, help: ArgumentHelp("Event time before (exclusive).", valueName: "time"))
    var to: String?

    @Option(name: .long, help: ArgumentHelp("Seq range, inclusive: N, A..B, A.. or ..B.", valueName: "range"))
    var seq: String?

    @Option(name: .customLong("caused-by"), help: ArgumentHelp("Causation: a seq (42), a seq in the source journal (src:42), none (inputs) or any.", valueName: "ref"))
    var causedBy: String?

    var options: FilterOptions {
        FilterOptions(kinds: kind, symbols: symbol, from: from, to: to, seqs: seq, causedBy: causedBy)
    }
}

/// `--limit` as ls and export take it: 0 or more.
func checkedLimit(_ limit: Int?) throws(ToolError) -> Int? {
    if let limit, limit < 0 { throw ToolError.badInput("--limit must be 0 or more.") }
    return limit
}

struct InfoCLI: ToolCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Journal id, schema, seq and time range, counts per event kind, size on disk and map use.",
        discussion: "Exit status: 0 printed; 1 the journal is damaged; 2 cannot open (not a journal, newer schema).")

    @Argument(help: "The journal directory.") var journal: String

    mutating func execute(_ io: ToolIO) throws -> ExitStatus { try InfoCommand(path: journal).run(io) }
}

struct ListCLI: ToolCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List events a filter selects: a table, or JSON Lines with --json.",
        discussion: """
        Columns: SEQ, EVENT TIME, KIND, SYMBOL (the primary instrument), CAUSE (the causing
        seq; src:N is a seq in the run's source journal), then every other field as name=value.
        Examples:
          carry-journal ls journals/market --kind funding.settled --symbol BTCUSDT.linear --from 2024-03-01
          carry-journal ls journals/run --kind decision --limit 20 --reverse
          carry-journal ls journals/run --caused-by 6 --json
        Exit status: 0 listed (possibly nothing); 1 damaged records; 2 cannot open or bad arguments.
        """)

    @Argument(help: "The journal directory.") var journal: String
    @OptionGroup var filter: FilterArguments
    @Option(help: "Stop after this many events.") var limit: Int?
    @Flag(help: "Newest first.") var reverse = false
    @Flag(name: .customLong("by-time"), help: "In event-time order (ties by seq) instead of seq order.") var byTime = false
    @Flag(help: "JSON Lines: one object per event with seq, event, eventTime, recordTime, causation and fields (decimals as exact strings).") var json = false

    mutating func execute(_ io: ToolIO) throws -> ExitStatus {
        try ListCommand(path: journal, filter: filter.options, order: ScanOrder(reverse: reverse, byTime: byTime, limit: try checkedLimit(limit)),
                         format: json ? .jsonl : .table).run(io)
    }
}

struct ExportCLI: ToolCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export the events a filter selects as CSV or JSON Lines.",
        discussion: """
        CSV has one column per field of one event kind (so --kind names exactly one), after
        seq, eventTime, recordTime and causation; decimals are exact, times ISO-8601 UTC.
        Example, the funding series of a symbol:
          carry-journal export journals/market --kind funding.settled --symbol BTCUSDT.linear --format csv > btc-funding.csv
        Exit status: 0 exported; 1 damaged records; 2 cannot open or bad arguments.
        """)

    @Argument(help: "The journal directory.") var journal: String
    @OptionGroup var filter: FilterArguments
    @Option(help: "csv or jsonl.") var format: String = "csv"
    @Option(help: "Stop after this many events.") var limit: Int?
    @Flag(name: .customLong("by-time"), help: "In event-time order instead of seq order.") var byTime = false

    mutating func execute(_ io: ToolIO) throws -> ExitStatus {
        guard let f = ListFormat(rawValue: format), f != .table else { throw ToolError.badInput("--format '\(format)': use csv or jsonl.") }
        return try ListCommand(path: journal, filter: filter.options, order: ScanOrder(byTime: byTime, limit: try checkedLimit(limit)), format: f).run(io)
    }
}

struct ShowCLI: ToolCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "One event in full, with the chain of events that caused it.",
        discussion: "Exit status: 0 shown; 1 damaged record; 2 cannot open, or the seq does not exist (the message says which seqs exist).")

    @Argument(help: "The journal directory.") var journal: String
    @Argument(help: "The event's seq.") var seq: UInt64
    @Option(help: "The run's source (market) journal, to show src:N links.") var source: String?
    @Flag(help: "Print the event as one JSON object.") var json = false

    mutating func execute(_ io: ToolIO) throws -> ExitStatus { try ShowCommand(path: journal, seq: seq, sourcePath: source, json: json).run(io) }
}

struct ExplainCLI: ToolCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Explain an order, fill or funding payment: the signal, its score components, the input events and the config that produced it.",
        discussion: """
        Follows every link an event carries (its causation, a fill's intent, a signal's
        component sources) back to the inputs. Links with the top bit set (src:N) are seqs
        in the source journal that run.started names; pass --source DIR to resolve them
        (DIR must be that journal).
        Exit status: 0 explained; 1 damaged records; 2 cannot open, no such seq, or --source is another journal.
        """)

    @Argument(help: "The run (or live) journal directory.") var journal: String
    @Argument(help: "The event's seq.") var seq: UInt64
    @Option(help: "The source (market) journal the run replayed.") var source: String?

    mutating func execute(_ io: ToolIO) throws -> ExitStatus { try ExplainCommand(path: journal, seq: seq, sourcePath: source).run(io) }
}

struct TailCLI: ToolCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "The last events; with -f, follow a journal a writer appends to.",
        discussion: """
        Follows read-only: each poll is one short read transaction, so the writer is never
        blocked or slowed. New commits print within one poll interval (--poll-ms, default 100).
        Stop with Ctrl-C (exit 130).
        Exit status: 0 done; 1 damaged records; 2 cannot open or bad arguments.
        """)

    @Argument(help: "The journal directory.") var journal: String
    @Option(name: .short, help: "How many of the latest events to print first.") var n: Int = 10
    @Flag(name: .shortAndLong, help: "Keep printing events as they are committed.") var follow = false
    @OptionGroup var filter: FilterArguments
    @Flag(help: "JSON Lines instead of a table.") var json = false
    @Option(name: .customLong("poll-ms"), help: "How often to look for new commits, in milliseconds.") var pollMs: Int = 100

    mutating func execute(_ io: ToolIO) throws -> ExitStatus {
        guard n >= 0, pollMs >= 1, pollMs <= 60_000 else { throw ToolError.badInput("-n must be 0 or more and --poll-ms between 1 and 60000.") }
        return try TailCommand(path: journal, count: n, follow: follow, filter: filter.options, json: json, pollMs: pollMs).run(io)
    }
}

struct StatsCLI: ToolCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Events per kind per UTC day, and a gap census per stream (missing bars, missing funding settlements).",
        discussion: """
        A stream is one instrument's bars of one interval, or one instrument's funding
        settlements (the cadence follows the interval each settlement was made for). A gap is
        a spacing of more than 1.5 cadences; gaps are reported, never filled.
        Exit status: 0 printed; 1 damaged records; 2 cannot open or bad arguments.
        """)

    @Argument(help: "The journal directory.") var journal: String
    @OptionGroup var filter: FilterArguments
    @Flag(name: .customLong("all-gaps"), help: "List every gap (default: the first 5 per stream).") var allGaps = false

    mutating func execute(_ io: ToolIO) throws -> ExitStatus { try StatsCommand(path: journal, filter: filter.options, allGaps: allGaps).run(io) }
}

struct DiffCLI: ToolCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "The first divergence between two journals, or 'identical' with the content hash.",
        discussion: """
        Compares records byte for byte in seq order (journal ids and creation
        times are not content). Two runs of the same backtest must be identical.

        --ignore-kind K drops every record of kind K from both journals,
        renumbers the rest densely (the k-th kept record of A against the k-th
        kept record of B) and compares them by meaning: kind, layout version,
        event time, record time and every field, where the causation and seq
        fields (intentSeq, pairId, a component's source) are compared after
        renumbering: a link to a dropped record must point at a dropped record
        on both sides, and src:N links compare as they are. So a run journal
        that gained records of a new kind can be shown to hold everything else
        unchanged:
          carry-journal diff run-old run-new --ignore-kind pair.transition
        A kind this build does not know can be ignored by its numeric code; its
        records are skipped unread. Without --ignore-kind naming it, a journal
        holding an unknown kind is refused (exit 2). --ignore-field NAME (with
        --ignore-kind) leaves a field out, for ids a venue made from a seq
        (the simulated exchange's venueOrderId and executionId):
          carry-journal diff old new --ignore-kind pair.transition \\
            --ignore-field venueOrderId,executionId

        Exit status: 0 identical; 1 they differ (first divergent record and
        fields printed); 2 cannot open or bad arguments.
        """)

    @Argument(help: "Journal A.") var a: String
    @Argument(help: "Journal B.") var b: String
    @Flag(name: .customLong("ignore-record-time"), help: "Ignore when records were journaled (a live session against its replay).") var ignoreRecordTime = false
    @Option(name: .customLong("ignore-kind"),
            help: ArgumentHelp("Drop this kind's records from both journals and compare the rest renumbered: a name, a numeric code (also one this build does not know) or a category; repeat or comma-separate.", valueName: "kind"))
    var ignoreKind: [String] = []
    @Option(name: .customLong("ignore-field"),
            help: ArgumentHelp("With --ignore-kind: leave this field out of the comparison (repeat or comma-separate).", valueName: "field"))
    var ignoreField: [String] = []

    mutating func execute(_ io: ToolIO) throws -> ExitStatus {
        guard ignoreField.isEmpty || !ignoreKind.isEmpty else {
            throw ValidationError("--ignore-field compares by meaning: give it with --ignore-kind")
        }
        let fields = ignoreField.flatMap { $0.split(separator: ",").map(String.init) }
        return try DiffCommand(pathA: a, pathB: b, ignoreRecordTime: ignoreRecordTime, ignoreKinds: ignoreKind, ignoreFields: fields).run(io)
    }
}
