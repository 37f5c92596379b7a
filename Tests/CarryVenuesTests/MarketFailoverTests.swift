import CarryCore
@testable import CarryVenues
import Logging
import Testing

@Suite("Bybit market client: backup hosts")
struct MarketFailoverTests {
    @Test("an unreachable host is left for the next configured one, without spending an attempt or sleeping")
    func failover() throws {
        let time = #"{"timeSecond":"1700000000","timeNano":"1700000000123000000"}"#
        let t = ScriptedTransport([.fail(.connectionRefused), .fail(.unresolvedHost), .answer(HTTPResponse(status: 200, body: envelope(result: time)))])
        var o = BybitClientOptions(baseURL: "http://127.0.0.1:9")
        o.backupBaseURLs = ["http://127.0.0.1:10", "http://127.0.0.1:11"]
        o.maxAttempts = 1
        let c = VirtualClock()
        let client = BybitMarketClient(options: o, transport: t, clock: c, logger: Logger(label: "test"))
        #expect(try client.serverTime().time == Timestamp(ms: 1_700_000_000_123))
        #expect(t.urls == ["http://127.0.0.1:9/v5/market/time", "http://127.0.0.1:10/v5/market/time", "http://127.0.0.1:11/v5/market/time"])
        #expect(client.stats.failovers == 2 && client.baseURL == "http://127.0.0.1:11" && c.slept.isEmpty)
    }
}
