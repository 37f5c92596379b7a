// Bybit v5 WebSocket frames → exact values. Pure (bytes in, a frame or an error value out),
// separate from the socket so that it is unit-tested and fuzzed on its own.
//
// Foundation's JSONSerialization reads the structure (a delta's fields must be told apart
// from absent ones, which Decodable blurs); every decimal the venue sends as a string stays a
// string until `Fixed.parse`. Invariants: no input traps; every failure names the field path
// (`data[0].execQty`) and carries the raw frame's SHA-256 and length, never its bytes.

import CarryCore
import Foundation

/// Parses frames of Bybit's public and private v5 streams.
public enum BybitStreamParser {
    /// The frame `bytes`, or a parse error naming what is wrong.
    public static func parse(_ bytes: [UInt8]) -> Result<BybitStreamFrame, BybitStreamParseError> {
        do {
            return .success(try frame(bytes))
        } catch let e as FieldError {
            return .failure(BybitStreamParseError(message: e.message, rawSHA256: SHA256Digest.hex(bytes), rawLength: bytes.count))
        } catch {
            return .failure(BybitStreamParseError(message: "\(error)", rawSHA256: SHA256Digest.hex(bytes), rawLength: bytes.count))
        }
    }

    static func frame(_ bytes: [UInt8]) throws -> BybitStreamFrame {
        let any: Any
        do {
            any = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            throw FieldError("not JSON")
        }
        guard let dict = any as? [String: Any] else { throw FieldError("the frame is not a JSON object") }
        let root = JSONFields(dict, path: "")
        if let topic = try root.optionalString("topic") { return try topicFrame(topic, root) }
        if root.has("op") { return .reply(try reply(root)) }
        throw FieldError("the frame has neither `topic` nor `op`")
    }

    // MARK: Replies

    static func reply(_ root: JSONFields) throws -> BybitOpReply {
        let op = try root.string("op")
        let retMsg = try root.optionalString("ret_msg") ?? root.optionalString("retMsg") ?? ""
        let connId = try root.optionalString("conn_id") ?? root.optionalString("connId")
        let reqId = try root.optionalLooseString("req_id")
        // The private pong carries no `success`: `{"op":"pong","args":["…"]}`.
        let success = try root.optionalBool("success") ?? (op == "pong")
        return BybitOpReply(op: op, success: success, retMsg: retMsg, connId: connId, reqId: reqId)
    }

    // MARK: Topics

    static func topicFrame(_ topic: String, _ root: JSONFields) throws -> BybitStreamFrame {
        guard let t = BybitStreamTopic(name: topic) else { throw FieldError("topic '\(topic)' is not one Carry reads") }
        switch t {
        case .ticker: return .ticker(try ticker(root))
        case .orderbookTop: return .orderbookTop(try orderbook(root))
        case .trade: return .trades(try root.objects("data").map(trade))
        case .kline(_, let symbol): return .klines(try root.objects("data").map { try kline($0, symbol: symbol) })
        case .order: return .orders(try root.objects("data").map(order))
        case .execution: return .executions(try root.objects("data").map(execution))
        case .position: return .positions(try root.objects("data").map(position))
        case .wallet: return .wallets(try root.objects("data").map(wallet))
        }
    }

    static func ticker(_ root: JSONFields) throws -> BybitTickerUpdate {
        let type = try root.optionalString("type") ?? "snapshot"
        guard type == "snapshot" || type == "delta" else { throw FieldError("type '\(type)' is neither snapshot nor delta") }
        let d = try root.object("data")
        var t = BybitStreamTicker(symbol: try d.string("symbol"), time: try root.millis("ts"))
        t.crossSequence = try root.optionalInt("cs")
        var present: [BybitTickerField] = []
        for field in BybitTickerField.allCases where d.has(field.rawValue) {
            present.append(field)
            let value = try d.optionalFixed(field.rawValue)
            switch field {
            case .lastPrice: t.lastPrice = value
            case .markPrice: t.markPrice = value
            case .indexPrice: t.indexPrice = value
            case .fundingRate: t.fundingRate = value
            case .nextFundingTime: t.nextFundingTime = try d.optionalMillisString(field.rawValue)
            case .fundingIntervalHour: t.fundingIntervalHours = value
            case .bid1Price: t.bid1Price = value
            case .bid1Size: t.bid1Size = value
            case .ask1Price: t.ask1Price = value
            case .ask1Size: t.ask1Size = value
            }
        }
        return BybitTickerUpdate(isSnapshot: type == "snapshot", values: t, present: present)
    }

    static func orderbook(_ root: JSONFields) throws -> BybitOrderbookTop {
        let d = try root.object("data")
        let bid = try d.levels("b").first
        let ask = try d.levels("a").first
        return BybitOrderbookTop(symbol: try d.string("s"), bidPrice: bid?.price, bidSize: bid?.size, askPrice: ask?.price, askSize: ask?.size,
                                 updateId: try d.int("u"), seq: try d.optionalInt("seq"), time: try root.millis("ts"),
                                 matchTime: try root.optionalInt("cts").map { Timestamp(ms: $0) })
    }

