// `carry-journal stats DIR`: events per kind per UTC day, and a gap census per stream.
//
// Streams: bars per (instrument, interval), with the bar interval as cadence; funding
// settlements per instrument, with the interval in force (each settlement's own
// `intervalMinutes`, and `funding.interval` changes) as cadence. Gaps are counted with
// CarryCore's GapCensus over each stream's event times in time order. Deterministic:
// streams print sorted by instrument id then interval, days in order.

import CarryCore
import CarryJournal

/// Counts per kind per day and gaps per stream.
public struct StatsCommand {
    /// The journal directory.
    public var path: String
    /// What to count.
    public var filter: FilterOptions
    /// Print every gap, not only the totals and the first few.
    public var allGaps = false

    /// Stats of `path`.
    public init(path: String, filter: FilterOptions = FilterOptions(), allGaps: Bool = false) {
        self.path = path
        self.filter = filter
        self.allGaps = allGaps
    }

    struct StreamKey: Hashable, Comparable {
        var instrument: UInt32
        var isFunding: Bool
        var intervalSeconds: UInt32
        static func < (a: StreamKey, b: StreamKey) -> Bool {
            (a.instrument, a.isFunding ? 1 : 0, a.intervalSeconds) < (b.instrument, b.isFunding ? 1 : 0, b.intervalSeconds)
        }
    }

    /// A row of the per-day table: a UTC day, or (outside years 1–9999, which print as
    /// `<ms>ms`) the instant itself, as `Text.day` labels it.
    enum DayKey: Hashable {
        case day(Int64)
        case instant(Int64)

        init(_ t: Timestamp) {
            self = Text.printableTimes.contains(t.ms) ? .day(t.floored(toMultipleOf: Millis.day).ms / Millis.day) : .instant(t.ms)
        }

        var label: String {
            switch self {
            case .day(let d): return Text.day(Timestamp(ms: d * Millis.day))
            case .instant(let ms): return Text.day(Timestamp(ms: ms))
            }
        }
    }

