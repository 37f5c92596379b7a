import CarryCore
@testable import CarryJournal
import CarryTesting
import Foundation
import Testing

func draft(_ event: Event, at ms: Int64, causation: CausationRef = .none) -> EventDraft {
    EventDraft(event, eventTime: Timestamp(ms: ms), recordTime: Timestamp(ms: ms), causation: causation)
}

func tick(_ ms: Int64) -> EventDraft { draft(.clockTicked(ClockTicked(purpose: .scan)), at: ms) }

func newJournal(_ dir: ScratchDirectory, _ name: String = "j", options: JournalOpenOptions = JournalOpenOptions()) throws -> Journal {
    try Journal.openOrCreate(dir.sub(name), create: JournalCreateOptions(purpose: .synthetic), options: options)
}

@Suite("Journal")
struct JournalTests {
    @Test("golden bytes: a framed record is header, payload and CRC-32C")
    func goldenRecord() throws {
        let e = Event.fundingSettled(FundingSettled(instrumentId: InstrumentId(3), ratePerInterval: Fixed("0.0001")!, intervalMinutes: 480, markPrice: Fixed("43127.5")!))
        let bytes = RecordCodec.encode(draft(e, at: 1_609_459_200_000), seq: 1)
        // Produced in Python with a bit-by-bit CRC-32C (see ARCHITECTURE.md, record layout).
        let expected = "010104001a000000010000000000000000703ebb7601000000703ebb76010000000000000000000003000000010000000000000004e0010000ab940600000000000186f90fa8"
        #expect(bytes.map { String(format: "%02x", $0) }.joined() == expected)
        #expect(bytes.count == 70)
    }

    @Test("appends are acknowledged with contiguous seqs and read back exactly")
    func appendAndRead() throws {
        let dir = ScratchDirectory("journal")
        let journal = try newJournal(dir)
        let writer = try journal.makeWriter()
        var gen = EventGenerator(seed: 1)
        var events: [Event] = []
        for round in 0..<20 {
            let batch = (0..<(round + 1)).map { _ in gen.anyEvent() }
            let seqs = try writer.append(batch.enumerated().map { draft($0.element, at: 1_000 * Int64(events.count + $0.offset)) })
            #expect(seqs.lowerBound == UInt64(events.count + 1))
            events += batch
        }
        try writer.close()
        #expect(writer.stats.commits == 20)
        let reopened = try Journal.open(dir.sub("j"))
        #expect(reopened.meta == journal.meta)
        try reopened.withSnapshot { snap in
            #expect(try snap.lastSeq() == UInt64(events.count))
            #expect(snap.count() == events.count)
            var i = 0
            try snap.scan { view in
                let r = try view.decodeRecorded()
                #expect(r.seq == UInt64(i + 1))
                #expect(r.event == events[i])
                #expect(r.eventTime.ms == Int64(1_000 * i))
                i += 1
                return true
            }
            #expect(i == events.count)
            // Ranges, reverse, single records.
            var seen: [UInt64] = []
            try snap.scan(from: 5, through: 9, reverse: true) { seen.append($0.header.seq); return true }
            #expect(seen == [9, 8, 7, 6, 5])
            #expect(try snap.event(at: 3)?.event == events[2])
            #expect(try snap.event(at: 10_000) == nil)
        }
        let report = JournalVerifier.verify(path: dir.sub("j"))
        #expect(report.isClean, "\(report.problems)")
        #expect(report.batches == 20)
    }

    @Test("a second writer is refused while one is open")
    func singleWriter() throws {
        let dir = ScratchDirectory("journal")
        let journal = try newJournal(dir)
        let writer = try journal.makeWriter()
        #expect(throws: JournalError.self) { _ = try journal.makeWriter() }
        do {
            _ = try journal.makeWriter()
        } catch {
            #expect(error.code == .busy)
        }
        try writer.close()
        let again = try journal.makeWriter()
        try again.close()
    }

    @Test("reading by time merges the ordered prefix and the time index")
    func timeOrder() throws {
        let dir = ScratchDirectory("journal")
        let journal = try newJournal(dir)
        let writer = try journal.makeWriter()
        // In order first, then a stream that goes back in time (a fetch paging backwards).
        let times: [Int64] = [10, 20, 30, 40, 50, 25, 15, 60, 5, 45, 45, 70]
        try writer.append(times.map { tick($0) })
        try writer.close()
        try journal.withSnapshot { snap in
            #expect(try snap.disorderFromSeq() == 6)
            var order: [(Int64, UInt64)] = []
            try snap.scanByTime { order.append(($0.header.eventTime.ms, $0.header.seq)); return true }
            let expected = times.enumerated().map { ($0.element, UInt64($0.offset + 1)) }.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
            #expect(order.map(\.0) == expected.map(\.0))
            #expect(order.map(\.1) == expected.map(\.1))
            var window: [Int64] = []
            try snap.scanByTime(from: Timestamp(ms: 20), through: Timestamp(ms: 45)) { window.append($0.header.eventTime.ms); return true }
            #expect(window == [20, 25, 30, 40, 45, 45])
            var limited: [UInt64] = []
            try snap.scanByTime(seqs: 1...7) { limited.append($0.header.seq); return true }
            #expect(limited == [1, 7, 2, 6, 3, 4, 5])
        }
        #expect(JournalVerifier.verify(path: dir.sub("j")).isClean)
    }

