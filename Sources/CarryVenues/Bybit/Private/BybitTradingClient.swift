// The Bybit v5 trading client: signed requests to the order, position and account endpoints,
// over the same injected transport and clock as the market client, with the same pacing.
//
// Policy:
//   - Every signed request carries a timestamp on the venue's clock: local time plus an offset
//     measured from `/v5/market/time` (before the first signed request, and again after any
//     10002 answer).
//   - Reads, cancels and leverage changes are retried like public requests (rate limits wait
//     for the venue's reset, 5xx/10000/10016/timeouts back off, 10002 resyncs the clock).
//   - **Order create is sent once.** Whatever happens after the bytes may have left — a
//     timeout, a dropped connection, a 5xx, 10016, 170146, an answer that does not parse — the
//     outcome is `.unknown`; the caller resolves it with `queryOrder(category:orderLinkId:)`.
//     Only a refusal the venue states (a retCode) is `.rejected`; a host that cannot be
//     reached at all is tried at the next base URL (nothing was sent), then `.rejected` with
//     kind `.unreachable`.
//   - Venue messages are redacted before they reach an error or a log line: Bybit's 10004
//     answer echoes the signed string, which contains the API key.

public import CarryCore
public import Logging

/// A client of Bybit's signed v5 endpoints. Not thread-safe: one request at a time.
public final class BybitTradingClient {
    public let options: BybitClientOptions
    let signer: BybitSigner
    let transport: any HTTPTransport
    let clock: any VenueClock
    let logger: Logger
    private var pacer: RequestPacer
    private var urlIndex = 0
    private var clockSynced = false
    /// Venue clock − local clock, ms, as last measured.
    public private(set) var clockOffsetMs: Int64 = 0
    /// Counters since creation.
    public private(set) var stats = BybitClientStats()

    /// A client signing with `credentials`.
    public init(options: BybitClientOptions, credentials: BybitCredentials, transport: any HTTPTransport, clock: any VenueClock, logger: Logger) {
        self.options = options
        self.signer = BybitSigner(credentials: credentials, recvWindowMs: options.recvWindowMs)
        self.transport = transport
        self.clock = clock
        self.logger = logger
        pacer = RequestPacer(options: options, nowMs: clock.nowMs)
    }

    /// The host requests go to now.
    public var baseURL: String { options.allBaseURLs[urlIndex] }

    // MARK: Orders

    /// Creates an order, sending it exactly once (see the policy above).
    public func createOrder(_ order: BybitOrderRequest) -> BybitOrderOutcome {
        let body = BybitTradingClient.createBody(order)
        if let error = syncClockIfNeeded() { return .rejected(retCode: -1, message: error, kind: .unreachable) }
        switch attempt(.post(BybitPrivatePath.orderCreate, body), group: .order) {
        case .unreachable(let why):
            return .rejected(retCode: -1, message: why, kind: .unreachable)
        case .noAnswer(let why):
            return .unknown(reason: "sent, then \(why): the order may exist; query it by orderLinkId \(order.orderLinkId)")
        case .status(let code, let body):
            if code == 429 || code == 403 { return .rejected(retCode: 10006, message: "HTTP \(code): rate limited", kind: .rateLimited) }
            return .unknown(reason: "HTTP \(code) after sending (\(BybitParser.fingerprint(body))): the order may exist; query it by orderLinkId \(order.orderLinkId)")
        case .envelope(let env, let bytes):
            return createOutcome(env, bytes, order)
        }
    }

