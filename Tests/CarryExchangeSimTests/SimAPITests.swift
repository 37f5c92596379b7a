import CarryCore
@testable import CarryExchangeSim
import CarryTesting
import CarryVenues
import Foundation
import Testing

/// The simulator's answers: Bybit's shapes (checked against the venue's published samples),
/// its paging rules, and values the real client reads back exactly.
@Suite("exchange-sim: Bybit's public endpoints over a data set")
struct SimAPITests {
    static let t0 = Timestamp(ms: 1_700_000_000_000 / 3_600_000 * 3_600_000)

    static func api() throws -> BybitPublicAPI {
        let perp = InstrumentDefined(id: InstrumentId(0), venue: .bybit, kind: .linearPerpetual, symbol: "BTCUSDT", baseAsset: "BTC", quoteAsset: "USDT",
                                     tickSize: try Fixed.parse("0.10"), qtyStep: try Fixed.parse("0.001"), minQty: try Fixed.parse("0.001"),
                                     minNotional: try Fixed.parse("5"), fundingIntervalMinutes: 480, maxLeverage: try Fixed.parse("100.00"))
        var spot = perp
        spot.id = InstrumentId(1)
        spot.kind = .spot
        spot.fundingIntervalMinutes = 0
        func bars(_ id: InstrumentId, base: Int) throws -> [BarClosed] {
            try (0..<10).map { i in
                let p = try Fixed.parse("\(base + i).5")
                return BarClosed(instrumentId: id, intervalSeconds: 3600, openTime: t0.adding(ms: Int64(i) * Millis.hour), open: p, high: p, low: p, close: p,
                                 volumeBase: try Fixed.parse("1.25"), volumeQuote: try Fixed.parse("0.00000001"))
            }
        }
        let funding = try (0..<3).map { i in
            (time: t0.adding(ms: Int64(i) * 8 * Millis.hour + 3), settled: FundingSettled(instrumentId: InstrumentId(0), ratePerInterval: try Fixed.parse("-0.0000334\(i)"),
                                                                                     intervalMinutes: 480, markPrice: try Fixed.parse("100.5")))
        }
        let data = SimMarketData(venue: .bybit, instruments: [
            SimInstrument(definition: perp, bars: [3600: try bars(InstrumentId(0), base: 100)], funding: funding),
            SimInstrument(definition: spot, bars: [3600: try bars(InstrumentId(1), base: 200)], funding: []),
        ], now: t0.adding(ms: 24 * Millis.hour))
        return BybitPublicAPI(data: data)
    }

