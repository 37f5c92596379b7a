// Venue facts: what the exchange (or the simulated exchange) reported about our orders,
// positions and funding.
//
// Invariants: every order fact names the seq of the intent it answers; fills carry the
// reference price the decision saw, so slippage is attributed exactly; a funding payment's
// amount is signed from the account's point of view (positive = received).

/// The order was sent to the venue.
public struct OrderSubmitted: EventPayload {
    public static let kind = EventKind.orderSubmitted
    /// The intent this order carries out; its client order id derives from it.
    public var intentSeq: UInt64

    /// Builds a submission.
    public init(intentSeq: UInt64) { self.intentSeq = intentSeq }

    public func encode(to w: inout ByteWriter) { w.write(intentSeq) }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        intentSeq = try r.read(UInt64.self, "submitted.intentSeq")
        try r.finish("order.submitted")
    }

    public var fields: [EventField] { [EventField("intentSeq", .seq(intentSeq))] }
}

/// The venue accepted the order.
public struct OrderAccepted: EventPayload {
    public static let kind = EventKind.orderAccepted
    public var intentSeq: UInt64
    /// The venue's own order id.
    public var venueOrderId: String

    /// Builds an acceptance.
    public init(intentSeq: UInt64, venueOrderId: String) {
        self.intentSeq = intentSeq
        self.venueOrderId = venueOrderId
    }

    public func encode(to w: inout ByteWriter) {
        w.write(intentSeq)
        w.write(venueOrderId)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        intentSeq = try r.read(UInt64.self, "accepted.intentSeq")
        venueOrderId = try r.readString("accepted.venueOrderId")
        try r.finish("order.accepted")
    }

    public var fields: [EventField] { [EventField("intentSeq", .seq(intentSeq)), EventField("venueOrderId", .text(venueOrderId))] }
}

/// The venue (or a pre-trade check at the venue boundary) refused the order.
public struct OrderRejected: EventPayload {
    public static let kind = EventKind.orderRejected
    public var intentSeq: UInt64
    /// The venue's code (Bybit `retCode`), or a negative Carry code for local refusals.
    public var code: Int32
    public var reason: String

    /// Builds a rejection.
    public init(intentSeq: UInt64, code: Int32, reason: String) {
        self.intentSeq = intentSeq
        self.code = code
        self.reason = reason
    }

    public func encode(to w: inout ByteWriter) {
        w.write(intentSeq)
        w.write(code)
        w.write(reason)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        intentSeq = try r.read(UInt64.self, "rejected.intentSeq")
        code = try r.read(Int32.self, "rejected.code")
        reason = try r.readString("rejected.reason")
        try r.finish("order.rejected")
    }

    public var fields: [EventField] {
        [EventField("intentSeq", .seq(intentSeq)), EventField("code", .int(Int64(code))), EventField("reason", .text(reason))]
    }
}

/// The order ended without filling completely.
public struct OrderCancelled: EventPayload {
    public static let kind = EventKind.orderCancelled
    public var intentSeq: UInt64
    /// Quantity that was never filled.
    public var remainingQty: Fixed
    public var reason: String

    /// Builds a cancellation.
    public init(intentSeq: UInt64, remainingQty: Fixed, reason: String) {
        self.intentSeq = intentSeq
        self.remainingQty = remainingQty
        self.reason = reason
    }

    public func encode(to w: inout ByteWriter) {
        w.write(intentSeq)
        w.write(remainingQty)
        w.write(reason)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        intentSeq = try r.read(UInt64.self, "cancelled.intentSeq")
        remainingQty = try r.readFixed("cancelled.remainingQty")
        reason = try r.readString("cancelled.reason")
        try r.finish("order.cancelled")
    }

    public var fields: [EventField] {
        [EventField("intentSeq", .seq(intentSeq)), EventField("remainingQty", .fixed(remainingQty)), EventField("reason", .text(reason))]
    }
}

/// The asset a fee is charged in. Raw values are journaled: permanent.
public enum FeeAsset: UInt8, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// The quote asset (USDT): cash pays it.
    case quote = 0
    /// The base coin (Bybit takes a spot buy's fee from the coin bought): the position is
    /// smaller than the quantity filled by the fee.
    case base = 1
    public var description: String { self == .quote ? "quote" : "base" }
}

