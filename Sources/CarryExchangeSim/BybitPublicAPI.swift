// Bybit v5's public market endpoints, shaped exactly as the venue shapes them (see
// ../shared/data/api-samples/bybit/docs): the retCode envelope, every number a string,
// lists newest first, `nextPageCursor` where Bybit has one. Pure: a request (path and query)
// in, a status and body out, over `SimMarketData`; no HTTP, no clock, no rate limits (those
// are `SimGate` and the server). The private endpoints will sit beside these, over
// CarryCore's SimulatedExchange.
//
// Where the data cannot say something the venue would (order book, 24 h statistics), the
// field is an empty string, Bybit's own "not applicable".

import CarryCore
import CarryVenues

/// A response body with its HTTP status.
public struct SimResponse: Sendable, Equatable {
    public var status: Int
    public var body: String
    /// The venue's `retCode` (nil for bodies that are not an envelope).
    public var retCode: Int?

    public init(status: Int, body: String, retCode: Int?) {
        self.status = status
        self.body = body
        self.retCode = retCode
    }
}

/// The public market endpoints over a data set.
public struct BybitPublicAPI: Sendable {
    public let data: SimMarketData

    /// Serves `data`.
    public init(data: SimMarketData) { self.data = data }

    /// The endpoint paths served.
    public static let paths = [Bybit.Path.fundingHistory, Bybit.Path.kline, Bybit.Path.instrumentsInfo, Bybit.Path.tickers, Bybit.Path.serverTime]

    /// Answers a GET of `path` with `query`; nil when the path is not served (HTTP 404).
    public func handle(path: String, query: [String: String]) -> SimResponse? {
        switch path {
        case Bybit.Path.serverTime: return serverTime()
        case Bybit.Path.fundingHistory: return fundingHistory(query)
        case Bybit.Path.kline: return kline(query)
        case Bybit.Path.instrumentsInfo: return instruments(query)
        case Bybit.Path.tickers: return tickers(query)
        default: return nil
        }
    }

    // MARK: Envelope

    /// `{"retCode":…,"retMsg":…,"result":…,"retExtInfo":{},"time":…}`.
    public func envelope(retCode: Int = 0, retMsg: String = "OK", result: String = "{}") -> SimResponse {
        SimResponse(status: 200, body: "{\"retCode\":\(retCode),\"retMsg\":\(JSON.string(retMsg)),\"result\":\(result),\"retExtInfo\":{},\"time\":\(data.now.ms)}",
                    retCode: retCode)
    }

    func paramsError(_ message: String) -> SimResponse { envelope(retCode: 10001, retMsg: message) }

    // MARK: Endpoints

    /// `/v5/market/time`, `skewMs` ahead of the data's clock (the clock-skew fault).
    func serverTime(skewMs: Int64 = 0) -> SimResponse {
        let ms = data.now.ms + skewMs
        // Nanoseconds: the millisecond clock, zero below it.
        return envelope(result: "{\"timeSecond\":\(JSON.string(String(ms / 1000))),\"timeNano\":\(JSON.string(String(ms) + "000000"))}")
    }

    func fundingHistory(_ q: [String: String]) -> SimResponse {
        guard let category = q["category"], let kind = InstrumentKind(name: category), kind.isPerpetual else {
            return paramsError(q["category"] == nil ? "params error: category is required" : "Illegal category")
        }
        guard let symbol = q["symbol"], !symbol.isEmpty else { return paramsError("params error: symbol is required") }
        guard let inst = data.instrument(kind, symbol) else { return paramsError("Not supported symbols") }
        let start = q["startTime"].flatMap(Int64.init)
        let end = q["endTime"].flatMap(Int64.init)
        if start != nil && end == nil { return paramsError("params error: startTime requires endTime") }
        guard let limit = Self.limit(q["limit"], default: 200, max: 200) else { return paramsError("params error: limit must be 1..200") }
        let list = data.funding(inst, start: Timestamp(ms: start ?? Int64.min / 2), end: Timestamp(ms: end ?? Int64.max / 2), limit: limit)
        let items = list.map { f in
            "{\"symbol\":\(JSON.string(symbol)),\"fundingRate\":\(JSON.string(f.settled.ratePerInterval.description)),\"fundingRateTimestamp\":\(JSON.string(String(f.time.ms)))}"
        }
        return envelope(result: "{\"category\":\(JSON.string(category)),\"list\":[\(items.joined(separator: ","))]}")
    }

