// The backtest's read-ahead: it must hand over exactly the records an in-line scan selects, in
// the scan's order, across batch boundaries; a damaged record must surface as the scan's own
// error after everything read before it; and stopping it must end the reader.

import CarryCore
@testable import CarryEngine
import CarryJournal
import CarryTesting
import Foundation
import Testing

@Suite("Backtest read-ahead")
struct MarketReadAheadTests {
    static let hour = Millis.hour

    /// Hourly bars of instruments 0–3 (instrument 3 also at 4 h), settlements of instrument 1
    /// every 8 h and a clock tick every hour, in time order; the bar of instrument 1 at hour
    /// `marked` closes at a price whose mantissa is 0x0102030405060708 (to find it on disk).
    static func records(hours: Int, marked: Int = -1) -> [EventDraft] {
        var out: [EventDraft] = []
        for h in 1...hours {
            let t = Int64(h) * hour
            for id in UInt32(0)..<4 {
                let close = id == 1 && h == marked ? Fixed(mantissa: 0x0102_0304_0506_0708, scale: 8) : Fixed(Int64(100 + h % 7))
                let bar = BarClosed(instrumentId: InstrumentId(id), intervalSeconds: 3600, openTime: Timestamp(ms: t - hour),
                                    open: Fixed(100), high: Fixed(110), low: Fixed(90), close: close, volumeBase: Fixed(5), volumeQuote: Fixed(500))
                out.append(EventDraft(.barClosed(bar), eventTime: Timestamp(ms: t), recordTime: Timestamp(ms: t), causation: .none))
            }
            if h % 4 == 0 {
                let bar = BarClosed(instrumentId: InstrumentId(3), intervalSeconds: 4 * 3600, openTime: Timestamp(ms: t - 4 * hour),
                                    open: Fixed(1), high: Fixed(1), low: Fixed(1), close: Fixed(1), volumeBase: Fixed(1), volumeQuote: Fixed(1))
                out.append(EventDraft(.barClosed(bar), eventTime: Timestamp(ms: t), recordTime: Timestamp(ms: t), causation: .none))
            }
            if h % 8 == 0 {
                let f = FundingSettled(instrumentId: InstrumentId(1), ratePerInterval: Fixed(mantissa: Int64(h), scale: 6), intervalMinutes: 480, markPrice: Fixed(100))
                out.append(EventDraft(.fundingSettled(f), eventTime: Timestamp(ms: t), recordTime: Timestamp(ms: t), causation: .none))
            }
            out.append(EventDraft(.clockTicked(ClockTicked(purpose: .scan)), eventTime: Timestamp(ms: t), recordTime: Timestamp(ms: t), causation: .none))
        }
        return out
    }

    static func write(_ drafts: [EventDraft], into dir: ScratchDirectory) throws -> Journal {
        let journal = try Journal.openOrCreate(dir.sub("market"), create: JournalCreateOptions(purpose: .synthetic))
        let writer = try journal.makeWriter()
        try writer.append(drafts)
        try writer.close()
        return journal
    }

    /// Instruments 1 and 3 traded, 1 h bars, hours 10 through `hours − 10`.
    static func selection(hours: Int) -> MarketReadAhead.Selection {
        MarketReadAhead.Selection(traded: [false, true, false, true], readsBars: [false, true, false, true], barIntervalSeconds: 3600,
                                  from: Timestamp(ms: 10 * hour), through: Timestamp(ms: Int64(hours - 10) * hour))
    }

    /// What the driver used to read in line: the same filter, straight from scanByTime.
    static func inLine(_ journal: Journal, _ s: MarketReadAhead.Selection) throws -> [(seq: UInt64, time: Timestamp, event: Event)] {
        var out: [(seq: UInt64, time: Timestamp, event: Event)] = []
        try journal.withSnapshot { snap in
            try snap.scanByTime(from: s.from, through: s.through) { view in
                let kind = view.header.kindCode
                guard kind == EventKind.barClosed.rawValue || kind == EventKind.fundingSettled.rawValue
                        || kind == EventKind.fundingIntervalChanged.rawValue else { return true }
                guard let id = try view.instrument(), id.index < s.traded.count, s.traded[id.index] else { return true }
                if let seconds = try view.barIntervalSeconds(), seconds != s.barIntervalSeconds || !s.readsBars[id.index] { return true }
                out.append((view.header.seq, view.header.eventTime, try view.decode()))
                return true
            }
        }
        return out
    }

