// JSON text for the loopback venue: a small writer for Bybit's private shapes (every number
// a string, as Bybit sends them) and a reader of flat request bodies that keeps numbers as
// the client wrote them.

import CarryCore
import CarryVenues

/// Builds Bybit's private result objects. `order`, `execution`, `position` and `wallet` are
/// the REST list items; Bybit's private WebSocket topics carry the same fields, so the stream
/// side can publish `SimAccountUpdate`s with them.
public enum SimJSON {
    enum Value {
        /// A JSON string.
        case s(String)
        /// Already JSON (numbers, booleans, nested objects and lists).
        case raw(String)
    }

    static func object(_ fields: [(String, Value)]) -> String {
        "{" + fields.map { k, v in
            switch v {
            case .s(let s): return jsonString(k) + ":" + jsonString(s)
            case .raw(let r): return jsonString(k) + ":" + r
            }
        }.joined(separator: ",") + "}"
    }

    static func side(_ s: Side) -> String { s == .buy ? "Buy" : "Sell" }
    static func fixed(_ f: Fixed?) -> Value { .s(f?.description ?? "") }

    /// One item in Bybit's shape (every number a string).
    public static func order(_ o: SimOrder) -> String {
        object([("orderId", .s(o.orderId)), ("orderLinkId", .s(o.orderLinkId)), ("blockTradeId", .s("")), ("symbol", .s(o.instrument.symbol)),
                ("price", .s(o.price?.description ?? "0")), ("qty", .s(o.qty.description)), ("side", .s(side(o.side))), ("isLeverage", .s("")),
                ("positionIdx", .raw("0")), ("orderStatus", .s(o.status.rawValue)), ("cancelType", .s(o.status == .cancelled ? "CancelByUser" : "UNKNOWN")),
                ("rejectReason", .s(o.reason)), ("avgPrice", .s(o.avgPrice?.description ?? "")), ("leavesQty", .s(o.leavesQty.description)),
                ("leavesValue", .s(o.price.map { o.leavesQty.multiplied(by: $0, scale: quoteScale, .toNearestOrEven).description } ?? "0")),
                ("cumExecQty", .s(o.cumExecQty.description)), ("cumExecValue", .s(o.cumExecValue.description)), ("cumExecFee", .s(o.cumExecFee.description)),
                ("timeInForce", .s(o.timeInForce.bybitName)), ("orderType", .s(o.orderType == .market ? "Market" : "Limit")),
                ("stopOrderType", .s("")), ("triggerPrice", .s("")), ("takeProfit", .s("")), ("stopLoss", .s("")),
                ("reduceOnly", .raw(o.reduceOnly ? "true" : "false")), ("closeOnTrigger", .raw("false")), ("smpType", .s("None")),
                ("createdTime", .s(String(o.createdTime.ms))), ("updatedTime", .s(String(o.updatedTime.ms)))])
    }

    /// One item in Bybit's shape (every number a string).
    public static func execution(_ e: SimExecution) -> String {
        object([("symbol", .s(e.instrument.symbol)), ("orderType", .s(e.execType == "Funding" ? "UNKNOWN" : "Market")), ("orderLinkId", .s(e.orderLinkId)),
                ("side", .s(side(e.side))), ("orderId", .s(e.orderId)), ("leavesQty", .s(e.leavesQty.description)), ("execTime", .s(String(e.time.ms))),
                ("feeCurrency", .s(e.feeCurrency)), ("isMaker", .raw(e.isMaker ? "true" : "false")), ("execFee", .s(e.fee.description)),
                ("feeRate", .s(e.feeRate.description)), ("execId", .s(e.execId)), ("markPrice", .s(e.price.description)),
                ("execPrice", .s(e.price.description)), ("execQty", .s(e.qty.description)),
                ("execValue", .s(e.qty.multiplied(by: e.price, scale: quoteScale, .toNearestOrEven).description)),
                ("execType", .s(e.execType)), ("closedSize", .s("")), ("seq", .raw(String(e.time.ms)))])
    }

    /// One item in Bybit's shape (every number a string).
    public static func position(_ p: SimPositionView, positionIdx: Int = 0) -> String {
        object([("positionIdx", .raw(String(positionIdx))), ("symbol", .s(p.instrument.symbol)), ("side", .s(p.side)), ("size", .s(p.signedSize.magnitude.description)),
                ("avgPrice", .s(p.avgPrice.description)),
                ("positionValue", .s(p.signedSize.magnitude.multiplied(by: p.avgPrice, scale: quoteScale, .toNearestOrEven).description)),
                ("tradeMode", .raw("0")), ("positionStatus", .s("Normal")), ("leverage", .s(p.leverage.description)), ("markPrice", fixed(p.markPrice)),
                ("liqPrice", fixed(p.liqPrice)), ("unrealisedPnl", .s(p.unrealisedPnl.description)), ("cumRealisedPnl", .s(p.cumRealisedPnl.description)),
                ("curRealisedPnl", .s(p.cumRealisedPnl.description)), ("isReduceOnly", .raw("false")),
                ("createdTime", .s(String(p.updatedTime.ms))), ("updatedTime", .s(String(p.updatedTime.ms)))])
    }

    /// A position of a hedge-mode account, as Bybit lists it: the long side (positionIdx 1)
    /// and the short side (2), each with its own size (empty side when flat).
    public static func hedgePositions(_ p: SimPositionView) -> [String] {
        var long = p, short = p
        long.signedSize = p.signedSize.isPositive ? p.signedSize : .zero
        short.signedSize = p.signedSize.isNegative ? p.signedSize : .zero
        return [position(long, positionIdx: 1), position(short, positionIdx: 2)]
    }