    func kline(_ q: [String: String]) -> SimResponse {
        let category = q["category"] ?? "linear"   // Bybit's default
        guard let kind = InstrumentKind(name: category) else { return paramsError("Illegal category") }
        guard let symbol = q["symbol"], !symbol.isEmpty else { return paramsError("params error: symbol is required") }
        guard let intervalText = q["interval"], let seconds = Bybit.klineSeconds(intervalText) else { return paramsError("params error: invalid interval") }
        guard let inst = data.instrument(kind, symbol) else { return paramsError("Not supported symbols") }
        guard let limit = Self.limit(q["limit"], default: 200, max: 1000) else { return paramsError("params error: limit must be 1..1000") }
        let start = q["start"].flatMap(Int64.init) ?? Int64.min / 2
        let end = q["end"].flatMap(Int64.init) ?? Int64.max / 2
        let bars = data.bars(inst, intervalSeconds: seconds, start: Timestamp(ms: start), end: Timestamp(ms: end), limit: limit)
        let rows = bars.map { b in
            "[" + [String(b.openTime.ms), b.open.description, b.high.description, b.low.description, b.close.description,
                   b.volumeBase.description, b.volumeQuote.description].map(JSON.string).joined(separator: ",") + "]"
        }
        return envelope(result: "{\"symbol\":\(JSON.string(symbol)),\"category\":\(JSON.string(category)),\"list\":[\(rows.joined(separator: ","))]}")
    }

    func instruments(_ q: [String: String]) -> SimResponse {
        guard let categoryText = q["category"], let kind = InstrumentKind(name: categoryText) else {
            return paramsError(q["category"] == nil ? "params error: category is required" : "Illegal category")
        }
        var list: [SimInstrument]
        if let symbol = q["symbol"], !symbol.isEmpty {
            list = data.instrument(kind, symbol).map { [$0] } ?? []
        } else {
            list = data.instruments(kind)
        }
        var next = ""
        if kind != .spot {   // spot is not paginated on Bybit
            guard let limit = Self.limit(q["limit"], default: 500, max: 1000) else { return paramsError("params error: limit must be 1..1000") }
            guard let page = Self.page(list, cursor: q["cursor"], limit: limit) else { return paramsError("params error: invalid cursor") }
            (list, next) = page
        }
        let items = list.map { instrumentJSON($0.definition) }
        return envelope(result: "{\"category\":\(JSON.string(categoryText)),\"list\":[\(items.joined(separator: ","))],\"nextPageCursor\":\(JSON.string(next))}")
    }

    func instrumentJSON(_ d: InstrumentDefined) -> String {
        let s = JSON.string
        if d.kind == .spot {
            return "{\"symbol\":\(s(d.symbol)),\"baseCoin\":\(s(d.baseAsset)),\"quoteCoin\":\(s(d.quoteAsset)),\"innovation\":\"0\",\"status\":\"Trading\","
                + "\"marginTrading\":\"none\",\"lotSizeFilter\":{\"basePrecision\":\(s(d.qtyStep.description)),\"minOrderQty\":\(s(d.minQty.description)),"
                + "\"minOrderAmt\":\(s(d.minNotional.description))},\"priceFilter\":{\"tickSize\":\(s(d.tickSize.description))}}"
        }
        return "{\"symbol\":\(s(d.symbol)),\"contractType\":\(s(d.kind == .inversePerpetual ? "InversePerpetual" : "LinearPerpetual")),\"status\":\"Trading\","
            + "\"baseCoin\":\(s(d.baseAsset)),\"quoteCoin\":\(s(d.quoteAsset)),\"launchTime\":\"0\",\"deliveryTime\":\"0\",\"deliveryFeeRate\":\"\","
            + "\"leverageFilter\":{\"minLeverage\":\"1\",\"maxLeverage\":\(s(d.maxLeverage.description))},"
            + "\"priceFilter\":{\"tickSize\":\(s(d.tickSize.description))},"
            + "\"lotSizeFilter\":{\"minOrderQty\":\(s(d.minQty.description)),\"qtyStep\":\(s(d.qtyStep.description)),\"minNotionalValue\":\(s(d.minNotional.description))},"
            + "\"fundingInterval\":\(d.fundingIntervalMinutes),\"settleCoin\":\(s(d.kind == .inversePerpetual ? d.baseAsset : d.quoteAsset))}"
    }

