import CarryCore
@testable import CarryVenues
import Logging
import Synchronization
import Testing

/// A transport whose answers come from a closure; records every request.
final class FunctionTransport: HTTPTransport {
    var requests: [HTTPRequest] = []
    let answer: (HTTPRequest, Int) throws -> HTTPResponse
    init(_ answer: @escaping (HTTPRequest, Int) throws -> HTTPResponse) { self.answer = answer }
    func get(_ request: HTTPRequest) throws -> HTTPResponse { try send(request) }
    func send(_ request: HTTPRequest) throws -> HTTPResponse {
        requests.append(request)
        return try answer(request, requests.count)
    }
    /// Requests other than the clock sync.
    var signed: [HTTPRequest] { requests.filter { !$0.url.hasSuffix(Bybit.Path.serverTime) } }
}

/// Collects every log line (message and metadata) in memory.
final class LogSink: @unchecked Sendable {
    let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func handler(_ label: String) -> some LogHandler { CapturingHandler(sink: self) }
}

struct CapturingHandler: LogHandler {
    let sink: LogSink
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        sink.lines.withLock { $0.append("\(event.level) \(event.message) \(all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))") }
    }
}

let timeBody = #"{"retCode":0,"retMsg":"OK","result":{"timeSecond":"1700000000","timeNano":"1700000000000000000"},"retExtInfo":{},"time":1700000000000}"#

