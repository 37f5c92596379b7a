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

    @Test("suggestions: close symbols first, by edit distance then name")
    func suggestions() {
        let all = ["BTCUSDT", "ETHUSDT", "ETHBTC", "ETHPERP", "SOLUSDT", "1000PEPEUSDT"]
        #expect(SymbolSuggestions.closest(to: "ETHUSDC", in: all, limit: 3) == ["ETHUSDT", "ETHBTC"])
        #expect(SymbolSuggestions.closest(to: "btcusdt", in: all, limit: 3).first == "BTCUSDT")
        #expect(SymbolSuggestions.closest(to: "XRPJPY", in: all, limit: 3).isEmpty)
    }
}