    func tickers(_ q: [String: String]) -> SimResponse {
        guard let categoryText = q["category"], let kind = InstrumentKind(name: categoryText) else {
            return paramsError(q["category"] == nil ? "params error: category is required" : "Illegal category")
        }
        var list: [SimInstrument]
        if let symbol = q["symbol"], !symbol.isEmpty {
            guard let inst = data.instrument(kind, symbol) else { return paramsError("Not supported symbols") }
            list = [inst]
        } else {
            list = data.instruments(kind)
        }
        let items = list.map { tickerJSON($0) }
        return envelope(result: "{\"category\":\(JSON.string(categoryText)),\"list\":[\(items.joined(separator: ","))]}")
    }

    /// A ticker as of `now`: last = the latest closed bar's close; for a perpetual, index = the
    /// spot pair's close, mark = the latest settlement's mark price else the last price, funding
    /// rate = the latest settled rate (the data has no prediction) and the next settlement one
    /// interval after it.
    func tickerJSON(_ inst: SimInstrument) -> String {
        let s = JSON.string
        let d = inst.definition
        let interval = data.finestInterval(inst)
        let last = interval.flatMap { data.lastBar(inst, intervalSeconds: $0) }
        let prev = interval.flatMap { data.lastBar(inst, intervalSeconds: $0, before: data.now.adding(ms: -Millis.day)) }
        var fields = ["\"symbol\":\(s(d.symbol))", "\"lastPrice\":\(s(last?.close.description ?? ""))", "\"prevPrice24h\":\(s(prev?.close.description ?? ""))",
                      "\"bid1Price\":\"\"", "\"bid1Size\":\"\"", "\"ask1Price\":\"\"", "\"ask1Size\":\"\""]
        if d.kind != .spot {
            let spot = data.instrument(.spot, d.symbol)
            let index = spot.flatMap { sp in data.finestInterval(sp).flatMap { data.lastBar(sp, intervalSeconds: $0) } }
            let settled = data.funding(inst, start: .distantPast, end: data.now, limit: 1).first
            let mark = settled?.settled.markPrice ?? last?.close
            let minutes = settled?.settled.intervalMinutes ?? d.fundingIntervalMinutes
            let next = settled.map { String($0.time.adding(ms: Int64(minutes) * Millis.minute).ms) } ?? ""
            fields += ["\"indexPrice\":\(s(index?.close.description ?? ""))", "\"markPrice\":\(s(mark?.description ?? ""))",
                       "\"fundingRate\":\(s(settled?.settled.ratePerInterval.description ?? ""))", "\"nextFundingTime\":\(s(next))",
                       "\"fundingIntervalHour\":\(s(minutes > 0 ? String(minutes / 60) : ""))", "\"basis\":\"\""]
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    // MARK: Parameters

    /// One page of `list` from `cursor` (`next:OFFSET`, empty or nil: the start) and the cursor
    /// of the next page (empty on the last); nil for a cursor this venue did not issue.
    static func page<T>(_ list: [T], cursor: String?, limit: Int) -> ([T], String)? {
        var offset = 0
        if let cursor, !cursor.isEmpty {
            guard cursor.hasPrefix("next:"), let o = Int(cursor.dropFirst(5)), o >= 0 else { return nil }
            offset = o
        }
        let page = Array(list.dropFirst(offset).prefix(limit))
        return (page, offset + page.count < list.count ? "next:\(offset + page.count)" : "")
    }

    static func limit(_ text: String?, default value: Int, max: Int) -> Int? {
        guard let text else { return value }
        guard let n = Int(text), n >= 1 else { return nil }
        return min(n, max)
    }
}

/// JSON text helpers (the shapes above are fixed; only strings need escaping).
enum JSON {
    static func string(_ s: String) -> String { jsonString(s) }
}
