import CarryCore
@testable import CarryExchangeSim
import CarryTesting
import CarryVenues
import Foundation
import Testing

@Suite("Loopback venue: signed endpoints", .serialized)
struct SimPrivateAPITests {
    let wall = SimWallTime(elapsedMs: 0, epochMs: 1_800_000_000_000)

    @Test("requests formatted as pybit and as ccxt format them are both verified over their raw bytes")
    func thirdPartyFormats() throws {
        let venue = try makeVenue()
        let ts = marchFirst.ms
        // pybit: parameters in the caller's order, json.dumps spacing (", " and ": "), an int for isLeverage.
        let pybitBody = #"{"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.001", "price": "20000", "timeInForce": "GTC", "orderLinkId": "pybit-1", "isLeverage": 0}"#
        let pybit = venue.handle(rawRequest("POST", "/v5/order/create", body: pybitBody, timestampMs: ts), wall)
        #expect(pybit.json["retCode"] as? Int == 0, "\(pybit)")
        // ccxt: keys sorted, compact JSON, a query string in sorted order; signed with the wall clock.
        let ccxtBody = #"{"category":"linear","orderLinkId":"ccxt-1","orderType":"Limit","price":"20000.0","qty":"0.010","side":"Buy","symbol":"BTCUSDT","timeInForce":"PostOnly"}"#
        let ccxt = venue.handle(rawRequest("POST", "/v5/order/create", body: ccxtBody, timestampMs: wall.epochMs), wall)
        #expect(ccxt.json["retCode"] as? Int == 0, "\(ccxt)")
        let pybitQuery = venue.handle(rawRequest("GET", "/v5/order/realtime", query: "category=spot&symbol=BTCUSDT&orderLinkId=pybit-1", timestampMs: ts), wall)
        let ccxtQuery = venue.handle(rawRequest("GET", "/v5/order/realtime", query: "category=linear&orderLinkId=ccxt-1&symbol=BTCUSDT", timestampMs: ts), wall)
        let spotOrder = ((pybitQuery.json["result"] as? [String: Any])?["list"] as? [[String: Any]])?.first
        let linearOrder = ((ccxtQuery.json["result"] as? [String: Any])?["list"] as? [[String: Any]])?.first
        #expect(spotOrder?["orderStatus"] as? String == "New" && spotOrder?["qty"] as? String == "0.001" && spotOrder?["price"] as? String == "20000")
        #expect(linearOrder?["orderStatus"] as? String == "New" && linearOrder?["price"] as? String == "20000.0" && linearOrder?["timeInForce"] as? String == "PostOnly")
        // The same ccxt body re-serialised with pybit's spacing but carrying the compact body's signature: refused.
        let respaced = ccxtBody.replacingOccurrences(of: "\":\"", with: "\": \"").replacingOccurrences(of: "\",\"", with: "\", \"")
        let forged = venue.handle(rawRequest("POST", "/v5/order/create", body: respaced, timestampMs: ts, signedPayload: ccxtBody), wall)
        #expect(forged.json["retCode"] as? Int == 10004)
        #expect(venue.account.counts.placed == 2)
    }

    @Test("bad key 10003, bad signature 10004, stale timestamp 10002, unsupported path and method in Bybit's envelope")
    func refusals() throws {
        let venue = try makeVenue()
        let q = "accountType=UNIFIED"
        #expect(venue.handle(rawRequest("GET", "/v5/account/wallet-balance", query: q, timestampMs: marchFirst.ms, key: "other-key"), wall).json["retCode"] as? Int == 10003)
        let badSign = venue.handle(rawRequest("GET", "/v5/account/wallet-balance", query: q, timestampMs: marchFirst.ms, secret: "wrong"), wall)
        #expect(badSign.json["retCode"] as? Int == 10004)
        #expect((badSign.json["retMsg"] as? String)?.hasPrefix("error sign! origin_string[\(marchFirst.ms)\(simKey)5000accountType=UNIFIED]") == true)
        let stale = venue.handle(rawRequest("GET", "/v5/account/wallet-balance", query: q, timestampMs: marchFirst.ms - 60_000), wall)
        #expect(stale.json["retCode"] as? Int == 10002)
        for (method, path) in [("GET", "/v5/order/unknown"), ("DELETE", "/v5/order/create"), ("POST", "/v5/market/time"), ("GET", "/")] {
            let a = venue.handle(SimRequest(method: method, path: path), wall)
            #expect(a.response?.status == 404)
            #expect(a.json["retCode"] as? Int == 10001 && a.json["retMsg"] is String && a.json["result"] is [String: Any] && a.json["time"] is Int, "\(method) \(path)")
        }
        #expect(venue.account.counts.createRequests == 0)
        #expect(venue.statsJSON().contains("\"auth\":{\"10002\":1,\"10003\":1,\"10004\":1}"))
    }

