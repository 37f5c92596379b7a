import CarryCore
import CarryEngine
@testable import CarryExchangeSim
import CarryJournal
import CarryTesting
import CarryVenues
import Foundation
import Logging
import Testing

/// `MarketFetcher` in process, against the simulator's API without sockets.
@Suite("MarketFetcher against the in-process simulator")
struct MarketFetcherTests {
    final class NoSleep: VenueClock {
        var nowMs: Int64 = 0
        func sleep(ms: Int64) { nowMs += ms }
    }

    func fetch(_ transport: InProcessTransport, into path: String, symbols: [String], days: Int) throws -> FetchSummary {
        let client = BybitMarketClient(options: BybitClientOptions(baseURL: "http://sim"), transport: transport, clock: NoSleep(), logger: Logger(label: "test"))
        let fetcher = MarketFetcher(client: client, logger: Logger(label: "test"))
        var market: MarketJournal? = nil
        defer { try? market?.close() }
        return try fetcher.run(FetchRequest(symbols: symbols, days: days), openJournal: {
            let m = try MarketJournal(path: path, purpose: .fetch, recordClock: { Timestamp(ms: 0) })
            market = m
            return m
        })
    }

    @Test("a venue that repeats a kline row within a page still yields one bar per time")
    func repeatedRows() throws {
        let scratch = ScratchDirectory("fetcher")
        let data = try SimMarketData.load(journalPath: SourceJournal.shared.path, venue: .binance, now: nil)
        // Duplicate the first row of every kline page.
        let transport = InProcessTransport(BybitPublicAPI(data: data)) { path, body in
            guard path == Bybit.Path.kline, let open = body.range(of: "\"list\":[["), let end = body.range(of: "]", range: open.upperBound..<body.endIndex) else { return body }
            let row = body[body.index(before: open.upperBound)...end.lowerBound]
            return body.replacingCharacters(in: open.upperBound..<open.upperBound, with: row.dropFirst() + ",[")
        }
        let summary = try fetch(transport, into: scratch.sub("j"), symbols: ["BTCUSDT"], days: 10)
        let bars = summary.streams.first { $0.name == "BTCUSDT linear 1h bars" }
        #expect(bars?.appended == 240)
        #expect(bars?.extent?.count == 240)
        let content = try marketContent(scratch.sub("j"), venue: .bybit, from: .distantPast, to: .distantFuture)
        let lines = try #require(content["linear BTCUSDT bars 3600"])
        #expect(lines.count == 240 && Set(lines).count == 240)
    }

    @Test("a window longer than the data stops at the venue's first record; a perp without a spot pair is noted")
    func shortHistoryNoSpot() throws {
        let scratch = ScratchDirectory("fetcher")
        let full = try SimMarketData.load(journalPath: SourceJournal.shared.path, venue: .binance, now: nil)
        let perpOnly = SimMarketData(venue: .binance, instruments: full.instruments.filter { $0.definition.kind != .spot }, now: full.now)
        let transport = InProcessTransport(BybitPublicAPI(data: perpOnly))
        let summary = try fetch(transport, into: scratch.sub("j"), symbols: ["ETHUSDT"], days: 400)
        #expect(summary.withoutSpot == ["ETHUSDT"])
        #expect(summary.streams.map(\.name) == ["ETHUSDT funding", "ETHUSDT linear 1h bars"])
        #expect(summary.streams[1].appended == 2611)   // everything the source holds
        #expect(summary.streams[0].appended == 327)
        // Paging backwards: a full page, then the rest; no request after the venue ran dry.
        #expect(transport.requests < 12)
    }

    @Test("suggestions: close symbols first, by edit distance then the order given")
    func suggestions() {
        let all = ["BTCUSDT", "ETHUSDT", "ETHBTC", "ETHPERP", "SOLUSDT", "1000PEPEUSDT"]
        #expect(SymbolSuggestions.closest(to: "ETHUSDC", in: all, limit: 3) == ["ETHUSDT", "ETHBTC"])
        #expect(SymbolSuggestions.closest(to: "btcusdt", in: all, limit: 3).first == "BTCUSDT")
        #expect(SymbolSuggestions.closest(to: "XRPJPY", in: all, limit: 3).isEmpty)
    }
}

@Suite("Fetched funding intervals")
struct FundingIntervalInferenceTests {
    @Test("each settlement gets the spacing from the one before it (8 h → 1 h → 8 h, as INJUSDT in Feb 2026), rounding off the venue's late milliseconds")
    func inference() {
        let h = Millis.hour
        let base = Timestamp(iso8601: "2026-02-19T00:00:00Z")!
        // Oldest → newest: 00:00, 08:00, 16:00 (8 h); 17:00, 18:00 (1 h); 02:00 next day, 10:00 (8 h).
        let oldestFirst = [0, 8 * h, 16 * h + 3, 17 * h, 18 * h + 2, 26 * h, 34 * h].map { base.adding(ms: $0) }
        let got = MarketFetcher.inferIntervals(oldestFirst.reversed(), current: 480)
        // Newest first: 10:00 (8 h after 02:00), 02:00 (8 h after 18:00), 18:00 (1 h), 17:00 (1 h),
        // 16:00 (8 h), 08:00 (8 h), 00:00 (the oldest: its newer neighbour's).
        #expect(got == [480, 480, 60, 60, 480, 480, 480])
        // A missed settlement (16 h spacing) is not an interval: the newer one's is used.
        let gap = [0, 8 * h, 24 * h, 32 * h].map { base.adding(ms: $0) }
        #expect(MarketFetcher.inferIntervals(gap.reversed(), current: 480) == [480, 480, 480, 480])
        // A single settlement: the instrument's current interval.
        #expect(MarketFetcher.inferIntervals([base], current: 240) == [240])
        #expect(MarketFetcher.inferIntervals([], current: 240).isEmpty)
    }
}