    private func createOutcome(_ env: BybitEnvelope, _ bytes: [UInt8], _ order: BybitOrderRequest) -> BybitOrderOutcome {
        switch env.retCode {
        case 0:
            guard let ref = try? BybitParser.orderRef(bytes) else {
                return .unknown(reason: "accepted (retCode 0) but the answer does not parse (\(BybitParser.fingerprint(bytes))); query orderLinkId \(order.orderLinkId)")
            }
            return .accepted(orderId: ref.orderId, orderLinkId: ref.orderLinkId.isEmpty ? order.orderLinkId : ref.orderLinkId)
        case 110072, 170141:
            // The venue already has an order with this orderLinkId: it exists. Query it.
            return .unknown(reason: "retCode \(env.retCode) '\(redact(env.retMsg))': an order with orderLinkId \(order.orderLinkId) already exists; query it")
        case 10016, 10000, 170146:
            return .unknown(reason: "retCode \(env.retCode) '\(redact(env.retMsg))': the venue may have placed it; query orderLinkId \(order.orderLinkId)")
        case 10002:
            // Refused before processing: nothing was placed. Resync so the caller's next order is on time.
            _ = try? resyncClock()
            return .rejected(retCode: 10002, message: redact(env.retMsg), kind: .timestamp)
        default:
            return .rejected(retCode: env.retCode, message: redact(env.retMsg), kind: BybitRejectKind(retCode: env.retCode))
        }
    }

    /// The JSON body of a create, keys in Bybit's documented order.
    static func createBody(_ o: BybitOrderRequest) -> [(String, BybitJSONValue)] {
        var b: [(String, BybitJSONValue)] = [("category", .string(o.category.rawValue)), ("symbol", .string(o.symbol)),
                                               ("side", .string(o.side == .buy ? "Buy" : "Sell")),
                                               ("orderType", .string(o.orderType == .market ? "Market" : "Limit")), ("qty", .string(o.qty.description))]
        if o.category == .spot && o.orderType == .market { b.append(("marketUnit", .string("baseCoin"))) }
        if let p = o.price { b.append(("price", .string(p.description))) }
        b.append(("timeInForce", .string(o.timeInForce.bybitName)))
        if o.category != .spot { b.append(("reduceOnly", .bool(o.reduceOnly))) }
        b.append(("orderLinkId", .string(o.orderLinkId)))
        return b
    }

    /// Cancels one order by id or orderLinkId. A 110001/170213 answer throws with
    /// `rejectKind == .orderNotFound` (already filled or cancelled, or never placed).
    public func cancelOrder(category: Bybit.Category, symbol: String, orderId: String? = nil, orderLinkId: String? = nil) throws -> BybitOrderRef {
        precondition(orderId != nil || orderLinkId != nil, "cancel needs an orderId or an orderLinkId")
        var b: [(String, BybitJSONValue)] = [("category", .string(category.rawValue)), ("symbol", .string(symbol))]
        if let orderId { b.append(("orderId", .string(orderId))) }
        if let orderLinkId { b.append(("orderLinkId", .string(orderLinkId))) }
        return try BybitParser.orderRef(try perform(.post(BybitPrivatePath.orderCancel, b), group: .order))
    }

    /// Cancels every open order of a category (one symbol, or all).
    public func cancelAll(category: Bybit.Category, symbol: String? = nil) throws -> [BybitOrderRef] {
        var b: [(String, BybitJSONValue)] = [("category", .string(category.rawValue))]
        if let symbol { b.append(("symbol", .string(symbol))) }
        else if category != .spot { b.append(("settleCoin", .string("USDT"))) }
        return try BybitParser.cancelAll(try perform(.post(BybitPrivatePath.orderCancelAll, b), group: .order))
    }

    /// Open orders (and, on Bybit, orders closed in the last minutes) of a category.
    public func openOrders(category: Bybit.Category, symbol: String? = nil, orderLinkId: String? = nil, limit: Int? = nil) throws -> [BybitOrder] {
        var q = [("category", category.rawValue)]
        if let symbol { q.append(("symbol", symbol)) } else if category != .spot && orderLinkId == nil { q.append(("settleCoin", "USDT")) }
        if let orderLinkId { q.append(("orderLinkId", orderLinkId)) }
        if let limit { q.append(("limit", String(limit))) }
        return try BybitParser.orders(try perform(.get(BybitPrivatePath.orderRealtime, q), group: .order))
    }

