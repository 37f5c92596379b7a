// The loopback venue's account records, in Bybit's vocabulary (order statuses, execTypes,
// transaction-log types), with exact decimals. Plain values: `SimAccount` owns the state,
// `BybitPrivateAPI` shapes them as JSON, and the WebSocket side publishes `SimAccountUpdate`s.

public import CarryCore
public import CarryVenues

/// Bybit's order statuses.
public enum SimOrderStatus: String, Sendable, Equatable {
    case new = "New"
    case partiallyFilled = "PartiallyFilled"
    case filled = "Filled"
    case cancelled = "Cancelled"
    case partiallyFilledCanceled = "PartiallyFilledCanceled"
    case rejected = "Rejected"

    /// True while the order can still fill.
    public var isOpen: Bool { self == .new || self == .partiallyFilled }
}

/// An order as the venue keeps it.
public struct SimOrder: Sendable, Equatable {
    public var orderId: String
    public var orderLinkId: String
    public var instrument: InstrumentDefined
    public var side: Side
    public var orderType: OrderType
    public var qty: Fixed
    public var price: Fixed?
    public var timeInForce: TimeInForce
    public var reduceOnly: Bool
    public var status: SimOrderStatus
    public var cumExecQty: Fixed = .zero
    public var cumExecValue: Fixed = .zero
    public var cumExecFee: Fixed = .zero
    /// Bybit's `rejectReason` / cancel reason (`EC_NoError` when none).
    public var reason = "EC_NoError"
    public var createdTime: Timestamp
    public var updatedTime: Timestamp

    /// Quantity not yet filled (zero once the order is closed).
    public var leavesQty: Fixed { status.isOpen ? qty - cumExecQty : .zero }
    /// Volume-weighted fill price, when anything filled.
    public var avgPrice: Fixed? {
        cumExecQty.isZero ? nil : cumExecValue.divided(by: cumExecQty, scale: Int(instrument.tickSize.scale) + 4, .toNearestOrEven)
    }
    /// Bybit's `category` of the order.
    public var category: String { instrument.kind == .spot ? "spot" : "linear" }
}

/// One execution: a fill (`Trade`, `BustTrade` for a liquidation) or a funding settlement
/// (`Funding`, which Bybit lists among executions).
public struct SimExecution: Sendable, Equatable {
    public var execId: String
    public var orderId: String
    public var orderLinkId: String
    public var instrument: InstrumentDefined
    public var side: Side
    public var execType: String
    public var price: Fixed
    public var qty: Fixed
    /// Paid (positive) or received (negative). For funding: the funding paid.
    public var fee: Fixed
    public var feeRate: Fixed
    public var isMaker: Bool
    public var time: Timestamp
    /// Quantity the order still had open after this execution.
    public var leavesQty: Fixed
    /// The coin the fee was charged in (a spot buy's: the coin bought).
    public var feeCurrency: String
}

/// One row of the transaction log: a `TRADE` (a fill) or a `SETTLEMENT` (funding of a perp
/// position at one settlement).
public struct SimTransaction: Sendable, Equatable {
    public var id: String
    public var instrument: InstrumentDefined
    public var type: String
    public var side: Side
    /// Position size after the row (signed for settlements: the position that was charged).
    public var size: Fixed
    public var qty: Fixed
    public var tradePrice: Fixed
    /// Funding received (positive) or paid (negative); nil on TRADE rows.
    public var funding: Fixed?
    public var fee: Fixed
    public var feeRate: Fixed
    /// The USDT wallet's change from this row.
    public var change: Fixed
    /// The USDT wallet balance after it.
    public var cashBalance: Fixed
    public var time: Timestamp
    public var orderId: String
    public var orderLinkId: String
}

/// A perpetual position, as `/v5/position/list` and the `position` stream show it.
public struct SimPositionView: Sendable, Equatable {
    public var instrument: InstrumentDefined
    /// Signed size: positive long, negative short, zero flat.
    public var signedSize: Fixed
    public var avgPrice: Fixed
    public var markPrice: Fixed?
    public var leverage: Fixed
    public var liqPrice: Fixed?
    public var unrealisedPnl: Fixed
    public var cumRealisedPnl: Fixed
    public var updatedTime: Timestamp

    /// `Buy`, `Sell` or empty.
    public var side: String { signedSize.isZero ? "" : (signedSize.isPositive ? "Buy" : "Sell") }
}

/// One coin of the unified wallet.
public struct SimCoinBalance: Sendable, Equatable {
    public var coin: String
    public var walletBalance: Fixed
    public var unrealisedPnl: Fixed
    public var equity: Fixed
    public var usdValue: Fixed
}

/// The unified wallet (`/v5/account/wallet-balance`, the `wallet` stream).
public struct SimWalletView: Sendable, Equatable {
    public var coins: [SimCoinBalance]
    public var totalWalletBalance: Fixed
    public var totalPerpUPL: Fixed
    public var totalEquity: Fixed
    public var totalInitialMargin: Fixed
    public var totalAvailableBalance: Fixed
    public var updatedTime: Timestamp
}

/// An account change, published to subscribers in the order it happened. The WebSocket
/// side turns each into the matching Bybit private topic (`order`, `execution`, `position`,
/// `wallet`); every case carries the full record after the change, never a delta.
public enum SimAccountUpdate: Sendable, Equatable {
    case order(SimOrder)
    case execution(SimExecution)
    case position(SimPositionView)
    case wallet(SimWalletView)
}

extension Bybit.Category {
    /// The journal's instrument kind of a category (inverse contracts are not traded here).
    public var instrumentKind: InstrumentKind { self == .spot ? .spot : (self == .inverse ? .inversePerpetual : .linearPerpetual) }
}

/// A refusal with Bybit's code and message.
public struct SimReject: Error, Sendable, Equatable {
    public var retCode: Int
    public var retMsg: String

    public init(_ retCode: Int, _ retMsg: String) {
        self.retCode = retCode
        self.retMsg = retMsg
    }
}

/// The account's own counts, for `/sim/stats`: proof that no duplicate order was placed.
public struct SimAccountCounts: Sendable, Equatable {
    /// `/v5/order/create` requests that reached the account engine.
    public var createRequests = 0
    /// Orders placed (each with a distinct orderLinkId).
    public var placed = 0
    /// Creates refused because their orderLinkId was already used.
    public var duplicatesRefused = 0
    /// Other refusals.
    public var rejected = 0
    public var executions = 0
    public var settlements = 0
    /// Distinct orderLinkIds among placed orders: equals `placed` when no duplicate got in.
    public var distinctLinkIds = 0
    /// Order faults injected by the account (refusals, split fills).
    public var injected: [SimFaultKind: Int] = [:]
}