    /// Everything the read-ahead hands over, in order, with the error that ended it.
    static func drain(_ reader: MarketReadAhead) -> (records: [(seq: UInt64, time: Timestamp, event: Event)], batches: Int, error: (any Error)?) {
        var out: [(seq: UInt64, time: Timestamp, event: Event)] = []
        var batches = 0
        do {
            while let batch = try reader.next() {
                batches += 1
                var b = 0, o = 0
                for isBar in batch.isBar {
                    if isBar {
                        out.append((batch.bars[b].seq, batch.bars[b].time, .barClosed(batch.bars[b].bar)))
                        b += 1
                    } else {
                        out.append(batch.others[o])
                        o += 1
                    }
                }
                #expect(b == batch.bars.count && o == batch.others.count)
                reader.recycle(batch)
            }
        } catch {
            return (out, batches, error)
        }
        return (out, batches, nil)
    }

    @Test("hands over exactly what an in-line scan selects, in order, across many batches and recycled storage")
    func sameRecordsInOrder() throws {
        let dir = ScratchDirectory("read-ahead")
        let hours = 12_000
        let journal = try Self.write(Self.records(hours: hours), into: dir)
        let selection = Self.selection(hours: hours)
        let expected = try Self.inLine(journal, selection)
        let reader = MarketReadAhead(journal: journal, selection: selection)
        defer { reader.stop() }
        let got = Self.drain(reader)
        #expect(got.error == nil)
        // More batches than circulate: storage is handed back and refilled.
        #expect(got.batches > 2 * MarketReadAhead.poolSize && expected.count > 25_000)
        #expect(got.records.map(\.seq) == expected.map(\.seq))
        #expect(got.records.map(\.time) == expected.map(\.time))
        #expect(got.records.map(\.event) == expected.map(\.event))
    }

    @Test("a damaged record: everything read before it is handed over, then the scan's error")
    func damagedRecord() throws {
        let dir = ScratchDirectory("read-ahead")
        let hours = 8_000
        let marked = 6_000
        let selection = Self.selection(hours: hours)
        // Written and read in line, then closed (LMDB must not have the file open twice).
        let expected = try Self.inLine(try Self.write(Self.records(hours: hours, marked: marked), into: dir), selection)
        // Flip one byte of the marked close in the data file: that record's CRC fails.
        let url = URL(fileURLWithPath: dir.sub("market/data.mdb"))
        var bytes = try Data(contentsOf: url)
        let pattern: [UInt8] = [0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01]
        let at = try #require(bytes.firstRange(of: Data(pattern))?.lowerBound)
        bytes[at] ^= 0xFF
        try bytes.write(to: url)
        let damagedSeq = try #require(expected.first { if case .barClosed(let b) = $0.event { b.close.mantissa == 0x0102_0304_0506_0708 } else { false } }?.seq)

        let reopened = try Journal.open(dir.sub("market"), readOnly: true)
        let reader = MarketReadAhead(journal: reopened, selection: selection)
        defer { reader.stop() }
        let got = Self.drain(reader)
        let before = expected.filter { $0.seq < damagedSeq }
        #expect(got.records.map(\.seq) == before.map(\.seq) && before.count > 12_000)
        let error = try #require(got.error as? JournalError)
        #expect(error.code == .corrupt, "\(error)")
    }

    @Test("stopping mid-scan ends the reader; nothing more is handed over")
    func stopMidScan() throws {
        let dir = ScratchDirectory("read-ahead")
        let hours = 3000
        let journal = try Self.write(Self.records(hours: hours), into: dir)
        let reader = MarketReadAhead(journal: journal, selection: Self.selection(hours: hours))
        let first = try #require(try reader.next())
        #expect(first.count == MarketReadAhead.batchSize)
        reader.stop()
        #expect(try reader.next() == nil)
        reader.stop()   // again: harmless
    }
}
