// `carry-journal diff A B`: the first record at which two journals differ, or "identical"
// with their content hash.
//
// Records are compared as stored bytes (header, payload and CRC), in seq order, so
// "identical" means what `JournalSnapshot.contentHash` means: byte-identical records.
// `--ignore-record-time` compares everything but the journaling time (a live session
// against its replay). Journal ids and creation times are metadata, not content: they are
// printed, never compared. `--ignore-kind` compares by meaning instead, with the named kinds
// taken out and the rest renumbered (DiffIgnoringKinds.swift).

import CarryCore
import CarryJournal

#if canImport(Glibc)
import Glibc
#endif

/// Compares two journals.
public struct DiffCommand {
    /// The two journal directories.
    public var pathA: String
    public var pathB: String
    /// Ignore record times (header bytes 24..<32, and so the CRC).
    public var ignoreRecordTime = false
    /// Kinds (names, codes or categories) whose records are taken out of both journals
    /// before the rest is compared, renumbered; empty: the byte comparison.
    public var ignoreKinds: [String] = []
    /// Fields (by name) left out of the comparison by meaning: venue-assigned ids that embed
    /// the seq they were made from (`venueOrderId`, `executionId` of the simulated exchange).
    public var ignoreFields: [String] = []

    /// A diff.
    public init(pathA: String, pathB: String, ignoreRecordTime: Bool = false, ignoreKinds: [String] = [], ignoreFields: [String] = []) {
        self.ignoreFields = ignoreFields
        self.pathA = pathA
        self.pathB = pathB
        self.ignoreRecordTime = ignoreRecordTime
        self.ignoreKinds = ignoreKinds
    }

    /// Exit 0 identical, 1 different.
    public func run(_ io: ToolIO) throws -> ExitStatus {
        if !ignoreKinds.isEmpty { return try runIgnoringKinds(io) }
        let a = try ToolJournal.open(pathA)
        let b = try ToolJournal.open(pathB)
        try a.noteWriter(io)
        try b.noteWriter(io)
        let lastA = try a.read { try $0.lastSeq() }
        let lastB = try b.read { try $0.lastSeq() }
        // Walk A in one snapshot and B in another, side by side, record by record.
        var firstDiff: UInt64? = nil
        let ignore = ignoreRecordTime
        // The compared records of A, hashed as `JournalSnapshot.contentHash` does (SHA-256
        // over every record's bytes in seq order), so "identical" needs no second read of A.
        var hasher = SHA256Hasher()
        try a.read { snapA in
            try b.read { snapB in
                try snapA.scan(from: 1, through: min(lastA, lastB)) { va in
                    let same = try snapB.withRecord(at: va.header.seq) { vb in Self.same(va.bytes, vb.bytes, ignoreRecordTime: ignore) } ?? false
                    if !same {
                        firstDiff = va.header.seq
                        return false
                    }
                    if !ignore { hasher.update(va.bytes) }
                    return true
                }
            }
        }
        try io.out.line("A  \(pathA)  journal \(a.meta.journalId)  \(lastA) records")
        try io.out.line("B  \(pathB)  journal \(b.meta.journalId)  \(lastB) records")
        if firstDiff == nil && lastA == lastB {
            if ignore {
                try io.out.line("identical except record times: \(lastA) records")
            } else {
                let hash = hasher.finish()
                try io.out.line("identical: \(lastA) records, content hash \(hash)")
            }
            return .success
        }
        guard let seq = firstDiff else {
            let (longer, shorter) = lastA > lastB ? ("A", "B") : ("B", "A")
            let common = min(lastA, lastB)
            try io.out.line("first divergence at seq \(common + 1): \(shorter) ends at seq \(common); \(longer) continues to seq \(max(lastA, lastB)) (the first \(common) records are identical)")
            let tj = lastA > lastB ? a : b
            let e = try tj.event(at: common + 1)
            try io.out.line("  \(longer) " + EventRenderer(instruments: try tj.instruments()).oneLine(e))
            return .failed
        }
        let ea = try a.event(at: seq)
        let eb = try b.event(at: seq)
        let ra = EventRenderer(instruments: try a.instruments())
        let rb = EventRenderer(instruments: try b.instruments())
        try io.out.line("first divergence at seq \(seq)" + (seq == 1 ? " (the first record)" : " (the \(seq - 1) records before it are identical)"))
        try io.out.line("  A " + ra.oneLine(ea))
        try io.out.line("  B " + rb.oneLine(eb))
        var differences: [String] = []
        if ea.event.kind != eb.event.kind { differences.append("kind: \(ea.event.kind.name) ≠ \(eb.event.kind.name)") }
        if ea.eventTime != eb.eventTime { differences.append("eventTime: \(Text.time(ea.eventTime)) ≠ \(Text.time(eb.eventTime))") }
        if !ignore && ea.recordTime != eb.recordTime { differences.append("recordTime: \(Text.time(ea.recordTime)) ≠ \(Text.time(eb.recordTime))") }
        if ea.causation != eb.causation { differences.append("causation: \(ea.causation) ≠ \(eb.causation)") }
        if ea.event.kind == eb.event.kind {
            for (fa, fb) in zip(ea.event.fields, eb.event.fields) where fa.value != fb.value {
                differences.append("\(fa.name): \(ra.text(fa.value)) ≠ \(rb.text(fb.value))")
            }
        }
        if differences.isEmpty { differences.append("the encoded bytes differ (a layout version or an exact decimal's scale)") }
        for d in differences { try io.out.line("    " + d) }
        return .failed
    }

    /// Byte equality of two records, optionally ignoring the record time and the CRC.
    static func same(_ x: UnsafeRawBufferPointer, _ y: UnsafeRawBufferPointer, ignoreRecordTime: Bool) -> Bool {
        guard x.count == y.count else { return false }
        guard ignoreRecordTime else { return memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 }
        let crc = x.count - RecordHeader.trailerSize
        return memcmp(x.baseAddress!, y.baseAddress!, 24) == 0
            && memcmp(x.baseAddress! + 32, y.baseAddress! + 32, crc - 32) == 0
    }
}
