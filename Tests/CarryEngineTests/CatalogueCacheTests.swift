// The market catalogue cache: written when a market journal is closed after appends, used on
// the next open, caught up when the journal grew since, and ignored when it is corrupt or
// belongs to another journal — the catalogue is always what a full scan would give.

import CarryCore
import CarryEngine
import CarryJournal
import CarryTesting
import Foundation
import Testing

@Suite("Market catalogue cache")
struct CatalogueCacheTests {
    func catalogue(_ m: MarketJournal) -> String {
        var text = m.instruments.map { "\($0.id) \($0.venue) \($0.kind) \($0.symbol)" }.joined(separator: "\n")
        for (s, e) in m.extents.sorted(by: { $0.key < $1.key }) { text += "\n\(s) \(e.first.ms) \(e.last.ms) \(e.count)" }
        for (id, v) in m.fundingIntervals.sorted(by: { $0.key.rawValue < $1.key.rawValue }) { text += "\n\(id)=\(v)" }
        return text
    }

    @Test("a reopened, grown, corrupted or foreign cache always yields the catalogue a full scan gives")
    func cache() throws {
        let dir = ScratchDirectory("catalogue")
        let path = dir.sub("m")
        let clock = { Timestamp(ms: 1_800_000_000_000) }
        let spot = InstrumentDefined(id: InstrumentId(0), venue: .binance, kind: .spot, symbol: "BTCUSDT", baseAsset: "BTC", quoteAsset: "USDT",
                                     tickSize: Fixed("0.01")!, qtyStep: Fixed("0.001")!, minQty: Fixed("0.001")!, minNotional: Fixed(5),
                                     fundingIntervalMinutes: 0, maxLeverage: Fixed(1))
        var perp = spot
        perp.kind = .linearPerpetual
        perp.fundingIntervalMinutes = 480
        func bars(_ hours: ClosedRange<Int64>, _ id: InstrumentId) -> [MarketRecord] {
            hours.map { h in
                .bar(BarClosed(instrumentId: id, intervalSeconds: 3600, openTime: Timestamp(ms: (h - 1) * 3_600_000), open: Fixed(1), high: Fixed(1),
                               low: Fixed(1), close: Fixed(1), volumeBase: Fixed(1), volumeQuote: Fixed(1)))
            }
        }
        var m = try MarketJournal(path: path, purpose: .importer, recordClock: clock)
        let ids = try m.define([spot, perp], at: Timestamp(ms: 0))
        _ = try m.append(bars(1...100, ids[0]) + [.funding(settlementTime: Timestamp(ms: 8 * 3_600_000),
                                                            FundingSettled(instrumentId: ids[1], ratePerInterval: Fixed("0.0001")!, intervalMinutes: 240, markPrice: nil))])
        try m.close()
        let full = catalogue(m)
        #expect(FileManager.default.fileExists(atPath: path + "/catalogue.cache"))
        let reopened = try MarketJournal(readOnlyPath: path)
        #expect(catalogue(reopened) == full && reopened.recordsScannedOnOpen == 0)
        // The same as a full scan: without the cache, every record is read.
        let cacheBytes = try Data(contentsOf: URL(fileURLWithPath: path + "/catalogue.cache"))
        try FileManager.default.removeItem(atPath: path + "/catalogue.cache")
        let scanned = try MarketJournal(readOnlyPath: path)
        #expect(catalogue(scanned) == full && scanned.recordsScannedOnOpen == 104)   // 2 definitions, 100 bars, an interval change, 1 settlement
        try cacheBytes.write(to: URL(fileURLWithPath: path + "/catalogue.cache"))

        // Grown by a writer that died before saving: the old cache plus the tail.
        m = try MarketJournal(path: path, purpose: .importer, recordClock: clock)
        _ = try m.append(bars(101...150, ids[0]) + bars(1...10, ids[1]))
        try m.close()
        let grown = catalogue(m)
        #expect(grown != full)
        #expect(m.extents[.bars(ids[0], intervalSeconds: 3600)]?.count == 150 && m.extents[.bars(ids[1], intervalSeconds: 3600)]?.count == 10)
        try cacheBytes.write(to: URL(fileURLWithPath: path + "/catalogue.cache"))
        let caughtUp = try MarketJournal(readOnlyPath: path)
        #expect(catalogue(caughtUp) == grown && caughtUp.recordsScannedOnOpen == 60)   // only the tail

        // Corrupt: ignored.
        var bad = cacheBytes
        bad[bad.count / 2] ^= 0x40
        try bad.write(to: URL(fileURLWithPath: path + "/catalogue.cache"))
        let corrupt = try MarketJournal(readOnlyPath: path)
        #expect(catalogue(corrupt) == grown && corrupt.recordsScannedOnOpen == 164)

        // Another journal's cache: ignored.
        let other = dir.sub("other")
        let o = try MarketJournal(path: other, purpose: .importer, recordClock: clock)
        _ = try o.define([spot], at: Timestamp(ms: 0))
        _ = try o.append(bars(1...3, InstrumentId(0)))
        try o.close()
        try FileManager.default.removeItem(atPath: path + "/catalogue.cache")
        try FileManager.default.copyItem(atPath: other + "/catalogue.cache", toPath: path + "/catalogue.cache")
        let foreign = try MarketJournal(readOnlyPath: path)
        #expect(catalogue(foreign) == grown && foreign.recordsScannedOnOpen == 164)
    }
}
