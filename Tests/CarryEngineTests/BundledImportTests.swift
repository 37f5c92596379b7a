// The bundled history imported into a market journal: every stream's count and first/last
// time equal what the CSVs say (computed here independently, with plain string handling),
// the journal is in time order, the known holes are reported, and a second import is a no-op.

import CarryCore
import CarryEngine
import CarryJournal
import CarryTesting
import Foundation
import Logging
import Testing

/// Expected per-stream figures read straight from the CSV text.
struct ExpectedStream: Equatable, CustomStringConvertible {
    var count: Int
    var first: Int64
    var last: Int64
    var description: String { "\(count) [\(first), \(last)]" }
}

/// Data lines of a CSV (header dropped), split on commas.
func csvRows(_ path: String) throws -> [[Substring]] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    return text.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
}

/// The stream names `MarketJournal.describe` gives, mapped to what the CSVs hold.
func expectedStreams(_ root: String) throws -> [String: ExpectedStream] {
    var out: [String: ExpectedStream] = [:]
    let fm = FileManager.default
    for (dir, kind) in [("klines/binance-spot", "spot"), ("klines/binance-usdm-perp", "perp")] {
        for name in try fm.contentsOfDirectory(atPath: root + "/" + dir) where name.hasSuffix(".csv") {
            let parts = name.dropLast(4).split(separator: "_")
            let intervalMs: Int64 = parts[1] == "1h" ? 3_600_000 : 14_400_000
            let rows = try csvRows(root + "/" + dir + "/" + name)
            out["binance \(parts[0]) \(kind) \(parts[1]) bars"] = ExpectedStream(
                count: rows.count, first: Int64(rows.first![0])! + intervalMs, last: Int64(rows.last![0])! + intervalMs)
        }
    }
    for venue in ["binance", "bybit"] {
        var times: [String: Set<Int64>] = [:]
        for name in try fm.contentsOfDirectory(atPath: root + "/funding/" + venue) where name.hasSuffix(".csv") {
            for row in try csvRows(root + "/funding/" + venue + "/" + name) {
                times[String(row[0]), default: []].insert(Int64(row[1])!)
            }
        }
        for (symbol, set) in times {
            out["\(venue) \(symbol) funding"] = ExpectedStream(count: set.count, first: set.min()!, last: set.max()!)
        }
    }
    return out
}

func testLogger() -> Logger {
    var l = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    l.logLevel = .critical
    return l
}