/// A (partial) execution of an order.
///
/// Layout 1 has no fee asset (the fee is in the quote asset); layout 2 appends it. A fill is
/// written at the lowest layout that can express it, so quote-fee fills keep layout 1's bytes.
public struct OrderFilled: EventPayload {
    public static let kind = EventKind.orderFilled
    public static let layoutVersion: UInt8 = 2
    public var intentSeq: UInt64
    public var instrumentId: InstrumentId
    public var side: Side
    public var price: Fixed
    public var qty: Fixed
    /// Fee in `feeAsset`; positive is paid, negative is a rebate.
    public var fee: Fixed
    public var liquidity: Liquidity
    /// The price the decision was made against (mid or last close); slippage is measured
    /// from it: (price − reference) × qty for buys, the reverse for sells.
    public var referencePrice: Fixed
    /// Quantity of the order still open after this fill.
    public var leavesQty: Fixed
    /// True when the venue closed the position by liquidation.
    public var isLiquidation: Bool
    /// The venue's execution id.
    public var executionId: String
    /// The asset the fee is charged in.
    public var feeAsset: FeeAsset

    /// Builds a fill.
    public init(intentSeq: UInt64, instrumentId: InstrumentId, side: Side, price: Fixed, qty: Fixed, fee: Fixed, liquidity: Liquidity,
                referencePrice: Fixed, leavesQty: Fixed, isLiquidation: Bool, executionId: String, feeAsset: FeeAsset = .quote) {
        self.feeAsset = feeAsset
        self.intentSeq = intentSeq
        self.instrumentId = instrumentId
        self.side = side
        self.price = price
        self.qty = qty
        self.fee = fee
        self.liquidity = liquidity
        self.referencePrice = referencePrice
        self.leavesQty = leavesQty
        self.isLiquidation = isLiquidation
        self.executionId = executionId
    }

    public var instrument: InstrumentId? { instrumentId }

    public func encode(to w: inout ByteWriter) {
        w.write(intentSeq)
        w.write(instrumentId)
        w.write(side.rawValue)
        w.write(price)
        w.write(qty)
        w.write(fee)
        w.write(liquidity.rawValue)
        w.write(referencePrice)
        w.write(leavesQty)
        w.write(isLiquidation)
        w.write(executionId)
        if feeAsset != .quote { w.write(feeAsset.rawValue) }
    }

    /// The layout this fill is written at: 1 unless the fee is in the base coin.
    public var encodedLayoutVersion: UInt8 { feeAsset == .quote ? 1 : 2 }

    /// The fee's value in the quote asset: a base-coin fee is valued at the fill price,
    /// rounded half-even to 8 decimals.
    public var feeInQuote: Fixed {
        feeAsset == .quote ? fee : fee.multiplied(by: price, scale: quoteScale, .toNearestOrEven)
    }

    /// The signed change of the position: the quantity filled, less a base-coin fee.
    public var positionDelta: Fixed {
        let dq = side == .buy ? qty : -qty
        return feeAsset == .base ? dq - fee : dq
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        intentSeq = try r.read(UInt64.self, "fill.intentSeq")
        instrumentId = try r.readInstrument("fill.instrument")
        side = try r.readEnum(Side.self, "fill.side")
        price = try r.readFixed("fill.price")
        qty = try r.readFixed("fill.qty")
        fee = try r.readFixed("fill.fee")
        liquidity = try r.readEnum(Liquidity.self, "fill.liquidity")
        referencePrice = try r.readFixed("fill.referencePrice")
        leavesQty = try r.readFixed("fill.leavesQty")
        isLiquidation = try r.readBool("fill.isLiquidation")
        executionId = try r.readString("fill.executionId")
        feeAsset = version >= 2 ? try r.readEnum(FeeAsset.self, "fill.feeAsset") : .quote
        try r.finish("order.filled")
    }

    public var fields: [EventField] {
        [EventField("intentSeq", .seq(intentSeq)), EventField("instrument", .instrument(instrumentId)),
         EventField("side", .name(side.description)), EventField("price", .fixed(price)), EventField("qty", .fixed(qty)),
         EventField("fee", .fixed(fee)), EventField("liquidity", .name(liquidity.description)),
         EventField("referencePrice", .fixed(referencePrice)), EventField("leavesQty", .fixed(leavesQty)),
         EventField("isLiquidation", .bool(isLiquidation)), EventField("executionId", .text(executionId))]
            + (feeAsset == .quote ? [] : [EventField("feeAsset", .name(feeAsset.description))])
    }
}