    /// Closed and open orders, newest first.
    public func orderHistory(category: Bybit.Category, symbol: String? = nil, orderLinkId: String? = nil, limit: Int = 50) throws -> [BybitOrder] {
        var q = [("category", category.rawValue)]
        if let symbol { q.append(("symbol", symbol)) }
        if let orderLinkId { q.append(("orderLinkId", orderLinkId)) }
        q.append(("limit", String(limit)))
        return try BybitParser.orders(try perform(.get(BybitPrivatePath.orderHistory, q), group: .order))
    }

    /// The order with this orderLinkId, wherever it is (realtime first, then history); nil
    /// when the venue has none: an `.unknown` create that returns nil was not placed.
    public func queryOrder(category: Bybit.Category, orderLinkId: String) throws -> BybitOrder? {
        if let o = try openOrders(category: category, orderLinkId: orderLinkId).first(where: { $0.orderLinkId == orderLinkId }) { return o }
        return try orderHistory(category: category, orderLinkId: orderLinkId).first { $0.orderLinkId == orderLinkId }
    }

    /// Executions, newest first; funding rows (`execType=Funding`) separated from fills.
    public func executions(category: Bybit.Category, symbol: String? = nil, orderId: String? = nil, startTime: Timestamp? = nil,
                           endTime: Timestamp? = nil, limit: Int = 100, cursor: String? = nil) throws -> BybitExecutions {
        var q = [("category", category.rawValue)]
        if let symbol { q.append(("symbol", symbol)) }
        if let orderId { q.append(("orderId", orderId)) }
        if let startTime { q.append(("startTime", String(startTime.ms))) }
        if let endTime { q.append(("endTime", String(endTime.ms))) }
        q.append(("limit", String(limit)))
        if let cursor, !cursor.isEmpty { q.append(("cursor", cursor)) }
        return try BybitParser.executions(try perform(.get(BybitPrivatePath.executionList, q), group: .order))
    }

    // MARK: Positions and account

    /// Positions of a category (linear: all USDT-settled ones unless a symbol is given).
    public func positions(category: Bybit.Category = .linear, symbol: String? = nil) throws -> [BybitPosition] {
        var q = [("category", category.rawValue)]
        if let symbol { q.append(("symbol", symbol)) } else { q.append(("settleCoin", "USDT")) }
        return try BybitParser.positions(try perform(.get(BybitPrivatePath.positionList, q), group: .position))
    }

    /// Sets both sides' leverage; "not modified" (110043) is success.
    public func setLeverage(category: Bybit.Category = .linear, symbol: String, leverage: Fixed) throws -> BybitLeverageResult {
        let b: [(String, BybitJSONValue)] = [("category", .string(category.rawValue)), ("symbol", .string(symbol)),
                                               ("buyLeverage", .string(leverage.description)), ("sellLeverage", .string(leverage.description))]
        do {
            _ = try perform(.post(BybitPrivatePath.setLeverage, b), group: .position)
            return .changed
        } catch let e as BybitError where e.retCode == 110043 {
            return .unchanged
        }
    }

    /// The unified account's balances (one coin, or all).
    public func walletBalance(coin: String? = nil) throws -> BybitWallet {
        var q = [("accountType", "UNIFIED")]
        if let coin { q.append(("coin", coin)) }
        return try BybitParser.wallet(try perform(.get(BybitPrivatePath.walletBalance, q), group: .account))
    }

    /// The account's fee rates for a category (one symbol, or all).
    public func feeRates(category: Bybit.Category, symbol: String? = nil) throws -> [BybitFeeRate] {
        var q = [("category", category.rawValue)]
        if let symbol { q.append(("symbol", symbol)) }
        return try BybitParser.feeRates(try perform(.get(BybitPrivatePath.feeRate, q), group: .account))
    }

