// The Bybit-compatible loopback server: Hummingbird routes to `BybitPublicAPI` (shapes),
// through `SimGate` (rate limits, faults, counters). Data, shaping, gating and HTTP are
// separate so the private endpoints (orders over CarryCore's SimulatedExchange) slot in as
// another API beside the public one.
//
// Besides Bybit's paths it serves `GET /sim/stats` (the gate's and the streams' counters as
// JSON; never rate-limited or faulted), so a test can assert that no request went over the
// limit, and `POST /sim/fault/ws-drop` (kill the WebSocket connections on command). The
// WebSocket streams (`SimStreamServer`) share the port through HTTP/1 upgrades.

public import Logging
import CarryCore
import CarryVenues
import Hummingbird
import NIOCore

/// A request the simulator answers by closing the connection part-way.
struct SimDroppedConnection: Error {}

/// Runs the loopback exchange.
public enum ExchangeSimServer {
    /// Serves until SIGTERM or SIGINT; `onListening(host, port)` is called once bound (with
    /// the real port when `options.port` is 0). Returns the counters.
    public static func run(options: ExchangeSimOptions, logger: Logger, onListening: @escaping @Sendable (String, Int) -> Void) async throws -> SimStats {
        let data = try SimMarketData.load(journalPath: options.journalPath, venue: options.venue, now: options.now)
        logger.info("serving", metadata: ["venue": "\(data.venue)", "instruments": "\(data.instruments.count)", "now": "\(data.now.iso8601)"])
        let api = BybitPublicAPI(data: data)
        let gate = SimGate(rateLimit: options.rateLimit, plan: options.faults)
        let origin = ContinuousClock.now
        let venueNowMs = data.now.ms
        let clock = options.stream.clock ?? { data.now }
        let hub = SimStreamHub(market: SimStreamMarket(data: data, halfSpread: options.stream.halfSpread), apiKey: options.stream.apiKey,
                               faults: options.stream.faults, wallNowMs: options.stream.wallNowMs)
        let allStats: @Sendable () -> SimStats = {
            var s = gate.stats
            s.ws = hub.stats
            return s
        }

        let router = Router()
        for path in BybitPublicAPI.paths {
            router.get(RouterPath(path)) { request, _ -> Response in
                var query: [String: String] = [:]
                for (k, v) in request.uri.queryParameters { query[String(k)] = String(v) }
                let elapsed = ContinuousClock.now - origin
                let nowMs = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
                switch gate.admit(path, nowMs: nowMs) {
                case .serve(let limit, let delayMs):
                    if delayMs > 0 { try await Task.sleep(for: .milliseconds(delayMs)) }
                    let r = api.handle(path: path, query: query) ?? SimResponse(status: 404, body: "", retCode: nil)
                    return response(r, limit: limit, venueNowMs: venueNowMs)
                case .reject10006(let limit):
                    return response(api.envelope(retCode: 10006, retMsg: "Too many visits!"), limit: limit, venueNowMs: venueNowMs)
                case .reject429(let limit):
                    return response(SimResponse(status: 429, body: "Too Many Requests", retCode: nil), limit: limit, venueNowMs: venueNowMs)
                case .fail5xx:
                    return response(SimResponse(status: 503, body: "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>", retCode: nil),
                                     limit: nil, venueNowMs: venueNowMs)
                case .drop:
                    let full = api.handle(path: path, query: query)?.body ?? "{}"
                    let part = ByteBuffer(string: String(full.prefix(max(1, full.utf8.count / 2))))
                    return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody { writer in
                        try await writer.write(part)
                        throw SimDroppedConnection()
                    })
                }
            }
        }
        router.get("/sim/stats") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: allStats().json(limit: options.rateLimit.limit))))
        }
        // Kills every WebSocket connection (`?path=/v5/private` for one stream): the fault on command.
        router.post("/sim/fault/ws-drop") { request, _ -> Response in
            let pathText = request.uri.queryParameters["path"].map(String.init)
            let path = pathText.flatMap(SimStreamPath.init(rawValue:))
            guard pathText == nil || path != nil else {
                return Response(status: .badRequest, body: ResponseBody(byteBuffer: ByteBuffer(string: "unknown stream path \(pathText ?? "")\n")))
            }
            let n = hub.dropAll(path: path)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: "{\"dropped\":\(n)}")))
        }

        var hbLogger = logger
        hbLogger.logLevel = max(logger.logLevel, .warning)
        let host = options.host
        let app = Application(
            router: router,
            server: SimStreamServer.builder(hub: hub, clock: clock),
            configuration: ApplicationConfiguration(address: .hostname(host, port: options.port), serverName: nil),
            onServerRunning: { channel in onListening(host, channel.localAddress?.port ?? options.port) },
            logger: hbLogger)
        // The streams' loops live as long as the server does.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await SimStreamServer.publishLoop(hub: hub, clock: clock, pollMs: options.stream.pollMs) }
            if let feed = options.stream.accountFeed { group.addTask { await SimStreamServer.relay(feed, to: hub) } }
            try await app.runService()
            group.cancelAll()
        }
        return allStats()
    }

    static func response(_ r: SimResponse, limit: SimLimitHeaders?, venueNowMs: Int64) -> Response {
        var headers: HTTPFields = [.contentType: r.status == 200 ? "application/json" : "text/plain"]
        if let limit {
            headers[HTTPFields.Element.Name("X-Bapi-Limit")!] = String(limit.limit)
            headers[HTTPFields.Element.Name("X-Bapi-Limit-Status")!] = String(limit.remaining)
            // On the venue's clock (the `time` of the envelope), so a client turns it into a
            // wait without comparing clocks.
            headers[HTTPFields.Element.Name("X-Bapi-Limit-Reset-Timestamp")!] = String(venueNowMs + limit.resetInMs)
        }
        return Response(status: HTTPResponse.Status(code: r.status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: r.body)))
    }
}
