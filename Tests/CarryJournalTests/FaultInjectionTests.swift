import CarryCore
@testable import CarryJournal
import CarryTesting
import Foundation
import Testing

/// Each test scopes its faults to its own scratch directory, so other suites running in
/// parallel never see them.
@Suite("Journal under injected LMDB faults")
struct FaultInjectionTests {
    func haltsCleanly(_ fault: LMDBFault, expect code: JournalError.Code, _ phrase: String) throws {
        let dir = ScratchDirectory("faults")
        var fault = fault
        fault.pathContains = dir.path
        defer { LMDBFaultInjection.disarm(pathContains: dir.path) }
        let journal = try newJournal(dir)
        let writer = try journal.makeWriter()
        let acked = try writer.append((0..<10).map { tick(Int64($0)) })
        #expect(acked == 1...10)
        LMDBFaultInjection.arm(fault)
        do {
            try writer.append((10..<20).map { tick(Int64($0)) })
            Issue.record("append succeeded despite \(fault)")
        } catch {
            #expect(error.code == code)
            #expect(error.message.contains(phrase), "\(error.message)")
            #expect(error.message.contains("acknowledged so far are safe") || code == .mapFull)
        }
        LMDBFaultInjection.disarm(pathContains: dir.path)
        // Halted: nothing more is accepted, and the reason is repeated.
        do {
            try writer.append(tick(99))
            Issue.record("a halted writer accepted an event")
        } catch {
            #expect(error.code == .writerHalted)
            #expect(error.message.contains(phrase))
        }
        #expect(throws: JournalError.self) { try writer.close() }
        // Readable up to the last acknowledged seq, and intact.
        let reader = try Journal.open(dir.sub("j"))
        #expect(try reader.lastSeq() == 10)
        let report = JournalVerifier.verify(path: dir.sub("j"))
        #expect(report.isClean, "\(report.problems)")
        #expect(report.events == 10)
        // A new writer continues from seq 11.
        let again = try journal.makeWriter()
        #expect(try again.append(tick(100)) == 11)
        try again.close()
    }

    @Test("EIO on commit halts the writer and loses nothing acknowledged")
    func eioOnCommit() throws {
        try haltsCleanly(LMDBFault(.commit, code: LMDBFault.eio), expect: .ioError, "EIO")
    }

    @Test("ENOSPC on commit halts the writer and loses nothing acknowledged")
    func enospcOnCommit() throws {
        try haltsCleanly(LMDBFault(.commit, code: LMDBFault.enospc), expect: .diskFull, "disk is full")
    }

    @Test("MAP_FULL on commit halts the writer and loses nothing acknowledged")
    func mapFullOnCommit() throws {
        try haltsCleanly(LMDBFault(.commit, code: LMDBFault.mapFull), expect: .mapFull, "map is full")
    }

    @Test("EIO on a put halts the writer too")
    func eioOnPut() throws {
        try haltsCleanly(LMDBFault(.put, afterCalls: 3, code: LMDBFault.eio), expect: .ioError, "EIO")
    }

    @Test("MAP_FULL on a put grows the map and the batch commits")
    func mapFullOnPutGrows() throws {
        let dir = ScratchDirectory("faults")
        defer { LMDBFaultInjection.disarm(pathContains: dir.path) }
        let journal = try newJournal(dir)
        let writer = try journal.makeWriter()
        LMDBFaultInjection.arm(LMDBFault(.put, afterCalls: 5, code: LMDBFault.mapFull, pathContains: dir.path))
        let seqs = try writer.append((0..<10).map { tick(Int64($0)) })
        #expect(seqs == 1...10)
        #expect(writer.stats.mapGrowths == 1)
        try writer.close()
        #expect(JournalVerifier.verify(path: dir.sub("j")).isClean)
    }

    @Test("READERS_FULL on a read is an error that says what to do")
    func readersFull() throws {
        let dir = ScratchDirectory("faults")
        defer { LMDBFaultInjection.disarm(pathContains: dir.path) }
        let journal = try newJournal(dir)
        LMDBFaultInjection.arm(LMDBFault(.beginRead, code: LMDBFault.readersFull, pathContains: dir.path))
        do {
            _ = try journal.lastSeq()
            Issue.record("read succeeded")
        } catch let e as JournalError {
            #expect(e.code == .readersFull)
            #expect(e.message.contains("Close idle readers"))
        }
        #expect(try journal.lastSeq() == 0)
    }

    @Test("CARRY_LMDB_FAULT specs parse")
    func parseSpecs() {
        let f = LMDBFaultInjection.parse("commit:ENOSPC:3")
        #expect(f?.operation == .commit)
        #expect(f?.code == LMDBFault.enospc)
        #expect(f?.afterCalls == 3)
        #expect(LMDBFaultInjection.parse("put:MAP_FULL:1:sticky")?.sticky == true)
        #expect(LMDBFaultInjection.parse("nonsense") == nil)
    }
}
