// The Bybit v5 public market client: pacing, retries and parsing around an injected
// transport and clock.
//
// Policy, in order, for every request:
//   1. Wait for a token of the endpoint's group (never send over the pace the venue allows).
//   2. Send. What comes back decides:
//      - retCode 0 → parse and return; the rate-limit headers correct the bucket.
//      - retCode 10006, HTTP 429 or 403 (rate limited / IP ban) → block the group until the
//        venue's reset timestamp, else an exponential backoff with jitter; retry.
//      - HTTP 5xx, retCode 10000/10016 (venue busy), timeout, dropped connection, a body that
//        is not Bybit's shape → jittered exponential backoff; retry.
//      - connection refused before the venue ever answered, an unresolvable host → fail at
//        once: the address is wrong or the server is down, waiting will not help.
//      - any other retCode or 4xx → fail with the venue's own message.
//   3. At most `maxAttempts` sends per call; then a `BybitError` that says what to check.
//
// Jitter comes from a seeded generator, so a test replays the same waits from its seed.

public import CarryCore
public import Logging

/// How the client paces and retries.
public struct BybitClientOptions: Sendable {
    /// `https://api.bybit.com`, or the loopback simulator.
    public var baseURL: String
    public var requestTimeoutMs = 10_000
    public var connectTimeoutMs = 5_000
    /// Sends per call, the first included.
    public var maxAttempts = 6
    /// First backoff; doubles per attempt up to `backoffMaxMs`, half of it random.
    public var backoffBaseMs: Int64 = 250
    public var backoffMaxMs: Int64 = 30_000
    /// Pace per endpoint group before the venue's headers say otherwise.
    public var rateLimits: [EndpointGroup: RateLimitConfig] = [:]
    /// Pace of the groups without their own entry. Bybit allows 600 requests per 5 s per IP
    /// on public endpoints; 10/s with a burst of 5 stays far below it.
    public var defaultRateLimit = RateLimitConfig(requestsPerSecond: 10, burst: 5)
    /// Share of an advertised limit the client uses.
    public var safety = 0.8
    /// Seed of the backoff jitter.
    public var jitterSeed: UInt64 = 0x00C0_FFEE
    /// Alternate hosts of the same venue (Bybit publishes api.bytick.com beside
    /// api.bybit.com), tried in order when one cannot be reached at all.
    public var backupBaseURLs: [String] = []
    /// `X-BAPI-RECV-WINDOW` of signed requests.
    public var recvWindowMs: Int64 = 5000

    /// The primary host first, then the backups.
    public var allBaseURLs: [String] { [baseURL] + backupBaseURLs.filter { $0 != baseURL } }

    /// Options for `baseURL` with the defaults above.
    public init(baseURL: String) {
        self.baseURL = Bybit.normalizedBaseURL(baseURL) ?? baseURL
    }
}

/// What the client has done so far.
public struct BybitClientStats: Sendable, Equatable {
    /// Requests sent (retries included).
    public var requests = 0
    /// Retries after a rate-limit answer (10006, 429, 403).
    public var rateLimited = 0
    /// Retries after a 5xx or a busy retCode.
    public var serverErrors = 0
    /// Retries after a timeout.
    public var timeouts = 0
    /// Retries after a dropped connection or a truncated body.
    public var dropped = 0
    /// Time spent waiting for tokens (pacing), ms.
    public var pacedMs: Int64 = 0
    /// Time spent in backoff and venue-imposed waits, ms.
    public var backoffMs: Int64 = 0
    /// Switches to the next base URL after one could not be reached.
    public var failovers = 0
    /// Clock resyncs (`/v5/market/time`) after a 10002 answer.
    public var clockResyncs = 0

    /// All retries.
    public var retries: Int { rateLimited + serverErrors + timeouts + dropped }
}

