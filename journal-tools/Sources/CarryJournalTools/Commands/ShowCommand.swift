// `carry-journal show DIR SEQ` and `carry-journal explain DIR SEQ`.
//
// show prints one event in full and the chain of events that caused it (causation links,
// newest first). explain walks further: from an order, a fill or a funding payment back
// through every link an event carries (its causation and any seq-valued field: a fill's
// intent, a signal's component sources) to the inputs, printing the signal's score
// components and the config in force. Links with the top bit set point into the source
// journal; with `--source DIR` they are resolved there (after checking that DIR is the
// journal `run.started` names), otherwise they are printed as `src:N`.

import CarryCore
import CarryJournal

/// Resolves links into the source journal of a run.
final class SourceResolver {
    let source: ToolJournal?
    private var names: EventRenderer?

    /// Opens `--source` and checks it is the journal `run` replayed.
    init(path: String?, run: RunContext?) throws {
        guard let path else {
            source = nil
            return
        }
        let tj = try ToolJournal.open(path)
        if let run, tj.meta.journalId != run.started.sourceJournal {
            throw ToolError.badInput("--source \(path) is journal \(tj.meta.journalId), but this run replayed journal \(run.started.sourceJournal). Pass the market journal the run was made from.")
        }
        source = tj
    }

    /// The source journal's renderer, or nil without --source. Its instrument names are read
    /// on first use: a command that reaches no `src:` link never scans the source journal.
    func renderer() throws -> EventRenderer? {
        guard let source else { return nil }
        if let names { return names }
        let r = EventRenderer(instruments: try source.instruments())
        names = r
        return r
    }

    /// The source event a link names, or nil without --source.
    func event(_ seq: UInt64) throws -> RecordedEvent? {
        guard let source else { return nil }
        return try source.event(at: seq)
    }
}

/// Prints one event in full with its causation chain.
public struct ShowCommand {
    /// The journal directory.
    public var path: String
    /// The event.
    public var seq: UInt64
    /// The source journal, to resolve `src:N` links.
    public var sourcePath: String?
    /// One JSON object instead of text.
    public var json = false

    /// A show.
    public init(path: String, seq: UInt64, sourcePath: String? = nil, json: Bool = false) {
        self.path = path
        self.seq = seq
        self.sourcePath = sourcePath
        self.json = json
    }

    /// Prints the event; exit 2 when the seq does not exist.
    public func run(_ io: ToolIO) throws -> ExitStatus {
        let tj = try ToolJournal.open(path)
        try tj.noteWriter(io)
        let e = try tj.event(at: seq)
        let r = EventRenderer(instruments: try tj.instruments())
        if json {
            try io.out.line(r.jsonLine(e))
            return .success
        }
        let source = try SourceResolver(path: sourcePath, run: try tj.run())
        try io.out.line("seq          \(e.seq)")
        try io.out.line("kind         \(e.event.kind.name) (code \(e.event.kind.rawValue), layout v\(e.event.layoutVersion))")
        try io.out.line("event time   \(Text.time(e.eventTime))")
        try io.out.line("record time  \(Text.time(e.recordTime))")
        try io.out.line("causation    \(e.causation.isSet ? e.causation.description : "none (an input)")")
        try io.out.line("fields")
        for l in r.fieldBlock(e.event.fields, indent: "  ") { try io.out.line(l) }
        // The chain: follow causation links upwards.
        var chain: [String] = []
        var link = e.causation
        var seen = Set<UInt64>()
        while link.isSet {
            if link.isExternal {
                if let s = try source.event(link.seq), let sr = try source.renderer() {
                    chain.append("src:" + sr.oneLine(s))
                    // A source journal's links are its own (a market journal's inputs have none).
                } else {
                    chain.append("src:\(link.seq)  (in the source journal; pass --source DIR to show it)")
                }
                break
            }
            guard seen.insert(link.seq).inserted, link.seq != e.seq else {
                chain.append("\(link.seq)  (a causation cycle: the journal is inconsistent)")
                break
            }
            let c = try tj.event(at: link.seq)
            chain.append(r.oneLine(c))
            link = c.causation
        }
        try io.out.line("caused by" + (chain.isEmpty ? "    nothing (an input)" : ""))
        for (i, c) in chain.enumerated() { try io.out.line(String(repeating: "  ", count: i + 1) + "← " + c) }
        return .success
    }
}

/// Explains a decision or venue event back to its inputs and config.
public struct ExplainCommand {
    /// The run (or live) journal.
    public var path: String
    /// The event to explain.
    public var seq: UInt64
    /// The source journal, to resolve `src:N` links.
    public var sourcePath: String?

    /// An explanation.
    public init(path: String, seq: UInt64, sourcePath: String? = nil) {
        self.path = path
        self.seq = seq
        self.sourcePath = sourcePath
    }

