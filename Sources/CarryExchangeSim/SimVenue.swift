// The whole loopback venue without HTTP: market data, the account, the replay clock, the
// public and private APIs, the gate, and the switches a test flips (clock skew, maintenance,
// manual time). `ExchangeSimServer` maps HTTP to `handle`; tests call it directly with raw
// requests, exactly as bytes arrive.
//
// Every request: `/sim/*` control paths bypass everything; Bybit paths pass the gate (rate
// limit, storms, maintenance, faults) first, then the public or private API; anything else
// is answered in Bybit's envelope (retCode 10001, HTTP 404), never a bare 404.

public import CarryCore
import CarryVenues
import Synchronization

/// One request as it arrived.
public struct SimRequest: Sendable {
    public var method: String
    public var path: String
    /// The query string exactly as sent, without `?`.
    public var rawQuery: String
    /// The body exactly as sent.
    public var rawBody: [UInt8]
    /// Header values by lower-cased name.
    public var headers: [String: String]

    public init(method: String, path: String, rawQuery: String = "", rawBody: [UInt8] = [], headers: [String: String] = [:]) {
        self.method = method
        self.path = path
        self.rawQuery = rawQuery
        self.rawBody = rawBody
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
    }
}

/// Wall time at a request: ms since the venue started (gate, replay) and since the epoch
/// (signature timestamps of clients that sign with their own clock).
public struct SimWallTime: Sendable {
    public var elapsedMs: Int64
    public var epochMs: Int64

    public init(elapsedMs: Int64, epochMs: Int64) {
        self.elapsedMs = elapsedMs
        self.epochMs = epochMs
    }
}

/// What to send back.
public enum SimAnswer: Sendable, Equatable {
    /// A response, with rate-limit headers when the gate gave some, after `delayMs`.
    case respond(SimResponse, limit: SimLimitHeaders?, delayMs: Int)
    /// Send this part of a body, then close the connection.
    case drop(partialBody: String)
}

/// The loopback venue.
public final class SimVenue: Sendable {
    public let market: SimMarketData
    public let account: SimAccount
    public let replay: SimReplay
    public let publicAPI: BybitPublicAPI
    public let privateAPI: BybitPrivateAPI
    public let gate: SimGate
    public let options: ExchangeSimOptions
    /// The replay clock, when time runs by itself.
    public let clock: SimReplayClock?
    /// The WebSocket streams (their sockets are `SimStreamServer`'s).
    public let streams: SimStreamHub

    private struct Switches {
        var skewMs: Int64
        /// Wall elapsed ms when the market clock last moved.
        var movedAtMs: Int64 = 0
        var auth: [Int: Int] = [:]
        /// Requests to the signed endpoints (whatever became of them).
        var privateRequests = 0
    }
    private let switches: Mutex<Switches>

    /// A venue over `market` with `options`; the account is funded and primed with every
    /// event up to the start time.
    public init(market: SimMarketData, options: ExchangeSimOptions, defaultAccount: SimAccountConfig) {
        var accountConfig = options.account ?? defaultAccount
        accountConfig.partialFillEvery = options.faults.every(.partial)
        accountConfig.rejectBalanceEvery = options.faults.every(.rejectBalance)
        accountConfig.rejectMinNotionalEvery = options.faults.every(.rejectMinNotional)
        self.market = market
        self.options = options
        account = SimAccount(config: accountConfig, market: market)
        replay = SimReplay(market: market, account: account, barIntervalSeconds: options.barIntervalSeconds)
        publicAPI = BybitPublicAPI(data: market)
        let api = publicAPI
        privateAPI = BybitPrivateAPI(account: account, credentials: options.credentials, mode: options.accountMode) { api.envelope(retCode: $0, retMsg: $1, result: $2) }
        gate = SimGate(rateLimit: options.rateLimit, plan: options.faults)
        clock = options.replaySpeed.map { SimReplayClock(start: market.now, speed: $0) }
        switches = Mutex(Switches(skewMs: options.clockSkewMs))
        streams = SimStreamHub(market: SimStreamMarket(data: market, halfSpread: options.stream.halfSpread), credentials: options.credentials,
                               faults: options.stream.faults, wallNowMs: options.stream.wallNowMs)
    }

    // MARK: Time

    /// Moves the replay clock to where wall time says it is (no-op for a standing clock).
    public func tick(_ wall: SimWallTime) {
        guard let clock else { return }
        move(to: clock.venueTime(wallElapsedMs: wall.elapsedMs), wall)
    }

