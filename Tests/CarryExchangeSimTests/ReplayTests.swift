import CarryCore
@testable import CarryExchangeSim
import CarryTesting
import CarryVenues
import Foundation
import Testing

@Suite("Loopback venue: the replay clock", .serialized)
struct ReplayTests {
    @Test("venue time = start + wall elapsed × speed, exact on virtual time")
    func clockMath() {
        let c = SimReplayClock(start: marchFirst, speed: Fixed(3600))
        #expect(c.venueTime(wallElapsedMs: 0) == marchFirst)
        #expect(c.venueTime(wallElapsedMs: 1000) == marchFirst.adding(ms: Millis.hour))
        #expect(c.venueTime(wallElapsedMs: 24_000) == marchFirst.adding(ms: Millis.day))
        #expect(SimReplayClock(start: marchFirst, speed: Fixed("0.5")!).venueTime(wallElapsedMs: 3) == marchFirst.adding(ms: 1))
    }

    @Test("a position held across a replayed day receives exactly the funding the journal implies")
    func dayOfFunding() throws {
        let venue = try makeVenue { $0.replaySpeed = Fixed(3600) }
        let transport = VenueTransport(venue)
        let client = simClient(transport)
        let qty = Fixed("0.050")!
        let short = BybitOrderRequest(category: .linear, symbol: "BTCUSDT", side: .sell, orderType: .market, qty: qty, orderLinkId: "carry-perp")
        let spot = BybitOrderRequest(category: .spot, symbol: "BTCUSDT", side: .buy, orderType: .market, qty: qty, orderLinkId: "carry-spot")
        #expect(client.createOrder(short) != .unknown(reason: "") && client.createOrder(spot) != .unknown(reason: ""))
        // 24.1 s of wall time at 3600× in 250 ms steps: a day and 6 minutes of venue time (Binance
        // stamps settlements a few ms after the hour), bars and settlements delivered as it passes.
        for step in 1...97 {
            transport.wall = SimWallTime(elapsedMs: min(Int64(step) * 250, 24_100), epochMs: transport.wall.epochMs + 250)
            venue.tick(transport.wall)
        }
        let end = marchFirst.adding(ms: Millis.day + 6 * Millis.minute)
        #expect(venue.market.now == end)
        let filled = try #require(venue.account.order(linkId: "carry-perp"))
        #expect(filled.status == .filled)
        // Independently: every settlement of the journal after the fill, paid on −0.05 BTC at its mark.
        let settlements = try journalSettlements("BTCUSDT", after: filled.updatedTime, through: end)
        #expect(settlements.count == 3)
        var expected = Fixed.zero
        for s in settlements {
            let mark = try #require(s.mark, "the bundled Binance settlements carry their mark price")
            expected += FundingMath.payment(positionQty: -qty, markPrice: mark, ratePerInterval: s.rate)
        }
        let rows = try client.transactionLog(category: .linear, type: "SETTLEMENT")
        #expect(rows.count == 3)
        // Two rows a page: the client follows nextPageCursor and reads the same three.
        #expect(try client.transactionLog(category: .linear, type: "SETTLEMENT", limit: 2, maxPages: 5) == rows)
        #expect(try client.transactionLog(category: .linear, type: "SETTLEMENT", limit: 2).count == 2)
        #expect(rows.reduce(Fixed.zero) { $0 + ($1.funding ?? .zero) } == expected)
        #expect(rows.map(\.transactionTime) == settlements.map(\.time).reversed())
        #expect(rows.allSatisfy { $0.size == -qty && $0.symbol == "BTCUSDT" })
        // The same payments are listed as Funding executions, apart from the fills.
        let executions = try client.executions(category: .linear)
        #expect(executions.funding.count == 3 && executions.fills.count == 1)
        #expect(executions.funding.reduce(Fixed.zero) { $0 - $1.execFee } == expected)
        #expect(venue.replay.delivered.settlements > 0)
    }

    @Test("public endpoints answer at the replayed time")
    func publicAtReplayTime() throws {
        let venue = try makeVenue { $0.replaySpeed = Fixed(3600) }
        venue.tick(SimWallTime(elapsedMs: 2000, epochMs: 0))
        let time = venue.handle(SimRequest(method: "GET", path: "/v5/market/time"), SimWallTime(elapsedMs: 2000, epochMs: 0))
        #expect((time.json["result"] as? [String: Any])?["timeSecond"] as? String == String(marchFirst.adding(ms: 2 * Millis.hour).ms / 1000))
        let kline = venue.handle(SimRequest(method: "GET", path: "/v5/market/kline", rawQuery: "category=linear&symbol=BTCUSDT&interval=60&limit=1"),
                                 SimWallTime(elapsedMs: 2000, epochMs: 0))
        let row = ((kline.json["result"] as? [String: Any])?["list"] as? [[String]])?.first
        #expect(row?.first == String(marchFirst.adding(ms: Millis.hour).ms), "the newest closed bar opened at 01:00")
        #expect(venue.statsJSON().contains("\"sourceVenue\":\"binance\""))
    }
}
