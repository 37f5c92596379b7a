// Bybit v5's signed endpoints over `SimAccount`, shaped as the venue shapes them (see
// ../shared/data/api-samples/bybit/docs): the retCode envelope, every number a string,
// lists newest first. Pure apart from the account: a request (method, path, raw query, raw
// body, headers, the venue's clocks) in, a status and body out. Authentication is checked
// over the raw bytes (`SimAuth`) before anything else; parameters then follow Bybit's rules
// (10001 with the reason).
//
// Lists page with `limit` and `cursor` (`nextPageCursor`, empty on the last page).
// The account's mode (`SimAccountMode`) is what account info and the position list report; an
// account in hedge mode lists each perpetual as two sides (positionIdx 1 and 2) and refuses a
// linear order without a matching positionIdx, as Bybit does — it never trades hedge-mode
// positions (a test uses it to check that a client refuses such an account).
// Not served: conditional/TP-SL orders, amend, batch endpoints, switching modes, hedge-mode trading, options.

import CarryCore
import CarryVenues
import Foundation

/// The signed endpoints over an account.
public struct BybitPrivateAPI: Sendable {
    public let account: SimAccount
    public let credentials: SimCredentials
    /// The account's position mode, margin mode and upgrade status.
    public let mode: SimAccountMode
    let envelope: @Sendable (Int, String, String) -> SimResponse

    /// Serves `account`, accepting `credentials`; `envelope(retCode, retMsg, result)` wraps
    /// bodies as the public side does (same clock).
    public init(account: SimAccount, credentials: SimCredentials, mode: SimAccountMode = SimAccountMode(),
                envelope: @escaping @Sendable (Int, String, String) -> SimResponse) {
        self.account = account
        self.credentials = credentials
        self.mode = mode
        self.envelope = envelope
    }

    /// The paths served, with their methods.
    public static let routes: [String: String] = [
        BybitPrivatePath.orderCreate: "POST", BybitPrivatePath.orderCancel: "POST", BybitPrivatePath.orderCancelAll: "POST",
        BybitPrivatePath.orderRealtime: "GET", BybitPrivatePath.orderHistory: "GET", BybitPrivatePath.executionList: "GET",
        BybitPrivatePath.positionList: "GET", BybitPrivatePath.setLeverage: "POST", BybitPrivatePath.walletBalance: "GET",
        BybitPrivatePath.feeRate: "GET", BybitPrivatePath.transactionLog: "GET", BybitPrivatePath.accountInfo: "GET",
        BybitPrivatePath.queryAPI: "GET",
    ]

    /// What a request did: the answer, and whether it placed an order (the server's
    /// after-accept faults apply only then).
    public struct Outcome: Sendable {
        public var response: SimResponse
        public var placedOrder: Bool
    }

    /// Answers a signed request; nil when `path` is not a private path.
    public func handle(method: String, path: String, rawQuery: String, rawBody: [UInt8], header: (String) -> String?, clocks: SimAuthClocks) -> Outcome? {
        guard let expected = Self.routes[path] else { return nil }
        guard method == expected else { return Outcome(response: refuse(SimReject(10001, "method \(method) not supported on \(path); use \(expected)")), placedOrder: false) }
        let payload = method == "GET" ? Array(rawQuery.utf8) : rawBody
        if let reject = SimAuth.verify(header: header, payload: payload, credentials: credentials, clocks: clocks) {
            return Outcome(response: refuse(reject), placedOrder: false)
        }
        let params: [String: String]
        switch method == "GET" ? .success(Self.queryParameters(rawQuery)) : Self.bodyParameters(rawBody) {
        case .success(let p): params = p
        case .failure(let r): return Outcome(response: refuse(r), placedOrder: false)
        }
        let now = Timestamp(ms: clocks.marketNowMs)
        switch path {
        case BybitPrivatePath.orderCreate:
            let r = create(params, at: now)
            return Outcome(response: r, placedOrder: r.retCode == 0)
        default:
            return Outcome(response: read(path, params, at: now), placedOrder: false)
        }
    }