    func json(_ s: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any])
    }

    func sample(_ name: String) throws -> [String: Any] {
        let path = Fixtures.bybitSamples + "/docs/" + name
        let data = try #require(FileManager.default.contents(atPath: path), "missing \(path)")
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Every key of `ours` exists in `theirs` with the same JSON type (string, number, …).
    func sameShape(_ ours: [String: Any], _ theirs: [String: Any], _ path: String) {
        for (k, v) in ours {
            guard let t = theirs[k] else {
                Issue.record("\(path).\(k) is not in Bybit's sample")
                continue
            }
            #expect(kind(v) == kind(t), "\(path).\(k): \(kind(v)) where Bybit has \(kind(t))")
        }
    }

    func kind(_ v: Any) -> String {
        switch v {
        case is String: return "string"
        case is [Any]: return "array"
        case is [String: Any]: return "object"
        case is NSNumber: return "number"
        default: return "null"
        }
    }

    func get(_ path: String, _ q: [String: String]) throws -> (SimResponse, [String: Any]) {
        let r = try #require(try Self.api().handle(path: path, query: q))
        return (r, try json(r.body))
    }

    @Test("kline: Bybit's envelope and row shape, newest first, start/end/limit honoured, read back exactly")
    func kline() throws {
        let (r, body) = try get(Bybit.Path.kline, ["category": "linear", "symbol": "BTCUSDT", "interval": "60",
                                                   "start": String(Self.t0.adding(ms: 2 * Millis.hour).ms), "end": String(Self.t0.adding(ms: 6 * Millis.hour).ms), "limit": "3"])
        let theirs = try sample("market_kline.response.json")
        #expect(Set(body.keys) == Set(theirs.keys))
        sameShape(body["result"] as! [String: Any], theirs["result"] as! [String: Any], "result")
        let rows = try BybitParser.klines(Array(r.body.utf8))
        #expect(rows.map(\.start) == [6, 5, 4].map { Self.t0.adding(ms: $0 * Millis.hour) })
        #expect(rows[0].close.description == "106.5" && rows[0].volume.description == "1.25" && rows[0].turnover.description == "0.00000001")
        // Without bounds: the latest `limit`; spot is served from the spot instrument.
        let (spot, _) = try get(Bybit.Path.kline, ["category": "spot", "symbol": "BTCUSDT", "interval": "60", "limit": "2"])
        #expect(try BybitParser.klines(Array(spot.body.utf8)).map(\.close.description) == ["209.5", "208.5"])
    }

    @Test("kline: a bar not yet closed at the simulator's clock is never served")
    func klineNoLookAhead() throws {
        let data = try Self.api().data
        let early = SimMarketData(venue: .bybit, instruments: data.instruments, now: Self.t0.adding(ms: 3 * Millis.hour + 1))
        let r = try #require(BybitPublicAPI(data: early).handle(path: Bybit.Path.kline, query: ["category": "linear", "symbol": "BTCUSDT", "interval": "60"]))
        #expect(try BybitParser.klines(Array(r.body.utf8)).map(\.start) == [2, 1, 0].map { Self.t0.adding(ms: $0 * Millis.hour) })
    }

    @Test("funding history: shape, newest first, endTime paging, startTime alone refused")
    func funding() throws {
        let (r, body) = try get(Bybit.Path.fundingHistory, ["category": "linear", "symbol": "BTCUSDT", "endTime": String(Self.t0.adding(ms: 8 * Millis.hour + 3).ms), "limit": "200"])
        let theirs = try sample("market_history-fund-rate.response.json")
        #expect(Set(body.keys) == Set(theirs.keys))
        let item = ((body["result"] as! [String: Any])["list"] as! [[String: Any]])[0]
        let theirItem = ((theirs["result"] as! [String: Any])["list"] as! [[String: Any]])[0]
        #expect(Set(item.keys) == Set(theirItem.keys))
        sameShape(item, theirItem, "result.list[0]")
        let rates = try BybitParser.fundingHistory(Array(r.body.utf8))
        #expect(rates.map(\.rate.description) == ["-0.00003341", "-0.00003340"])
        #expect(rates.map(\.time.ms) == [Self.t0.ms + 8 * Millis.hour + 3, Self.t0.ms + 3])
        let (bad, _) = try get(Bybit.Path.fundingHistory, ["category": "linear", "symbol": "BTCUSDT", "startTime": "1"])
        #expect(bad.retCode == 10001)
    }

    @Test("instruments-info: Bybit's field names and types; linear pages by nextPageCursor")
    func instruments() throws {
        let (r, body) = try get(Bybit.Path.instrumentsInfo, ["category": "linear", "symbol": "BTCUSDT"])
        let theirs = try sample("market_instrument.response.linear.perpetual.json")
        let item = ((body["result"] as! [String: Any])["list"] as! [[String: Any]])[0]
        let theirItem = ((theirs["result"] as! [String: Any])["list"] as! [[String: Any]])[0]
        sameShape(item, theirItem, "result.list[0]")
        for nested in ["lotSizeFilter", "priceFilter", "leverageFilter"] {
            sameShape(item[nested] as! [String: Any], theirItem[nested] as! [String: Any], nested)
        }
        let page = try BybitParser.instruments(Array(r.body.utf8), category: .linear)
        #expect(page.list.map(\.symbol) == ["BTCUSDT"] && page.list[0].fundingIntervalMinutes == 480 && page.list[0].tickSize.description == "0.10")
        let (spotR, spotBody) = try get(Bybit.Path.instrumentsInfo, ["category": "spot", "symbol": "BTCUSDT"])
        let spotTheirs = try sample("market_instrument.response.spot.json")
        let spotItem = ((spotBody["result"] as! [String: Any])["list"] as! [[String: Any]])[0]
        sameShape(spotItem, ((spotTheirs["result"] as! [String: Any])["list"] as! [[String: Any]])[0], "spot result.list[0]")
        #expect(try BybitParser.instruments(Array(spotR.body.utf8), category: .spot).list[0].qtyStep.description == "0.001")
        // An unknown symbol is an empty list, as on Bybit.
        let (none, _) = try get(Bybit.Path.instrumentsInfo, ["category": "linear", "symbol": "NOPE"])
        #expect(try BybitParser.instruments(Array(none.body.utf8), category: .linear).list.isEmpty)
    }

    @Test("tickers: a subset of Bybit's ticker fields, as of the simulator's clock")
    func tickers() throws {
        let (r, body) = try get(Bybit.Path.tickers, ["category": "linear", "symbol": "BTCUSDT"])
        let theirs = try sample("market_tickers.response.inverse.json")
        sameShape(((body["result"] as! [String: Any])["list"] as! [[String: Any]])[0],
                  ((theirs["result"] as! [String: Any])["list"] as! [[String: Any]])[0], "result.list[0]")
        let t = try #require(try BybitParser.tickers(Array(r.body.utf8)).first)
        #expect(t.lastPrice?.description == "109.5")       // the last closed perp bar
        #expect(t.indexPrice?.description == "209.5")      // the spot pair's last close
        #expect(t.markPrice?.description == "100.5")       // the latest settlement's mark
        #expect(t.fundingRate?.description == "-0.00003342")
        #expect(t.nextFundingTime?.ms == Self.t0.ms + 24 * Millis.hour + 3)
        #expect(t.fundingIntervalHours == 8)
        let (_, spotBody) = try get(Bybit.Path.tickers, ["category": "spot"])
        sameShape(((spotBody["result"] as! [String: Any])["list"] as! [[String: Any]])[0],
                  ((try sample("market_tickers.response.spot.json")["result"] as! [String: Any])["list"] as! [[String: Any]])[0], "spot result.list[0]")
    }

    @Test("time: the simulator's clock in Bybit's shape")
    func time() throws {
        let (r, body) = try get(Bybit.Path.serverTime, [:])
        let theirs = try sample("market_time.response.json")
        sameShape(body["result"] as! [String: Any], theirs["result"] as! [String: Any], "result")
        #expect(try BybitParser.serverTime(Array(r.body.utf8)).time == Self.t0.adding(ms: 24 * Millis.hour))
    }

    @Test("errors: unknown symbol and category are retCode 10001 with Bybit's words; unknown paths are not served")
    func errors() throws {
        let (r, _) = try get(Bybit.Path.kline, ["category": "linear", "symbol": "NOPE", "interval": "60"])
        #expect(r.status == 200 && r.retCode == 10001 && r.body.contains("Not supported symbols"))
        let (c, _) = try get(Bybit.Path.tickers, ["category": "option"])
        #expect(c.retCode == 10001)
        #expect(try Self.api().handle(path: "/v5/order/create", query: [:]) == nil)
    }
}

