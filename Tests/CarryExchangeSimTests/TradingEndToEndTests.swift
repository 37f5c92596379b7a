import CarryCore
import CarryExchangeSim
import CarryTesting
import CarryVenues
import Foundation
import Logging
import Testing

/// `carry exchange-sim` in a child process on 127.0.0.1, the trading client over libcurl.
struct TradingVenue {
    let sim: RunningSim
    let client: BybitTradingClient

    init(_ extra: [String] = []) throws {
        sim = try RunningSim(journal: SourceJournal.shared.path, ["--now", marchFirst.iso8601, "--limit", "1000"] + extra)
        client = simClient(try CurlHTTPTransport(), baseURL: sim.baseURL, clock: SystemVenueClock())
    }

    /// `POST /sim/…` (advance, clock-skew, maintenance).
    func control(_ pathAndQuery: String) throws {
        let r = try CurlHTTPTransport().send(HTTPRequest(url: sim.baseURL + pathAndQuery, method: "POST", body: []))
        guard r.status == 200 else { throw CLIFailure(message: "\(pathAndQuery): HTTP \(r.status)") }
    }

    /// `/sim/stats` as JSON.
    func stats() throws -> [String: Any] {
        let r = try CurlHTTPTransport().get(HTTPRequest(url: sim.baseURL + "/sim/stats"))
        return try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any] ?? [:]
    }

    func orders() throws -> [String: Int] { try stats()["orders"] as? [String: Int] ?? [:] }
    func injected() throws -> [String: Int] { try stats()["injected"] as? [String: Int] ?? [:] }
}

func perpSell(_ link: String, qty: String = "0.010") -> BybitOrderRequest {
    BybitOrderRequest(category: .linear, symbol: "BTCUSDT", side: .sell, orderType: .market, qty: Fixed(qty)!, orderLinkId: link)
}

@Suite("Loopback venue over HTTP: the trading client end to end", .serialized)
struct TradingEndToEndTests {
    @Test("place, query, fill, position, balance, cancel, funding in the transaction log")
    func lifecycle() throws {
        let v = try TradingVenue()
        defer { v.sim.stop() }
        guard case .accepted = v.client.createOrder(perpSell("e2e-perp")) else { Issue.record("not accepted"); return }
        let spot = BybitOrderRequest(category: .spot, symbol: "BTCUSDT", side: .buy, orderType: .market, qty: Fixed("0.010")!, orderLinkId: "e2e-spot")
        guard case .accepted = v.client.createOrder(spot) else { Issue.record("spot not accepted"); return }
        let limit = BybitOrderRequest(category: .linear, symbol: "ETHUSDT", side: .sell, orderType: .limit, qty: Fixed("0.10")!, price: Fixed(9000), orderLinkId: "e2e-limit")
        guard case .accepted = v.client.createOrder(limit) else { Issue.record("limit not accepted"); return }
        #expect(try v.client.queryOrder(category: .linear, orderLinkId: "e2e-perp")?.orderStatus == "New")
        try v.control("/sim/advance?by=\(Millis.day)")
        #expect(try v.client.queryOrder(category: .linear, orderLinkId: "e2e-perp")?.orderStatus == "Filled")
        #expect(try v.client.queryOrder(category: .spot, orderLinkId: "e2e-spot")?.cumExecQty == Fixed("0.010")!)
        let position = try #require(try v.client.positions(symbol: "BTCUSDT").first)
        #expect(position.signedSize == Fixed("-0.010")!)
        let wallet = try v.client.walletBalance()
        // Bybit takes a spot buy's fee in the coin bought: the wallet holds the quantity less the fee.
        let spotFill = try #require(try v.client.executions(category: .spot).fills.first)
        #expect(spotFill.feeCurrency == "BTC" && spotFill.execFee.isPositive)
        #expect(wallet.coin("BTC")?.walletBalance == Fixed("0.010")! - spotFill.execFee)
        let funding = try v.client.transactionLog(category: .linear, type: "SETTLEMENT")
        let filledAt = try #require(try v.client.queryOrder(category: .linear, orderLinkId: "e2e-perp")).updatedTime
        let settlements = try journalSettlements("BTCUSDT", after: filledAt, through: marchFirst.adding(ms: Millis.day))
        #expect(funding.count == settlements.count && !funding.isEmpty)
        let expected = settlements.reduce(Fixed.zero) { $0 + FundingMath.payment(positionQty: Fixed("-0.010")!, markPrice: $1.mark!, ratePerInterval: $1.rate) }
        #expect(funding.reduce(Fixed.zero) { $0 + $1.funding! } == expected)
        #expect(try v.client.cancelAll(category: .linear, symbol: "ETHUSDT").map(\.orderLinkId) == ["e2e-limit"])
        #expect(try v.client.openOrders(category: .linear).isEmpty)
        #expect(try v.orders()["placed"] == 3)
    }