    /// Moves the venue's time forward to `time` (a test's switch; with a running replay it
    /// jumps ahead of it, and the replay continues from there).
    public func advance(to time: Timestamp, _ wall: SimWallTime) { move(to: time, wall) }

    private func move(to time: Timestamp, _ wall: SimWallTime) {
        let before = market.now
        replay.advance(to: time)
        if market.now != before { switches.withLock { $0.movedAtMs = wall.elapsedMs } }
    }

    /// The clock-skew switch: the venue's clock is `ms` ahead of the data's (negative: behind).
    public func setClockSkew(ms: Int64) { switches.withLock { $0.skewMs = ms } }

    private func clocks(_ wall: SimWallTime) -> SimAuthClocks {
        switches.withLock { s in
            SimAuthClocks(wallNowMs: wall.epochMs, marketNowMs: market.now.ms, speed: clock?.speed.doubleValue ?? 0,
                          sinceMarketMovedMs: max(0, wall.elapsedMs - s.movedAtMs), skewMs: s.skewMs)
        }
    }

    // MARK: Requests

    /// Answers one request.
    public func handle(_ request: SimRequest, _ wall: SimWallTime) -> SimAnswer {
        tick(wall)
        if request.path.hasPrefix("/sim/") { return .respond(control(request, wall), limit: nil, delayMs: 0) }
        let isPublic = BybitPublicAPI.paths.contains(request.path)
        let privateMethod = BybitPrivateAPI.routes[request.path]
        if privateMethod != nil { switches.withLock { $0.privateRequests += 1 } }
        guard (isPublic && request.method == "GET") || privateMethod == request.method else { return .respond(unsupported(request), limit: nil, delayMs: 0) }
        switch gate.admit(request.path, nowMs: wall.elapsedMs) {
        case .serve(let limit, let delayMs):
            let (r, placed) = dispatch(request, wall)
            if placed, let fault = afterAcceptFault() { return fault == .dropAfterAccept ? .drop(partialBody: Self.half(r.body)) : .respond(Self.unavailable, limit: nil, delayMs: 0) }
            return .respond(r, limit: limit, delayMs: delayMs)
        case .reject10006(let limit):
            return .respond(publicAPI.envelope(retCode: 10006, retMsg: "Too many visits!"), limit: limit, delayMs: 0)
        case .reject429(let limit):
            return .respond(SimResponse(status: 429, body: "Too Many Requests", retCode: nil), limit: limit, delayMs: 0)
        case .fail5xx:
            return .respond(Self.unavailable, limit: nil, delayMs: 0)
        case .maintenance:
            return .respond(SimResponse(status: 503, body: publicAPI.envelope(retCode: 10016, retMsg: "Service is under maintenance.").body, retCode: 10016),
                            limit: nil, delayMs: 0)
        case .drop:
            return .drop(partialBody: Self.half(dispatch(request, wall).0.body))
        }
    }

    static let unavailable = SimResponse(status: 503, body: "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>", retCode: nil)

    static func half(_ body: String) -> String { String(body.prefix(max(1, body.utf8.count / 2))) }

    private func dispatch(_ request: SimRequest, _ wall: SimWallTime) -> (SimResponse, Bool) {
        if request.path == Bybit.Path.serverTime { return (publicAPI.serverTime(skewMs: switches.withLock { $0.skewMs }), false) }
        if let r = publicAPI.handle(path: request.path, query: BybitPrivateAPI.queryParameters(request.rawQuery)) { return (r, false) }
        let header: (String) -> String? = { request.headers[$0.lowercased()] }
        guard let outcome = privateAPI.handle(method: request.method, path: request.path, rawQuery: request.rawQuery, rawBody: request.rawBody,
                                              header: header, clocks: clocks(wall)) else { return (unsupported(request), false) }
        if let code = outcome.response.retCode, [10002, 10003, 10004].contains(code) { switches.withLock { $0.auth[code, default: 0] += 1 } }
        return (outcome.response, outcome.placedOrder)
    }

    /// The after-accept fault due for the order just placed, counted.
    private func afterAcceptFault() -> SimFaultKind? {
        let n = account.counts.placed
        for kind in [SimFaultKind.dropAfterAccept, .fail5xxAfterAccept] {
            let every = options.faults.every(kind)
            if every > 0 && n % every == 0 {
                gate.count(kind)
                return kind
            }
        }
        return nil
    }

