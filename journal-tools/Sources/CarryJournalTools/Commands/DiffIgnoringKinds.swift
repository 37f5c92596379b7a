// `carry-journal diff A B --ignore-kind K …`: two journals compared with every record of the
// named kinds taken out of both and the rest renumbered densely, so a run journal that gained
// records of a new kind (decision records inserted between the old ones) can still be shown
// to hold everything else unchanged.
//
// Invariants: the k-th kept record of A is compared with the k-th kept record of B, by
// meaning, not bytes: kind, layout version, event time, record time (unless ignored), the
// causation and every `.seq` field after renumbering, and every other decoded field exactly.
// A local seq renumbers through its own journal's map (old seq → kept index, or "dropped"
// when it points at an ignored record); `src:N` links into the source journal and 0 (none)
// compare as they are. Ignored records are never decoded (only their header's kind code is
// read), so kinds unknown to this build can be ignored by code; an unknown kind that is not
// ignored stops the command (exit 2) before anything is compared.

import CarryCore
import CarryJournal

/// One journal's seqs with the ignored records taken out: the k-th kept record is number k.
struct Renumbering {
    /// The last seq the comparison reads (the snapshot of the first pass).
    var lastSeq: UInt64 = 0
    /// Seqs of the ignored records, ascending.
    var dropped: [UInt64] = []

    /// How many records are kept.
    var kept: UInt64 { lastSeq - UInt64(dropped.count) }

    /// Where a link lands after renumbering.
    enum Target: Equatable {
        /// No link (0).
        case none
        /// The kept record with this index (from 1).
        case kept(UInt64)
        /// An ignored record.
        case dropped
        /// A seq in the source journal: not renumbered.
        case source(UInt64)
        /// A local seq past the journal's end: compared as it is.
        case missing(UInt64)
    }

    /// Renumbers a link (a header's causation, or a `.seq` field's raw value).
    func map(_ ref: CausationRef) -> Target {
        if !ref.isSet { return .none }
        if ref.isExternal { return .source(ref.seq) }
        let seq = ref.seq
        guard seq <= lastSeq else { return .missing(seq) }
        // Dropped seqs below `seq`: a binary search of the ascending list.
        var lo = 0, hi = dropped.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if dropped[mid] < seq { lo = mid + 1 } else { hi = mid }
        }
        if lo < dropped.count && dropped[lo] == seq { return .dropped }
        return .kept(seq - UInt64(lo))
    }
}

extension DiffCommand {
    /// One way two kept records differ, kept as values until it is printed.
    struct Difference {
        enum Shown {
            case value(FieldValue)
            case ref(CausationRef, Renumbering.Target)
            case text(String)
        }
        var name: String
        var a: Shown
        var b: Shown
    }

    /// The kind codes `--ignore-kind` names (names, codes, categories; unknown codes allowed).
    func ignoredCodes() throws(ToolError) -> Set<UInt16> {
        let codes = try FilterOptions.kindCodes(ignoreKinds, option: "--ignore-kind", unknownCodes: true)
        if codes.isEmpty { throw .badInput("--ignore-kind needs a kind: a name (alert.raised), a code (36) or a category.") }
        return codes
    }

    /// `alert.raised, kind 37`: the ignored kinds, by name where this build knows them.
    static func label(_ codes: Set<UInt16>) -> String {
        codes.sorted().map { EventKind(rawValue: $0)?.name ?? "kind \($0)" }.joined(separator: ", ")
    }