    /// Transaction log rows, newest first (`type` SETTLEMENT: funding per position), following
    /// `nextPageCursor` for at most `maxPages` pages of `limit` rows.
    public func transactionLog(category: Bybit.Category? = nil, currency: String? = nil, type: String? = nil, startTime: Timestamp? = nil,
                               endTime: Timestamp? = nil, limit: Int = 50, maxPages: Int = 1) throws -> [BybitTransaction] {
        var q = [("accountType", "UNIFIED")]
        if let category { q.append(("category", category.rawValue)) }
        if let currency { q.append(("currency", currency)) }
        if let type { q.append(("type", type)) }
        if let startTime { q.append(("startTime", String(startTime.ms))) }
        if let endTime { q.append(("endTime", String(endTime.ms))) }
        q.append(("limit", String(limit)))
        var rows: [BybitTransaction] = []
        var cursor = ""
        for _ in 0..<max(1, maxPages) {
            let page = try BybitParser.transactionsPage(try perform(.get(BybitPrivatePath.transactionLog, q + (cursor.isEmpty ? [] : [("cursor", cursor)])), group: .account))
            rows += page.rows
            guard !page.nextPageCursor.isEmpty, page.nextPageCursor != cursor else { break }
            cursor = page.nextPageCursor
        }
        return rows
    }

    /// `/v5/account/info`.
    public func accountInfo() throws -> BybitAccountInfo {
        try BybitParser.accountInfo(try perform(.get(BybitPrivatePath.accountInfo, []), group: .account))
    }

    /// `/v5/user/query-api`: the key's permissions (a client checks them at start).
    public func apiKeyInfo() throws -> BybitAPIKeyInfo {
        try BybitParser.apiKeyInfo(try perform(.get(BybitPrivatePath.queryAPI, []), group: .account))
    }

    // MARK: Clock

    /// Measures the venue's clock against ours: offset = venue time − the midpoint of the
    /// round trip. A 5xx, a rate limit, a timeout or an answer that is not the venue's time is
    /// retried with backoff, like any read.
    public func resyncClock() throws {
        var lastProblem = ""
        for attemptNumber in 1...options.maxAttempts {
            stats.pacedMs += pacer.pace(.time, clock: clock)
            stats.requests += 1
            let before = clock.nowMs
            let request = HTTPRequest(url: baseURL + Bybit.Path.serverTime, timeoutMs: options.requestTimeoutMs, connectTimeoutMs: options.connectTimeoutMs)
            do {
                let response = try transport.send(request)
                if response.status == 200, let venue = try? BybitParser.serverTime(response.body) {
                    let after = clock.nowMs
                    clockOffsetMs = venue.time.ms - (before + (after - before) / 2)
                    clockSynced = true
                    return
                }
                stats.serverErrors += 1
                lastProblem = "HTTP \(response.status) (\(BybitParser.fingerprint(response.body)))"
            } catch let e as TransportError {
                if [.connectionRefused, .unresolvedHost, .other].contains(e.kind) {
                    guard urlIndex + 1 < options.allBaseURLs.count else {
                        throw BybitError(.transport, "cannot read the venue's clock at \(baseURL): \(e.detail)")
                    }
                    urlIndex += 1
                    stats.failovers += 1
                    logger.warning("failing over", metadata: ["to": "\(baseURL)", "reason": "\(e.kind.rawValue)"])
                    continue
                }
                stats.timeouts += 1
                lastProblem = e.kind.rawValue
            }
            guard attemptNumber < options.maxAttempts else { break }
            let wait = pacer.backoff(attemptNumber)
            stats.backoffMs += wait
            clock.sleep(ms: wait)
        }
        throw BybitError(.transport, "cannot read the venue's clock at \(baseURL) after \(options.maxAttempts) tries, last: \(lastProblem)")
    }

    /// Measures the clock once, before the first signed request; the failure, if any.
    private func syncClockIfNeeded() -> String? {
        guard !clockSynced else { return nil }
        do { try resyncClock() } catch { return "cannot sign on the venue's clock: \(error)" }
        return nil
    }

    // MARK: Requests

    /// One signed request, described before signing.
    enum Call {
        case get(String, [(String, String)])
        case post(String, [(String, BybitJSONValue)])

