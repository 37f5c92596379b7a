import CarryCore
import CarryExchangeSim
import CarryTesting
import CarryVenues
import Foundation
import Logging
import Synchronization
import Testing
import WSClient

/// The loopback venue as a third-party Bybit client (pybit, ccxt) meets it: the exact JSON
/// those clients send, and the replies' shapes key by key.
@Suite("Streams: a third-party client's exact frames", .serialized)
struct StreamThirdPartyTests {
    /// Sends `requests` one at a time on a fresh connection to `path`; returns every text frame
    /// received until `count` have arrived (bounded by a deadline).
    func exchange(_ sim: InProcessSim, _ path: SimStreamPath, _ requests: [String], count: Int) async throws -> [String] {
        let received = Mutex<[String]>([])
        let url = sim.url(path)
        let logger = Logger(label: "raw", factory: { _ in SwiftLogNoOpLogHandler() })
        _ = try await withDeadline(seconds: 120, "\(count) frames from \(path.rawValue)") {
            try await WebSocketClient.connect(url: url, logger: logger) { inbound, outbound, _ in
                var it = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                for r in requests {
                    try await outbound.write(.text(r))
                    // One reply per request before the next, so the order below is the venue's.
                    let before = received.withLock { $0.count }
                    while received.withLock({ $0.count }) == before, let m = try await it.next() {
                        if case .text(let t) = m { received.withLock { $0.append(t) } }
                    }
                }
                while received.withLock({ $0.count }) < count, let m = try await it.next() {
                    if case .text(let t) = m { received.withLock { $0.append(t) } }
                }
                try await outbound.close(.normalClosure, reason: nil)
            }
            return true
        }
        return received.withLock { $0 }
    }

