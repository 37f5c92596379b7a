// What Carry sends to and reads from Bybit's signed v5 endpoints, as exact values (every
// number a `Fixed`), and the typed outcome of an order create.

public import CarryCore

/// What a venue refusal means to the caller, from its retCode.
public enum BybitRejectKind: String, Sendable, Equatable, CaseIterable {
    /// 110007 (derivatives), 170131 (spot): not enough available balance.
    case insufficientBalance
    /// 110072 (derivatives), 170141 (spot): the orderLinkId was used before; the first order stands.
    case duplicateOrderLinkId
    /// 110001 (derivatives), 170213 (spot): no such order (already filled, cancelled, never placed).
    case orderNotFound
    /// 110017: a reduce-only order that would not reduce the position.
    case reduceOnlyViolation
    /// 110094, 170140 and the min-quantity/notional family: the order is below the instrument's minimum.
    case belowMinimum
    /// 10006: too many requests.
    case rateLimited
    /// 10003 (bad key), 10004 (bad signature), 10005 (permission denied).
    case authentication
    /// 10002: the request's timestamp is outside the recv window (the client resyncs its clock).
    case timestamp
    /// 10001 and other parameter errors.
    case invalidRequest
    /// The venue could not be reached at any configured URL: nothing was sent.
    case unreachable
    /// Anything else.
    case other

    /// The kind of a Bybit retCode.
    public init(retCode: Int) {
        switch retCode {
        case 110007, 170131: self = .insufficientBalance
        case 110072, 170141: self = .duplicateOrderLinkId
        case 110001, 170213: self = .orderNotFound
        case 110017: self = .reduceOnlyViolation
        case 110094, 170140, 170136, 170137: self = .belowMinimum
        case 10006: self = .rateLimited
        case 10003, 10004, 10005: self = .authentication
        case 10002: self = .timestamp
        case 10001: self = .invalidRequest
        default: self = .other
        }
    }
}

/// The result of `/v5/order/create`. The caller journals it and, for `.unknown`, resolves it
/// with `BybitTradingClient.queryOrder(category:orderLinkId:)`: never by sending the order again.
public enum BybitOrderOutcome: Sendable, Equatable {
    /// The venue took the order (it may still be rejected or cancelled later: watch its status).
    case accepted(orderId: String, orderLinkId: String)
    /// The venue refused it (or it never left: `.unreachable`); no order exists.
    case rejected(retCode: Int, message: String, kind: BybitRejectKind)
    /// Sent, but whether it was placed is not known (timeout, dropped connection, 5xx,
    /// 10016/170146, an answer that does not parse). The order may exist.
    case unknown(reason: String)
}

/// One order to create. `orderLinkId` is mandatory: it is how an unknown outcome is resolved.
public struct BybitOrderRequest: Sendable, Equatable {
    public var category: Bybit.Category
    public var symbol: String
    public var side: Side
    public var orderType: OrderType
    /// Base-asset quantity (spot market buys too: `marketUnit=baseCoin` is sent).
    public var qty: Fixed
    /// Limit price; nil for market orders.
    public var price: Fixed?
    public var timeInForce: TimeInForce
    public var reduceOnly: Bool
    /// The client's id: at most 36 characters of [A-Za-z0-9_-].
    public var orderLinkId: String

    /// An order; market orders default to IOC, limit to GTC.
    public init(category: Bybit.Category, symbol: String, side: Side, orderType: OrderType, qty: Fixed, price: Fixed? = nil,
                timeInForce: TimeInForce? = nil, reduceOnly: Bool = false, orderLinkId: String) {
        self.category = category
        self.symbol = symbol
        self.side = side
        self.orderType = orderType
        self.qty = qty
        self.price = price
        self.timeInForce = timeInForce ?? (orderType == .market ? .immediateOrCancel : .goodTillCancel)
        self.reduceOnly = reduceOnly
        self.orderLinkId = orderLinkId
    }
}

/// The ids of an order the venue acknowledged (cancel, cancel-all).
public struct BybitOrderRef: Sendable, Equatable {
    public var orderId: String
    public var orderLinkId: String
}

/// An order as the venue reports it (`/v5/order/realtime`, `/v5/order/history`).
public struct BybitOrder: Sendable, Equatable {
    public var orderId: String
    public var orderLinkId: String
    public var symbol: String
    public var side: Side
    public var orderType: String
    /// `New`, `PartiallyFilled`, `Filled`, `Cancelled`, `Rejected`, `PartiallyFilledCanceled`, …
    public var orderStatus: String
    public var qty: Fixed
    /// Limit price (0 for market orders).
    public var price: Fixed
    public var avgPrice: Fixed?
    public var cumExecQty: Fixed
    public var cumExecFee: Fixed
    public var leavesQty: Fixed
    public var timeInForce: String
    public var reduceOnly: Bool
    public var createdTime: Timestamp
    public var updatedTime: Timestamp
    /// `linear`, `spot`, … (the order topic sends it; the lists sit under a category).
    public var category: String = ""
    public var cumExecValue: Fixed? = nil
    /// Why the order was rejected or cancelled (`EC_NoError` when it was not), when sent.
    public var rejectReason: String = ""

    /// True while the order can still fill.
    public var isOpen: Bool { orderStatus == "New" || orderStatus == "PartiallyFilled" || orderStatus == "Untriggered" }
}