/// A client of Bybit's public v5 market endpoints. Not thread-safe: one fetch at a time.
public final class BybitMarketClient {
    public let options: BybitClientOptions
    let transport: any HTTPTransport
    let clock: any VenueClock
    let logger: Logger
    private var pacer: RequestPacer
    private var everAnswered = false
    /// Index into `options.allBaseURLs` of the host in use.
    private var urlIndex = 0
    /// Counters since creation.
    public private(set) var stats = BybitClientStats()

    /// A client over `transport`, pacing with `clock`, logging retries to `logger`.
    public init(options: BybitClientOptions, transport: any HTTPTransport, clock: any VenueClock, logger: Logger) {
        self.options = options
        self.transport = transport
        self.clock = clock
        self.logger = logger
        pacer = RequestPacer(options: options, nowMs: clock.nowMs)
    }

    /// The host requests go to now.
    public var baseURL: String { options.allBaseURLs[urlIndex] }

    // MARK: Endpoints

    /// One page of settled funding, newest first: at most `limit` (≤ 200) settlements with
    /// time in [startTime, endTime]. Without `startTime`, the `limit` latest up to `endTime`.
    public func fundingHistory(category: Bybit.Category = .linear, symbol: String, startTime: Timestamp? = nil, endTime: Timestamp? = nil,
                               limit: Int = 200) throws -> [BybitFundingRate] {
        precondition(startTime == nil || endTime != nil, "Bybit refuses startTime without endTime")
        var q = [("category", category.rawValue), ("symbol", symbol)]
        if let startTime { q.append(("startTime", String(startTime.ms))) }
        if let endTime { q.append(("endTime", String(endTime.ms))) }
        q.append(("limit", String(limit)))
        let body = try perform(.fundingHistory, Bybit.Path.fundingHistory, q)
        return try BybitParser.fundingHistory(body)
    }

    /// One page of klines, newest first: bars whose start is in [start, end], at most `limit`.
    public func klines(category: Bybit.Category, symbol: String, intervalSeconds: UInt32, start: Timestamp? = nil, end: Timestamp? = nil,
                       limit: Int = 1000) throws -> [BybitKline] {
        guard let interval = Bybit.klineInterval(seconds: intervalSeconds) else {
            throw BybitError(.venue, "Bybit has no \(intervalSeconds) s kline interval (1, 3, 5, 15, 30, 60, 120, 240, 360, 720 min, D, W)")
        }
        var q = [("category", category.rawValue), ("symbol", symbol), ("interval", interval)]
        if let start { q.append(("start", String(start.ms))) }
        if let end { q.append(("end", String(end.ms))) }
        q.append(("limit", String(limit)))
        return try BybitParser.klines(try perform(.kline, Bybit.Path.kline, q))
    }

    /// One page of instrument rules.
    public func instrumentsPage(category: Bybit.Category, symbol: String? = nil, cursor: String? = nil, limit: Int? = nil) throws -> BybitInstrumentsPage {
        var q = [("category", category.rawValue)]
        if let symbol { q.append(("symbol", symbol)) }
        if let limit { q.append(("limit", String(limit))) }
        if let cursor, !cursor.isEmpty { q.append(("cursor", cursor)) }
        return try BybitParser.instruments(try perform(.instruments, Bybit.Path.instrumentsInfo, q), category: category)
    }

    /// Every instrument of a category, following `nextPageCursor` (linear has 500+).
    public func allInstruments(category: Bybit.Category, pageLimit: Int = 1000) throws -> [BybitInstrument] {
        var all: [BybitInstrument] = []
        var cursor = ""
        var pages = 0
        repeat {
            let page = try instrumentsPage(category: category, cursor: cursor, limit: category == .spot ? nil : pageLimit)
            all += page.list
            pages += 1
            guard page.nextPageCursor != cursor else { break }
            cursor = page.nextPageCursor
        } while !cursor.isEmpty && pages < 1000
        return all
    }