    @Test("accepted but the answer dropped, or 503 after accepting: unknown, resolved by orderLinkId, never resent")
    func acceptedThenLost() throws {
        let v = try TradingVenue(["--fault", "drop-after-accept:2", "--fault", "5xx-after-accept:3"])
        defer { v.sim.stop() }
        var accepted = 0, unknown = 0, foundAfterUnknown = 0
        for i in 1...12 {
            let link = "lost-\(i)"
            switch v.client.createOrder(perpSell(link)) {
            case .accepted: accepted += 1
            case .unknown:
                unknown += 1
                // The core's resolution: ask by orderLinkId, never send again.
                if try v.client.queryOrder(category: .linear, orderLinkId: link) != nil { foundAfterUnknown += 1 }
            case .rejected(let code, let m, _): Issue.record("\(link) rejected \(code) \(m)")
            }
        }
        let orders = try v.orders()
        let injected = try v.injected()
        #expect(unknown == (injected["drop-after-accept"] ?? 0) + (injected["5xx-after-accept"] ?? 0) && unknown >= 6)
        #expect(foundAfterUnknown == unknown, "every unknown order exists at the venue")
        #expect(orders["createRequests"] == 12 && orders["placed"] == 12 && orders["distinctOrderLinkIds"] == 12 && orders["duplicatesRefused"] == 0)
        #expect(accepted + unknown == 12)
    }

    @Test("refusals: insufficient balance and minimum notional are typed rejections; nothing is placed")
    func injectedRejections() throws {
        let v = try TradingVenue(["--fault", "reject-balance:2", "--fault", "reject-min-notional:3"])
        defer { v.sim.stop() }
        var kinds: [BybitRejectKind] = []
        for i in 1...6 {
            if case .rejected(_, _, let kind) = v.client.createOrder(perpSell("rej-\(i)")) { kinds.append(kind) }
        }
        #expect(kinds == [.insufficientBalance, .belowMinimum, .insufficientBalance, .insufficientBalance])
        let orders = try v.orders()
        #expect(orders["placed"] == 2 && orders["rejected"] == 4)
        // A real shortfall too: 100 BTC short needs far more margin than 100,000 USDT.
        guard case .rejected(110007, _, .insufficientBalance) = v.client.createOrder(perpSell("too-big", qty: "100.000")) else { Issue.record("not refused"); return }
    }

    @Test("partial fills: PartiallyFilled after the first bar, Filled after the next, two executions")
    func partialFills() throws {
        let v = try TradingVenue(["--fault", "partial:1"])
        defer { v.sim.stop() }
        // A limit 1 % above the last close fills at its price on the next bar (far above it, the long would be liquidated at once).
        let market = try SimMarketData.load(journalPath: SourceJournal.shared.path, venue: nil, now: marchFirst)
        let perp = try #require(market.instrument(.linearPerpetual, "BTCUSDT"))
        let close = try #require(market.lastBar(perp, intervalSeconds: 3600)).close
        let price = close.multiplied(by: Fixed("1.01")!, scale: 1, .down)
        let limit = BybitOrderRequest(category: .linear, symbol: "BTCUSDT", side: .buy, orderType: .limit, qty: Fixed("0.020")!, price: price, orderLinkId: "part-1")
        guard case .accepted = v.client.createOrder(limit) else { Issue.record("not accepted"); return }
        try v.control("/sim/advance?by=\(Millis.hour)")
        let half = try #require(try v.client.queryOrder(category: .linear, orderLinkId: "part-1"))
        #expect(half.orderStatus == "PartiallyFilled" && half.cumExecQty == Fixed("0.010")! && half.leavesQty == Fixed("0.010")!)
        try v.control("/sim/advance?by=\(Millis.hour)")
        let full = try #require(try v.client.queryOrder(category: .linear, orderLinkId: "part-1"))
        #expect(full.orderStatus == "Filled" && full.cumExecQty == Fixed("0.020")!)
        let fills = try v.client.executions(category: .linear).fills
        #expect(fills.count == 2 && fills.allSatisfy { $0.execPrice == price && $0.execQty == Fixed("0.010")! && $0.isMaker })
        #expect(try v.injected()["partial"] == 1)
    }