    private func read(_ path: String, _ p: [String: String], at now: Timestamp) -> SimResponse {
        switch path {
        case BybitPrivatePath.orderCancel: return cancel(p, at: now)
        case BybitPrivatePath.orderCancelAll: return cancelAll(p, at: now)
        case BybitPrivatePath.orderRealtime: return orders(p, realtime: true)
        case BybitPrivatePath.orderHistory: return orders(p, realtime: false)
        case BybitPrivatePath.executionList: return executions(p)
        case BybitPrivatePath.positionList: return positions(p)
        case BybitPrivatePath.setLeverage: return setLeverage(p)
        case BybitPrivatePath.walletBalance: return wallet(p)
        case BybitPrivatePath.feeRate: return feeRate(p)
        case BybitPrivatePath.transactionLog: return transactionLog(p)
        case BybitPrivatePath.accountInfo: return ok(SimJSON.object([("marginMode", .s(mode.marginMode)), ("updatedTime", .s("0")),
                                                                     ("unifiedMarginStatus", .raw(String(mode.unifiedMarginStatus))),
                                                                     ("dcpStatus", .s("OFF")), ("timeWindow", .raw("10")), ("smpGroup", .raw("0")),
                                                                     ("isMasterTrader", .raw("false")), ("spotHedgingStatus", .s("OFF"))]))
        default: return apiKeyInfo()
        }
    }

    func ok(_ result: String) -> SimResponse { envelope(0, "OK", result) }
    func refuse(_ r: SimReject) -> SimResponse { envelope(r.retCode, r.retMsg, "{}") }

    // MARK: Parameters