    /// Prints the tables.
    public func run(_ io: ToolIO) throws -> ExitStatus {
        let tj = try ToolJournal.open(path)
        try tj.noteWriter(io)
        let f = try filter.resolve(in: tj)
        let names = try tj.instruments()
        var days: [DayKey: [Int]] = [:]
        // Each kind's column in a row, by kind code.
        var column = [Int](repeating: 0, count: Int(EventKind.allCases.map(\.rawValue).max()!) + 1)
        for (i, k) in EventKind.allCases.enumerated() { column[Int(k.rawValue)] = i }
        var kindsSeen = Set<EventKind>()
        // Stream observations: (time, interval in force for funding).
        var streams: [StreamKey: [(Timestamp, Int64)]] = [:]
        var intervalChanges: [UInt32: [(Timestamp, Int64)]] = [:]
        try tj.select(f) { e, _ in
            let k = e.event.kind
            kindsSeen.insert(k)
            days[DayKey(e.eventTime), default: [Int](repeating: 0, count: EventKind.allCases.count)][column[Int(k.rawValue)]] += 1
            switch e.event {
            case .barClosed(let b):
                streams[StreamKey(instrument: b.instrumentId.rawValue, isFunding: false, intervalSeconds: b.intervalSeconds), default: []]
                    .append((e.eventTime, Int64(b.intervalSeconds) * 1000))
            case .fundingSettled(let s):
                streams[StreamKey(instrument: s.instrumentId.rawValue, isFunding: true, intervalSeconds: 0), default: []]
                    .append((e.eventTime, Int64(s.intervalMinutes) * 60_000))
            case .fundingIntervalChanged(let c):
                intervalChanges[c.instrumentId.rawValue, default: []].append((e.eventTime, Int64(c.newMinutes) * 60_000))
            default:
                break
            }
            return true
        }

        // Events per kind per day.
        let kinds = EventKind.allCases.filter { kindsSeen.contains($0) }
        let widths = kinds.map { max($0.name.count, 5) }
        try io.out.line("EVENTS PER DAY (UTC, by event time)")
        try io.out.line(Text.pad("DAY", 10) + zip(kinds, widths).map { "  " + Text.padLeft($0.name, $1) }.joined() + "  " + Text.padLeft("TOTAL", 7))
        var totals = [Int](repeating: 0, count: EventKind.allCases.count)
        // In label order, as the table always printed.
        for (day, row) in days.map({ ($0.key.label, $0.value) }).sorted(by: { $0.0 < $1.0 }) {
            var line = Text.pad(day, 10)
            for (k, w) in zip(kinds, widths) {
                let n = row[EventKind.allCases.firstIndex(of: k)!]
                line += "  " + Text.padLeft(String(n), w)
            }
            for i in row.indices { totals[i] += row[i] }
            try io.out.line(line + "  " + Text.padLeft(String(row.reduce(0, +)), 7))
        }
        var totalLine = Text.pad("total", 10)
        for (k, w) in zip(kinds, widths) { totalLine += "  " + Text.padLeft(String(totals[EventKind.allCases.firstIndex(of: k)!]), w) }
        try io.out.line(totalLine + "  " + Text.padLeft(String(totals.reduce(0, +)), 7))

        // Gap census.
        try io.out.line("")
        try io.out.line("GAPS PER STREAM")
        if streams.isEmpty {
            try io.out.line("no bar or funding streams selected")
            return .success
        }
        try io.out.line(Text.pad("STREAM", 34) + "  " + Text.padLeft("COUNT", 6) + "  " + Text.pad("FIRST", 20) + "  " + Text.pad("LAST", 20) + "  " + Text.padLeft("GAPS", 5) + "  " + Text.padLeft("MISSING", 7))
        var gapLines: [String] = []
        for key in streams.keys.sorted() {
            var obs = streams[key]!
            obs.sort { $0.0 < $1.0 }
            let label: String
            var census: GapCensus
            let name = names.name(InstrumentId(key.instrument))
            if key.isFunding {
                label = "\(name) funding.settled"
                census = GapCensus(cadenceMs: max(obs[0].1, 1))
                let changes = (intervalChanges[key.instrument] ?? []).sorted { $0.0 < $1.0 }
                var ci = 0
                var announced: Int64 = 0
                for (t, interval) in obs {
                    // The cadence up to this settlement is the interval it was settled for; a
                    // settlement that does not say uses the latest funding.interval change.
                    while ci < changes.count && changes[ci].0 <= t {
                        announced = changes[ci].1
                        ci += 1
                    }
                    let cadence = interval > 0 ? interval : announced
                    if cadence > 0 { census.setCadence(cadence) }
                    census.observe(t)
                }
            } else {
                label = "\(name) bar.closed \(Millis.intervalName(seconds: key.intervalSeconds))"
                census = GapCensus(cadenceMs: max(Int64(key.intervalSeconds) * 1000, 1))
                for (t, _) in obs { census.observe(t) }
            }
            try io.out.line(Text.pad(label, 34) + "  " + Text.padLeft(String(census.count), 6) + "  " + Text.pad(census.first.map(Text.time) ?? "-", 20) + "  "
                            + Text.pad(census.last.map(Text.time) ?? "-", 20) + "  " + Text.padLeft(String(census.gaps.count), 5) + "  " + Text.padLeft(String(census.missingTotal), 7))
            let shown = allGaps ? census.gaps : Array(census.gaps.prefix(5))
            for g in shown {
                gapLines.append("  \(label): \(Text.time(g.after)) → \(Text.time(g.before)), \(g.missing) missing")
            }
            if shown.count < census.gaps.count {
                gapLines.append("  \(label): … \(census.gaps.count - shown.count) more (--all-gaps lists them)")
            }
        }
        if !gapLines.isEmpty {
            try io.out.line("")
            try io.out.line("GAPS")
            for l in gapLines { try io.out.line(l) }
        }
        return .success
    }
}