    @Test("clock skew: 10002, the client resyncs and succeeds; a rate-limit storm: reads wait it out, a create is refused")
    func skewAndStorm() throws {
        let v = try TradingVenue(["--fault", "storm:7", "--storm-length", "3"])
        defer { v.sim.stop() }
        _ = try v.client.walletBalance()
        try v.control("/sim/clock-skew?ms=120000")
        _ = try v.client.walletBalance()
        #expect(v.client.stats.clockResyncs == 1)
        var outcomes: [BybitOrderOutcome] = []
        for i in 1...12 { outcomes.append(v.client.createOrder(perpSell("storm-\(i)"))) }
        for _ in 1...6 { _ = try v.client.positions() }
        let limited = outcomes.filter { if case .rejected(_, _, .rateLimited) = $0 { return true } else { return false } }.count
        let accepted = outcomes.filter { if case .accepted = $0 { return true } else { return false } }.count
        #expect(limited > 0 && accepted + limited == 12)
        #expect(try v.orders()["placed"] == accepted)
        #expect(try v.injected()["storm"] ?? 0 >= limited)
        #expect((try v.stats()["auth"] as? [String: Int])?["10002"] == 1)
    }

    @Test("maintenance: every request 503 for a while; a create in it is unknown, and the query after shows it was not placed")
    func maintenance() throws {
        let v = try TradingVenue()
        defer { v.sim.stop() }
        _ = try v.client.walletBalance()
        try v.control("/sim/maintenance?ms=700")
        guard case .unknown = v.client.createOrder(perpSell("maint-1")) else { Issue.record("not unknown"); return }
        // The query's reads back off through the 503s until the window ends.
        #expect(try v.client.queryOrder(category: .linear, orderLinkId: "maint-1") == nil)
        #expect(try v.stats()["maintenanceRejects"] as? Int ?? 0 >= 2)
        #expect(try v.orders()["placed"] == 0)
    }

    @Test("an unsupported request gets Bybit's envelope over HTTP, not a bare 404")
    func unsupportedOverHTTP() throws {
        let v = try TradingVenue()
        defer { v.sim.stop() }
        let r = try CurlHTTPTransport().send(HTTPRequest(url: v.sim.baseURL + "/v5/spot-lever-token/info", method: "POST", body: Array("{}".utf8)))
        #expect(r.status == 404)
        let env = try BybitParser.envelope(r.body)
        #expect(env.retCode == 10001 && env.retMsg.contains("/v5/spot-lever-token/info") && env.time == marchFirst.ms)
    }
}

@Suite("Loopback venue over HTTP: the replay clock", .serialized)
struct ReplayEndToEndTests {
    @Test("--replay-speed moves the venue's time by itself: an order fills without any advance, and stats say what is served")
    func replayRuns() throws {
        // 36,000×: ten hours a second.
        let v = try TradingVenue(["--replay-speed", "36000", "--source-venue", "binance"])
        defer { v.sim.stop() }
        guard case .accepted = v.client.createOrder(perpSell("replay-1")) else { Issue.record("not accepted"); return }
        var status = ""
        for _ in 0..<50 where status != "Filled" {
            usleep(100_000)
            status = try v.client.queryOrder(category: .linear, orderLinkId: "replay-1")?.orderStatus ?? ""
        }
        #expect(status == "Filled")
        let stats = try v.stats()
        #expect(stats["sourceVenue"] as? String == "binance" && stats["servedAs"] as? String == "bybit")
        #expect((stats["now"] as? Int).map { $0 > Int(marchFirst.ms) } == true)
        #expect(((stats["replay"] as? [String: Any])?["speed"] as? String) == "36000")
    }
}
