import CarryCore
import CarryTesting
@testable import CarryVenues
import Foundation
import Testing

/// The stream parser against Bybit's published WebSocket samples, the ticker merge, the auth
/// signature and the session's handling of replies, duplicates and reconnects.
@Suite("Bybit v5 streams: parsing, merging, auth")
struct BybitStreamParsingTests {
    func sample(_ name: String) throws -> [UInt8] {
        let path = Fixtures.bybitSamples + "/" + name
        guard let data = FileManager.default.contents(atPath: path) else {
            Issue.record("missing sample \(path)")
            throw BybitError(.malformed, "missing sample")
        }
        return Array(data)
    }

    func frame(_ bytes: [UInt8]) throws -> BybitStreamFrame {
        switch BybitStreamParser.parse(bytes) {
        case .success(let f): return f
        case .failure(let e):
            Issue.record("parse failed: \(e)")
            throw e
        }
    }

    func frame(_ text: String) throws -> BybitStreamFrame { try frame(Array(text.utf8)) }

    @Test("linear ticker snapshot: funding, mark, index, best bid/ask, exactly")
    func tickerSnapshot() throws {
        guard case .ticker(let u) = try frame(sample("docs/websocket_public_ticker.response.linear.perpetual.json")) else {
            Issue.record("not a ticker")
            return
        }
        #expect(u.isSnapshot)
        #expect(u.values.symbol == "BTCUSDT")
        #expect(u.values.fundingRate?.description == "-0.005")
        #expect(u.values.nextFundingTime?.ms == 1_760_342_400_000)
        #expect(u.values.markPrice?.description == "66666.60")
        #expect(u.values.indexPrice?.description == "115418.19")
        #expect(u.values.bid1Price?.description == "66666.60")
        #expect(u.values.ask1Size?.description == "23775.469")
        #expect(u.values.time.ms == 1_760_325_052_630)
        #expect(u.values.crossSequence == 9_532_239_429)
        #expect(u.present.count == BybitTickerField.allCases.count)
    }