        var path: String {
            switch self {
            case .get(let p, _), .post(let p, _): return p
            }
        }
    }

    /// What one send produced.
    enum Answer {
        /// No host could be reached: nothing was sent.
        case unreachable(String)
        /// Sent; no complete answer (timeout, dropped).
        case noAnswer(String)
        /// An HTTP status other than 200, or a 200 that is not an envelope.
        case status(Int, [UInt8])
        case envelope(BybitEnvelope, [UInt8])
    }

    /// Paces, signs with a fresh timestamp and sends once, failing over to the next base URL
    /// while hosts cannot be reached.
    private func attempt(_ call: Call, group: EndpointGroup) -> Answer {
        stats.pacedMs += pacer.pace(group, clock: clock)
        while true {
            stats.requests += 1
            let request = signedRequest(call)
            let response: HTTPResponse
            do {
                response = try transport.send(request)
            } catch let e as TransportError {
                switch e.kind {
                case .other where request.method != "GET":
                    // libcurl's catch-all includes failures after the request went out (an
                    // HTTP/2 stream reset, a garbled reply): for an order that is no answer.
                    return .noAnswer("the transport failed, possibly after sending (\(e.kind.rawValue))")
                case .connectionRefused, .unresolvedHost, .other:
                    guard urlIndex + 1 < options.allBaseURLs.count else {
                        urlIndex = 0
                        return .unreachable("cannot reach \(options.allBaseURLs.joined(separator: " or ")) (\(e.kind.rawValue)): nothing was sent")
                    }
                    urlIndex += 1
                    stats.failovers += 1
                    logger.warning("failing over", metadata: ["to": "\(baseURL)", "reason": "\(e.kind.rawValue)"])
                    continue
                case .timeout:
                    return .noAnswer("no answer within \(options.requestTimeoutMs) ms")
                case .dropped:
                    return .noAnswer("the connection closed before a complete answer")
                }
            } catch {
                return .unreachable("the transport failed before sending: \(type(of: error))")
            }
            let envelope = try? BybitParser.envelope(response.body)
            _ = pacer.observe(response, group: group, venueNowMs: envelope?.time, nowMs: clock.nowMs)
            guard response.status == 200, let envelope else { return .status(response.status, response.body) }
            return .envelope(envelope, response.body)
        }
    }

    private func signedRequest(_ call: Call) -> HTTPRequest {
        let timestamp = clock.nowMs + clockOffsetMs
        switch call {
        case .get(let path, let query):
            let qs = queryString(query)
            return HTTPRequest(url: baseURL + path + (qs.isEmpty ? "" : "?" + qs), headers: signer.headers(timestampMs: timestamp, payload: Array(qs.utf8)),
                               timeoutMs: options.requestTimeoutMs, connectTimeoutMs: options.connectTimeoutMs)
        case .post(let path, let fields):
            let body = Array(BybitJSONValue.object(fields).utf8)
            return HTTPRequest(url: baseURL + path, method: "POST", body: body,
                               headers: signer.headers(timestampMs: timestamp, payload: body) + [("Content-Type", "application/json")],
                               timeoutMs: options.requestTimeoutMs, connectTimeoutMs: options.connectTimeoutMs)
        }
    }

