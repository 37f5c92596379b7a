// Bybit v5 signed-endpoint JSON → exact values, on the same rules as the public parsers
// (numbers stay strings until `Fixed.parse`; a bad field is named by its path). A body that
// does not parse is described by its length and SHA-256, never by its bytes: private answers
// can echo account data, and the request that produced them is never quoted at all.

import CarryCore
import Foundation

extension BybitParser {
    /// `N bytes, SHA-256 …`: how an unparsable private body is identified in errors.
    public static func fingerprint(_ body: [UInt8]) -> String {
        "\(body.count) bytes, SHA-256 \(SHA256Digest.hex(body))"
    }

    /// `decode`, with the body's fingerprint in the error.
    static func privateDecode<R: Decodable>(_ type: R.Type, _ body: [UInt8], _ what: String) throws -> R {
        try fields(body, what) { try decode(type, body, what) }
    }

    /// Runs a field conversion, adding the body's fingerprint to its error.
    static func fields<T>(_ body: [UInt8], _ what: String, _ make: () throws -> T) throws -> T {
        do {
            return try make()
        } catch let e as BybitError {
            let message = e.message.hasPrefix(what + ": ") ? e.message : "\(what): \(e.message)"
            throw BybitError(.malformed, "\(message) (answer of \(fingerprint(body)))")
        }
    }

    static func optFixed(_ s: String?, _ path: String) throws -> Fixed? {
        guard let s, !s.isEmpty else { return nil }
        return try fixed(s, path)
    }

    static func side(_ s: String, _ path: String) throws -> Side {
        switch s {
        case "Buy": return .buy
        case "Sell": return .sell
        default: throw BybitError(.malformed, "\(path) '\(s)' is not Buy or Sell")
        }
    }