/// A funding payment on a perpetual position, at a settlement timestamp.
public struct FundingPaid: EventPayload {
    public static let kind = EventKind.fundingPaid
    public var instrumentId: InstrumentId
    /// The settlement this payment belongs to.
    public var settlementTime: Timestamp
    /// Position at settlement in the base asset: positive long, negative short.
    public var positionQty: Fixed
    public var markPrice: Fixed
    public var ratePerInterval: Fixed
    /// Signed amount in the quote asset: positive received, negative paid.
    /// amount = −positionQty × markPrice × rate.
    public var amount: Fixed

    /// Builds a payment.
    public init(instrumentId: InstrumentId, settlementTime: Timestamp, positionQty: Fixed, markPrice: Fixed, ratePerInterval: Fixed, amount: Fixed) {
        self.instrumentId = instrumentId
        self.settlementTime = settlementTime
        self.positionQty = positionQty
        self.markPrice = markPrice
        self.ratePerInterval = ratePerInterval
        self.amount = amount
    }

    public var instrument: InstrumentId? { instrumentId }

    public func encode(to w: inout ByteWriter) {
        w.write(instrumentId)
        w.write(settlementTime)
        w.write(positionQty)
        w.write(markPrice)
        w.write(ratePerInterval)
        w.write(amount)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        instrumentId = try r.readInstrument("fundingPaid.instrument")
        settlementTime = try r.readTimestamp("fundingPaid.settlementTime")
        positionQty = try r.readFixed("fundingPaid.positionQty")
        markPrice = try r.readFixed("fundingPaid.markPrice")
        ratePerInterval = try r.readFixed("fundingPaid.ratePerInterval")
        amount = try r.readFixed("fundingPaid.amount")
        try r.finish("funding.paid")
    }

    public var fields: [EventField] {
        [EventField("instrument", .instrument(instrumentId)), EventField("settlementTime", .time(settlementTime)),
         EventField("positionQty", .fixed(positionQty)), EventField("markPrice", .fixed(markPrice)),
         EventField("ratePerInterval", .fixed(ratePerInterval)), EventField("amount", .fixed(amount))]
    }
}

/// The outcome of comparing local state with the venue's.
public enum ReconcileStatus: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case matched = 1
    case mismatched = 2
    /// Local state was corrected to the venue's.
    case corrected = 3
    /// The venue holds more (or less) than our fills explain: a fill we never heard of.
    case missingFill = 4
    /// The venue has a working order we do not know (or we wait on one it does not have).
    case unknownOrder = 5
    /// A position differs with no order in flight to explain it.
    case positionDrift = 6
    /// The venue's cash differs from ours.
    case cashDrift = 7
    public var description: String {
        switch self {
        case .matched: return "matched"
        case .mismatched: return "mismatched"
        case .corrected: return "corrected"
        case .missingFill: return "missingFill"
        case .unknownOrder: return "unknownOrder"
        case .positionDrift: return "positionDrift"
        case .cashDrift: return "cashDrift"
        }
    }
}

/// A reconciliation of one instrument's position (and the account's cash).
public struct Reconciled: EventPayload {
    public static let kind = EventKind.reconciled
    public var instrumentId: InstrumentId
    public var status: ReconcileStatus
    public var localQty: Fixed
    public var venueQty: Fixed
    public var localCash: Fixed?
    public var venueCash: Fixed?

    /// Builds a reconciliation result.
    public init(instrumentId: InstrumentId, status: ReconcileStatus, localQty: Fixed, venueQty: Fixed, localCash: Fixed?, venueCash: Fixed?) {
        self.instrumentId = instrumentId
        self.status = status
        self.localQty = localQty
        self.venueQty = venueQty
        self.localCash = localCash
        self.venueCash = venueCash
    }

    public var instrument: InstrumentId? { instrumentId }

    public func encode(to w: inout ByteWriter) {
        w.write(instrumentId)
        w.write(status.rawValue)
        w.write(localQty)
        w.write(venueQty)
        w.write(localCash)
        w.write(venueCash)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        instrumentId = try r.readInstrument("reconciled.instrument")
        status = try r.readEnum(ReconcileStatus.self, "reconciled.status")
        localQty = try r.readFixed("reconciled.localQty")
        venueQty = try r.readFixed("reconciled.venueQty")
        localCash = try r.readOptionalFixed("reconciled.localCash")
        venueCash = try r.readOptionalFixed("reconciled.venueCash")
        try r.finish("reconciled")
    }

    public var fields: [EventField] {
        [EventField("instrument", .instrument(instrumentId)), EventField("status", .name(status.description)),
         EventField("localQty", .fixed(localQty)), EventField("venueQty", .fixed(venueQty)),
         EventField("localCash", .optional(localCash)), EventField("venueCash", .optional(venueCash))]
    }
}
