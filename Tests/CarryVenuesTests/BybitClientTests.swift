import CarryCore
@testable import CarryVenues
import Logging
import Testing

/// A scripted transport: answers (or errors) in order, and records what was asked.
final class ScriptedTransport: HTTPTransport {
    enum Step {
        case answer(HTTPResponse)
        case fail(TransportError.Kind)
    }
    var steps: [Step]
    var urls: [String] = []
    init(_ steps: [Step]) { self.steps = steps }
    func get(_ request: HTTPRequest) throws -> HTTPResponse {
        urls.append(request.url)
        guard !steps.isEmpty else { throw TransportError(.other, url: request.url, detail: "script exhausted") }
        switch steps.removeFirst() {
        case .answer(let r): return r
        case .fail(let kind): throw TransportError(kind, url: request.url, detail: "scripted \(kind)")
        }
    }
}

/// Virtual time: sleeping advances the clock.
final class VirtualClock: VenueClock {
    var nowMs: Int64 = 1_000_000
    var slept: [Int64] = []
    func sleep(ms: Int64) {
        slept.append(ms)
        nowMs += ms
    }
}

func envelope(_ retCode: Int = 0, _ msg: String = "OK", result: String = #"{"category":"linear","list":[]}"#, time: Int64 = 5_000_000) -> [UInt8] {
    Array(#"{"retCode":\#(retCode),"retMsg":"\#(msg)","result":\#(result),"retExtInfo":{},"time":\#(time)}"#.utf8)
}

let oneFunding = #"{"category":"linear","list":[{"symbol":"BTCUSDT","fundingRate":"-0.00003341000000000001","fundingRateTimestamp":"1700000000000"}]}"#

@Suite("Bybit client: retries, backoff and pacing on virtual time")
struct BybitClientTests {
    func client(_ t: ScriptedTransport, _ c: VirtualClock, maxAttempts: Int = 4, jitterSeed: UInt64? = nil) -> BybitMarketClient {
        var o = BybitClientOptions(baseURL: "http://127.0.0.1:9/")
        o.maxAttempts = maxAttempts
        if let jitterSeed { o.jitterSeed = jitterSeed }
        o.backoffBaseMs = 200
        o.backoffMaxMs = 5_000
        return BybitMarketClient(options: o, transport: t, clock: c, logger: Logger(label: "test"))
    }

    @Test("a request carries its parameters; the rate is parsed exactly")
    func request() throws {
        let t = ScriptedTransport([.answer(HTTPResponse(status: 200, body: envelope(result: oneFunding)))])
        let c = VirtualClock()
        let rates = try client(t, c).fundingHistory(symbol: "BTCUSDT", startTime: Timestamp(ms: 1), endTime: Timestamp(ms: 2), limit: 200)
        #expect(t.urls == ["http://127.0.0.1:9/v5/market/funding/history?category=linear&symbol=BTCUSDT&startTime=1&endTime=2&limit=200"])
        #expect(rates.map(\.rate.description) == ["-0.00003341000000000001"])
    }

    @Test("retCode 10006 waits for the venue's reset timestamp, then succeeds")
    func rateLimited() throws {
        let limited = HTTPResponse(status: 200, headers: [("X-Bapi-Limit", "10"), ("X-Bapi-Limit-Status", "0"), ("X-Bapi-Limit-Reset-Timestamp", "5000700")],
                                   body: envelope(10006, "Too many visits!"))
        let t = ScriptedTransport([.answer(limited), .answer(HTTPResponse(status: 200, body: envelope(result: oneFunding)))])
        let c = VirtualClock()
        let cl = client(t, c)
        let start = c.nowMs
        let rates = try cl.fundingHistory(symbol: "BTCUSDT")
        #expect(rates.count == 1)
        #expect(cl.stats.rateLimited == 1 && cl.stats.requests == 2)
        #expect(c.nowMs - start >= 700)   // the venue said 700 ms (reset − its time)
    }

    @Test("HTTP 429 and 403 back off and retry")
    func http429() throws {
        let t = ScriptedTransport([.answer(HTTPResponse(status: 429, body: Array("Too Many Requests".utf8))),
                                   .answer(HTTPResponse(status: 403, body: Array("access too frequent".utf8))),
                                   .answer(HTTPResponse(status: 200, body: envelope(result: oneFunding)))])
        let c = VirtualClock()
        let cl = client(t, c)
        _ = try cl.fundingHistory(symbol: "BTCUSDT")
        #expect(cl.stats.rateLimited == 2)
        #expect(c.slept.count >= 2)
    }

    @Test("5xx, timeouts and dropped connections retry with jittered, growing backoff")
    func transient() throws {
        let t = ScriptedTransport([.answer(HTTPResponse(status: 502, body: Array("<html>".utf8))), .fail(.timeout), .fail(.dropped),
                                   .answer(HTTPResponse(status: 200, body: envelope(result: oneFunding)))])
        let c = VirtualClock()
        let cl = client(t, c)
        _ = try cl.fundingHistory(symbol: "BTCUSDT")
        #expect(cl.stats.serverErrors == 1 && cl.stats.timeouts == 1 && cl.stats.dropped == 1)
        #expect(c.slept.count == 3)
        // Equal jitter: attempt n waits in [base·2^(n−1)/2, base·2^(n−1)].
        #expect((100...200).contains(c.slept[0]))
        #expect((200...400).contains(c.slept[1]))
        #expect((400...800).contains(c.slept[2]))
    }

    @Test("the jitter replays from its seed")
    func jitterSeeded() throws {
        func run(seed: UInt64) throws -> [Int64] {
            let t = ScriptedTransport([.fail(.timeout), .fail(.timeout), .fail(.timeout), .answer(HTTPResponse(status: 200, body: envelope(result: oneFunding)))])
            let c = VirtualClock()
            _ = try client(t, c, jitterSeed: seed).fundingHistory(symbol: "BTCUSDT")
            return c.slept
        }
        #expect(try run(seed: 1) == run(seed: 1))
        // And it is jitter: another seed waits differently.
        #expect(try run(seed: 1) != run(seed: 2))
    }

    @Test("attempts are bounded: after maxAttempts 5xx the error names the URL and says what to do")
    func bounded() {
        let t = ScriptedTransport(Array(repeating: .answer(HTTPResponse(status: 503, body: [])), count: 10))
        let c = VirtualClock()
        let cl = client(t, c, maxAttempts: 3)
        #expect {
            _ = try cl.fundingHistory(symbol: "BTCUSDT")
        } throws: { error in
            let e = error as? BybitError
            return e?.code == .http && e!.message.contains("HTTP 503") && e!.message.contains("3 times") && e!.message.contains("/v5/market/funding/history")
        }
        #expect(t.urls.count == 3)
    }

    @Test("connection refused before any answer fails at once with the address to check")
    func refused() {
        let t = ScriptedTransport([.fail(.connectionRefused), .fail(.connectionRefused)])
        let c = VirtualClock()
        #expect {
            _ = try client(t, c).serverTime()
        } throws: { error in
            let e = error as? BybitError
            return e?.code == .transport && e!.message.contains("http://127.0.0.1:9") && e!.message.contains("connection refused")
        }
        #expect(t.urls.count == 1 && c.slept.isEmpty)
    }

    @Test("another retCode fails at once with the venue's message")
    func venueError() {
        let t = ScriptedTransport([.answer(HTTPResponse(status: 200, body: envelope(10001, "Not supported symbols")))])
        #expect {
            _ = try client(t, VirtualClock()).klines(category: .linear, symbol: "NOPE", intervalSeconds: 3600)
        } throws: { error in
            let e = error as? BybitError
            return e?.code == .venue && e?.retCode == 10001 && e!.message.contains("Not supported symbols")
        }
        #expect(t.urls.count == 1)
    }

    @Test("requests are paced by the bucket the venue's headers size")
    func paced() throws {
        let ok = HTTPResponse(status: 200, headers: [("X-Bapi-Limit", "5"), ("X-Bapi-Limit-Status", "4")], body: envelope(result: oneFunding))
        let t = ScriptedTransport(Array(repeating: .answer(ok), count: 12))
        let c = VirtualClock()
        let cl = client(t, c)
        let start = c.nowMs
        for _ in 0..<12 { _ = try cl.fundingHistory(symbol: "BTCUSDT") }
        // 0.8 × 5 = 4 per second (burst 1, refill 3/s): 12 requests need more than 3 s.
        #expect(c.nowMs - start >= 3_000)
        #expect(cl.stats.pacedMs > 0 && cl.stats.retries == 0)
    }
}