    /// Bybit's envelope for a path or method the venue does not serve.
    func unsupported(_ request: SimRequest) -> SimResponse {
        var r = publicAPI.envelope(retCode: 10001, retMsg: "\(request.method) \(request.path) is not supported by this venue")
        r.status = 404
        return r
    }

    // MARK: Control and stats

    private func control(_ request: SimRequest, _ wall: SimWallTime) -> SimResponse {
        let q = BybitPrivateAPI.queryParameters(request.rawQuery)
        switch (request.method, request.path) {
        case ("GET", "/sim/stats"):
            return SimResponse(status: 200, body: statsJSON(), retCode: nil)
        case ("POST", "/sim/advance"):
            guard let target = q["to"].flatMap({ Int64($0) }).map(Timestamp.init(ms:)) ?? q["by"].flatMap({ Int64($0) }).map({ market.now.adding(ms: $0) }) else {
                return SimResponse(status: 400, body: "{\"error\":\"to=<epoch ms> or by=<ms>\"}", retCode: nil)
            }
            advance(to: target, wall)
            return SimResponse(status: 200, body: "{\"now\":\(market.now.ms)}", retCode: nil)
        case ("POST", "/sim/clock-skew"):
            guard let ms = q["ms"].flatMap({ Int64($0) }) else { return SimResponse(status: 400, body: "{\"error\":\"ms=<skew>\"}", retCode: nil) }
            setClockSkew(ms: ms)
            return SimResponse(status: 200, body: "{\"clockSkewMs\":\(ms)}", retCode: nil)
        case ("POST", "/sim/fault/ws-drop"):
            // Kills the WebSocket connections (of one stream with `?path=`): the fault on command.
            let path = q["path"].flatMap(SimStreamPath.init(rawValue:))
            guard q["path"] == nil || path != nil else { return SimResponse(status: 400, body: "{\"error\":\"path=/v5/public/linear|/v5/public/spot|/v5/private\"}", retCode: nil) }
            return SimResponse(status: 200, body: "{\"dropped\":\(streams.dropAll(path: path))}", retCode: nil)
        case ("POST", "/sim/maintenance"):
            guard let ms = q["ms"].flatMap({ Int64($0) }), ms >= 0 else { return SimResponse(status: 400, body: "{\"error\":\"ms=<length>\"}", retCode: nil) }
            gate.startMaintenance(nowMs: wall.elapsedMs, lengthMs: ms)
            return SimResponse(status: 200, body: "{\"maintenanceMs\":\(ms)}", retCode: nil)
        default:
            return unsupported(request)
        }
    }

    /// The gate's counters plus the venue's: the served venue, the replay, the account's
    /// order counts (proof that no duplicate was placed) and authentication refusals.
    public func statsJSON() -> String {
        var gateStats = gate.stats
        let counts = account.counts
        gateStats.injected[.rejectBalance, default: 0] += counts.injected[.rejectBalance] ?? 0
        gateStats.injected[.rejectMinNotional, default: 0] += counts.injected[.rejectMinNotional] ?? 0
        gateStats.injected[.partial, default: 0] += counts.injected[.partial] ?? 0
        let base = gateStats.json(limit: options.rateLimit.limit)
        let s = switches.withLock { $0 }
        let progress = replay.delivered
        let venueName = market.instruments.first?.definition.venue.description ?? market.venue.description
        let extra = ",\"sourceVenue\":\(jsonString(venueName)),\"servedAs\":\"bybit\",\"now\":\(market.now.ms),"
            + "\"replay\":{\"speed\":\(jsonString(clock?.speed.description ?? "0")),\"bars\":\(progress.bars),\"settlements\":\(progress.settlements)},"
            + "\"orders\":{\"createRequests\":\(counts.createRequests),\"placed\":\(counts.placed),\"distinctOrderLinkIds\":\(counts.distinctLinkIds),"
            + "\"duplicatesRefused\":\(counts.duplicatesRefused),\"rejected\":\(counts.rejected),\"executions\":\(counts.executions),\"settlements\":\(counts.settlements)},"
            + "\"privateRequests\":\(s.privateRequests),\"auth\":{\"10002\":\(s.auth[10002] ?? 0),\"10003\":\(s.auth[10003] ?? 0),\"10004\":\(s.auth[10004] ?? 0)},\"clockSkewMs\":\(s.skewMs),"
            + "\"ws\":\(streams.stats.json)}"
        return String(base.dropLast()) + extra
    }
}