func ok(_ result: String) -> HTTPResponse {
    HTTPResponse(status: 200, body: Array(#"{"retCode":0,"retMsg":"OK","result":\#(result),"retExtInfo":{},"time":1700000000000}"#.utf8))
}

func refusal(_ code: Int, _ msg: String) -> HTTPResponse {
    HTTPResponse(status: 200, body: Array(#"{"retCode":\#(code),"retMsg":"\#(msg)","result":{},"retExtInfo":{},"time":1700000000000}"#.utf8))
}

/// Answers the clock sync, then hands every other request to `rest`.
func venue(_ rest: @escaping (HTTPRequest, Int) throws -> HTTPResponse) -> FunctionTransport {
    var n = 0
    return FunctionTransport { r, _ in
        if r.url.hasSuffix(Bybit.Path.serverTime) { return HTTPResponse(status: 200, body: Array(timeBody.utf8)) }
        n += 1
        return try rest(r, n)
    }
}

let testKey = "TESTKEY0123456789"
let testSecret = "TESTSECRETabcdefghij"

func tradingClient(_ t: FunctionTransport, backups: [String] = [], logger: Logger = Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() })) -> (BybitTradingClient, VirtualClock) {
    var o = BybitClientOptions(baseURL: "http://127.0.0.1:1")
    o.backupBaseURLs = backups
    o.backoffBaseMs = 10
    o.maxAttempts = 4
    let clock = VirtualClock()
    return (BybitTradingClient(options: o, credentials: BybitCredentials(apiKey: testKey, secret: testSecret)!, transport: t, clock: clock, logger: logger), clock)
}

let order = BybitOrderRequest(category: .linear, symbol: "BTCUSDT", side: .sell, orderType: .market, qty: Fixed("0.010")!, orderLinkId: "pair7-perp-open")

@Suite("Bybit trading client")
struct TradingClientTests {
    @Test("a create is signed over its exact body, on the venue's clock")
    func signedCreate() throws {
        let t = venue { _, _ in ok(#"{"orderId":"1321003749386327552","orderLinkId":"pair7-perp-open"}"#) }
        let (c, clock) = tradingClient(t)
        let outcome = c.createOrder(order)
        #expect(outcome == .accepted(orderId: "1321003749386327552", orderLinkId: "pair7-perp-open"))
        let r = try #require(t.signed.first)
        let body = String(decoding: r.body ?? [], as: UTF8.self)
        #expect(body == #"{"category":"linear","symbol":"BTCUSDT","side":"Sell","orderType":"Market","qty":"0.010","timeInForce":"IOC","reduceOnly":false,"orderLinkId":"pair7-perp-open"}"#)
        let h = Dictionary(uniqueKeysWithValues: r.headers.map { ($0.name, $0.value) })
        let ts = try #require(h["X-BAPI-TIMESTAMP"].flatMap { Int64($0) })
        // The venue said 1_700_000_000_000 while our clock read 1_000_000: the offset moves us onto its clock.
        #expect(c.clockOffsetMs == 1_700_000_000_000 - 1_000_000)
        #expect(ts == clock.nowMs + c.clockOffsetMs)
        #expect(h["X-BAPI-SIGN"] == BybitSigner.signature(secret: testSecret, apiKey: testKey, timestampMs: ts, recvWindowMs: 5000, payload: r.body ?? []))
        #expect(r.method == "POST" && r.url == "http://127.0.0.1:1/v5/order/create")
    }

    @Test("a create is never sent twice: timeout, dropped, 5xx, 10016, 170146 and garbage are unknown after one send")
    func createNeverRetried() {
        let answers: [(String, () throws -> HTTPResponse)] = [
            ("timeout", { throw TransportError(.timeout, url: "", detail: "t") }),
            ("dropped", { throw TransportError(.dropped, url: "", detail: "d") }),
            ("503", { HTTPResponse(status: 503, body: Array("<html>".utf8)) }),
            ("10016", { refusal(10016, "Internal system error") }),
            ("170146", { refusal(170146, "Order creation timeout") }),
            ("garbage", { HTTPResponse(status: 200, body: Array(#"{"retCode":0,"retMsg":"OK","result":{"orderId":12}}"#.utf8)) }),
        ]
        for (name, answer) in answers {
            let t = venue { _, _ in try answer() }
            let (c, _) = tradingClient(t)
            guard case .unknown(let reason) = c.createOrder(order) else {
                Issue.record("\(name): not unknown")
                continue
            }
            #expect(t.signed.count == 1, "\(name): sent \(t.signed.count) times")
            #expect(reason.contains("pair7-perp-open"), "\(name): the reason names the orderLinkId to query")
        }
    }

    @Test("refusals are typed by retCode")
    func rejectKinds() {
        let cases: [(Int, BybitRejectKind)] = [(110007, .insufficientBalance), (170131, .insufficientBalance), (110017, .reduceOnlyViolation), (10006, .rateLimited),
                                               (10003, .authentication), (10004, .authentication), (10005, .authentication), (110094, .belowMinimum),
                                               (10001, .invalidRequest)]
        for (code, kind) in cases {
            let t = venue { _, _ in refusal(code, "refused") }
            let (c, _) = tradingClient(t)
            #expect(c.createOrder(order) == .rejected(retCode: code, message: "refused", kind: kind))
            #expect(t.signed.count == 1)
        }
        #expect(BybitRejectKind(retCode: 110001) == .orderNotFound && BybitRejectKind(retCode: 170213) == .orderNotFound)
    }

    @Test("a duplicate orderLinkId on create means the order exists: unknown, sent once, the reason says to query it")
    func duplicateIsUnknown() {
        for code in [110072, 170141] {
            let t = venue { _, _ in refusal(code, "OrderLinkedID is duplicate") }
            let (c, _) = tradingClient(t)
            guard case .unknown(let reason) = c.createOrder(order) else {
                Issue.record("\(code): not unknown")
                continue
            }
            #expect(reason.contains("already exists") && reason.contains("pair7-perp-open"))
            #expect(t.signed.count == 1)
            #expect(BybitRejectKind(retCode: code) == .duplicateOrderLinkId)
        }
    }

    @Test("10002 resyncs the clock: a read is retried once in time, a create is refused without resending")
    func timestampResync() throws {
        let t = venue { _, n in n == 1 ? refusal(10002, "invalid request, please check your server timestamp or recv_window param") : ok(#"{"list":[{"symbol":"BTCUSDT","takerFeeRate":"0.00055","makerFeeRate":"0.0002"}]}"#) }
        let (c, _) = tradingClient(t)
        let fees = try c.feeRates(category: .linear, symbol: "BTCUSDT")
        #expect(fees == [BybitFeeRate(symbol: "BTCUSDT", takerFeeRate: Fixed("0.00055")!, makerFeeRate: Fixed("0.0002")!)])
        #expect(c.stats.clockResyncs == 1)
        #expect(t.requests.filter { $0.url.hasSuffix(Bybit.Path.serverTime) }.count == 2)

        let t2 = venue { _, _ in refusal(10002, "invalid request") }
        let (c2, _) = tradingClient(t2)
        #expect(c2.createOrder(order) == .rejected(retCode: 10002, message: "invalid request", kind: .timestamp))
        #expect(t2.signed.count == 1)
    }

    @Test("an unreachable host fails over to the next base URL; with none reachable a create is refused as unreachable")
    func failover() throws {
        let t = venue { r, _ in
            if r.url.hasPrefix("http://127.0.0.1:1/") { throw TransportError(.connectionRefused, url: r.url, detail: "refused") }
            return ok(#"{"marginMode":"REGULAR_MARGIN","unifiedMarginStatus":5}"#)
        }
        let (c, _) = tradingClient(t, backups: ["http://127.0.0.1:2"])
        let info = try c.accountInfo()
        #expect(info == BybitAccountInfo(marginMode: "REGULAR_MARGIN", unifiedMarginStatus: 5))
        #expect(c.stats.failovers == 1 && c.baseURL == "http://127.0.0.1:2")
        // Every host refusing: nothing was sent, so the create is a refusal, not an unknown.
        let dead = FunctionTransport { r, _ in throw TransportError(.connectionRefused, url: r.url, detail: "refused") }
        let (c2, _) = tradingClient(dead, backups: ["http://127.0.0.1:2"])
        guard case .rejected(_, _, .unreachable) = c2.createOrder(order) else { Issue.record("not unreachable"); return }
    }

    @Test("110043 (leverage not modified) is success")
    func leverage() throws {
        let t = venue { _, n in n == 1 ? ok("{}") : refusal(110043, "leverage not modified") }
        let (c, _) = tradingClient(t)
        #expect(try c.setLeverage(symbol: "BTCUSDT", leverage: Fixed(2)) == .changed)
        #expect(try c.setLeverage(symbol: "BTCUSDT", leverage: Fixed(2)) == .unchanged)
        #expect(String(decoding: t.signed[0].body ?? [], as: UTF8.self) == #"{"category":"linear","symbol":"BTCUSDT","buyLeverage":"2","sellLeverage":"2"}"#)
    }

    @Test("queryOrder looks in realtime, then history; nil when the venue has no such order")
    func queryOrder() throws {
        let row = #"{"orderId":"o1","orderLinkId":"L1","symbol":"BTCUSDT","side":"Sell","orderType":"Market","orderStatus":"Filled","qty":"0.010","price":"0","avgPrice":"43000.5","cumExecQty":"0.010","cumExecFee":"0.23650275","leavesQty":"0","timeInForce":"IOC","reduceOnly":false,"createdTime":"1700000000000","updatedTime":"1700000000100"}"#
        let t = venue { r, _ in
            if r.url.contains("/v5/order/realtime") { return ok(#"{"list":[],"nextPageCursor":"","category":"linear"}"#) }
            return ok(#"{"list":[\#(r.url.contains("orderLinkId=L1") ? row : "")],"nextPageCursor":"","category":"linear"}"#)
        }
        let (c, _) = tradingClient(t)
        let found = try #require(try c.queryOrder(category: .linear, orderLinkId: "L1"))
        #expect(found.orderStatus == "Filled" && found.cumExecQty == Fixed("0.010")! && found.avgPrice == Fixed("43000.5")! && found.cumExecFee == Fixed("0.23650275")!)
        #expect(try c.queryOrder(category: .linear, orderLinkId: "L2") == nil)
    }

    @Test("keys and signatures never reach a log line or an error, even when the venue echoes them")
    func noSecretsLeak() throws {
        let sink = LogSink()
        let logger = Logger(label: "leak") { sink.handler($0) }
        var signatures: [String] = []
        // Bybit's 10004 answer echoes the signed string, key included; 5xx and 10006 make the client log retries.
        let t = venue { r, n in
            signatures += r.headers.filter { $0.name == "X-BAPI-SIGN" }.map(\.value)
            switch n % 3 {
            case 1: return HTTPResponse(status: 503, body: Array("busy \(testKey)".utf8))
            case 2: return refusal(10006, "Too many visits! \(testKey)")
            default: return refusal(10004, "error sign! origin_string[1700000000000\(testKey)5000accountType=UNIFIED]")
            }
        }
        let (c, _) = tradingClient(t, logger: logger)
        var errors: [String] = []
        do { _ = try c.walletBalance() } catch { errors.append("\(error)") }
        if case .rejected(_, let m, _) = c.createOrder(order) { errors.append(m) }
        if case .unknown(let m) = c.createOrder(order) { errors.append(m) }
        do { _ = try BybitParser.wallet(Array("{\"retCode\":0,\"result\":{\"list\":[{\"apiKey\":\"\(testKey)\"".utf8)) } catch { errors.append("\(error)") }
        #expect(!signatures.isEmpty && !errors.isEmpty && !sink.all.isEmpty)
        for text in errors + sink.all {
            #expect(!text.contains(testKey) && !text.contains(testSecret), "leak: \(text)")
            for s in signatures { #expect(!text.contains(s), "signature leaked: \(text)") }
        }
    }

    @Test("an answer that does not parse is an error with the body's length and SHA-256, never its bytes")
    func fingerprint() {
        let body = Array(#"{"retCode":0,"retMsg":"OK","result":{"list":[{"symbol":"BTCUSDT","takerFeeRate":12}]}}"#.utf8)
        do {
            _ = try BybitParser.feeRates(body)
            Issue.record("parsed")
        } catch let e as BybitError {
            #expect(e.code == .malformed)
            #expect(e.message.contains("\(body.count) bytes, SHA-256 \(SHA256Digest.hex(body))"))
            #expect(!e.message.contains("BTCUSDT"))
        } catch { Issue.record("\(error)") }
        // SHA-256("abc") (FIPS 180-2 example).
        #expect(SHA256Digest.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}

@Suite("Bybit trading client: clock sync across hosts")
struct TradingClockFailoverTests {
    @Test("the clock sync itself fails over when the primary host cannot be reached")
    func syncFailsOver() throws {
        let t = FunctionTransport { r, _ in
            if r.url.hasPrefix("http://127.0.0.1:1/") { throw TransportError(.unresolvedHost, url: r.url, detail: "no such host") }
            if r.url.hasSuffix(Bybit.Path.serverTime) { return HTTPResponse(status: 200, body: Array(timeBody.utf8)) }
            return ok(#"{"marginMode":"REGULAR_MARGIN","unifiedMarginStatus":5}"#)
        }
        let (c, _) = tradingClient(t, backups: ["http://127.0.0.1:2"])
        #expect(try c.accountInfo().marginMode == "REGULAR_MARGIN")
        #expect(t.requests.map(\.url) == ["http://127.0.0.1:1/v5/market/time", "http://127.0.0.1:2/v5/market/time", "http://127.0.0.1:2/v5/account/info"])
        #expect(c.stats.failovers == 1)
    }
}