    /// The wallet-balance result (`{"list":[account]}`), in Bybit's shape.
    public static func wallet(_ w: SimWalletView, coins: Set<String>?) -> String {
        object([("list", .raw("[" + walletAccount(w, coins: coins) + "]"))])
    }

    /// One account of the wallet (the `wallet` topic's data item), in Bybit's shape.
    public static func walletAccount(_ w: SimWalletView, coins: Set<String>?) -> String {
        let list = w.coins.filter { coins?.contains($0.coin) ?? true }.map { c in
            object([("coin", .s(c.coin)), ("walletBalance", .s(c.walletBalance.description)), ("equity", .s(c.equity.description)),
                    ("usdValue", .s(c.usdValue.description)), ("unrealisedPnl", .s(c.unrealisedPnl.description)), ("locked", .s("0")),
                    ("borrowAmount", .s("0")), ("totalPositionIM", .s("0")), ("totalOrderIM", .s("0")), ("marginCollateral", .raw("true")),
                    ("collateralSwitch", .raw("true"))])
        }
        return object([("accountType", .s("UNIFIED")), ("totalEquity", .s(w.totalEquity.description)),
                              ("totalWalletBalance", .s(w.totalWalletBalance.description)), ("totalMarginBalance", .s(w.totalEquity.description)),
                              ("totalAvailableBalance", .s(w.totalAvailableBalance.description)), ("totalPerpUPL", .s(w.totalPerpUPL.description)),
                              ("totalInitialMargin", .s(w.totalInitialMargin.description)), ("totalMaintenanceMargin", .s("0")),
                              ("accountIMRate", .s("0")), ("accountMMRate", .s("0")), ("accountLTV", .s("0")),
                              ("coin", .raw("[" + list.joined(separator: ",") + "]"))])
    }

    /// One item in Bybit's shape (every number a string).
    public static func transaction(_ t: SimTransaction) -> String {
        object([("id", .s(t.id)), ("symbol", .s(t.instrument.symbol)), ("category", .s(t.instrument.kind == .spot ? "spot" : "linear")),
                ("side", .s(side(t.side))), ("transactionTime", .s(String(t.time.ms))), ("type", .s(t.type)), ("transSubType", .s("")),
                ("qty", .s(t.qty.description)), ("size", .s(t.size.description)), ("currency", .s("USDT")), ("tradePrice", .s(t.tradePrice.description)),
                ("funding", .s(t.funding?.description ?? "")), ("fee", .s(t.fee.description)), ("cashFlow", .s("0")), ("change", .s(t.change.description)),
                ("cashBalance", .s(t.cashBalance.description)), ("feeRate", .s(t.feeRate.description)), ("bonusChange", .s("")),
                ("tradeId", .s(t.id)), ("orderId", .s(t.orderId)), ("orderLinkId", .s(t.orderLinkId)), ("extraFees", .s(""))])
    }
}

/// Reads a flat JSON object's members: strings unescaped, any other value as its raw text.
enum FlatJSON {
    static func parse(_ b: [UInt8]) -> [String: String]? {
        var i = 0
        func ws() { while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 } }
        func string() -> String? {
            guard i < b.count, b[i] == 0x22 else { return nil }
            i += 1
            var out: [UInt8] = []
            while i < b.count {
                let c = b[i]
                i += 1
                if c == 0x22 { return String(validating: out, as: UTF8.self) }
                guard c == 0x5C else { out.append(c); continue }
                guard i < b.count else { return nil }
                let e = b[i]
                i += 1
                switch e {
                case 0x22, 0x5C, 0x2F: out.append(e)
                case 0x6E: out.append(0x0A)
                case 0x74: out.append(0x09)
                case 0x72: out.append(0x0D)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0C)
                case 0x75:
                    guard i + 4 <= b.count, let v = UInt32(String(decoding: b[i..<i + 4], as: UTF8.self), radix: 16), let u = Unicode.Scalar(v) else { return nil }
                    i += 4
                    out += Array(String(Character(u)).utf8)
                default: return nil
                }
            }
            return nil
        }
        func rawValue() -> String? {
            let start = i
            var depth = 0
            while i < b.count {
                let c = b[i]
                if c == 0x22 { guard string() != nil else { return nil }; continue }
                if c == 0x7B || c == 0x5B { depth += 1 }
                if c == 0x7D || c == 0x5D { if depth == 0 { break }; depth -= 1 }
                if depth == 0 && (c == 0x2C || c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09) { break }
                i += 1
            }
            let text = String(decoding: b[start..<i], as: UTF8.self)
            return text.isEmpty || depth != 0 ? nil : text
        }
        ws()
        guard i < b.count, b[i] == 0x7B else { return nil }
        i += 1
        var out: [String: String] = [:]
        ws()
        if i < b.count, b[i] == 0x7D { i += 1; ws(); return i == b.count ? out : nil }
        while true {
            ws()
            guard let key = string() else { return nil }
            ws()
            guard i < b.count, b[i] == 0x3A else { return nil }
            i += 1
            ws()
            guard let value = i < b.count && b[i] == 0x22 ? string() : rawValue() else { return nil }
            out[key] = value
            ws()
            guard i < b.count else { return nil }
            if b[i] == 0x2C { i += 1; continue }
            guard b[i] == 0x7D else { return nil }
            i += 1
            ws()
            return i == b.count ? out : nil
        }
    }
}