@Suite("Bundled import", .serialized)
struct BundledImportTests {
    @Test("counts and first/last times per stream match the CSVs; known gaps reported; time-ordered; second import adds nothing")
    func importBundled() throws {
        let dir = ScratchDirectory("import")
        let importer = MarketImporter(logger: testLogger())
        let parsed = try importer.read(try BundledDataSet.discover(Fixtures.bundledData))
        let market = try MarketJournal(path: dir.sub("market"), purpose: .importer, recordClock: { Timestamp(ms: 1_800_000_000_000) })
        let summary = try importer.write(parsed, into: market)
        #expect(summary.appended == 252_576)
        #expect(summary.alreadyPresent == 0)
        #expect(summary.definitionsJournaled == 78)
        #expect(summary.intervalChanges == 14)
        #expect(summary.duplicatesAcrossFiles == 6570)   // BTC/ETH/SOL × 1,095 in both funding files of each venue

        // Every stream against the CSVs.
        let reports = try market.streamReports()
        let expected = try expectedStreams(Fixtures.bundledData)
        #expect(reports.count == expected.count)
        for r in reports {
            let e = try #require(expected[r.name], "unexpected stream \(r.name)")
            #expect(ExpectedStream(count: r.count, first: r.first!.ms, last: r.last!.ms) == e, "\(r.name)")
        }

        // The holes, and nothing else.
        var gaps: [String] = []
        for r in reports {
            for g in r.gaps { gaps.append("\(r.name): \(g.after.iso8601) → \(g.before.iso8601) \(g.missing)") }
        }
        #expect(gaps == [
            "binance BTCUSDT spot 1h bars: 2023-03-24T13:00:00Z → 2023-03-24T15:00:00Z 1",
            "binance ETHUSDT spot 1h bars: 2023-03-24T13:00:00Z → 2023-03-24T15:00:00Z 1",
            "binance SOLUSDT spot 1h bars: 2023-03-24T13:00:00Z → 2023-03-24T15:00:00Z 1",
            "binance BTCUSDT funding: 2023-12-31T16:00:00Z → 2025-08-21T08:00:00Z 1795",
            "binance ETHUSDT funding: 2023-12-31T16:00:00Z → 2025-08-21T08:00:00Z 1795",
            "bybit BTCUSDT funding: 2023-12-31T16:00:00Z → 2025-08-21T08:00:00Z 1795",
            "bybit ETHUSDT funding: 2023-12-31T16:00:00Z → 2025-08-21T08:00:00Z 1795",
        ])

        // Dense ids in file order; rules from the table; intervals from the data.
        let btcSpot = try #require(market.instrument(venue: .binance, kind: .spot, symbol: "BTCUSDT"))
        let btcPerp = try #require(market.instrument(venue: .binance, kind: .linearPerpetual, symbol: "BTCUSDT"))
        let injBybit = try #require(market.instrument(venue: .bybit, kind: .linearPerpetual, symbol: "INJUSDT"))
        #expect(btcSpot.id == InstrumentId(0))
        #expect(btcPerp.id == InstrumentId(3))
        #expect(btcSpot.fundingIntervalMinutes == 0 && btcSpot.maxLeverage == Fixed(1))
        #expect(btcPerp.fundingIntervalMinutes == 480 && btcPerp.tickSize.description == "0.10" && btcPerp.maxLeverage == Fixed(125))
        #expect(injBybit.fundingIntervalMinutes == 480 && injBybit.baseAsset == "INJ" && injBybit.quoteAsset == "USDT")
        #expect(market.instrument(venue: .bybit, kind: .linearPerpetual, symbol: "BTCPERP")?.quoteAsset == "USDC")

        // The journal is in time order (the fast read path), definitions first, exact values.
        var intervalEvents: [String] = []
        var firstBar: BarClosed?
        var solJitter: FundingSettled?
        try market.journal.withSnapshot { snap in
            #expect(try snap.disorderFromSeq() == 0)
            #expect(try snap.lastSeq() == UInt64(78 + 252_576 + 14))
            var previous = Timestamp.distantPast
            try snap.scan { view in
                let e = try view.decodeRecorded()
                #expect(e.eventTime >= previous)
                previous = e.eventTime
                if e.seq <= 78 {
                    if case .instrumentDefined = e.event {} else { Issue.record("seq \(e.seq) is not a definition") }
                }
                switch e.event {
                case .barClosed(let b) where b.instrumentId == btcSpot.id && firstBar == nil: firstBar = b
                case .fundingIntervalChanged(let c) where c.instrumentId == injBybit.id:
                    intervalEvents.append("\(e.eventTime.iso8601) \(c.previousMinutes)→\(c.newMinutes)")
                case .fundingSettled(let f) where e.eventTime.ms == 1_755_792_000_003:
                    if market.instrument(f.instrumentId)?.symbol == "SOLUSDT" { solJitter = f }
                default: break
                }
                return true
            }
        }
        #expect(firstBar?.open.description == "46216.93000000")
        #expect(firstBar?.closeTime == Timestamp(ms: 1_640_998_800_000))
        #expect(firstBar?.takerBuyVolumeQuote?.description == "37462156.91764400" && firstBar?.tradeCount == 38608)
        #expect(solJitter?.ratePerInterval.description == "0.00001366" && solJitter?.markPrice?.description == "181.55")
        #expect(intervalEvents == ["2026-02-19T17:00:00Z 480→60", "2026-02-27T00:00:00Z 60→480"])
        try market.close()

        // Importing again appends nothing: the last seq is unchanged.
        let again = try MarketJournal(path: dir.sub("market"), purpose: .importer, recordClock: { Timestamp(ms: 1_900_000_000_000) })
        let lastBefore = try again.journal.withSnapshot { try $0.lastSeq() }
        let second = try importer.write(try importer.read(try BundledDataSet.discover(Fixtures.bundledData)), into: again)
        #expect(second.appended == 0 && second.definitionsJournaled == 0 && second.intervalChanges == 0)
        #expect(second.alreadyPresent == 252_576)
        #expect(try again.journal.withSnapshot { try $0.lastSeq() } == lastBefore)
        try again.close()
    }
}