    /// The first pass over one journal: which records are ignored (header only). A kind this
    /// build cannot decode that is not ignored is exit 2, naming the code to ignore.
    static func renumbering(_ j: ToolJournal, ignoring codes: Set<UInt16>) throws(ToolError) -> Renumbering {
        var r = Renumbering()
        var unknown: (seq: UInt64, code: UInt16)? = nil
        try j.read { snap in
            r.lastSeq = try snap.lastSeq()
            try snap.scan(from: 1, through: r.lastSeq) { view in
                let code = view.header.kindCode
                if codes.contains(code) {
                    r.dropped.append(view.header.seq)
                } else if view.header.kind == nil {
                    unknown = (view.header.seq, code)
                    return false
                }
                return true
            }
        }
        if let unknown {
            throw .badInput("\(j.path): seq \(unknown.seq) is of kind code \(unknown.code), which this build of carry-journal does not know (a newer Carry journals it). "
                            + "Add --ignore-kind \(unknown.code) to compare everything else, or use a carry-journal that knows the kind.")
        }
        return r
    }

    /// The comparison with `--ignore-kind`: exit 0 identical modulo the kinds, 1 different.
    func runIgnoringKinds(_ io: ToolIO) throws -> ExitStatus {
        let codes = try ignoredCodes()
        let a = try ToolJournal.open(pathA)
        let b = try ToolJournal.open(pathB)
        try a.noteWriter(io)
        try b.noteWriter(io)
        let mapA = try Self.renumbering(a, ignoring: codes)
        let mapB = try Self.renumbering(b, ignoring: codes)
        let label = Self.label(codes)
        try io.out.line("A  \(pathA)  journal \(a.meta.journalId)  \(mapA.lastSeq) records")
        try io.out.line("B  \(pathB)  journal \(b.meta.journalId)  \(mapB.lastSeq) records")

        // Walk A's kept records in one snapshot; fetch B's k-th kept record beside each.
        var compared: UInt64 = 0
        var first: (ea: RecordedEvent, eb: RecordedEvent, differences: [Difference])? = nil
        let ignoreTime = ignoreRecordTime
        let ignored = Set(ignoreFields)
        try a.read { snapA in
            try b.read { snapB in
                var nextB: UInt64 = 1, droppedB = 0
                try snapA.scan(from: 1, through: mapA.lastSeq) { va in
                    if codes.contains(va.header.kindCode) { return true }
                    while droppedB < mapB.dropped.count && mapB.dropped[droppedB] == nextB {
                        droppedB += 1
                        nextB += 1
                    }
                    guard nextB <= mapB.lastSeq else { return false }
                    let seqB = nextB
                    nextB += 1
                    compared += 1
                    let ea = try ToolJournal.decodeRecorded(va, path: pathA)
                    let found = try snapB.withRecord(at: seqB) { vb in
                        let eb = try ToolJournal.decodeRecorded(vb, path: pathB)
                        return (eb, Self.differences(ea, va.header.layoutVersion, mapA, eb, vb.header.layoutVersion, mapB, ignoreRecordTime: ignoreTime, ignoreFields: ignored))
                    }
                    guard let found else {
                        throw ToolError(.failed, "\(pathB): seq \(seqB) vanished between two reads. Run `carry-journal verify \(pathB)`.")
                    }
                    if found.1.isEmpty { return true }
                    first = (ea, found.0, found.1)
                    return false
                }
            }
        }

        if first == nil && compared == mapA.kept && compared == mapB.kept {
            try io.out.line("identical modulo \(label): \(compared) records compared, \(mapA.dropped.count) ignored in A, \(mapB.dropped.count) ignored in B")
            return .success
        }
        let ra = EventRenderer(instruments: try a.instruments())
        let rb = EventRenderer(instruments: try b.instruments())
        guard let first else {
            // Every pair matched, but one journal has kept records the other lacks.
            let common = compared
            let (longer, shorter, tj, map, r) = mapA.kept > mapB.kept ? ("A", "B", a, mapA, ra) : ("B", "A", b, mapB, rb)
            let seq = Self.seq(ofKept: common + 1, in: map)
            try io.out.line("first difference modulo \(label) at kept record \(common + 1): \(shorter) ends after \(common) kept records; "
                            + "\(longer) has \(map.kept) (the first \(common) match)")
            try io.out.line("  \(longer) " + r.oneLine(try tj.event(at: seq)))
            return .failed
        }
        let before = compared - 1
        try io.out.line("first difference modulo \(label) at kept record \(compared): A seq \(first.ea.seq), B seq \(first.eb.seq)"
                        + (before == 0 ? " (the first kept record)" : " (the \(before) kept records before it match)"))
        try io.out.line("  A " + ra.oneLine(first.ea))
        try io.out.line("  B " + rb.oneLine(first.eb))
        for d in first.differences {
            try io.out.line("    \(d.name): \(Self.show(d.a, ra)) ≠ \(Self.show(d.b, rb))")
        }
        return .failed
    }

