// `carry-journal diff A B --ignore-kind K`: run journals compared with one kind's records
// taken out and the rest renumbered. B is the golden run journal (plus a few records that
// link to local seqs in every way a run journal does) with alert.raised records inserted at
// several places and every later local link shifted, as an engine that journals a new kind
// would write it; then the same with one real change after an insertion.

import CarryCore
@testable import CarryJournal
import CarryJournalTools
import CarryTesting
import Foundation
import Testing

@Suite("carry-journal diff --ignore-kind")
struct DiffIgnoreKindTests {
    /// The golden run journal plus, at seqs 16 and 17, a signal whose components link to a
    /// local seq (the fill at 12) and a source seq small enough to be mistaken for a local
    /// one (src:7), and a kill switch caused by the run's own alert at seq 5.
    static func base(_ m: ToolFixtures.Market) -> [[EventDraft]] {
        let signal = SignalComputed(strategy: .composite, perp: InstrumentId(1), spot: InstrumentId(0), action: .exit, direction: .longSpotShortPerp,
                                    score: Fixed("0.2")!, components: [
                                        SignalComponent(factor: .fundingLevel, value: Fixed("0.00008")!, weight: Fixed("0.6")!, sourceSeq: CausationRef.source(7).raw),
                                        SignalComponent(factor: .basis, value: Fixed("0.0001")!, weight: Fixed("0.3")!, sourceSeq: CausationRef.local(12).raw),
                                        SignalComponent(factor: .persistence, value: Fixed("1")!, weight: Fixed("0.1")!, sourceSeq: 0),
                                    ])
        return ToolFixtures.run(market: m) + [[
            ToolFixtures.draft(.signalComputed(signal), ToolFixtures.at(17), cause: .local(12)),                                                   // 16
            ToolFixtures.draft(.killSwitchChanged(KillSwitchChanged(engaged: true, source: .automatic, reason: "data gap")), ToolFixtures.at(17), cause: .local(5)), // 17
        ]]
    }

    static func alert(_ n: Int, _ t: Timestamp, cause: CausationRef = .none) -> EventDraft {
        ToolFixtures.draft(.alertRaised(AlertRaised(severity: .info, code: "test.inserted", message: "inserted alert \(n)")), t, cause: cause)
    }

    /// Where B's inserted alerts go: before the record of old seq key (18: at the end).
    static let inserts: [UInt64: [EventDraft]] = [
        3: [alert(1, ToolFixtures.at(0))],
        7: [alert(2, ToolFixtures.at(8), cause: .local(7)), alert(3, ToolFixtures.at(8))],
        10: [alert(4, ToolFixtures.at(8, ms: 100), cause: .source(40))],
        18: [alert(5, ToolFixtures.at(17))],
    ]

    /// B's seq of the record at old seq `s` (every insert at or before it moves it on).
    static func shifted(_ s: UInt64) -> UInt64 {
        s + UInt64(inserts.filter { $0.key <= s }.reduce(0) { $0 + $1.value.count })
    }

    /// A link moved as `shifted` moves records; none and source links stay.
    static func shifted(_ ref: CausationRef) -> CausationRef { ref.isSet && !ref.isExternal ? .local(shifted(ref.seq)) : ref }

    /// The event with every local seq it holds moved.
    static func shifted(_ e: Event) -> Event {
        switch e {
        case .orderIntended(var p): p.pairId = p.pairId == 0 ? 0 : shifted(p.pairId); return .orderIntended(p)
        case .orderSubmitted(var p): p.intentSeq = shifted(p.intentSeq); return .orderSubmitted(p)
        case .orderFilled(var p): p.intentSeq = shifted(p.intentSeq); return .orderFilled(p)
        case .signalComputed(var p):
            for i in p.components.indices { p.components[i].sourceSeq = shifted(CausationRef(raw: p.components[i].sourceSeq)).raw }
            return .signalComputed(p)
        default: return e
        }
    }

    /// `batches` with `inserts` placed and every later local link shifted (B as the engine
    /// would write it with the new records).
    static func inserting(into batches: [[EventDraft]]) -> [[EventDraft]] {
        var seq: UInt64 = 0
        var out = batches.map { batch in
            batch.flatMap { d -> [EventDraft] in
                seq += 1
                var moved = d
                moved.causation = shifted(d.causation)
                moved.event = shifted(d.event)
                return (inserts[seq] ?? []) + [moved]
            }
        }
        out[out.count - 1] += inserts[seq + 1] ?? []
        return out
    }

    /// Changes the record at old seq `seq` of `batches`.
    static func change(_ batches: inout [[EventDraft]], _ seq: UInt64, _ body: (inout EventDraft) -> Void) {
        var n: UInt64 = 0
        for i in batches.indices {
            for j in batches[i].indices {
                n += 1
                if n == seq { body(&batches[i][j]); return }
            }
        }
        Issue.record("no seq \(seq)")
    }