    /// A boolean Bybit sends as true/false, 0/1 or "0"/"1".
    struct FlexibleBool: Decodable {
        let value: Bool
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) { value = b; return }
            if let i = try? c.decode(Int.self) { value = i != 0; return }
            let s = try c.decode(String.self)
            guard s == "0" || s == "1" || s == "true" || s == "false" else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a boolean")
            }
            value = s == "1" || s == "true"
        }
    }

    // MARK: Orders

    struct CreateResult: Decodable {
        let orderId: String
        let orderLinkId: String
    }

    /// `/v5/order/create` and `/v5/order/cancel`: the order's ids.
    public static func orderRef(_ body: [UInt8]) throws -> BybitOrderRef {
        let r = try privateDecode(CreateResult.self, body, "order ids")
        guard !r.orderId.isEmpty else { throw BybitError(.malformed, "order ids: result.orderId is empty (answer of \(fingerprint(body)))") }
        return BybitOrderRef(orderId: r.orderId, orderLinkId: r.orderLinkId)
    }

    struct CancelAllResult: Decodable {
        let list: [CreateResult]
    }

    /// `/v5/order/cancel-all`.
    public static func cancelAll(_ body: [UInt8]) throws -> [BybitOrderRef] {
        try privateDecode(CancelAllResult.self, body, "cancel-all").list.map { BybitOrderRef(orderId: $0.orderId, orderLinkId: $0.orderLinkId) }
    }

    struct OrdersResult: Decodable {
        struct Item: Decodable {
            let orderId: String
            let orderLinkId: String
            let symbol: String
            let side: String
            let orderType: String
            let orderStatus: String
            let qty: String
            let price: String
            let avgPrice: String?
            let cumExecQty: String
            let cumExecFee: String
            let leavesQty: String
            let timeInForce: String
            let reduceOnly: FlexibleBool?
            let createdTime: String
            let updatedTime: String
        }
        let list: [Item]
        let nextPageCursor: String?
    }

    /// `/v5/order/realtime` and `/v5/order/history`.
    public static func orders(_ body: [UInt8]) throws -> [BybitOrder] {
        let r = try privateDecode(OrdersResult.self, body, "orders")
        return try fields(body, "orders") {
            try r.list.enumerated().map { i, o in
                let p = "result.list[\(i)]"
                return BybitOrder(orderId: o.orderId, orderLinkId: o.orderLinkId, symbol: o.symbol, side: try side(o.side, p + ".side"),
                                  orderType: o.orderType, orderStatus: o.orderStatus, qty: try fixed(o.qty, p + ".qty"),
                                  price: try optFixed(o.price, p + ".price") ?? .zero, avgPrice: try optFixed(o.avgPrice, p + ".avgPrice"),
                                  cumExecQty: try fixed(o.cumExecQty, p + ".cumExecQty"), cumExecFee: try fixed(o.cumExecFee, p + ".cumExecFee"),
                                  leavesQty: try optFixed(o.leavesQty, p + ".leavesQty") ?? .zero, timeInForce: o.timeInForce,
                                  reduceOnly: o.reduceOnly?.value ?? false, createdTime: try millis(o.createdTime, p + ".createdTime"),
                                  updatedTime: try millis(o.updatedTime, p + ".updatedTime"))
            }
        }
    }

    // MARK: Executions

    struct ExecutionsResult: Decodable {
        struct Item: Decodable {
            let execId: String
            let orderId: String
            let orderLinkId: String?
            let symbol: String
            let side: String
            let execType: String
            let execPrice: String
            let execQty: String
            let execFee: String
            let feeRate: String?
            let isMaker: FlexibleBool?
            let execTime: String
            let leavesQty: String?
            let feeCurrency: String?
            let markPrice: String?
            let execValue: String?
        }
        let list: [Item]
        let nextPageCursor: String?
    }

    /// `/v5/execution/list`, split into fills and funding.
    public static func executions(_ body: [UInt8]) throws -> BybitExecutions {
        let r = try privateDecode(ExecutionsResult.self, body, "executions")
        let all = try fields(body, "executions") {
            try r.list.enumerated().map { i, e in
                let p = "result.list[\(i)]"
                return BybitExecution(execId: e.execId, orderId: e.orderId, orderLinkId: e.orderLinkId ?? "", symbol: e.symbol,
                                      side: try side(e.side, p + ".side"), execType: e.execType, execPrice: try fixed(e.execPrice, p + ".execPrice"),
                                      execQty: try fixed(e.execQty, p + ".execQty"), execFee: try fixed(e.execFee, p + ".execFee"),
                                      feeRate: try optFixed(e.feeRate, p + ".feeRate"), isMaker: e.isMaker?.value ?? false,
                                      execTime: try millis(e.execTime, p + ".execTime"), execValue: try optFixed(e.execValue, p + ".execValue"),
                                      markPrice: try optFixed(e.markPrice, p + ".markPrice"), leavesQty: try optFixed(e.leavesQty, p + ".leavesQty"),
                                      feeCurrency: e.feeCurrency ?? "")
            }
        }
        return BybitExecutions(fills: all.filter { $0.execType != "Funding" }, funding: all.filter { $0.execType == "Funding" },
                               nextPageCursor: r.nextPageCursor ?? "")
    }

    // MARK: Positions

    struct PositionsResult: Decodable {
        struct Item: Decodable {
            let symbol: String
            let side: String
            let size: String
            let avgPrice: String
            let markPrice: String?
            let leverage: String?
            let liqPrice: String?
            let unrealisedPnl: String?
            let cumRealisedPnl: String?
            let positionIdx: FlexibleInt?
        }
        let list: [Item]
    }

    /// `/v5/position/list`.
    public static func positions(_ body: [UInt8]) throws -> [BybitPosition] {
        let r = try privateDecode(PositionsResult.self, body, "positions")
        return try fields(body, "positions") {
            try r.list.enumerated().map { i, x in
                let p = "result.list[\(i)]"
                guard x.side == "Buy" || x.side == "Sell" || x.side.isEmpty || x.side == "None" else {
                    throw BybitError(.malformed, "\(p).side '\(x.side)' is not Buy, Sell or empty")
                }
                return BybitPosition(symbol: x.symbol, side: x.side == "None" ? "" : x.side, size: try fixed(x.size, p + ".size"),
                                     avgPrice: try optFixed(x.avgPrice, p + ".avgPrice") ?? .zero, markPrice: try optFixed(x.markPrice, p + ".markPrice"),
                                     leverage: try optFixed(x.leverage, p + ".leverage"), liqPrice: try optFixed(x.liqPrice, p + ".liqPrice"),
                                     unrealisedPnl: try optFixed(x.unrealisedPnl, p + ".unrealisedPnl"),
                                     cumRealisedPnl: try optFixed(x.cumRealisedPnl, p + ".cumRealisedPnl"), positionIdx: x.positionIdx?.value ?? 0)
            }
        }
    }

    // MARK: Account

    struct WalletResult: Decodable {
        struct Account: Decodable {
            struct Coin: Decodable {
                let coin: String
                let walletBalance: String
                let equity: String?
                let usdValue: String?
                let unrealisedPnl: String?
                let locked: String?
            }
            let accountType: String
            let totalEquity: String?
            let totalWalletBalance: String?
            let totalAvailableBalance: String?
            let totalPerpUPL: String?
            let coin: [Coin]
        }
        let list: [Account]
    }

    /// `/v5/account/wallet-balance` (the first account listed).
    public static func wallet(_ body: [UInt8]) throws -> BybitWallet {
        let r = try privateDecode(WalletResult.self, body, "wallet balance")
        guard let a = r.list.first else { throw BybitError(.malformed, "wallet balance: result.list is empty (answer of \(fingerprint(body)))") }
        return try fields(body, "wallet balance") {
            let coins = try a.coin.enumerated().map { i, c in
                let p = "result.list[0].coin[\(i)]"
                return BybitCoinBalance(coin: c.coin, walletBalance: try fixed(c.walletBalance, p + ".walletBalance"), equity: try optFixed(c.equity, p + ".equity"),
                                        usdValue: try optFixed(c.usdValue, p + ".usdValue"), unrealisedPnl: try optFixed(c.unrealisedPnl, p + ".unrealisedPnl"),
                                        locked: try optFixed(c.locked, p + ".locked"))
            }
            let p = "result.list[0]"
            return BybitWallet(accountType: a.accountType, totalEquity: try optFixed(a.totalEquity, p + ".totalEquity"),
                               totalWalletBalance: try optFixed(a.totalWalletBalance, p + ".totalWalletBalance"),
                               totalAvailableBalance: try optFixed(a.totalAvailableBalance, p + ".totalAvailableBalance"),
                               totalPerpUPL: try optFixed(a.totalPerpUPL, p + ".totalPerpUPL"), coins: coins)
        }
    }

    struct FeeResult: Decodable {
        struct Item: Decodable {
            let symbol: String
            let takerFeeRate: String
            let makerFeeRate: String
        }
        let list: [Item]
    }

    /// `/v5/account/fee-rate`.
    public static func feeRates(_ body: [UInt8]) throws -> [BybitFeeRate] {
        let r = try privateDecode(FeeResult.self, body, "fee rates")
        return try fields(body, "fee rates") {
            try r.list.enumerated().map { i, f in
                BybitFeeRate(symbol: f.symbol, takerFeeRate: try fixed(f.takerFeeRate, "result.list[\(i)].takerFeeRate"),
                             makerFeeRate: try fixed(f.makerFeeRate, "result.list[\(i)].makerFeeRate"))
            }
        }
    }

    struct TransactionsResult: Decodable {
        struct Item: Decodable {
            let id: String
            let symbol: String
            let category: String
            let type: String
            let side: String
            let size: String?
            let funding: String?
            let fee: String?
            let change: String
            let cashBalance: String?
            let currency: String
            let transactionTime: String
            let tradePrice: String?
            let feeRate: String?
        }
        let list: [Item]
        let nextPageCursor: String?
    }

    /// `/v5/account/transaction-log`, one page.
    public static func transactions(_ body: [UInt8]) throws -> [BybitTransaction] { try transactionsPage(body).rows }

    /// `/v5/account/transaction-log`, one page and the cursor of the next (empty: the last).
    public static func transactionsPage(_ body: [UInt8]) throws -> (rows: [BybitTransaction], nextPageCursor: String) {
        let r = try privateDecode(TransactionsResult.self, body, "transaction log")
        let rows = try fields(body, "transaction log") {
            try r.list.enumerated().map { i, t in
                let p = "result.list[\(i)]"
                return BybitTransaction(id: t.id, symbol: t.symbol, category: t.category, type: t.type, side: t.side,
                                        size: try optFixed(t.size, p + ".size"), funding: try optFixed(t.funding, p + ".funding"),
                                        fee: try optFixed(t.fee, p + ".fee"), change: try fixed(t.change, p + ".change"),
                                        cashBalance: try optFixed(t.cashBalance, p + ".cashBalance"), currency: t.currency,
                                        transactionTime: try millis(t.transactionTime, p + ".transactionTime"),
                                        tradePrice: try optFixed(t.tradePrice, p + ".tradePrice"), feeRate: try optFixed(t.feeRate, p + ".feeRate"))
            }
        }
        return (rows, r.nextPageCursor ?? "")
    }

    struct AccountInfoResult: Decodable {
        let marginMode: String
        let unifiedMarginStatus: FlexibleInt
    }

    /// `/v5/account/info`.
    public static func accountInfo(_ body: [UInt8]) throws -> BybitAccountInfo {
        let r = try privateDecode(AccountInfoResult.self, body, "account info")
        return BybitAccountInfo(marginMode: r.marginMode, unifiedMarginStatus: r.unifiedMarginStatus.value ?? 0)
    }

    struct APIKeyResult: Decodable {
        let readOnly: FlexibleInt
        let permissions: [String: [String]]
        let ips: [String]?
    }

    /// `/v5/user/query-api` (the key itself is not read back).
    public static func apiKeyInfo(_ body: [UInt8]) throws -> BybitAPIKeyInfo {
        let r = try privateDecode(APIKeyResult.self, body, "API key info")
        let perms = r.permissions.keys.sorted().map { (group: $0, names: r.permissions[$0]!) }
        return BybitAPIKeyInfo(readOnly: (r.readOnly.value ?? 1) != 0, permissions: perms, ips: r.ips ?? [])
    }
}