    @Test("a repeated orderLinkId is refused (110072, spot 170141) and the venue's count proves one order")
    func duplicates() throws {
        let venue = try makeVenue()
        let body = #"{"category":"linear","symbol":"ETHUSDT","side":"Sell","orderType":"Limit","qty":"0.10","price":"9000","orderLinkId":"dup-1"}"#
        let first = venue.handle(rawRequest("POST", "/v5/order/create", body: body, timestampMs: marchFirst.ms), wall)
        let second = venue.handle(rawRequest("POST", "/v5/order/create", body: body, timestampMs: marchFirst.ms + 1), wall)
        #expect(first.json["retCode"] as? Int == 0)
        #expect(second.json["retCode"] as? Int == 110072 && second.json["retMsg"] as? String == "OrderLinkedID is duplicate")
        let spot = #"{"category":"spot","symbol":"ETHUSDT","side":"Buy","orderType":"Limit","qty":"0.10","price":"100","orderLinkId":"dup-1"}"#
        #expect(venue.handle(rawRequest("POST", "/v5/order/create", body: spot, timestampMs: marchFirst.ms), wall).json["retCode"] as? Int == 170141)
        let c = venue.account.counts
        #expect(c.createRequests == 3 && c.placed == 1 && c.distinctLinkIds == 1 && c.duplicatesRefused == 2)
    }

    @Test("the trading client in process: place, fill on the next bar, position, balance, cancel, fee rates")
    func tradeInProcess() throws {
        let venue = try makeVenue()
        let transport = VenueTransport(venue)
        let client = simClient(transport)
        #expect(try client.setLeverage(symbol: "BTCUSDT", leverage: Fixed(3)) == .changed)
        #expect(try client.setLeverage(symbol: "BTCUSDT", leverage: Fixed(3)) == .unchanged)
        let short = BybitOrderRequest(category: .linear, symbol: "BTCUSDT", side: .sell, orderType: .market, qty: Fixed("0.010")!, orderLinkId: "perp-1")
        guard case .accepted(let orderId, "perp-1") = client.createOrder(short) else { Issue.record("not accepted"); return }
        #expect(try client.queryOrder(category: .linear, orderLinkId: "perp-1")?.orderStatus == "New")
        // The fill comes at the close of the first bar at or after decision + latency: 01:00.
        venue.advance(to: marchFirst.adding(ms: Millis.hour), transport.wall)
        let filled = try #require(try client.queryOrder(category: .linear, orderLinkId: "perp-1"))
        #expect(filled.orderId == orderId && filled.orderStatus == "Filled" && filled.cumExecQty == Fixed("0.010")!)
        let fills = try client.executions(category: .linear, symbol: "BTCUSDT").fills
        let fill = try #require(fills.first)
        let bar = try #require(venue.market.lastBar(venue.market.instrument(.linearPerpetual, "BTCUSDT")!, intervalSeconds: 3600))
        #expect(fill.execPrice < bar.close, "a market sell pays the half spread and impact below the close")
        #expect(fill.execFee == fill.execQty.multiplied(by: fill.execPrice, Fixed("0.0005")!, scale: 8, .toNearestOrEven))
        let pos = try #require(try client.positions(symbol: "BTCUSDT").first)
        #expect(pos.side == "Sell" && pos.size == Fixed("0.010")! && pos.avgPrice == fill.execPrice && pos.leverage == Fixed(3))
        let wallet = try client.walletBalance()
        #expect(wallet.coin("USDT")?.walletBalance == Fixed(100_000) - fill.execFee)
        // A resting limit order, then cancelled; cancelling again: order not found.
        let rest = BybitOrderRequest(category: .linear, symbol: "BTCUSDT", side: .buy, orderType: .limit, qty: Fixed("0.010")!, price: Fixed(30000), orderLinkId: "rest-1")
        guard case .accepted = client.createOrder(rest) else { Issue.record("rest not accepted"); return }
        #expect(try client.openOrders(category: .linear).map(\.orderLinkId) == ["rest-1"])
        #expect(try client.cancelOrder(category: .linear, symbol: "BTCUSDT", orderLinkId: "rest-1").orderLinkId == "rest-1")
        #expect(try client.queryOrder(category: .linear, orderLinkId: "rest-1")?.orderStatus == "Cancelled")
        do {
            _ = try client.cancelOrder(category: .linear, symbol: "BTCUSDT", orderLinkId: "rest-1")
            Issue.record("cancelled twice")
        } catch let e as BybitError {
            #expect(e.retCode.map(BybitRejectKind.init(retCode:)) == .orderNotFound)
        }
        let fee = try #require(try client.feeRates(category: .linear, symbol: "BTCUSDT").first)
        #expect(fee.symbol == "BTCUSDT" && fee.takerFeeRate == Fixed("0.0005")! && fee.makerFeeRate == Fixed("0.0002")!)
        #expect(try client.apiKeyInfo().readOnly == false)
        #expect(try client.accountInfo().unifiedMarginStatus == 5)
    }