    /// Writes A (the base) and B (the base changed by `changeB`, with the alerts inserted).
    /// `changeB` changes B by old seqs, before the insertion; `afterInsert` by B's own seqs.
    static func pair(_ name: String, changeB: (inout [[EventDraft]]) -> Void = { _ in },
                     afterInsert: (inout [[EventDraft]]) -> Void = { _ in }) throws -> (dir: ScratchDirectory, a: String, b: String) {
        let dir = ScratchDirectory("diff-ignore-" + name)
        let m = ToolFixtures.market()
        var b = base(m)
        changeB(&b)
        b = inserting(into: b)
        afterInsert(&b)
        try ToolFixtures.write(dir.sub("a"), id: JournalId(high: 7, low: 1), purpose: .backtest, batches: base(m))
        try ToolFixtures.write(dir.sub("b"), id: JournalId(high: 7, low: 2), purpose: .backtest, batches: b)
        return (dir, dir.sub("a"), dir.sub("b"))
    }

    static func diff(_ p: (dir: ScratchDirectory, a: String, b: String), _ kinds: [String], ignoreRecordTime: Bool = false) -> (CarryJournalTools.ExitStatus, String, String) {
        GoldenTests.capture(p.dir) { io in try DiffCommand(pathA: p.a, pathB: p.b, ignoreRecordTime: ignoreRecordTime, ignoreKinds: kinds).run(io) }
    }

    @Test("the fixture: B holds 5 more alerts, and every later local link in B is shifted")
    func fixtureShifts() throws {
        let p = try Self.pair("fixture")
        let b = try ToolJournal.open(p.b)
        #expect(try b.read { try $0.lastSeq() } == 22)
        // The fill of old seq 12 is seq 16, caused by its submission (old 11, now 15), for intent old 8, now 11.
        let fill = try b.event(at: 16)
        #expect(fill.causation == .local(15))
        guard case .orderFilled(let f) = fill.event else { Issue.record("seq 16 is \(fill.event.kind)"); return }
        #expect(f.intentSeq == 11)
        // The appended signal: its local component source moved (12 → 16), the src:7 one did not.
        guard case .signalComputed(let s) = try b.event(at: 20).event else { Issue.record("seq 20 is not a signal"); return }
        #expect(s.components.map(\.sourceSeq) == [CausationRef.source(7).raw, 16, 0])
        // A byte diff sees the first insertion.
        let (status, out, _) = Self.diff(p, [])
        #expect(status == .failed)
        #expect(out.contains("first divergence at seq 3"), "\(out)")
    }

    @Test("B = A plus inserted alert.raised records (links shifted): identical modulo alert.raised, by name or code, with the counts")
    func identicalModuloInserted() throws {
        let p = try Self.pair("same")
        for kinds in [["alert.raised"], ["36"], ["alert.raised", "36"]] {
            let (status, out, err) = Self.diff(p, kinds)
            #expect(status == .success, "\(kinds): \(out)\(err)")
            #expect(out.hasSuffix("identical modulo alert.raised: 16 records compared, 1 ignored in A, 6 ignored in B\n"), "\(kinds): \(out)")
        }
        // Swapped, the counts swap.
        let (status, out, _) = GoldenTests.capture(p.dir) { io in try DiffCommand(pathA: p.b, pathB: p.a, ignoreKinds: ["alert.raised"]).run(io) }
        #expect(status == .success)
        #expect(out.hasSuffix("identical modulo alert.raised: 16 records compared, 6 ignored in A, 1 ignored in B\n"), "\(out)")
        // Ignoring a kind neither holds compares the records as they are: B has more, and
        // its first record past the insertion differs.
        let (other, text, _) = Self.diff(p, ["clock.ticked,quote.observed"])
        #expect(other == .failed)
        #expect(text.contains("first difference modulo quote.observed, clock.ticked at kept record 3: A seq 3, B seq 3 (the 2 kept records before it match)"), "\(text)")
        #expect(text.contains("    kind: instrument.defined ≠ alert.raised"), "\(text)")
    }