/// One execution (`/v5/execution/list`). `execType` `Trade` is a fill; `Funding` a settlement.
public struct BybitExecution: Sendable, Equatable {
    public var execId: String
    public var orderId: String
    public var orderLinkId: String
    public var symbol: String
    public var side: Side
    public var execType: String
    public var execPrice: Fixed
    public var execQty: Fixed
    /// Fee paid (positive) or rebate (negative); for funding, the funding paid.
    public var execFee: Fixed
    public var feeRate: Fixed?
    public var isMaker: Bool
    public var execTime: Timestamp
    /// `linear`, `spot`, … (the execution topic sends it; the list sits under a category).
    public var category: String = ""
    public var execValue: Fixed? = nil
    public var markPrice: Fixed? = nil
    /// Quantity the order still had open after this execution, when sent.
    public var leavesQty: Fixed? = nil
    /// The coin the fee was charged in (Bybit takes a spot buy's fee in the coin bought); empty when not sent.
    public var feeCurrency: String = ""

    /// True for a funding settlement, which is not a fill.
    public var isFunding: Bool { execType == "Funding" }
}

/// Executions split by what they are: Bybit lists funding settlements among executions.
public struct BybitExecutions: Sendable, Equatable {
    /// `execType` Trade (and the other order-driven kinds: AdlTrade, BustTrade).
    public var fills: [BybitExecution]
    /// `execType` Funding.
    public var funding: [BybitExecution]
    /// Cursor of the next page (empty: last page).
    public var nextPageCursor: String
}

/// A position (`/v5/position/list`).
public struct BybitPosition: Sendable, Equatable {
    public var symbol: String
    /// `Buy` (long), `Sell` (short) or empty (flat).
    public var side: String
    /// Absolute size, base asset.
    public var size: Fixed
    public var avgPrice: Fixed
    public var markPrice: Fixed?
    public var leverage: Fixed?
    public var liqPrice: Fixed?
    public var unrealisedPnl: Fixed?
    public var cumRealisedPnl: Fixed?
    /// The position topic's extras: category, one-way (0) or hedge-mode index, update time, sequence.
    public var category: String = ""
    public var positionIdx: Int = 0
    public var updatedTime: Timestamp? = nil
    public var seq: Int64? = nil

    /// Signed size: positive long, negative short.
    public var signedSize: Fixed { side == "Sell" ? -size : size }
}

/// One coin of the unified wallet.
public struct BybitCoinBalance: Sendable, Equatable {
    public var coin: String
    public var walletBalance: Fixed
    public var equity: Fixed?
    public var usdValue: Fixed?
    public var unrealisedPnl: Fixed?
    public var locked: Fixed?
}

/// `/v5/account/wallet-balance` for the UNIFIED account.
public struct BybitWallet: Sendable, Equatable {
    public var accountType: String
    public var totalEquity: Fixed?
    public var totalWalletBalance: Fixed?
    public var totalAvailableBalance: Fixed?
    public var totalPerpUPL: Fixed?
    public var coins: [BybitCoinBalance]

    /// The balance of one coin, when listed.
    public func coin(_ name: String) -> BybitCoinBalance? { coins.first { $0.coin == name } }
}

/// An instrument's fee rates (`/v5/account/fee-rate`).
public struct BybitFeeRate: Sendable, Equatable {
    public var symbol: String
    public var takerFeeRate: Fixed
    public var makerFeeRate: Fixed
}

/// One row of `/v5/account/transaction-log`: TRADE, SETTLEMENT (funding), …
public struct BybitTransaction: Sendable, Equatable {
    public var id: String
    public var symbol: String
    public var category: String
    public var type: String
    public var side: String
    /// Position size at a settlement; trade size for TRADE.
    public var size: Fixed?
    /// Funding of a SETTLEMENT row (positive: received), nil otherwise.
    public var funding: Fixed?
    public var fee: Fixed?
    /// The wallet's change from this row.
    public var change: Fixed
    public var cashBalance: Fixed?
    public var currency: String
    public var transactionTime: Timestamp
    /// The trade price, or for a SETTLEMENT the mark price the funding was settled at.
    public var tradePrice: Fixed? = nil
    /// The fee rate, or for a SETTLEMENT the funding rate.
    public var feeRate: Fixed? = nil

    /// A SETTLEMENT row's position, signed (Bybit writes the size with a side; a negative size is taken as signed already).
    public var signedSize: Fixed? {
        guard let size else { return nil }
        return size.isNegative || side != "Sell" ? size : -size
    }
}

/// `/v5/account/info`.
public struct BybitAccountInfo: Sendable, Equatable {
    public var marginMode: String
    public var unifiedMarginStatus: Int
}

/// `/v5/user/query-api`: what the key may do.
public struct BybitAPIKeyInfo: Sendable, Equatable {
    public var readOnly: Bool
    /// Permission groups → permissions, sorted by group name.
    public var permissions: [(group: String, names: [String])]
    public var ips: [String]

    public static func == (a: BybitAPIKeyInfo, b: BybitAPIKeyInfo) -> Bool {
        a.readOnly == b.readOnly && a.ips == b.ips && a.permissions.map(\.group) == b.permissions.map(\.group)
            && a.permissions.map(\.names) == b.permissions.map(\.names)
    }
}

/// `/v5/position/set-leverage`: 110043 ("leverage not modified") is success.
public enum BybitLeverageResult: Sendable, Equatable {
    case changed
    case unchanged
}