    static func trade(_ d: JSONFields) throws -> BybitPublicTrade {
        BybitPublicTrade(symbol: try d.string("s"), time: try d.millis("T"), side: try d.side("S"), price: try d.fixed("p"), size: try d.fixed("v"),
                         tradeId: try d.string("i"))
    }

    static func kline(_ d: JSONFields, symbol: String) throws -> BybitStreamKline {
        let bar = BybitKline(start: try d.millis("start"), open: try d.fixed("open"), high: try d.fixed("high"), low: try d.fixed("low"),
                             close: try d.fixed("close"), volume: try d.fixed("volume"), turnover: try d.fixed("turnover"))
        if let problem = bar.envelopeProblem { throw FieldError("\(d.path): \(problem)") }
        return BybitStreamKline(symbol: symbol, interval: try d.string("interval"), bar: bar, end: try d.millis("end"), confirm: try d.bool("confirm"))
    }

    static func order(_ d: JSONFields) throws -> BybitOrder {
        BybitOrder(orderId: try d.string("orderId"), orderLinkId: try d.optionalString("orderLinkId") ?? "", symbol: try d.string("symbol"),
                   side: try d.side("side"), orderType: try d.string("orderType"), orderStatus: try d.string("orderStatus"), qty: try d.fixed("qty"),
                   price: try d.optionalFixed("price") ?? .zero, avgPrice: try d.optionalFixed("avgPrice"), cumExecQty: try d.fixed("cumExecQty"),
                   cumExecFee: try d.optionalFixed("cumExecFee") ?? .zero, leavesQty: try d.optionalFixed("leavesQty") ?? .zero,
                   timeInForce: try d.optionalString("timeInForce") ?? "", reduceOnly: try d.optionalBool("reduceOnly") ?? false,
                   createdTime: try d.millisString("createdTime"), updatedTime: try d.millisString("updatedTime"),
                   category: try d.optionalString("category") ?? "", cumExecValue: try d.optionalFixed("cumExecValue"),
                   rejectReason: try d.optionalString("rejectReason") ?? "")
    }

    static func execution(_ d: JSONFields) throws -> BybitExecution {
        BybitExecution(execId: try d.string("execId"), orderId: try d.optionalString("orderId") ?? "", orderLinkId: try d.optionalString("orderLinkId") ?? "",
                       symbol: try d.string("symbol"), side: try d.side("side"), execType: try d.string("execType"), execPrice: try d.fixed("execPrice"),
                       execQty: try d.fixed("execQty"), execFee: try d.fixed("execFee"), feeRate: try d.optionalFixed("feeRate"),
                       isMaker: try d.optionalBool("isMaker") ?? false, execTime: try d.millisString("execTime"),
                       category: try d.optionalString("category") ?? "", execValue: try d.optionalFixed("execValue"),
                       markPrice: try d.optionalFixed("markPrice"), leavesQty: try d.optionalFixed("leavesQty"),
                       feeCurrency: try d.optionalString("feeCurrency") ?? "")
    }

    /// `avgPrice` is `entryPrice` in older messages.
    static func position(_ d: JSONFields) throws -> BybitPosition {
        BybitPosition(symbol: try d.string("symbol"), side: try d.optionalString("side") ?? "", size: try d.fixed("size"),
                      avgPrice: try d.optionalFixed("avgPrice") ?? d.optionalFixed("entryPrice") ?? .zero, markPrice: try d.optionalFixed("markPrice"),
                      leverage: try d.optionalFixed("leverage"), liqPrice: try d.optionalFixed("liqPrice"),
                      unrealisedPnl: try d.optionalFixed("unrealisedPnl"), cumRealisedPnl: try d.optionalFixed("cumRealisedPnl"),
                      category: try d.optionalString("category") ?? "", positionIdx: Int(try d.optionalInt("positionIdx") ?? 0),
                      updatedTime: try d.optionalMillisString("updatedTime"), seq: try d.optionalInt("seq"))
    }

    static func wallet(_ d: JSONFields) throws -> BybitWallet {
        let coins = try d.objects("coin").map { c in
            BybitCoinBalance(coin: try c.string("coin"), walletBalance: try c.fixed("walletBalance"), equity: try c.optionalFixed("equity"),
                             usdValue: try c.optionalFixed("usdValue"), unrealisedPnl: try c.optionalFixed("unrealisedPnl"), locked: try c.optionalFixed("locked"))
        }
        return BybitWallet(accountType: try d.optionalString("accountType") ?? "", totalEquity: try d.optionalFixed("totalEquity"),
                           totalWalletBalance: try d.optionalFixed("totalWalletBalance"), totalAvailableBalance: try d.optionalFixed("totalAvailableBalance"),
                           totalPerpUPL: try d.optionalFixed("totalPerpUPL"), coins: coins)
    }
}

/// A field that is missing or malformed; the message names its path.
struct FieldError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Typed, path-aware reads of one JSON object.
struct JSONFields {
    let dict: [String: Any]
    let path: String

    init(_ dict: [String: Any], path: String) {
        self.dict = dict
        self.path = path
    }