    @Test("the update feed publishes order, execution, position and wallet changes in order")
    func updateFeed() async throws {
        let venue = try makeVenue()
        let stream = venue.account.subscribe()
        let client = simClient(VenueTransport(venue))
        let order = BybitOrderRequest(category: .linear, symbol: "ETHUSDT", side: .sell, orderType: .market, qty: Fixed("0.10")!, orderLinkId: "feed-1")
        guard case .accepted = client.createOrder(order) else { Issue.record("not accepted"); return }
        venue.advance(to: marchFirst.adding(ms: Millis.hour), SimWallTime(elapsedMs: 0, epochMs: 0))
        var kinds: [String] = []
        for await u in stream {
            switch u {
            case .order(let o): kinds.append("order:\(o.status.rawValue)")
            case .execution(let e): kinds.append("execution:\(e.execType)")
            case .position(let p): kinds.append("position:\(p.side)")
            case .wallet: kinds.append("wallet")
            }
            if kinds.count == 5 { break }
        }
        #expect(kinds == ["order:New", "order:Filled", "execution:Trade", "position:Sell", "wallet"])
    }
}

@Suite("Loopback venue: the account's balance checks", .serialized)
struct SimBalanceTests {
    @Test("open orders hold their margin: a second order the wallet cannot cover is refused 110007, spot 170131")
    func openOrdersHoldMargin() throws {
        let venue = try makeVenue()
        let at = marchFirst
        // 100,000 USDT at 2× leverage: a resting 1.5 BTC sell at 80,000 holds 60,000 of margin.
        let first = BybitOrderRequest(category: .linear, symbol: "BTCUSDT", side: .sell, orderType: .limit, qty: Fixed("1.500")!, price: Fixed(80_000), orderLinkId: "m-1")
        guard case .success = venue.account.place(first, at: at) else { Issue.record("first refused"); return }
        #expect(venue.account.wallet.totalAvailableBalance == Fixed(40_000))
        var second = first
        second.orderLinkId = "m-2"
        #expect(venue.account.place(second, at: at) == .failure(SimReject(110007, "ab not enough for new order")))
        let spot = BybitOrderRequest(category: .spot, symbol: "BTCUSDT", side: .buy, orderType: .limit, qty: Fixed("1.000")!, price: Fixed(50_000), orderLinkId: "m-3")
        #expect(venue.account.place(spot, at: at) == .failure(SimReject(170131, "Insufficient balance.")))
        var sell = spot
        sell.side = .sell
        sell.orderLinkId = "m-4"
        #expect(venue.account.place(sell, at: at) == .failure(SimReject(170131, "Insufficient balance.")), "no coins to sell")
        // Cancelling frees the margin.
        _ = venue.account.cancel(kind: .linearPerpetual, symbol: "BTCUSDT", orderId: nil, orderLinkId: "m-1", at: at)
        #expect(venue.account.wallet.totalAvailableBalance == Fixed(100_000))
        guard case .success = venue.account.place(second, at: at) else { Issue.record("second refused after the cancel"); return }
    }
}
