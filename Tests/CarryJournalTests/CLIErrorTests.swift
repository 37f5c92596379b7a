import CarryCore
@testable import CarryJournal
import CarryTesting
import Foundation
import Testing

/// What an operator sees when the journal is not what a command expects: one line saying
/// what is wrong and what to do, a documented exit status, nothing acknowledged lost.
@Suite("carry: journal errors at the command line")
struct CLIErrorTests {
    let carry = Fixtures.executable("carry")

    @Test("a directory holding other files is refused, exit 2, files untouched")
    func notAJournal() throws {
        let dir = ScratchDirectory("cli")
        try FileManager.default.createDirectory(atPath: dir.sub("photos"), withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: dir.sub("photos/cat.jpg"), contents: Data([1, 2, 3])))
        let r = try runProcess(carry, ["debug-append", "--journal", dir.sub("photos"), "--limit", "10"])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("carry: error: "))
        #expect(r.stderr.contains("not empty") && r.stderr.contains("cat.jpg"))
        #expect(!r.stderr.contains("Fatal") && !r.stderr.contains("Stack"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.sub("photos")) == ["cat.jpg"])
    }

    @Test("a journal of a newer schema is refused, exit 2, and left unchanged")
    func newerSchema() throws {
        let dir = ScratchDirectory("cli")
        let journal = try Journal.openOrCreate(dir.sub("j"), create: JournalCreateOptions(purpose: .synthetic))
        let w = try journal.makeWriter()
        try w.append(EventDraft(.clockTicked(ClockTicked(purpose: .scan)), eventTime: Timestamp(ms: 1), recordTime: Timestamp(ms: 1)))
        try w.close()
        let txn = try journal.env.beginWrite()
        try Journal.putMeta(txn, journal.metaDB, MetaKey.schemaVersion, le(UInt32(7)))
        try txn.commit()
        let before = try Data(contentsOf: URL(fileURLWithPath: dir.sub("j/data.mdb")))
        let r = try runProcess(carry, ["debug-append", "--journal", dir.sub("j"), "--limit", "10"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("schema v7") && r.stderr.contains("Upgrade Carry"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.sub("j/data.mdb"))) == before)
    }

    @Test("a full disk halts the writer, exit 1, every acknowledged event kept")
    func fullDisk() throws {
        let dir = ScratchDirectory("cli")
        // The third commit fails with ENOSPC (debug builds honour CARRY_LMDB_FAULT).
        let r = try runProcess(carry, ["debug-append", "--journal", dir.sub("j"), "--batch", "10", "--limit", "1000"],
                               environment: ["CARRY_LMDB_FAULT": "commit:ENOSPC:3"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("disk is full") && r.stderr.contains("Free space"))
        let acked = r.stdout.split(separator: "\n").compactMap { $0.hasPrefix("ack ") ? UInt64($0.dropFirst(4)) : nil }.max() ?? 0
        // The creation transaction is commit 1, so two batches were acknowledged.
        #expect(acked == 10)
        let report = JournalVerifier.verify(path: dir.sub("j"))
        #expect(report.isClean, "\(report.problems)")
        #expect(report.lastSeq == acked)
    }

    @Test("a corrupt record is reported with its seq, never returned")
    func corruptRecord() throws {
        let dir = ScratchDirectory("cli")
        let r = try runProcess(carry, ["debug-append", "--journal", dir.sub("j"), "--batch", "5", "--limit", "20"])
        #expect(r.status == 0)
        // Flip one payload byte of seq 7 in the data file (found by its header bytes).
        let url = URL(fileURLWithPath: dir.sub("j/data.mdb"))
        var data = try Data(contentsOf: url)
        let journal = try Journal.open(dir.sub("j"))
        let record = try #require(try journal.withSnapshot { try $0.withRecord(at: 7) { Array($0.bytes) } })
        let needle = Data(record.prefix(24))
        let at = try #require(data.range(of: needle)?.lowerBound)
        data[at + RecordHeader.size] ^= 0x40
        try data.write(to: url)
        let reopened = try Journal.open(dir.sub("j"))
        do {
            _ = try reopened.withSnapshot { try $0.event(at: 7) }
            Issue.record("a corrupt record was returned")
        } catch let e as JournalError {
            #expect(e.code == .corrupt)
            #expect(e.message.contains("seq 7") && e.message.contains("checksum"))
            #expect(e.message.contains("carry-journal verify"))
        }
        let report = JournalVerifier.verify(path: dir.sub("j"))
        #expect(report.exitStatus == 1)
        #expect(report.firstProblem?.seq == 7)
    }
}