    /// Ticker snapshots (one symbol, or the whole category).
    public func tickers(category: Bybit.Category, symbol: String? = nil) throws -> [BybitTicker] {
        var q = [("category", category.rawValue)]
        if let symbol { q.append(("symbol", symbol)) }
        return try BybitParser.tickers(try perform(.tickers, Bybit.Path.tickers, q))
    }

    /// The venue's clock.
    public func serverTime() throws -> BybitServerTime {
        try BybitParser.serverTime(try perform(.time, Bybit.Path.serverTime, []))
    }

    // MARK: The request loop

    enum Retry {
        case rateLimited(venueWaitMs: Int64?, what: String)
        case server(String)
        case timeout(String)
        case dropped(String)
    }

    /// Sends a GET until it succeeds or the policy gives up; returns the body of a
    /// `retCode` 0 response.
    func perform(_ group: EndpointGroup, _ path: String, _ query: [(String, String)]) throws -> [UInt8] {
        let tail = path + (query.isEmpty ? "" : "?" + queryString(query))
        var url = baseURL + tail
        var attempt = 0
        var last: Retry? = nil
        while attempt < options.maxAttempts {
            attempt += 1
            stats.pacedMs += pacer.pace(group, clock: clock)
            stats.requests += 1
            url = baseURL + tail
            let request = HTTPRequest(url: url, timeoutMs: options.requestTimeoutMs, connectTimeoutMs: options.connectTimeoutMs)
            let outcome = send(request, group: group)
            switch outcome {
            case .success(let body):
                return body
            case .failure(.fatal(let error)):
                if error.code == .transport, !everAnswered, urlIndex + 1 < options.allBaseURLs.count {
                    urlIndex += 1   // unreachable host: the next one, without spending an attempt
                    stats.failovers += 1
                    attempt -= 1
                    logger.warning("failing over", metadata: ["to": "\(baseURL)"])
                    continue
                }
                throw error
            case .failure(.retry(let reason)):
                last = reason
                guard attempt < options.maxAttempts else { break }
                var wait = pacer.backoff(attempt)
                switch reason {
                case .rateLimited(let venueWait, _):
                    stats.rateLimited += 1
                    if let venueWait { wait = min(max(venueWait, 1), options.backoffMaxMs) }
                    pacer.block(group, forMs: wait, nowMs: clock.nowMs)
                case .server: stats.serverErrors += 1
                case .timeout: stats.timeouts += 1
                case .dropped: stats.dropped += 1
                }
                logger.warning("retrying", metadata: ["path": "\(path)", "attempt": "\(attempt)", "reason": "\(describe(reason))", "waitMs": "\(wait)"])
                stats.backoffMs += wait
                clock.sleep(ms: wait)
            }
        }
        throw giveUp(last!, url: url)
    }

    enum Failure: Error {
        case retry(Retry)
        case fatal(BybitError)
    }