    /// Sends a request that is safe to repeat until it succeeds or the policy gives up;
    /// returns the body of a retCode 0 answer.
    func perform(_ call: Call, group: EndpointGroup) throws -> [UInt8] {
        if let error = syncClockIfNeeded() { throw BybitError(.transport, error) }
        var lastProblem = ""
        for attemptNumber in 1...options.maxAttempts {
            let wait: Int64
            switch attempt(call, group: group) {
            case .unreachable(let why):
                throw BybitError(.transport, "\(call.path): \(why). Check --base-url and that the venue is running.")
            case .noAnswer(let why):
                stats.timeouts += 1
                lastProblem = why
                wait = pacer.backoff(attemptNumber)
            case .status(let code, let body):
                if code == 429 || code == 403 {
                    stats.rateLimited += 1
                    wait = pacer.rateLimitWait(group, status: nil, venueNowMs: nil, attempt: attemptNumber, nowMs: clock.nowMs)
                } else if code >= 500 || code == 200 {
                    stats.serverErrors += 1
                    wait = pacer.backoff(attemptNumber)
                } else {
                    throw BybitError(.http, "\(call.path): HTTP \(code) (\(BybitParser.fingerprint(body)))")
                }
                lastProblem = "HTTP \(code) (\(BybitParser.fingerprint(body)))"
            case .envelope(let env, let body):
                switch env.retCode {
                case 0:
                    return body
                case 10002:
                    stats.clockResyncs += 1
                    try resyncClock()
                    wait = 0
                case 10006:
                    stats.rateLimited += 1
                    wait = pacer.rateLimitWait(group, status: nil, venueNowMs: env.time, attempt: attemptNumber, nowMs: clock.nowMs)
                case 10000, 10016:
                    stats.serverErrors += 1
                    wait = pacer.backoff(attemptNumber)
                default:
                    throw BybitError(.venue, retCode: env.retCode, "Bybit refused \(call.path): \(redact(env.retMsg)) (retCode \(env.retCode))")
                }
                lastProblem = "retCode \(env.retCode) '\(redact(env.retMsg))'"
            }
            guard attemptNumber < options.maxAttempts else { break }
            logger.warning("retrying", metadata: ["path": "\(call.path)", "attempt": "\(attemptNumber)", "reason": "\(lastProblem)", "waitMs": "\(wait)"])
            stats.backoffMs += wait
            clock.sleep(ms: wait)
        }
        throw BybitError(.transport, "\(call.path) failed \(options.maxAttempts) times, last: \(lastProblem). Check the venue at \(baseURL).")
    }

    /// A venue message with the API key cut out (10004 answers echo the signed string).
    func redact(_ message: String) -> String {
        let key = signer.credentials.apiKey
        return key.isEmpty ? message : message.replacingOccurrences(of: key, with: "<key>")
    }
}

/// The signed endpoints' paths.
public enum BybitPrivatePath {
    public static let orderCreate = "/v5/order/create"
    public static let orderCancel = "/v5/order/cancel"
    public static let orderCancelAll = "/v5/order/cancel-all"
    public static let orderRealtime = "/v5/order/realtime"
    public static let orderHistory = "/v5/order/history"
    public static let executionList = "/v5/execution/list"
    public static let positionList = "/v5/position/list"
    public static let setLeverage = "/v5/position/set-leverage"
    public static let walletBalance = "/v5/account/wallet-balance"
    public static let feeRate = "/v5/account/fee-rate"
    public static let transactionLog = "/v5/account/transaction-log"
    public static let accountInfo = "/v5/account/info"
    public static let queryAPI = "/v5/user/query-api"
}

/// A JSON value of a request body (Bybit's bodies are flat objects of strings and booleans).
public enum BybitJSONValue: Sendable, Equatable {
    case string(String)
    case bool(Bool)

    /// `{"k":"v",...}`, compact, keys in the order given.
    public static func object(_ fields: [(String, BybitJSONValue)]) -> String {
        "{" + fields.map { "\(jsonString($0.0)):\($0.1.text)" }.joined(separator: ",") + "}"
    }

    var text: String {
        switch self {
        case .string(let s): return jsonString(s)
        case .bool(let b): return b ? "true" : "false"
        }
    }
}

/// A JSON string literal.
public func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where u.value < 0x20:
            let hex = String(u.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(u)
        }
    }
    return out + "\""
}

extension TimeInForce {
    /// Bybit's name: GTC, IOC, FOK, PostOnly.
    public var bybitName: String {
        switch self {
        case .goodTillCancel: return "GTC"
        case .immediateOrCancel: return "IOC"
        case .fillOrKill: return "FOK"
        case .postOnly: return "PostOnly"
        }
    }
}