    /// The seq of the k-th kept record (k from 1; k ≤ map.kept).
    static func seq(ofKept k: UInt64, in map: Renumbering) -> UInt64 {
        var seq = k
        for d in map.dropped where d <= seq { seq += 1 }
        return seq
    }

    /// Every way kept record `x` of A differs from kept record `y` of B; empty when they match.
    static func differences(_ x: RecordedEvent, _ layoutX: UInt8, _ mapX: Renumbering,
                            _ y: RecordedEvent, _ layoutY: UInt8, _ mapY: Renumbering,
                            ignoreRecordTime: Bool, ignoreFields: Set<String> = []) -> [Difference] {
        var out: [Difference] = []
        if x.event.kind != y.event.kind { out.append(Difference(name: "kind", a: .text(x.event.kind.name), b: .text(y.event.kind.name))) }
        if layoutX != layoutY { out.append(Difference(name: "layoutVersion", a: .text(String(layoutX)), b: .text(String(layoutY)))) }
        if x.eventTime != y.eventTime { out.append(Difference(name: "eventTime", a: .value(.time(x.eventTime)), b: .value(.time(y.eventTime)))) }
        if !ignoreRecordTime && x.recordTime != y.recordTime {
            out.append(Difference(name: "recordTime", a: .value(.time(x.recordTime)), b: .value(.time(y.recordTime))))
        }
        let cx = mapX.map(x.causation), cy = mapY.map(y.causation)
        if cx != cy { out.append(Difference(name: "causation", a: .ref(x.causation, cx), b: .ref(y.causation, cy))) }
        guard x.event.kind == y.event.kind else { return out }
        for (fx, fy) in zip(x.event.fields, y.event.fields) where !ignoreFields.contains(fx.name) {
            compare(fx.name, fx.value, mapX, fy.value, mapY, into: &out)
        }
        return out
    }

    /// One field: `.seq` values renumbered, lists entry by entry, everything else exactly.
    static func compare(_ name: String, _ vx: FieldValue, _ mapX: Renumbering, _ vy: FieldValue, _ mapY: Renumbering, into out: inout [Difference]) {
        switch (vx, vy) {
        case (.seq(let rx), .seq(let ry)):
            let refX = CausationRef(raw: rx), refY = CausationRef(raw: ry)
            let tx = mapX.map(refX), ty = mapY.map(refY)
            if tx != ty { out.append(Difference(name: name, a: .ref(refX, tx), b: .ref(refY, ty))) }
        case (.list(let lx), .list(let ly)) where lx.count == ly.count:
            for (i, (rowX, rowY)) in zip(lx, ly).enumerated() {
                for (fx, fy) in zip(rowX, rowY) {
                    compare("\(name)[\(i)].\(fx.name)", fx.value, mapX, fy.value, mapY, into: &out)
                }
            }
        default:
            if vx != vy { out.append(Difference(name: name, a: .value(vx), b: .value(vy))) }
        }
    }

    /// A difference's value as printed: links with where they land after renumbering.
    static func show(_ s: Difference.Shown, _ r: EventRenderer) -> String {
        switch s {
        case .value(let v): return r.text(v)
        case .text(let t): return t
        case .ref(let ref, let target):
            switch target {
            case .none, .source: return ref.description
            case .kept(let k): return "\(ref) (kept #\(k))"
            case .dropped: return "\(ref) (dropped)"
            case .missing: return "\(ref) (no such record)"
            }
        }
    }
}