    func at(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func has(_ key: String) -> Bool { dict[key] != nil }

    func value(_ key: String) throws -> Any {
        guard let v = dict[key], !(v is NSNull) else { throw FieldError("\(at(key)) is missing") }
        return v
    }

    func string(_ key: String) throws -> String {
        guard let s = try value(key) as? String else { throw FieldError("\(at(key)) is not a string") }
        return s
    }

    func optionalString(_ key: String) throws -> String? {
        guard has(key), !(dict[key] is NSNull) else { return nil }
        return try string(key)
    }

    /// A string, or a number written as one (`req_id` is either, depending on the client).
    func optionalLooseString(_ key: String) throws -> String? {
        guard has(key), !(dict[key] is NSNull) else { return nil }
        if let n = dict[key] as? Int { return String(n) }
        return try string(key)
    }

    func fixed(_ key: String) throws -> Fixed {
        guard let v = try optionalFixed(key) else { throw FieldError("\(at(key)) is \(has(key) ? "empty" : "missing")") }
        return v
    }

    /// nil when absent or "" (Bybit's "not applicable").
    func optionalFixed(_ key: String) throws -> Fixed? {
        guard let s = try optionalString(key), !s.isEmpty else { return nil }
        do {
            return try Fixed.parse(s)
        } catch {
            throw FieldError("\(at(key)) '\(s.prefix(40))' is not a decimal number (\(error))")
        }
    }

    func int(_ key: String) throws -> Int64 {
        guard let v = try optionalInt(key) else { throw FieldError("\(at(key)) is missing") }
        return v
    }

    /// An integer sent as a JSON number.
    func optionalInt(_ key: String) throws -> Int64? {
        guard has(key), !(dict[key] is NSNull) else { return nil }
        let v = dict[key]!
        guard !(v is String), !isBool(v), let i = v as? Int else { throw FieldError("\(at(key)) is not an integer") }
        return Int64(i)
    }

    /// Epoch milliseconds sent as a JSON number (`ts`, `T`, `start`).
    func millis(_ key: String) throws -> Timestamp {
        let v = try int(key)
        guard v >= 0 else { throw FieldError("\(at(key)) \(v) is not epoch milliseconds") }
        return Timestamp(ms: v)
    }

    /// Epoch milliseconds sent as a string (`execTime`, `updatedTime`).
    func millisString(_ key: String) throws -> Timestamp {
        guard let t = try optionalMillisString(key) else { throw FieldError("\(at(key)) is empty") }
        return t
    }

    func optionalMillisString(_ key: String) throws -> Timestamp? {
        guard let s = try optionalString(key), !s.isEmpty, s != "0" else { return nil }
        guard let v = Int64(s), v >= 0 else { throw FieldError("\(at(key)) '\(s.prefix(40))' is not epoch milliseconds") }
        return Timestamp(ms: v)
    }

    func bool(_ key: String) throws -> Bool {
        guard let b = try optionalBool(key) else { throw FieldError("\(at(key)) is missing") }
        return b
    }

    func optionalBool(_ key: String) throws -> Bool? {
        guard has(key), !(dict[key] is NSNull) else { return nil }
        guard isBool(dict[key]!), let b = dict[key] as? Bool else { throw FieldError("\(at(key)) is not a boolean") }
        return b
    }

    func side(_ key: String) throws -> Side {
        switch try string(key) {
        case "Buy": return .buy
        case "Sell": return .sell
        case let s: throw FieldError("\(at(key)) '\(s.prefix(40))' is neither Buy nor Sell")
        }
    }

    func object(_ key: String) throws -> JSONFields {
        guard let d = try value(key) as? [String: Any] else { throw FieldError("\(at(key)) is not an object") }
        return JSONFields(d, path: at(key))
    }

    func objects(_ key: String) throws -> [JSONFields] {
        guard let list = try value(key) as? [Any] else { throw FieldError("\(at(key)) is not a list") }
        return try list.enumerated().map { i, item in
            guard let d = item as? [String: Any] else { throw FieldError("\(at(key))[\(i)] is not an object") }
            return JSONFields(d, path: "\(at(key))[\(i)]")
        }
    }

    /// `[[price, size], …]` levels of a book side.
    func levels(_ key: String) throws -> [(price: Fixed, size: Fixed)] {
        guard let list = try value(key) as? [Any] else { throw FieldError("\(at(key)) is not a list") }
        return try list.enumerated().map { i, item in
            guard let pair = item as? [Any], pair.count == 2, let p = pair[0] as? String, let s = pair[1] as? String else {
                throw FieldError("\(at(key))[\(i)] is not a [price, size] pair of strings")
            }
            let level = JSONFields(["p": p, "s": s], path: "\(at(key))[\(i)]")
            return (try level.fixed("p"), try level.fixed("s"))
        }
    }

    /// JSON true/false (JSONSerialization hands them over as NSNumber, like 0 and 1).
    private func isBool(_ v: Any) -> Bool {
        guard let n = v as? NSNumber else { return false }
        return String(cString: n.objCType) == "c"
    }
}