    @Test("a delta carries only what changed; merged onto the snapshot field by field")
    func deltaMerge() throws {
        var merger = BybitTickerMerger()
        guard case .ticker(let snap) = try frame(sample("nautilus/ws_ticker_linear.json")) else { return }
        let first = try merger.apply(snap)
        #expect(first.fundingRate?.description == "-0.000212")
        let delta = """
            {"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","markPrice":"17220.01","bid1Price":"17219.50","bid1Size":"1.5"},"cs":24987956100,"ts":1673272862000}
            """
        guard case .ticker(let d) = try frame(delta) else { return }
        #expect(!d.isSnapshot)
        #expect(d.present == [.markPrice, .bid1Price, .bid1Size])
        let merged = try merger.apply(d)
        #expect(merged.markPrice?.description == "17220.01")
        #expect(merged.bid1Price?.description == "17219.50")
        #expect(merged.bid1Size?.description == "1.5")
        // Unchanged fields keep the snapshot's values.
        #expect(merged.fundingRate?.description == "-0.000212")
        #expect(merged.nextFundingTime?.ms == 1_673_280_000_000)
        #expect(merged.indexPrice?.description == "17227.36")
        #expect(merged.ask1Price?.description == "17216.00")
        #expect(merged.time.ms == 1_673_272_862_000)
        #expect(merged.crossSequence == 24_987_956_100)
        // A second delta: funding moves; the first delta's values stay.
        guard case .ticker(let d2) = try frame(#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","fundingRate":"0.0001","nextFundingTime":"1673308800000"},"ts":1673272863000}"#) else { return }
        let merged2 = try merger.apply(d2)
        #expect(merged2.fundingRate?.description == "0.0001")
        #expect(merged2.nextFundingTime?.ms == 1_673_308_800_000)
        #expect(merged2.markPrice?.description == "17220.01")
        #expect(merged2.bid1Size?.description == "1.5")
        // A delta for a symbol with no snapshot is an error, not a guess.
        guard case .ticker(let other) = try frame(#"{"topic":"tickers.ETHUSDT","type":"delta","data":{"symbol":"ETHUSDT","markPrice":"1"},"ts":1}"#) else { return }
        #expect(throws: BybitStreamMergeError(symbol: "ETHUSDT")) { try merger.apply(other) }
    }

    @Test("orderbook.1, publicTrade and kline samples read exactly")
    func publicTopics() throws {
        guard case .orderbookTop(let b) = try frame(sample("nautilus/ws_orderbook_snapshot.json")) else { Issue.record("book"); return }
        #expect(b.symbol == "BTCUSDT" && b.bidPrice?.description == "27450.00" && b.bidSize?.description == "0.500")
        #expect(b.askPrice?.description == "27451.00" && b.askSize?.description == "0.750" && b.updateId == 123_456_789 && b.time.ms == 1_709_891_679_000)
        guard case .trades(let t) = try frame(sample("docs/websocket_public_trade.response.json")) else { Issue.record("trade"); return }
        #expect(t == [BybitPublicTrade(symbol: "BTCUSDT", time: Timestamp(ms: 1_672_304_486_865), side: .buy, price: try Fixed.parse("16578.50"),
                                       size: try Fixed.parse("0.001"), tradeId: "20f43950-d8dd-5b31-9112-a178eb6023af")])
        guard case .klines(let k) = try frame(sample("docs/websocket_public_kline.response.json")) else { Issue.record("kline"); return }
        #expect(k.count == 1 && k[0].interval == "5" && k[0].bar.start.ms == 1_672_324_800_000 && k[0].end.ms == 1_672_325_099_999)
        #expect(k[0].bar.open.description == "16649.5" && k[0].bar.close.description == "16677" && k[0].bar.turnover.description == "34666.4005" && !k[0].confirm)
    }

    @Test("private samples: order, execution, position, wallet")
    func privateTopics() throws {
        guard case .orders(let o) = try frame(sample("nautilus/ws_account_order.json")) else { Issue.record("order"); return }
        #expect(o[0].orderId == "abcdef123456" && o[0].orderLinkId == "client-1" && o[0].orderStatus == "Cancelled" && o[0].qty.description == "0.010")
        #expect(o[0].leavesQty.description == "0.010" && o[0].createdTime.ms == 1_700_000_000_000)
        guard case .executions(let e) = try frame(sample("docs/websocket_private_execution.response.json")) else { Issue.record("exec"); return }
        #expect(e[0].execId == "0ab1bdf7-4219-438b-b30a-32ec863018f7" && e[0].execPrice.description == "95900.1" && e[0].execFee.description == "26.3725275")
        #expect(e[0].execType == "Trade" && !e[0].isFunding && e[0].side == .sell && e[0].execTime.ms == 1_746_270_400_353 && e[0].feeCurrency == "USDT")
        guard case .positions(let p) = try frame(sample("nautilus/ws_account_position.json")) else { Issue.record("position"); return }
        #expect(p[0].symbol == "ETHUSDT" && p[0].side == "Sell" && p[0].size.description == "0.01" && p[0].avgPrice.description == "3641.075")
        #expect(p[0].liqPrice?.description == "51764.83003276" && p[0].seq == 325_852_190_774)
        guard case .wallets(let w) = try frame(sample("nautilus/ws_account_wallet.json")) else { Issue.record("wallet"); return }
        #expect(w[0].totalEquity?.description == "10262.91335023" && w[0].coins.map(\.coin) == ["BTC", "USDT"])
        #expect(w[0].coins[1].walletBalance.description == "9647.75537647")
    }

    @Test("op replies in each stream's shape: subscribe, pong, auth success and failure")
    func replies() throws {
        for name in ["docs/websocket_wss-authentication.response.public-future.json", "docs/websocket_wss-authentication.response.public-spot.json",
                     "docs/websocket_wss-authentication.response.private.json", "nautilus/ws_auth_success.json"] {
            guard case .reply(let r) = try frame(sample(name)) else { Issue.record("\(name) is not a reply"); continue }
            #expect(r.success, "\(name)")
        }
        guard case .reply(let pong) = try frame(sample("docs/websocket_wss-authentication.how-to-send-the-heartbeat-packet.json")) else { return }
        #expect(pong.op == "pong" && pong.success && pong.reqId == "test")
        guard case .reply(let refused) = try frame(sample("nautilus/ws_auth_failure.json")) else { return }
        #expect(refused.op == "auth" && !refused.success && refused.retMsg == "Invalid apikey")
    }

    @Test("bad frames: a clear error naming the field, with the raw bytes' hash and length")
    func badFrames() throws {
        let cases: [(String, String)] = [
            (#"{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","markPrice":"12x"},"ts":1}"#, "data.markPrice '12x' is not a decimal number"),
            (#"{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","markPrice":12.5},"ts":1}"#, "data.markPrice is not a string"),
            (#"{"topic":"execution","data":[{"symbol":"BTCUSDT","execId":"x","side":"Buy","execType":"Trade","execPrice":"1","execFee":"0","execTime":"1"}]}"#, "data[0].execQty is missing"),
            (#"{"topic":"orderbook.1.BTCUSDT","ts":1,"data":{"s":"BTCUSDT","b":[["1"]],"a":[],"u":1}}"#, "data.b[0] is not a [price, size] pair"),
            (#"{"topic":"kline.5.BTCUSDT","data":[{"start":99999999999999999999999,"end":1}],"ts":1}"#, "data[0].start is not an integer"),
            (#"{"topic":"publicTrade.BTCUSDT","ts":1,"data":[{"T":1,"s":"BTCUSDT","S":"Hold","v":"1","p":"1","i":"a"}]}"#, "data[0].S 'Hold' is neither Buy nor Sell"),
            (#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","lastPrice":"1"}}"#, "ts is missing"),
            (#"{"topic":"kline.5.BTCUSDT","ts":1,"data":[{"start":1,"end":2,"interval":"5","open":"10","close":"12","high":"11","low":"9","volume":"1","turnover":"1","confirm":true}]}"#,
             "data[0]: OHLC outside its envelope"),
            (#"{"hello":1}"#, "neither `topic` nor `op`"),
            (#"[1,2]"#, "not a JSON object"),
            (#"{"topic":"tickers.BTCUSDT","data":{"symbol":"BTCUSDT","fundingRate":"1e999999999999"},"ts":1}"#, "data.fundingRate"),
        ]
        for (text, expected) in cases {
            let bytes = Array(text.utf8)
            guard case .failure(let e) = BybitStreamParser.parse(bytes) else {
                Issue.record("parsed: \(text)")
                continue
            }
            #expect(e.message.contains(expected), "\(e.message) should say \(expected)")
            #expect(e.rawLength == bytes.count)
            #expect(e.rawSHA256 == SHA256Digest.hex(bytes) && e.rawSHA256.count == 64)
            #expect(!e.description.contains(text))
        }
    }

    @Test("fuzz: truncations, byte flips, reordered and retyped fields, random bytes — an error value each time, never a crash")
    func fuzz() throws {
        var rng = SplitMix64(seed: 0xF022)
        let names = ["docs/websocket_public_ticker.response.linear.perpetual.json", "docs/websocket_public_kline.response.json",
                     "docs/websocket_public_trade.response.json", "nautilus/ws_orderbook_snapshot.json", "nautilus/ws_account_order.json",
                     "docs/websocket_private_execution.response.json", "nautilus/ws_account_position.json", "nautilus/ws_account_wallet.json"]
        var parsed = 0
        var failed = 0
        for name in names {
            let original = try sample(name)
            #expect(throws: Never.self) { try BybitStreamParser.parse(original).get() }
            for round in 0..<300 {
                var bytes = original
                switch round % 5 {
                case 0: bytes = Array(bytes.prefix(rng.below(bytes.count)))
                case 1: for _ in 0...rng.below(4) { bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next()) }
                case 2: bytes = retyped(bytes, &rng)
                case 3: bytes = Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\"1", with: "\"9999999999999999999999").utf8)
                default: bytes = (0..<rng.below(200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                }
                switch BybitStreamParser.parse(bytes) {
                case .success: parsed += 1
                case .failure(let e):
                    failed += 1
                    #expect(!e.message.isEmpty && e.rawLength == bytes.count)
                }
            }
        }
        // Both outcomes occur: mutations that keep a frame valid parse, the rest fail cleanly.
        #expect(failed > 1_000)
        #expect(parsed > 10)
    }

    /// Turns one quoted value into a number, a list or null.
    func retyped(_ bytes: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        let text = String(decoding: bytes, as: UTF8.self)
        let ranges = text.ranges(of: #/: "[^"]*"/#)
        guard !ranges.isEmpty else { return bytes }
        let r = ranges[rng.below(ranges.count)]
        let replacement = [": 12.5", ": [\"1\"]", ": null", ": true", ": {}"][rng.below(5)]
        return Array(text.replacingCharacters(in: r, with: replacement).utf8)
    }

    @Test("auth: expires in ms, signature = hex HMAC-SHA256 of GET/realtime + expires; the credentials never print")
    func auth() throws {
        // Independent check: HMAC-SHA256("secret", "GET/realtime1662350400000") recomputed from RFC 2104 over SHA-256.
        let sig = BybitStreamRequest.authSignature(secret: "secret", expiresMs: 1_662_350_400_000)
        #expect(sig == HMACSHA256.hex(key: "secret", message: Array("GET/realtime1662350400000".utf8)))
        #expect(sig.count == 64 && sig == sig.lowercased())
        let creds = BybitCredentials(apiKey: "KEY123", secret: "SECRET456")!
        let text = BybitStreamRequest.auth(creds, expiresMs: 1_662_350_400_000, reqId: "a")
        let json = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        let args = json?["args"] as? [Any]
        #expect(json?["op"] as? String == "auth")
        #expect(args?[0] as? String == "KEY123")
        #expect(args?[1] as? Int == 1_662_350_400_000)
        #expect(args?[2] as? String == BybitStreamRequest.authSignature(secret: "SECRET456", expiresMs: 1_662_350_400_000))
        #expect(!text.contains("SECRET456"))
        for shown in ["\(creds)", String(reflecting: creds)] { #expect(!shown.contains("KEY123") && !shown.contains("SECRET456")) }
    }

    @Test("session: executions de-duplicated by execId, funding apart from fills, resync only after a reconnect's subscriptions are acknowledged")
    func session() throws {
        var s = BybitStreamSession(execIdMemory: 4)
        let ack = Array(#"{"success":true,"ret_msg":"","op":"subscribe","conn_id":"c"}"#.utf8)
        #expect(s.opened(subscribeRequests: 2, topics: [.execution, .order]) == [.connected(connection: 1)])
        #expect(s.receive(ack).isEmpty)
        #expect(s.receive(ack) == [.subscribed(connection: 1, topics: ["execution", "order"])])
        func exec(_ id: String, _ type: String) -> [UInt8] {
            Array(#"{"topic":"execution","creationTime":1,"data":[{"symbol":"BTCUSDT","execId":"\#(id)","side":"Sell","execType":"\#(type)","execPrice":"100","execQty":"1","execFee":"-0.01","execTime":"5"}]}"#.utf8)
        }
        guard case .execution(let e) = s.receive(exec("e1", "Trade")).first else { Issue.record("no fill"); return }
        #expect(e.execId == "e1")
        #expect(s.receive(exec("e1", "Trade")).isEmpty)
        #expect(s.duplicateExecutions == 1)
        guard case .fundingExecution(let f) = s.receive(exec("f1", "Funding")).first else { Issue.record("funding as a fill"); return }
        #expect(f.isFunding && f.execFee.description == "-0.01")
        // A reconnect: resyncRequired after both acks, not before.
        #expect(s.closed(reason: "x") == .disconnected(connection: 1, reason: "x"))
        #expect(s.opened(subscribeRequests: 2, topics: [.execution, .order]) == [.connected(connection: 2)])
        #expect(s.receive(ack).isEmpty)
        #expect(s.receive(ack) == [.subscribed(connection: 2, topics: ["execution", "order"]), .resyncRequired(connection: 2)])
        // The replayed execution is still recognised after the reconnect.
        #expect(s.receive(exec("e1", "Trade")).isEmpty)
        // Bounded memory: after four newer ids, e1 is forgotten.
        for i in 2...5 { _ = s.receive(exec("e\(i)", "Trade")) }
        #expect(s.receive(exec("e1", "Trade")).count == 1)
        // Refusals are errors.
        guard case .error(let err) = s.receive(Array(#"{"success":false,"ret_msg":"Invalid apikey","op":"auth","conn_id":"c"}"#.utf8)).first else { return }
        #expect(err.code == .authRejected)
    }
}

@Suite("Reconnect backoff")
struct BackoffTests {
    @Test("doubles from the base, never above the cap, half of it seeded jitter; the same seed gives the same waits")
    func bounded() {
        var a = SplitMix64(seed: 7)
        var b = SplitMix64(seed: 7)
        var c = SplitMix64(seed: 8)
        var waitsA: [Int64] = []
        var waitsC: [Int64] = []
        for attempt in 1...40 {
            let w = Backoff.equalJitterMs(attempt: attempt, baseMs: 500, maxMs: 30_000, rng: &a)
            let exp = min(30_000, Int64(500) << Int64(min(attempt - 1, 20)))
            #expect(w >= exp / 2 && w <= exp, "attempt \(attempt): \(w) outside [\(exp / 2), \(exp)]")
            #expect(w == Backoff.equalJitterMs(attempt: attempt, baseMs: 500, maxMs: 30_000, rng: &b))
            waitsA.append(w)
            waitsC.append(Backoff.equalJitterMs(attempt: attempt, baseMs: 500, maxMs: 30_000, rng: &c))
        }
        #expect(waitsA != waitsC)
        #expect(waitsA.max()! <= 30_000 && waitsA.suffix(30).allSatisfy { $0 >= 15_000 })
    }
}