    /// `a=1&b=x%20y` → values percent-decoded (for reading only: the signature used the raw text).
    static func queryParameters(_ raw: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in raw.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let value = kv.count > 1 ? String(kv[1]).replacingOccurrences(of: "+", with: " ") : ""
            out[String(kv[0])] = value.removingPercentEncoding ?? value
        }
        return out
    }

    /// A JSON object's members as text: strings unescaped, numbers and booleans exactly as
    /// written (never through a Double).
    static func bodyParameters(_ raw: [UInt8]) -> Result<[String: String], SimReject> {
        guard let object = FlatJSON.parse(raw) else { return .failure(SimReject(10001, "params error: the body is not a JSON object")) }
        return .success(object)
    }

    static func kind(_ category: String?) -> InstrumentKind? {
        switch category {
        case "spot": return .spot
        case "linear": return .linearPerpetual
        default: return nil
        }
    }

    static func limit(_ text: String?, default value: Int, max: Int) -> Int? { BybitPublicAPI.limit(text, default: value, max: max) }

    // MARK: Orders

    func create(_ p: [String: String], at now: Timestamp) -> SimResponse {
        // Bybit: a linear order's positionIdx (default 0) must fit the position mode.
        if p["category"] == "linear", (p["positionIdx"] ?? "0") == "0" ? mode.hedge : !mode.hedge {
            return refuse(SimReject(10001, "position idx not match position mode"))
        }
        switch Self.orderRequest(p, account: account) {
        case .failure(let r): return refuse(r)
        case .success(let request):
            switch account.place(request, at: now) {
            case .failure(let r): return refuse(r)
            case .success(let o): return ok(SimJSON.object([("orderId", .s(o.orderId)), ("orderLinkId", .s(o.orderLinkId))]))
            }
        }
    }

    /// Bybit's create parameters → a request, with its 10001 reasons.
    static func orderRequest(_ p: [String: String], account: SimAccount) -> Result<BybitOrderRequest, SimReject> {
        guard let kind = kind(p["category"]) else { return .failure(SimReject(10001, "params error: category must be spot or linear")) }
        guard let symbol = p["symbol"], let inst = account.market.instrument(kind, symbol) else { return .failure(SimReject(10001, "params error: symbol invalid")) }
        guard let side: Side = p["side"] == "Buy" ? .buy : (p["side"] == "Sell" ? .sell : nil) else { return .failure(SimReject(10001, "params error: side invalid")) }
        guard let type: OrderType = p["orderType"] == "Market" ? .market : (p["orderType"] == "Limit" ? .limit : nil) else {
            return .failure(SimReject(10001, "params error: orderType invalid"))
        }
        guard let qtyText = p["qty"], var qty = Fixed(qtyText), qty.isPositive else { return .failure(SimReject(10001, "params error: qty invalid")) }
        var price: Fixed? = nil
        if type == .limit {
            guard let t = p["price"], let v = Fixed(t), v.isPositive else { return .failure(SimReject(10001, "params error: price invalid")) }
            price = v
        }
        let tifs: [String: TimeInForce] = ["GTC": .goodTillCancel, "IOC": .immediateOrCancel, "FOK": .fillOrKill, "PostOnly": .postOnly]
        let tif = p["timeInForce"].flatMap { tifs[$0] } ?? (type == .market ? .immediateOrCancel : .goodTillCancel)
        if let t = p["timeInForce"], tifs[t] == nil { return .failure(SimReject(10001, "params error: timeInForce invalid")) }
        let link = p["orderLinkId"] ?? ""
        guard link.utf8.count <= 36, link.utf8.allSatisfy({ $0 == 45 || $0 == 95 || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) }) else {
            return .failure(SimReject(10001, "params error: orderLinkId must be at most 36 of [A-Za-z0-9_-]"))
        }
        if kind == .spot && type == .market && side == .buy && p["marketUnit"] != "baseCoin" {
            // Bybit: a spot market buy's qty is in the quote coin unless marketUnit=baseCoin.
            let d = inst.definition
            guard let last = inst.definition.kind == .spot ? account.market.finestInterval(inst).flatMap({ account.market.lastBar(inst, intervalSeconds: $0) })?.close : nil else {
                return .failure(SimReject(10001, "params error: no price to convert a quote qty"))
            }
            qty = qty.divided(by: last, scale: Int(d.qtyStep.scale) + 2, .down).rounded(toMultipleOf: d.qtyStep, .towardZero)
        }
        // Bounds a real venue has (maxOrderQty, maxPrice): past them the account's exact arithmetic
        // would overflow, so they are refused like Bybit refuses an order too large.
        let limit = Fixed(1_000_000_000)
        let last = account.market.finestInterval(inst).flatMap { account.market.lastBar(inst, intervalSeconds: $0) }?.close
        let reference = price ?? last ?? Fixed(1)
        guard qty <= limit, reference <= limit, qty.multiplied(by: reference, scale: 0, .up) <= limit else {
            return .failure(SimReject(kind == .spot ? 170136 : 10001, "params error: the order's value must be at most \(limit) (qty × price)"))
        }
        let reduceOnly = p["reduceOnly"] == "true" || p["reduceOnly"] == "1"
        return .success(BybitOrderRequest(category: kind == .spot ? .spot : .linear, symbol: symbol, side: side, orderType: type, qty: qty, price: price, timeInForce: tif,
                                        reduceOnly: reduceOnly, orderLinkId: link))
    }

    func cancel(_ p: [String: String], at now: Timestamp) -> SimResponse {
        guard let kind = Self.kind(p["category"]), let symbol = p["symbol"] else { return refuse(SimReject(10001, "params error: category and symbol are required")) }
        guard p["orderId"] != nil || p["orderLinkId"] != nil else { return refuse(SimReject(10001, "params error: orderId or orderLinkId is required")) }
        switch account.cancel(kind: kind, symbol: symbol, orderId: p["orderId"], orderLinkId: p["orderLinkId"], at: now) {
        case .failure(let r): return refuse(r)
        case .success(let o): return ok(SimJSON.object([("orderId", .s(o.orderId)), ("orderLinkId", .s(o.orderLinkId))]))
        }
    }

    func cancelAll(_ p: [String: String], at now: Timestamp) -> SimResponse {
        guard let kind = Self.kind(p["category"]) else { return refuse(SimReject(10001, "params error: category must be spot or linear")) }
        if kind != .spot && p["symbol"] == nil && p["settleCoin"] == nil && p["baseCoin"] == nil {
            return refuse(SimReject(10001, "params error: symbol, baseCoin or settleCoin is required"))
        }
        let list = account.cancelAll(kind: kind, symbol: p["symbol"], at: now).map {
            SimJSON.object([("orderId", .s($0.orderId)), ("orderLinkId", .s($0.orderLinkId))])
        }
        return ok(SimJSON.object([("list", .raw("[" + list.joined(separator: ",") + "]")), ("success", .s("1"))]))
    }

    func orders(_ p: [String: String], realtime: Bool) -> SimResponse {
        guard let kind = Self.kind(p["category"]) else { return refuse(SimReject(10001, "params error: category must be spot or linear")) }
        guard let limit = Self.limit(p["limit"], default: 20, max: 50) else { return refuse(SimReject(10001, "params error: limit must be 1..50")) }
        let byId = p["orderId"] != nil || p["orderLinkId"] != nil
        let closedWanted = p["openOnly"] == "1"
        let list = account.orders.reversed().filter { o in
            o.instrument.kind == kind && (p["symbol"].map { $0 == o.instrument.symbol } ?? true)
                && (p["orderId"].map { $0 == o.orderId } ?? true) && (p["orderLinkId"].map { $0 == o.orderLinkId } ?? true)
                && (!realtime || byId || (closedWanted ? !o.status.isOpen : o.status.isOpen))
        }
        guard let (page, next) = BybitPublicAPI.page(list, cursor: p["cursor"], limit: limit) else { return refuse(SimReject(10001, "params error: invalid cursor")) }
        let items = page.map(SimJSON.order)
        return ok(SimJSON.object([("list", .raw("[" + items.joined(separator: ",") + "]")), ("nextPageCursor", .s(next)), ("category", .s(p["category"]!))]))
    }

    func executions(_ p: [String: String]) -> SimResponse {
        guard let kind = Self.kind(p["category"]) else { return refuse(SimReject(10001, "params error: category must be spot or linear")) }
        guard let limit = Self.limit(p["limit"], default: 50, max: 100) else { return refuse(SimReject(10001, "params error: limit must be 1..100")) }
        let start = p["startTime"].flatMap { Int64($0) } ?? Int64.min
        let end = p["endTime"].flatMap { Int64($0) } ?? Int64.max
        let list = account.executions.reversed().filter { e in
            e.instrument.kind == kind && (p["symbol"].map { $0 == e.instrument.symbol } ?? true) && (p["orderId"].map { $0 == e.orderId } ?? true)
                && (p["orderLinkId"].map { $0 == e.orderLinkId } ?? true) && (p["execType"].map { $0 == e.execType } ?? true)
                && e.time.ms >= start && e.time.ms <= end
        }
        guard let (page, next) = BybitPublicAPI.page(list, cursor: p["cursor"], limit: limit) else { return refuse(SimReject(10001, "params error: invalid cursor")) }
        let items = page.map(SimJSON.execution)
        return ok(SimJSON.object([("nextPageCursor", .s(next)), ("category", .s(p["category"]!)), ("list", .raw("[" + items.joined(separator: ",") + "]"))]))
    }

    func positions(_ p: [String: String]) -> SimResponse {
        guard p["category"] == "linear" else { return refuse(SimReject(10001, "params error: category only support linear here")) }
        guard p["symbol"] != nil || p["settleCoin"] != nil || p["baseCoin"] != nil else {
            return refuse(SimReject(10001, "params error: symbol, baseCoin or settleCoin is required"))
        }
        let views = account.positions(symbol: p["symbol"])
        let items = mode.hedge ? views.flatMap(SimJSON.hedgePositions) : views.map { SimJSON.position($0) }
        return ok(SimJSON.object([("list", .raw("[" + items.joined(separator: ",") + "]")), ("nextPageCursor", .s("")), ("category", .s("linear"))]))
    }

    func setLeverage(_ p: [String: String]) -> SimResponse {
        guard p["category"] == "linear", let symbol = p["symbol"] else { return refuse(SimReject(10001, "params error: category linear and symbol are required")) }
        guard let buy = p["buyLeverage"].flatMap(Fixed.init), let sell = p["sellLeverage"].flatMap(Fixed.init), buy == sell else {
            return refuse(SimReject(10001, "params error: buyLeverage must equal sellLeverage in one-way mode"))
        }
        if let r = account.setLeverage(symbol: symbol, leverage: buy) { return refuse(r) }
        return ok("{}")
    }

    func wallet(_ p: [String: String]) -> SimResponse {
        guard p["accountType"] == "UNIFIED" else { return refuse(SimReject(10001, "accountType only support UNIFIED.")) }
        let coins = p["coin"].map { Set($0.split(separator: ",").map(String.init)) }
        return ok(SimJSON.wallet(account.wallet, coins: coins))
    }

    func feeRate(_ p: [String: String]) -> SimResponse {
        guard let kind = Self.kind(p["category"]) else { return refuse(SimReject(10001, "params error: category must be spot or linear")) }
        let list = account.market.instruments(kind).filter { inst in p["symbol"].map { $0 == inst.definition.symbol } ?? true }.map { inst in
            let r = account.feeRates(inst.definition)
            return SimJSON.object([("symbol", .s(inst.definition.symbol)), ("takerFeeRate", .s(r.taker.description)), ("makerFeeRate", .s(r.maker.description))])
        }
        return ok(SimJSON.object([("list", .raw("[" + list.joined(separator: ",") + "]"))]))
    }

    func transactionLog(_ p: [String: String]) -> SimResponse {
        if let t = p["accountType"], t != "UNIFIED" { return refuse(SimReject(10001, "accountType only support UNIFIED.")) }
        guard let limit = Self.limit(p["limit"], default: 20, max: 50) else { return refuse(SimReject(10001, "params error: limit must be 1..50")) }
        let kind = p["category"].map { Self.kind($0) }
        if let kind, kind == nil { return refuse(SimReject(10001, "params error: category must be spot or linear")) }
        let start = p["startTime"].flatMap { Int64($0) } ?? Int64.min
        let end = p["endTime"].flatMap { Int64($0) } ?? Int64.max
        let list = account.transactions.reversed().filter { t in
            (kind.map { $0 == t.instrument.kind } ?? true) && (p["type"].map { $0 == t.type } ?? true) && (p["currency"].map { $0 == "USDT" } ?? true)
                && (p["symbol"].map { $0 == t.instrument.symbol } ?? true) && t.time.ms >= start && t.time.ms <= end
        }
        guard let (page, next) = BybitPublicAPI.page(list, cursor: p["cursor"], limit: limit) else { return refuse(SimReject(10001, "params error: invalid cursor")) }
        let items = page.map(SimJSON.transaction)
        return ok(SimJSON.object([("nextPageCursor", .s(next)), ("list", .raw("[" + items.joined(separator: ",") + "]"))]))
    }

    func apiKeyInfo() -> SimResponse {
        ok(SimJSON.object([("id", .s("1")), ("note", .s("carry exchange-sim")), ("apiKey", .s(credentials.apiKey)), ("readOnly", .raw("0")), ("secret", .s("")),
                           ("permissions", .raw("{\"ContractTrade\":[\"Order\",\"Position\"],\"Spot\":[\"SpotTrade\"],\"Wallet\":[],\"Options\":[],\"Derivatives\":[],\"Exchange\":[]}")),
                           ("ips", .raw("[\"127.0.0.1\"]")), ("type", .raw("1")), ("deadlineDay", .raw("-1")), ("unified", .raw("0")), ("uta", .raw("1")),
                           ("userID", .raw("1")), ("isMaster", .raw("true"))]))
    }
}