    /// The keys of a JSON object in the order they appear in its text.
    func keys(_ text: String) -> [String] {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return [] }
        return obj.keys.sorted { text.range(of: "\"\($0)\":")!.lowerBound < text.range(of: "\"\($1)\":")!.lowerBound }
    }

    func object(_ text: String) -> [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:] }

    @Test("pybit on /v5/public/linear: subscribe, ticker snapshot, both pings, a bad topic")
    func linear() async throws {
        var o = ExchangeSimOptions(journalPath: SourceJournal.shared.path)
        o.stream.pollMs = 5
        let sim = try await InProcessSim.start(o)
        let frames = try await exchange(sim, .linear, [
            #"{"op": "subscribe", "req_id": "7c0c7b54-2cc0-4a68-a0d1-2b5b2b3b8c11", "args": ["tickers.BTCUSDT"]}"#,
            #"{"op": "ping"}"#,
            #"{"req_id": "100001", "op": "ping"}"#,
            #"{"op": "subscribe", "req_id": "x", "args": ["tickers.NOPEUSDT"]}"#,
        ], count: 5)
        #expect(frames.count == 5)
        let sub = frames[0]
        #expect(keys(sub) == ["success", "ret_msg", "conn_id", "req_id", "op"])
        #expect(object(sub)["success"] as? Bool == true && object(sub)["ret_msg"] as? String == "" && object(sub)["op"] as? String == "subscribe")
        #expect(object(sub)["req_id"] as? String == "7c0c7b54-2cc0-4a68-a0d1-2b5b2b3b8c11")
        #expect((object(sub)["conn_id"] as? String)?.isEmpty == false)
        let snap = frames[1]
        #expect(keys(snap) == ["topic", "type", "data", "cs", "ts"])
        #expect(object(snap)["type"] as? String == "snapshot" && object(snap)["ts"] as? Int == Int(SourceJournal.shared.now.ms))
        let data = object(snap)["data"] as? [String: Any] ?? [:]
        for k in ["symbol", "lastPrice", "markPrice", "indexPrice", "fundingRate", "nextFundingTime", "fundingIntervalHour", "bid1Price", "bid1Size", "ask1Price", "ask1Size"] {
            #expect(data[k] is String, "data.\(k) is a string")
        }
        let pong = frames[2]
        #expect(keys(pong) == ["success", "ret_msg", "conn_id", "req_id", "op"])
        #expect(object(pong)["ret_msg"] as? String == "pong" && object(pong)["op"] as? String == "ping" && object(pong)["req_id"] as? String == "")
        #expect(object(frames[3])["req_id"] as? String == "100001")
        let refused = object(frames[4])
        #expect(refused["success"] as? Bool == false && refused["ret_msg"] as? String == "Invalid topic: tickers.NOPEUSDT" && refused["op"] as? String == "subscribe")
        await sim.stop()
    }

    @Test("spot replies echo the op; private pong carries the venue's time; auth success and failure shapes")
    func spotAndPrivate() async throws {
        var o = ExchangeSimOptions(journalPath: SourceJournal.shared.path)
        o.credentials = SimCredentials(apiKey: "k-test", secret: "s-test")
        let sim = try await InProcessSim.start(o)
        let spot = try await exchange(sim, .spot, [#"{"req_id":"10001","op":"subscribe","args":["orderbook.1.BTCUSDT"]}"#, #"{"op":"ping"}"#], count: 3)
        #expect(keys(spot[0]) == ["success", "ret_msg", "conn_id", "req_id", "op"] && object(spot[0])["ret_msg"] as? String == "subscribe")
        #expect(keys(spot[1]) == ["topic", "type", "ts", "data", "cts"])
        let book = object(spot[1])["data"] as? [String: Any] ?? [:]
        #expect(book["s"] as? String == "BTCUSDT" && (book["b"] as? [[String]])?.first?.count == 2 && book["u"] is Int)
        #expect(keys(spot[2]) == ["success", "ret_msg", "conn_id", "op"], "spot omits an absent req_id")

        // pybit's auth: expires = (now + 1 s) in ms, a JSON number; signature over "GET/realtime" + expires.
        let expires = SystemVenueClock().nowMs + 1_000
        let sig = HMACSHA256.hex(key: "s-test", message: Array("GET/realtime\(expires)".utf8))
        let priv = try await exchange(sim, .privateStream, [
            #"{"op": "subscribe", "args": ["order"]}"#,
            #"{"op": "auth", "args": ["k-test", \#(expires), "\#(sig)"]}"#,
            #"{"op": "subscribe", "req_id": "s1", "args": ["order", "execution", "position", "wallet"]}"#,
            #"{"req_id": "p1", "op": "ping"}"#,
        ], count: 4)
        #expect(object(priv[0])["success"] as? Bool == false && object(priv[0])["ret_msg"] as? String == "Request not authorized")
        #expect(keys(priv[1]) == ["success", "ret_msg", "op", "conn_id"])
        #expect(object(priv[1])["success"] as? Bool == true && object(priv[1])["op"] as? String == "auth")
        #expect(keys(priv[2]) == ["req_id", "success", "ret_msg", "op", "conn_id"] && object(priv[2])["success"] as? Bool == true)
        #expect(keys(priv[3]) == ["req_id", "op", "args", "conn_id"] && object(priv[3])["op"] as? String == "pong")
        #expect((object(priv[3])["args"] as? [String])?.first == String(SourceJournal.shared.now.ms))

        let wrong = try await exchange(sim, .privateStream, [
            #"{"req_id":"a1","op":"auth","args":["k-test",\#(expires),"\#(String(repeating: "0", count: 64))"]}"#,
            #"{"op":"auth","args":["other-key",\#(expires),"\#(sig)"]}"#,
            #"{"op":"auth","args":["k-test",\#(expires - 60_000),"\#(HMACSHA256.hex(key: "s-test", message: Array("GET/realtime\(expires - 60_000)".utf8)))"]}"#,
        ], count: 3)
        #expect(keys(wrong[0]) == ["req_id", "success", "ret_msg", "op", "conn_id"])
        #expect(wrong.map { object($0)["success"] as? Bool } == [false, false, false])
        #expect(object(wrong[0])["ret_msg"] as? String == "Signature verification failed")
        #expect(object(wrong[1])["ret_msg"] as? String == "Invalid apikey")
        #expect((object(wrong[2])["ret_msg"] as? String)?.hasPrefix("Request expired") == true)
        await sim.stop()
    }
}