    @Test("an ordered journal needs no time index and bisects by time")
    func orderedTimeWindow() throws {
        let dir = ScratchDirectory("journal")
        let journal = try newJournal(dir)
        let writer = try journal.makeWriter()
        try writer.append((0..<1000).map { tick(Int64($0) * 10) })
        try writer.close()
        try journal.withSnapshot { snap in
            #expect(try snap.disorderFromSeq() == 0)
            var seqs: [UInt64] = []
            try snap.scanByTime(from: Timestamp(ms: 5_005), through: Timestamp(ms: 5_040)) { seqs.append($0.header.seq); return true }
            #expect(seqs == [502, 503, 504, 505])
            // The whole journal in order, and a seq range with a body that stops early.
            var all: [UInt64] = []
            #expect(try snap.scanByTime { all.append($0.header.seq); return true } == 1000)
            #expect(all == Array(1...1000))
            var limited: [UInt64] = []
            let visited = try snap.scanByTime(from: Timestamp(ms: 100), seqs: 5...20) { limited.append($0.header.seq); return limited.count < 3 }
            #expect(limited == [11, 12, 13] && visited == 3)
        }
    }

    @Test("the map grows when it fills, and the journal stays verifiable")
    func mapGrowth() throws {
        let dir = ScratchDirectory("journal")
        let journal = try newJournal(dir, options: JournalOpenOptions(initialMapSizeBytes: 256 << 10))
        let writer = try journal.makeWriter()
        var gen = EventGenerator(seed: 9)
        for i in 0..<40 {
            try writer.append((0..<500).map { j in draft(.barClosed(gen.bar()), at: Int64(i * 500 + j)) })
        }
        try writer.close()
        #expect(writer.stats.mapGrowths >= 3)
        #expect(try journal.lastSeq() == 20_000)
        let report = JournalVerifier.verify(path: dir.sub("j"))
        #expect(report.isClean, "\(report.problems)")
    }

    @Test("async appends resume after the commit")
    func asyncAppend() async throws {
        let dir = ScratchDirectory("journal")
        let journal = try newJournal(dir)
        let writer = try journal.makeWriter()
        var last: UInt64 = 0
        for i in 0..<50 {
            let seqs = try await writer.appendAsync([tick(Int64(i))])
            #expect(seqs.lowerBound == last + 1)
            last = seqs.upperBound
            #expect(writer.durableSeq >= last)
        }
        try writer.close()
    }

    @Test("group commit: concurrent producers share transactions, every ticket is honoured")
    func groupCommit() throws {
        let dir = ScratchDirectory("journal")
        let journal = try newJournal(dir)
        let writer = try journal.makeWriter()
        var tickets: [CommitTicket] = []
        for i in 0..<2000 { tickets.append(try writer.enqueue([tick(Int64(i))])) }
        for t in tickets { try t.wait() }
        try writer.close()
        #expect(writer.stats.events == 2000)
        #expect(writer.stats.commits < 2000)
        #expect(tickets.last!.seqs == 2000...2000)
        #expect(JournalVerifier.verify(path: dir.sub("j")).isClean)
    }

    @Test("a directory that is not a journal, and a newer schema, are refused with what to do")
    func badDirectories() throws {
        let dir = ScratchDirectory("journal")
        // Missing.
        do {
            _ = try Journal.open(dir.sub("missing"))
            Issue.record("opened a missing journal")
        } catch {
            #expect(error.code == .notAJournal)
            #expect(error.message.contains("carry import"))
        }
        // A directory with other files.
        try FileManager.default.createDirectory(atPath: dir.sub("other"), withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: dir.sub("other/notes.txt"), contents: Data("hello".utf8)))
        do {
            _ = try Journal.openOrCreate(dir.sub("other"), create: JournalCreateOptions(purpose: .synthetic))
            Issue.record("created a journal over other files")
        } catch {
            #expect(error.code == .notEmpty)
            #expect(error.message.contains("notes.txt"))
        }
        #expect(try String(contentsOfFile: dir.sub("other/notes.txt"), encoding: .utf8) == "hello")
        // A newer schema.
        let journal = try newJournal(dir, "newer")
        let w = try journal.makeWriter()
        try w.append(tick(1))
        try w.close()
        try withExtendedLifetime(journal) {
            let txn = try journal.env.beginWrite()
            try Journal.putMeta(txn, journal.metaDB, MetaKey.schemaVersion, le(UInt32(2)))
            try txn.commit()
        }
        do {
            _ = try Journal.open(dir.sub("newer"))
            Issue.record("opened a newer schema")
        } catch {
            #expect(error.code == .newerSchema)
            #expect(error.message.contains("v2"))
            #expect(error.message.contains("Upgrade Carry"))
        }
        let report = JournalVerifier.verify(path: dir.sub("newer"))
        #expect(report.exitStatus == 2)
    }

    @Test("content hash is independent of commit batching")
    func contentHash() throws {
        let dir = ScratchDirectory("journal")
        var gen = EventGenerator(seed: 5)
        let events = (0..<300).map { _ in gen.anyEvent() }
        func build(_ name: String, batch: Int) throws -> (Digest, Digest?) {
            let j = try newJournal(dir, name)
            let w = try j.makeWriter()
            for chunk in stride(from: 0, to: events.count, by: batch) {
                try w.append((chunk..<min(chunk + batch, events.count)).map { draft(events[$0], at: Int64($0)) })
            }
            try w.close()
            return try j.withSnapshot { (try $0.contentHash(), try $0.chainHead()?.digest) }
        }
        let a = try build("a", batch: 1)
        let b = try build("b", batch: 64)
        #expect(a.0 == b.0)
        #expect(a.1 != b.1)
    }
}