    /// Prints the explanation tree.
    public func run(_ io: ToolIO) throws -> ExitStatus {
        let tj = try ToolJournal.open(path)
        try tj.noteWriter(io)
        let r = EventRenderer(instruments: try tj.instruments())
        let run = try tj.run()
        let source = try SourceResolver(path: sourcePath, run: run)
        let target = try tj.event(at: seq)
        var unresolved = 0
        var visited = Set<UInt64>()
        var signals: [RecordedEvent] = []

        func links(_ e: RecordedEvent) -> [(label: String, ref: CausationRef)] {
            var out: [(String, CausationRef)] = []
            if e.causation.isSet { out.append(("caused by", e.causation)) }
            for f in e.event.fields {
                // A field naming the same event as the causation adds nothing.
                if case .seq(let raw) = f.value, raw != 0, raw != e.causation.raw { out.append((f.name, CausationRef(raw: raw))) }
            }
            return out
        }

        func walk(_ e: RecordedEvent, depth: Int) throws {
            if case .signalComputed = e.event { signals.append(e) }
            for (label, ref) in links(e) {
                let indent = String(repeating: "  ", count: depth + 1)
                if ref.isExternal {
                    if let s = try source.event(ref.seq), let sr = try source.renderer() {
                        try io.out.line(indent + "\(label) → src:" + sr.oneLine(s))
                    } else {
                        unresolved += 1
                        try io.out.line(indent + "\(label) → src:\(ref.seq)  (an input in the source journal)")
                    }
                    continue
                }
                // A link forward or to itself cannot be a cause.
                guard ref.seq < e.seq else {
                    try io.out.line(indent + "\(label) → \(ref.seq)  (points at or after its own seq \(e.seq): the journal is inconsistent)")
                    continue
                }
                if !visited.insert(ref.seq).inserted {
                    try io.out.line(indent + "\(label) → \(ref.seq)  (shown above)")
                    continue
                }
                let c = try tj.event(at: ref.seq)
                try io.out.line(indent + "\(label) → " + r.oneLine(c))
                try walk(c, depth: depth + 1)
            }
        }

        try io.out.line("explain " + r.oneLine(target))
        visited.insert(target.seq)
        try walk(target, depth: 0)
        if links(target).isEmpty { try io.out.line("  (no causation: this event is an input)") }

        for s in signals {
            guard case .signalComputed(let sig) = s.event else { continue }
            try io.out.line("")
            try io.out.line("signal \(s.seq): \(sig.strategy) \(sig.action) \(sig.direction) \(r.instruments.name(sig.perp))/\(r.instruments.name(sig.spot)) score \(sig.score)")
            // Columns as wide as the longest factor and value (at least the header's).
            let fw = max(12, sig.components.map { "\($0.factor)".count }.max() ?? 0)
            let vw = max(12, sig.components.map { $0.value.description.count }.max() ?? 0)
            try io.out.line("  " + Text.pad("FACTOR", fw) + "  " + Text.pad("VALUE", vw) + "  " + Text.padLeft("WEIGHT", 6) + "  SOURCE")
            for c in sig.components {
                var src = "-"
                if c.sourceSeq != 0 {
                    let ref = CausationRef(raw: c.sourceSeq)
                    src = ref.description
                    if ref.isExternal, let e = try source.event(ref.seq), let sr = try source.renderer() {
                        src += "  " + Text.pad(e.event.kind.name, 16) + " " + Text.time(e.eventTime) + (e.event.instrument.map { " " + sr.instruments.name($0) } ?? "")
                    } else if !ref.isExternal, let e = try? tj.event(at: ref.seq) {
                        src += "  " + Text.pad(e.event.kind.name, 16) + " " + Text.time(e.eventTime)
                    }
                }
                try io.out.line("  " + Text.pad("\(c.factor)", fw) + "  " + Text.pad(c.value.description, vw) + "  " + Text.padLeft(c.weight.description, 6)
                                + "  " + src)
            }
        }

        try io.out.line("")
        if let config = try tj.config(before: target.seq), case .configApplied(let c) = config.event {
            try io.out.line("config in force: seq \(config.seq) from \(c.source)")
            for l in Text.lines(c.text) where !l.isEmpty { try io.out.line("  | " + l) }
        } else {
            try io.out.line("config in force: none recorded before seq \(target.seq)")
        }
        if let run {
            let s = run.started
            try io.out.line("run: \(s.mode), seed \(s.seed), source journal \(s.sourceJournal) seqs \(s.sourceFirstSeq)–\(s.sourceLastSeq)")
        }
        if unresolved > 0 {
            let which = run.map { "journal \($0.started.sourceJournal)" } ?? "the source journal"
            try io.out.line("\(unresolved) link\(unresolved == 1 ? "" : "s") into the source journal not shown: pass --source DIR (\(which)).")
        }
        return .success
    }
}
