// The Bybit-compatible loopback server: Hummingbird hands every request, raw, to `SimVenue`
// (gate, public and private APIs, control paths) and writes its answer: rate-limit headers,
// slow answers, dropped connections. A background task moves the replay clock.
//
// Besides Bybit's paths it serves `/sim/*` (stats, advance, clock-skew, maintenance, ws-drop;
// never rate-limited or faulted), so a test can read the venue's own counts and flip switches.
// The WebSocket streams share the port (HTTP/1 upgrades, `SimStreamServer`): a loop polls the
// venue's clock for their news, another relays the account's changes to the private topics.

public import Logging
import CarryCore
import CarryVenues
import Foundation
import Hummingbird
import NIOCore

/// A request the simulator answers by closing the connection part-way.
struct SimDroppedConnection: Error {}

/// Runs the loopback exchange.
public enum ExchangeSimServer {
    /// Serves until SIGTERM or SIGINT (or the task is cancelled); `onListening(host, port)` is
    /// called once bound (with the real port when `options.port` is 0). Returns the counters as
    /// `/sim/stats` shows them (JSON).
    public static func run(options: ExchangeSimOptions, defaultAccount: SimAccountConfig, logger: Logger,
                           onListening: @escaping @Sendable (String, Int) -> Void) async throws -> String {
        let start = options.replaySpeed != nil ? options.replayStart ?? options.now : options.now
        let data = try SimMarketData.load(journalPath: options.journalPath, venue: options.venue, now: start)
        if options.replaySpeed != nil && start == nil, let first = firstEventTime(data) { data.resetClock(to: first) }
        let venue = SimVenue(market: data, options: options, defaultAccount: defaultAccount)
        logger.info("serving", metadata: ["venue": "\(data.venue)", "instruments": "\(data.instruments.count)", "now": "\(data.now.iso8601)",
                                          "replaySpeed": "\(options.replaySpeed?.description ?? "standing")"])
        let origin = ContinuousClock.now
        let wall: @Sendable () -> SimWallTime = {
            let elapsed = ContinuousClock.now - origin
            return SimWallTime(elapsedMs: elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000,
                               epochMs: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
        }

        let router = Router()
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch] {
            router.on("**", method: method) { request, _ -> Response in
                var request = request
                let body = try await request.collectBody(upTo: 1 << 20)
                var headers: [String: String] = [:]
                for field in request.headers { headers[field.name.canonicalName] = field.value }
                let sim = SimRequest(method: request.method.rawValue, path: request.uri.path, rawQuery: request.uri.query ?? "",
                                     rawBody: Array(body.readableBytesView), headers: headers)
                return try await respond(venue.handle(sim, wall()), venueNowMs: data.now.ms)
            }
        }

        var hbLogger = logger
        hbLogger.logLevel = max(logger.logLevel, .warning)
        let host = options.host
        let clock = options.stream.clock ?? { data.now }
        let app = Application(
            router: router,
            server: SimStreamServer.builder(hub: venue.streams, clock: clock),
            configuration: ApplicationConfiguration(address: .hostname(host, port: options.port), serverName: nil),
            onServerRunning: { channel in onListening(host, channel.localAddress?.port ?? options.port) },
            logger: hbLogger)
        // The replay clock and the streams' loops live as long as the server does.
        let feed = options.stream.accountFeed ?? venue.account
        try await withThrowingTaskGroup(of: Void.self) { group in
            if venue.clock != nil {
                group.addTask {
                    while !Task.isCancelled {
                        venue.tick(wall())
                        try await Task.sleep(for: .milliseconds(20))
                    }
                }
            }
            group.addTask { await SimStreamServer.publishLoop(hub: venue.streams, clock: clock, pollMs: options.stream.pollMs) }
            group.addTask { await SimStreamServer.relay(feed, to: venue.streams) }
            try await app.runService()
            group.cancelAll()
        }
        return venue.statsJSON()
    }

    static func firstEventTime(_ data: SimMarketData) -> Timestamp? {
        var first: Timestamp? = nil
        for inst in data.instruments {
            for bars in inst.bars.values { if let b = bars.first { first = min(first ?? b.closeTime, b.closeTime) } }
        }
        return first
    }

    static func respond(_ answer: SimAnswer, venueNowMs: Int64) async throws -> Response {
        switch answer {
        case .respond(let r, let limit, let delayMs):
            if delayMs > 0 { try await Task.sleep(for: .milliseconds(delayMs)) }
            return response(r, limit: limit, venueNowMs: venueNowMs)
        case .drop(let partial):
            let part = ByteBuffer(string: partial)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody { writer in
                try await writer.write(part)
                throw SimDroppedConnection()
            })
        }
    }

    static func response(_ r: SimResponse, limit: SimLimitHeaders?, venueNowMs: Int64) -> Response {
        let json = r.body.hasPrefix("{")
        var headers: HTTPFields = [.contentType: json ? "application/json" : "text/plain"]
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
