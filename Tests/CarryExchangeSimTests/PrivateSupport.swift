import CarryCore
import CarryEngine
import CarryJournal
@testable import CarryExchangeSim
import CarryTesting
import CarryVenues
import Foundation
import Logging
import Testing

/// 2026-03-01T00:00:00Z, inside the source journal's span (2025-12-01 → 2026-03-19).
let marchFirst = Timestamp(ms: 1_772_323_200_000)
let simKey = SimCredentials.defaultAPIKey
let simSecret = SimCredentials.defaultSecret

/// The backtest config's defaults: the cost model the loopback venue trades with.
func defaultAccountConfig() throws -> SimAccountConfig {
    let c = try BacktestConfig.parse(yaml: "{}", source: "defaults")
    return SimAccountConfig(fees: c.fees, slippage: c.slippage, margin: c.margin, latencyMs: c.latencyMs, initialCashUsdt: c.initialCapitalUsdt)
}

/// A venue in this process over the source journal, its clock at `now`.
func makeVenue(now: Timestamp = marchFirst, _ configure: (inout ExchangeSimOptions) -> Void = { _ in }) throws -> SimVenue {
    var options = ExchangeSimOptions(journalPath: SourceJournal.shared.path)
    options.rateLimit = SimRateLimit(limit: 1000)
    configure(&options)
    let market = try SimMarketData.load(journalPath: options.journalPath, venue: nil, now: now)
    return SimVenue(market: market, options: options, defaultAccount: try defaultAccountConfig())
}

/// An `HTTPTransport` that hands requests to a `SimVenue` in this process, raw, at a wall time
/// the test sets.
final class VenueTransport: HTTPTransport {
    let venue: SimVenue
    var wall = SimWallTime(elapsedMs: 0, epochMs: 1_800_000_000_000)
    var sent = 0

    init(_ venue: SimVenue) { self.venue = venue }

    func get(_ request: HTTPRequest) throws -> HTTPResponse { try send(request) }

    func send(_ request: HTTPRequest) throws -> HTTPResponse {
        sent += 1
        let afterHost = request.url.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
        let rest = "/" + (afterHost.count > 3 ? afterHost[3] : "")
        let parts = rest.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var headers: [String: String] = [:]
        for h in request.headers { headers[h.name] = h.value }
        let sim = SimRequest(method: request.method, path: String(parts[0]), rawQuery: parts.count > 1 ? String(parts[1]) : "",
                             rawBody: request.body ?? [], headers: headers)
        switch venue.handle(sim, wall) {
        case .respond(let r, let limit, _):
            var h: [(name: String, value: String)] = []
            if let limit { h = [("X-Bapi-Limit", String(limit.limit)), ("X-Bapi-Limit-Status", String(limit.remaining))] }
            return HTTPResponse(status: r.status, headers: h, body: Array(r.body.utf8))
        case .drop:
            throw TransportError(.dropped, url: request.url, detail: "closed mid-body")
        }
    }
}

/// A virtual clock for clients in tests (sleeping advances it).
final class TestClock: VenueClock {
    var nowMs: Int64 = 1_800_000_000_000
    func sleep(ms: Int64) { nowMs += ms }
}

/// A trading client with the venue's test keys.
func simClient(_ transport: any HTTPTransport, baseURL: String = "http://127.0.0.1:9", clock: any VenueClock = TestClock(),
               secret: String = simSecret, logger: Logger = Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() })) -> BybitTradingClient {
    var o = BybitClientOptions(baseURL: baseURL)
    o.backoffBaseMs = 20
    o.backoffMaxMs = 500
    o.maxAttempts = 8
    return BybitTradingClient(options: o, credentials: BybitCredentials(apiKey: simKey, secret: secret)!, transport: transport, clock: clock, logger: logger)
}

/// A raw signed request as a third-party client would send it.
func rawRequest(_ method: String, _ path: String, query: String = "", body: String = "", timestampMs: Int64, key: String = simKey,
                secret: String = simSecret, signedPayload: String? = nil) -> SimRequest {
    let payload = signedPayload ?? (method == "GET" ? query : body)
    let sign = BybitSigner.signature(secret: secret, apiKey: key, timestampMs: timestampMs, recvWindowMs: 5000, payload: Array(payload.utf8))
    return SimRequest(method: method, path: path, rawQuery: query, rawBody: Array(body.utf8),
                      headers: ["X-BAPI-API-KEY": key, "X-BAPI-TIMESTAMP": String(timestampMs), "X-BAPI-SIGN": sign, "X-BAPI-RECV-WINDOW": "5000",
                                "Content-Type": "application/json"])
}

extension SimAnswer {
    /// The response of a `.respond`.
    var response: SimResponse? {
        if case .respond(let r, _, _) = self { return r }
        return nil
    }

    /// The JSON envelope of the response.
    var json: [String: Any] {
        guard let r = response, let d = r.body.data(using: .utf8), let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else { return [:] }
        return o
    }
}

/// Settlements of `symbol`'s perpetual in (after, through], read straight from the market
/// journal: time, rate, mark price.
func journalSettlements(_ symbol: String, after: Timestamp, through: Timestamp) throws -> [(time: Timestamp, rate: Fixed, mark: Fixed?)] {
    let journal = try Journal.open(SourceJournal.shared.path, readOnly: true)
    var perp: InstrumentId? = nil
    var out: [(time: Timestamp, rate: Fixed, mark: Fixed?)] = []
    try journal.withSnapshot { snap in
        _ = try snap.scan { view in
            switch try view.decode() {
            case .instrumentDefined(let d) where d.symbol == symbol && d.kind == .linearPerpetual:
                perp = d.id
            case .fundingSettled(let f) where f.instrumentId == perp && view.header.eventTime > after && view.header.eventTime <= through:
                out.append((view.header.eventTime, f.ratePerInterval, f.markPrice))
            default:
                break
            }
            return true
        }
    }
    return out
}