    @Test("a fill's price changed after an insertion: exit 1, naming the kept record, both seqs and the field")
    func changedFillPrice() throws {
        let p = try Self.pair("price") { b in
            Self.change(&b, 12) { d in
                guard case .orderFilled(var f) = d.event else { return }
                f.price = Fixed("42100.5")!
                d.event = .orderFilled(f)
            }
        }
        let (status, out, err) = Self.diff(p, ["alert.raised"])
        #expect(status == .failed, "\(out)\(err)")
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.count == 6, "\(out)")
        #expect(lines.dropFirst(2).first == "first difference modulo alert.raised at kept record 11: A seq 12, B seq 16 (the 10 kept records before it match)")
        #expect(lines.dropFirst(3).first?.hasPrefix("  A 12  order.filled") == true, "\(out)")
        #expect(lines.dropFirst(4).first?.hasPrefix("  B 16  order.filled") == true, "\(out)")
        #expect(lines.last == "    price: 42100.0 ≠ 42100.5")
    }

    @Test("a causation or an intentSeq pointing at another record after an insertion: exit 1 with both links and their kept indices")
    func changedLinks() throws {
        // The fill at old 12 caused by the other submission (old 9) instead of its own (old 11).
        let cause = try Self.pair("cause") { b in Self.change(&b, 12) { $0.causation = .local(9) } }
        let (status, out, _) = Self.diff(cause, ["alert.raised"])
        #expect(status == .failed)
        #expect(out.contains("at kept record 11: A seq 12, B seq 16"), "\(out)")
        #expect(out.hasSuffix("    causation: 11 (kept #10) ≠ 12 (kept #8)\n"), "\(out)")
        // Its intentSeq naming the other intent (old 7 instead of 8).
        let intent = try Self.pair("intent") { b in
            Self.change(&b, 12) { d in
                guard case .orderFilled(var f) = d.event else { return }
                f.intentSeq = 7
                d.event = .orderFilled(f)
            }
        }
        let (s2, o2, _) = Self.diff(intent, ["alert.raised"])
        #expect(s2 == .failed)
        #expect(o2.hasSuffix("    intentSeq: 8 (kept #7) ≠ 10 (kept #6)\n"), "\(o2)")
        // A signal component's source: a local seq moved to another record, and a src: link
        // changed (compared as it is, never renumbered).
        let component = try Self.pair("component") { b in
            Self.change(&b, 16) { d in
                guard case .signalComputed(var s) = d.event else { return }
                s.components[0].sourceSeq = CausationRef.source(8).raw
                s.components[1].sourceSeq = 10
                d.event = .signalComputed(s)
            }
        }
        let (s3, o3, _) = Self.diff(component, ["alert.raised"])
        #expect(s3 == .failed)
        #expect(o3.contains("at kept record 15: A seq 16, B seq 20"), "\(o3)")
        #expect(o3.contains("    components[0].source: src:7 ≠ src:8\n"), "\(o3)")
        #expect(o3.hasSuffix("    components[1].source: 12 (kept #11) ≠ 14 (kept #9)\n"), "\(o3)")
    }

    @Test("a link to an ignored record maps to 'dropped': it matches another dropped record, not a kept one or none")
    func droppedLinks() throws {
        // The kill switch (old 17, B 21) is caused by the run's own alert (A 5, B 6): both dropped.
        let (s0, o0, _) = Self.diff(try Self.pair("dropped"), ["alert.raised"])
        #expect(s0 == .success, "\(o0)")
        // In B pointed at an inserted alert (B 3) instead: still dropped on both sides.
        let inserted = try Self.pair("dropped-inserted", afterInsert: { b in Self.change(&b, 21) { $0.causation = .local(3) } })
        let (s1, o1, _) = Self.diff(inserted, ["alert.raised"])
        #expect(s1 == .success, "\(o1)")
        // Pointed at the config (kept) or at nothing: differs.
        let kept = try Self.pair("dropped-kept") { b in Self.change(&b, 17) { $0.causation = .local(2) } }
        let (s2, o2, _) = Self.diff(kept, ["alert.raised"])
        #expect(s2 == .failed)
        #expect(o2.contains("at kept record 16: A seq 17, B seq 21"), "\(o2)")
        #expect(o2.hasSuffix("    causation: 5 (dropped) ≠ 2 (kept #2)\n"), "\(o2)")
        let none = try Self.pair("dropped-none") { b in Self.change(&b, 17) { $0.causation = .none } }
        let (s3, o3, _) = Self.diff(none, ["alert.raised"])
        #expect(s3 == .failed)
        #expect(o3.hasSuffix("    causation: 5 (dropped) ≠ -\n"), "\(o3)")
    }

    @Test("record times count unless --ignore-record-time; a journal with fewer kept records differs at the first missing one")
    func recordTimeAndLength() throws {
        let later = try Self.pair("record-time") { b in Self.change(&b, 14) { $0.recordTime = $0.recordTime.adding(ms: 5) } }
        let (s0, o0, _) = Self.diff(later, ["alert.raised"])
        #expect(s0 == .failed)
        #expect(o0.hasSuffix("    recordTime: 2024-01-01T16:00:00Z ≠ 2024-01-01T16:00:00.005Z\n"), "\(o0)")
        let (s1, o1, _) = Self.diff(later, ["alert.raised"], ignoreRecordTime: true)
        #expect(s1 == .success, "\(o1)")
        // B without the kill switch (old 17): A has one kept record more.
        let short = try Self.pair("short") { b in b[b.count - 1].removeLast() }
        let (s2, o2, _) = Self.diff(short, ["alert.raised"])
        #expect(s2 == .failed)
        #expect(o2.contains("first difference modulo alert.raised at kept record 16: B ends after 15 kept records; A has 16 (the first 15 match)\n  A 17  killswitch.changed"), "\(o2)")
    }

    /// Rewrites the records at `seqs` of the journal at `path` as kind `code` (a kind this
    /// build does not know), checksums mended, the way a newer Carry would have journaled it.
    static func rewriteKind(_ path: String, seqs: [UInt64], code: UInt16) throws {
        let journal = try Journal.open(path, readOnly: false)
        let records = try journal.withSnapshot { snap in try seqs.map { seq in try snap.withRecord(at: seq) { Array($0.bytes) }! } }
        let txn = try journal.env.beginWrite()
        for (seq, var bytes) in zip(seqs, records) {
            bytes[2] = UInt8(code & 0xff)
            bytes[3] = UInt8(code >> 8)
            let crc = bytes.withUnsafeBytes { crc32c(UnsafeRawBufferPointer(rebasing: $0[0..<($0.count - 4)])) }
            for i in 0..<4 { bytes[bytes.count - 4 + i] = UInt8((crc >> (8 * UInt32(i))) & 0xff) }
            try bytes.withUnsafeBytes { try txn.put(journal.eventsDB, integerKey: seq, value: $0, append: false) }
        }
        try txn.commit()
    }

    @Test("a kind this build does not know: refused (exit 2) unless --ignore-kind names its code; ignored, it is skipped unread")
    func unknownKind() throws {
        let p = try Self.pair("unknown")
        try Self.rewriteKind(p.b, seqs: [3, 8, 9, 13, 22], code: 63)
        let (s0, o0, e0) = Self.diff(p, ["alert.raised"])
        #expect(s0 == .cannotOpen, "\(o0)\(e0)")
        #expect(o0.isEmpty)
        #expect(e0.contains("$DIR/b: seq 3 is of kind code 63, which this build of carry-journal does not know") && e0.contains("--ignore-kind 63"), "\(e0)")
        let (s1, o1, e1) = Self.diff(p, ["63"])
        #expect(s1 == .success, "\(o1)\(e1)")
        #expect(o1.hasSuffix("identical modulo kind 63: 17 records compared, 0 ignored in A, 5 ignored in B\n"), "\(o1)")
        let (s2, o2, _) = Self.diff(p, ["alert.raised,63"])
        #expect(s2 == .success)
        #expect(o2.hasSuffix("identical modulo alert.raised, kind 63: 16 records compared, 1 ignored in A, 6 ignored in B\n"), "\(o2)")
        // Without --ignore-kind: the byte comparison, as before (it cannot show the record).
        let (s3, _, e3) = Self.diff(p, [])
        #expect(s3 == .failed)
        #expect(e3.contains("seq 3 cannot be decoded: kind code 63 is not in this build's catalogue"), "\(e3)")
    }

    @Test("a name that is neither a kind, a category nor a code, or no name at all: exit 2 naming the option")
    func badKindName() throws {
        let (status, out, err) = Self.diff(try Self.pair("bad-name"), ["pair.transitions"])
        #expect(status == .cannotOpen)
        #expect(out.isEmpty)
        #expect(err.contains("unknown event kind 'pair.transitions' for --ignore-kind") && err.contains("or a numeric kind code"), "\(err)")
        let (empty, _, emptyErr) = Self.diff(try Self.pair("empty-name"), [","])
        #expect(empty == .cannotOpen)
        #expect(emptyErr.contains("--ignore-kind needs a kind"), "\(emptyErr)")
    }

    @Test("the shipped tool: --help explains --ignore-kind; a run with it exits 0 and prints the summary")
    func shippedTool() throws {
        let tool = Fixtures.executable("carry-journal")
        let help = try runProcess(tool, ["diff", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("--ignore-kind <kind>") && help.stdout.contains("renumbers the rest densely") && help.stdout.contains("src:N links compare as they are"), "\(help.stdout)")
        let p = try Self.pair("process")
        let run = try runProcess(tool, ["diff", p.a, p.b, "--ignore-kind", "alert.raised"])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.hasSuffix("identical modulo alert.raised: 16 records compared, 1 ignored in A, 6 ignored in B\n"), "\(run.stdout)")
        let differs = try runProcess(tool, ["diff", p.a, p.b, "--ignore-kind", "instrument.defined"])
        #expect(differs.status == 1, "\(differs.stdout)\(differs.stderr)")
    }
}