    private func send(_ request: HTTPRequest, group: EndpointGroup) -> Result<[UInt8], Failure> {
        let response: HTTPResponse
        do {
            response = try transport.get(request)
        } catch let e as TransportError {
            switch e.kind {
            case .timeout:
                return .failure(.retry(.timeout("no answer within \(request.timeoutMs) ms")))
            case .dropped:
                return .failure(.retry(.dropped("the connection closed before a complete answer (\(e.detail))")))
            case .connectionRefused where everAnswered:
                return .failure(.retry(.dropped("connection refused by a server that answered before (\(e.detail))")))
            case .connectionRefused:
                return .failure(.fatal(BybitError(.transport, "cannot connect to \(baseURL) (connection refused). Nothing is listening there: check that the exchange (or `carry exchange-sim`) is running at that address and that --base-url is right.")))
            case .unresolvedHost:
                return .failure(.fatal(BybitError(.transport, "cannot resolve the host of \(baseURL) (\(e.detail)). Check --base-url and this machine's DNS and network.")))
            case .other:
                return .failure(.fatal(BybitError(.transport, "GET \(request.url) failed: \(e.detail). Check --base-url (http:// or https://) and the network.")))
            }
        } catch {
            return .failure(.fatal(BybitError(.transport, "GET \(request.url) failed: \(error)")))
        }
        everAnswered = true
        let envelope = try? BybitParser.envelope(response.body)
        let status = pacer.observe(response, group: group, venueNowMs: envelope?.time, nowMs: clock.nowMs)
        switch response.status {
        case 200:
            break
        case 429, 403:
            let what = response.status == 403 ? "HTTP 403 (Bybit's IP limit: access too frequent)" : "HTTP 429 (too many requests)"
            return .failure(.retry(.rateLimited(venueWaitMs: pacer.limiter.resetDelay(status, venueNowMs: envelope?.time), what: what)))
        case 500...599:
            return .failure(.retry(.server("HTTP \(response.status)")))
        default:
            let msg = envelope.map { ": \($0.retMsg) (retCode \($0.retCode))" } ?? ": \(BybitParser.snippet(response.body))"
            return .failure(.fatal(BybitError(.http, "Bybit answered HTTP \(response.status) to GET \(request.url)\(msg)")))
        }
        guard let envelope else {
            return .failure(.retry(.dropped("the body is not a Bybit envelope: \(BybitParser.snippet(response.body))")))
        }
        switch envelope.retCode {
        case 0:
            return .success(response.body)
        case 10006:
            return .failure(.retry(.rateLimited(venueWaitMs: pacer.limiter.resetDelay(status, venueNowMs: envelope.time), what: "retCode 10006 '\(envelope.retMsg)'")))
        case 10000, 10016:
            return .failure(.retry(.server("retCode \(envelope.retCode) '\(envelope.retMsg)'")))
        default:
            return .failure(.fatal(BybitError(.venue, retCode: envelope.retCode,
                                              "Bybit refused GET \(request.url): \(envelope.retMsg) (retCode \(envelope.retCode))")))
        }
    }

    private func describe(_ r: Retry) -> String {
        switch r {
        case .rateLimited(_, let what): return "rate limited: \(what)"
        case .server(let s): return "venue error: \(s)"
        case .timeout(let s): return "timeout: \(s)"
        case .dropped(let s): return "dropped: \(s)"
        }
    }

    private func giveUp(_ r: Retry, url: String) -> BybitError {
        let n = options.maxAttempts
        switch r {
        case .rateLimited(_, let what):
            let ban = what.hasPrefix("HTTP 403") ? " HTTP 403 is an IP ban: wait at least 10 minutes before trying again." : " Wait a minute and run again."
            return BybitError(.rateLimited, "Bybit kept rate-limiting GET \(url) (\(what)) for \(n) attempts.\(ban) carry fetch resumes where it stopped.")
        case .server(let s):
            return BybitError(.http, "Bybit answered \(s) to GET \(url) \(n) times in a row: the venue is failing or in maintenance. Try again later; carry fetch resumes where it stopped.")
        case .timeout(let s):
            return BybitError(.transport, "GET \(url) timed out \(n) times (\(s)). Check the network and the server at \(baseURL), or raise --timeout.")
        case .dropped(let s):
            return BybitError(.transport, "GET \(url) failed \(n) times: \(s). Check the network and the server at \(baseURL).")
        }
    }
}

/// `a=1&b=2`, values percent-encoded, in the order given (what is sent is what is signed).
func queryString(_ query: [(String, String)]) -> String {
    query.map { "\($0.0)=\(percentEncode($0.1))" }.joined(separator: "&")
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass).
func percentEncode(_ s: String) -> String {
    var out = ""
    for b in s.utf8 {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            out.append(Character(Unicode.Scalar(b)))
        default:
            let hex = Array("0123456789ABCDEF")
            out += "%" + String(hex[Int(b >> 4)]) + String(hex[Int(b & 15)])
        }
    }
    return out
}