/// The rate limit and fault schedule, on explicit times.
@Suite("exchange-sim: rate limit and faults")
struct SimGateTests {
    @Test("a rolling window: the limit passes, the next is a 10006 and a violation, the window slides")
    func window() {
        let gate = SimGate(rateLimit: SimRateLimit(limit: 3, windowMs: 1000), plan: SimFaultPlan())
        #expect(gate.admit("/k", nowMs: 0) == .serve(SimLimitHeaders(limit: 3, remaining: 2, resetInMs: 1000), delayMs: 0))
        #expect(gate.admit("/k", nowMs: 100) == .serve(SimLimitHeaders(limit: 3, remaining: 1, resetInMs: 900), delayMs: 0))
        #expect(gate.admit("/f", nowMs: 150) == .serve(SimLimitHeaders(limit: 3, remaining: 2, resetInMs: 1000), delayMs: 0))   // per endpoint
        #expect(gate.admit("/k", nowMs: 200) == .serve(SimLimitHeaders(limit: 3, remaining: 0, resetInMs: 800), delayMs: 0))
        #expect(gate.admit("/k", nowMs: 300) == .reject10006(SimLimitHeaders(limit: 3, remaining: 0, resetInMs: 700)))
        #expect(gate.stats.limitViolations == 1)
        // At 1001 the request of t=0 has left the window (the rejected one still counts).
        if case .serve = gate.admit("/k", nowMs: 1_101) {} else { Issue.record("not admitted after the window slid") }
        #expect(gate.stats.limitViolations == 1 && gate.stats.requests == 6 && gate.stats.served == 5)
    }

    @Test("faults fire on every N-th request at a seeded phase; injected faults are not violations")
    func faults() {
        let plan = SimFaultPlan(faults: [(.http5xx, 4), (.slow, 5)], seed: 42, slowMs: 250)
        let gate = SimGate(rateLimit: SimRateLimit(limit: 1_000_000), plan: plan)
        var failed: [Int] = []
        var slow = 0
        for i in 1...100 {
            switch gate.admit("/k", nowMs: Int64(i)) {
            case .fail5xx: failed.append(i)
            case .serve(_, let delay) where delay == 250: slow += 1
            default: break
            }
        }
        #expect(failed.count == 25)
        #expect(zip(failed, failed.dropFirst()).allSatisfy { $1 - $0 == 4 })
        #expect(slow == (1...100).filter { slowAlso($0, plan) && !failed.contains($0) }.count)
        #expect(slow >= 15)
        #expect(gate.stats.injected[.http5xx] == 25 && gate.stats.limitViolations == 0)
        // The same seed, the same schedule.
        let again = SimGate(rateLimit: SimRateLimit(limit: 1_000_000), plan: plan)
        let replay = (1...100).filter { i in again.admit("/k", nowMs: Int64(i)) == .fail5xx }
        #expect(replay == failed)
    }

    /// Whether request `n` is also on the slow schedule (the first matching fault wins).
    func slowAlso(_ n: Int, _ plan: SimFaultPlan) -> Bool {
        var rng = SplitMix64(seed: plan.seed)
        let phases = plan.faults.map { Int(rng.next() % UInt64($0.every)) }
        return (n + phases[1]) % 5 == 0
    }

    @Test("fault specs parse as KIND:N")
    func parse() {
        #expect(SimFaultPlan.parse("10006:7")?.kind == .rateLimit)
        #expect(SimFaultPlan.parse("drop:3")?.every == 3)
        #expect(SimFaultPlan.parse("slow:0") == nil)
        #expect(SimFaultPlan.parse("teapot:2") == nil)
    }
}
