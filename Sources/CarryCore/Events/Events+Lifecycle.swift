// The order and pair lifecycle: what the engine decided about a pair's phase, an order to
// cancel, an entry it chose not to make; and what the venue (or the executor standing in
// front of it) reported beyond acknowledgements and fills — an outcome not known, an IOC
// remainder that expired, the status a query found, the venue's whole book for
// reconciliation.
//
// Invariants: every record names the intent (by seq) or the pair (by its opening signal's
// seq) it concerns; enums are stored by raw value, and raw values are permanent.

// MARK: - Pair transitions (decision)

/// Where a pair is in its life. Raw values are journaled: permanent.
public enum PairPhase: UInt8, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// No position, no working order.
    case flat = 0
    /// Both opening legs sent; waiting for fills.
    case opening = 1
    /// Both legs held.
    case open = 2
    /// Both legs being taken to zero.
    case closing = 3
    /// An order is correcting the difference between the legs (delta drift past the band).
    case rebalancing = 4
    /// A leg failed (or the leg-risk budget ran out): the filled leg is being unwound.
    case unwinding = 5

    public var description: String {
        switch self {
        case .flat: return "flat"
        case .opening: return "opening"
        case .open: return "open"
        case .closing: return "closing"
        case .rebalancing: return "rebalancing"
        case .unwinding: return "unwinding"
        }
    }
}

/// What moved a pair from one phase to another. Raw values are journaled: permanent.
public enum PairCause: UInt8, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// The strategy decided to enter (orders for both legs sent).
    case entry = 1
    /// Every opening order ended and both legs are held.
    case legsFilled = 2
    /// An opening leg ended with nothing filled while the other leg holds a position.
    case legFailed = 3
    /// Naked notional × time on one leg reached the leg-risk budget.
    case legRiskBudget = 4
    /// |spot − perp| × price ÷ pair notional went past the band.
    case deltaDrift = 5
    /// The rebalancing order ended and the legs are back within the band.
    case rebalanced = 6
    /// The strategy decided to exit.
    case exit = 7
    /// A risk rule closed the pair (margin buffer, liquidation of a leg).
    case risk = 8
    /// The kill switch flattened the pair.
    case killSwitch = 9
    /// Both legs reached zero with nothing working.
    case flat = 10
    /// A closing order ended (rejected, cancelled, expired) with a position left: closing again.
    case closeRetry = 11
    /// Every opening order ended with nothing filled on either leg.
    case nothingFilled = 12
    /// A flat pair holds a position (a fill that raced a cancel, a reconciliation correction): unwind it.
    case strayPosition = 13

    public var description: String {
        switch self {
        case .entry: return "entry"
        case .legsFilled: return "legsFilled"
        case .legFailed: return "legFailed"
        case .legRiskBudget: return "legRiskBudget"
        case .deltaDrift: return "deltaDrift"
        case .rebalanced: return "rebalanced"
        case .exit: return "exit"
        case .risk: return "risk"
        case .killSwitch: return "killSwitch"
        case .flat: return "flat"
        case .closeRetry: return "closeRetry"
        case .nothingFilled: return "nothingFilled"
        case .strayPosition: return "strayPosition"
        }
    }
}

/// A pair moved from one phase to another (or a transition was refused: `from == to` with an
/// alert beside it). Caused by the input that moved it.
public struct PairTransition: EventPayload {
    public static let kind = EventKind.pairTransition
    /// The pair (the seq of its opening signal).
    public var pairId: UInt64
    public var spot: InstrumentId
    public var perp: InstrumentId
    public var from: PairPhase
    public var to: PairPhase
    public var cause: PairCause
    /// The figure behind the cause, when there is one (the drift, the naked notional × s), else 0.
    public var observed: Fixed

    /// Builds a transition.
    public init(pairId: UInt64, spot: InstrumentId, perp: InstrumentId, from: PairPhase, to: PairPhase, cause: PairCause, observed: Fixed = .zero) {
        self.pairId = pairId
        self.spot = spot
        self.perp = perp
        self.from = from
        self.to = to
        self.cause = cause
        self.observed = observed
    }

    public var instrument: InstrumentId? { perp }

    public func encode(to w: inout ByteWriter) {
        w.write(pairId)
        w.write(spot)
        w.write(perp)
        w.write(from.rawValue)
        w.write(to.rawValue)
        w.write(cause.rawValue)
        w.write(observed)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        pairId = try r.read(UInt64.self, "pair.pairId")
        spot = try r.readInstrument("pair.spot")
        perp = try r.readInstrument("pair.perp")
        from = try r.readEnum(PairPhase.self, "pair.from")
        to = try r.readEnum(PairPhase.self, "pair.to")
        cause = try r.readEnum(PairCause.self, "pair.cause")
        observed = try r.readFixed("pair.observed")
        try r.finish("pair.transition")
    }

    public var fields: [EventField] {
        [EventField("pairId", .seq(pairId)), EventField("spot", .instrument(spot)), EventField("perp", .instrument(perp)),
         EventField("from", .name(from.description)), EventField("to", .name(to.description)),
         EventField("cause", .name(cause.description)), EventField("observed", .fixed(observed))]
    }
}

// MARK: - Cancel commands (decision)

/// Why the engine cancels an order. Raw values are journaled: permanent.
public enum CancelReason: UInt8, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// The leg-risk budget ran out: the other leg's working order is pulled.
    case legRisk = 1
    /// The kill switch: nothing may stay working.
    case killSwitch = 2
    /// The pair is unwinding or closing: its opening orders are pulled.
    case pairClosing = 3
    /// An operator asked.
    case operatorCommand = 4

    public var description: String {
        switch self {
        case .legRisk: return "legRisk"
        case .killSwitch: return "killSwitch"
        case .pairClosing: return "pairClosing"
        case .operatorCommand: return "operator"
        }
    }
}

/// The engine wants a working order cancelled. The order's state changes only when the venue
/// answers (a cancel can lose the race with a fill).
public struct CancelIntended: EventPayload {
    public static let kind = EventKind.cancelIntended
    /// The intent whose order is to be cancelled.
    public var intentSeq: UInt64
    public var reason: CancelReason

    /// Builds a cancel command.
    public init(intentSeq: UInt64, reason: CancelReason) {
        self.intentSeq = intentSeq
        self.reason = reason
    }

    public func encode(to w: inout ByteWriter) {
        w.write(intentSeq)
        w.write(reason.rawValue)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        intentSeq = try r.read(UInt64.self, "cancel.intentSeq")
        reason = try r.readEnum(CancelReason.self, "cancel.reason")
        try r.finish("cancel.intended")
    }

    public var fields: [EventField] { [EventField("intentSeq", .seq(intentSeq)), EventField("reason", .name(reason.description))] }
}

// MARK: - Entries not made (decision)

/// Why an eligible pair was not entered. Raw values are journaled: permanent.
public enum SkipReason: UInt8, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// More pairs qualified than `maxOpenPairs` allows; better-ranked pairs took the places.
    case crowdedOut = 1
    /// A pre-trade risk rule refused it (the `riskBreached` record beside it says which).
    case risk = 2
    /// Reconciliation found a mismatch that is not resolved yet: no new pairs.
    case reconciliationHold = 3
    /// The pair closed too recently.
    case cooldown = 4
    /// A feature the strategy needs has no data yet (`factor` names it).
    case missingFeature = 5
    /// The score is below the entry level.
    case belowEntry = 6
    /// The expected net carry does not clear the fee gate.
    case feeGate = 7
    /// The portfolio cap left no room (or too little for the minimum size).
    case cap = 8
    /// A venue fact broke an expectation (see the breach): no new pairs until an operator looks.
    case engineHalted = 9

    public var description: String {
        switch self {
        case .crowdedOut: return "crowdedOut"
        case .risk: return "risk"
        case .reconciliationHold: return "reconciliationHold"
        case .cooldown: return "cooldown"
        case .missingFeature: return "missingFeature"
        case .belowEntry: return "belowEntry"
        case .feeGate: return "feeGate"
        case .cap: return "cap"
        case .engineHalted: return "engineHalted"
        }
    }
}

/// An eligible pair was not entered at a scan, and why. Journaled when the reason for a pair
/// changes, not at every scan.
public struct EntrySkipped: EventPayload {
    public static let kind = EventKind.entrySkipped
    public var spot: InstrumentId
    public var perp: InstrumentId
    public var reason: SkipReason
    /// The factor that was missing (`missingFeature`), else nil.
    public var factor: SignalFactor?
    /// The limit that stopped it (the pair count, a threshold), and what was observed.
    public var limit: Fixed
    public var observed: Fixed

    /// Builds a skip record.
    public init(spot: InstrumentId, perp: InstrumentId, reason: SkipReason, factor: SignalFactor? = nil, limit: Fixed, observed: Fixed) {
        self.spot = spot
        self.perp = perp
        self.reason = reason
        self.factor = factor
        self.limit = limit
        self.observed = observed
    }

    public var instrument: InstrumentId? { perp }

    public func encode(to w: inout ByteWriter) {
        w.write(spot)
        w.write(perp)
        w.write(reason.rawValue)
        w.write(factor?.rawValue ?? 0)
        w.write(limit)
        w.write(observed)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        spot = try r.readInstrument("skip.spot")
        perp = try r.readInstrument("skip.perp")
        reason = try r.readEnum(SkipReason.self, "skip.reason")
        let f = try r.read(UInt8.self, "skip.factor")
        if f == 0 {
            factor = nil
        } else {
            guard let known = SignalFactor(rawValue: f) else { throw CodecError(.invalidValue, "skip.factor: unknown factor \(f)") }
            factor = known
        }
        limit = try r.readFixed("skip.limit")
        observed = try r.readFixed("skip.observed")
        try r.finish("entry.skipped")
    }

    public var fields: [EventField] {
        [EventField("spot", .instrument(spot)), EventField("perp", .instrument(perp)), EventField("reason", .name(reason.description)),
         EventField("factor", factor.map { .name($0.description) } ?? .absent),
         EventField("limit", .fixed(limit)), EventField("observed", .fixed(observed))]
    }
}

// MARK: - Outcomes the venue did not state (venue facts)

/// An order was sent and no answer came (a timeout, a dropped connection, a 5xx, a reply that
/// did not parse). Resolved only by a later fact — a status query, a stream message,
/// reconciliation — never by sending the order again.
public struct OrderUnknown: EventPayload {
    public static let kind = EventKind.orderUnknown
    public var intentSeq: UInt64
    /// What happened to the request (never the request itself: it carries a signature).
    public var reason: String

    /// Builds an unknown outcome.
    public init(intentSeq: UInt64, reason: String) {
        self.intentSeq = intentSeq
        self.reason = reason
    }

    public func encode(to w: inout ByteWriter) {
        w.write(intentSeq)
        w.write(reason)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        intentSeq = try r.read(UInt64.self, "unknown.intentSeq")
        reason = try r.readString("unknown.reason")
        try r.finish("order.unknown")
    }

    public var fields: [EventField] { [EventField("intentSeq", .seq(intentSeq)), EventField("reason", .text(reason))] }
}

/// The unfilled remainder of an immediate-or-cancel order expired at the venue.
public struct OrderExpired: EventPayload {
    public static let kind = EventKind.orderExpired
    public var intentSeq: UInt64
    public var remainingQty: Fixed

    /// Builds an expiry.
    public init(intentSeq: UInt64, remainingQty: Fixed) {
        self.intentSeq = intentSeq
        self.remainingQty = remainingQty
    }

    public func encode(to w: inout ByteWriter) {
        w.write(intentSeq)
        w.write(remainingQty)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        intentSeq = try r.read(UInt64.self, "expired.intentSeq")
        remainingQty = try r.readFixed("expired.remainingQty")
        try r.finish("order.expired")
    }

    public var fields: [EventField] { [EventField("intentSeq", .seq(intentSeq)), EventField("remainingQty", .fixed(remainingQty))] }
}

/// An order's status as the venue reports it. Raw values are journaled: permanent.
public enum VenueOrderStatus: UInt8, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// The venue has no order with this client id: it was never placed.
    case notFound = 0
    case new = 1
    case partiallyFilled = 2
    case filled = 3
    case cancelled = 4
    case rejected = 5
    /// An IOC remainder expired (Bybit reports it as cancelled with a partial fill).
    case expired = 6

    public var description: String {
        switch self {
        case .notFound: return "notFound"
        case .new: return "new"
        case .partiallyFilled: return "partiallyFilled"
        case .filled: return "filled"
        case .cancelled: return "cancelled"
        case .rejected: return "rejected"
        case .expired: return "expired"
        }
    }

    /// The order can change no further.
    public var isTerminal: Bool { self == .notFound || self == .filled || self == .cancelled || self == .rejected || self == .expired }
}

/// The answer to a status query by client order id (after an unknown outcome, after a restart).
/// Fills the venue reports are journaled as `order.filled` before this record (de-duplicated
/// by execution id), so `cumQty` can be checked against them.
public struct OrderStatusReported: EventPayload {
    public static let kind = EventKind.orderStatus
    public var intentSeq: UInt64
    public var status: VenueOrderStatus
    /// Quantity the venue says has executed in total.
    public var cumQty: Fixed
    /// The venue's order id (empty when not found).
    public var venueOrderId: String

    /// Builds a status report.
    public init(intentSeq: UInt64, status: VenueOrderStatus, cumQty: Fixed, venueOrderId: String) {
        self.intentSeq = intentSeq
        self.status = status
        self.cumQty = cumQty
        self.venueOrderId = venueOrderId
    }

    public func encode(to w: inout ByteWriter) {
        w.write(intentSeq)
        w.write(status.rawValue)
        w.write(cumQty)
        w.write(venueOrderId)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        intentSeq = try r.read(UInt64.self, "status.intentSeq")
        status = try r.readEnum(VenueOrderStatus.self, "status.status")
        cumQty = try r.readFixed("status.cumQty")
        venueOrderId = try r.readString("status.venueOrderId")
        try r.finish("order.status")
    }

    public var fields: [EventField] {
        [EventField("intentSeq", .seq(intentSeq)), EventField("status", .name(status.description)),
         EventField("cumQty", .fixed(cumQty)), EventField("venueOrderId", .text(venueOrderId))]
    }
}

// MARK: - Reconciliation input (venue fact)

/// One position in the venue's book.
public struct VenuePosition: Sendable, Equatable {
    public var instrumentId: InstrumentId
    /// Signed, base asset (spot: the coin balance held for the pair).
    public var qty: Fixed

    /// Builds a position.
    public init(instrumentId: InstrumentId, qty: Fixed) {
        self.instrumentId = instrumentId
        self.qty = qty
    }
}

/// The venue's whole book at one moment — positions, quote cash, open orders by intent —
/// as a reconciliation read it. The reducer compares it with its own and journals the verdict
/// per instrument (`reconciled`). Open orders are at most 65,535 (u16 count).
public struct VenueSnapshot: EventPayload {
    public static let kind = EventKind.venueSnapshot
    public var positions: [VenuePosition]
    /// Quote-asset cash the venue reports, when it reports one.
    public var cash: Fixed?
    /// Intents whose orders are working at the venue.
    public var openOrders: [UInt64]

    /// Builds a snapshot.
    public init(positions: [VenuePosition], cash: Fixed?, openOrders: [UInt64]) {
        self.positions = positions
        self.cash = cash
        self.openOrders = openOrders
    }

    public func encode(to w: inout ByteWriter) {
        precondition(positions.count <= 255 && openOrders.count <= 65_535, "a venue snapshot holds at most 255 positions and 65,535 orders")
        w.write(UInt8(positions.count))
        for p in positions {
            w.write(p.instrumentId)
            w.write(p.qty)
        }
        w.write(cash)
        w.write(UInt16(openOrders.count))
        for o in openOrders { w.write(o) }
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        let n = Int(try r.read(UInt8.self, "snapshot.positionCount"))
        var list: [VenuePosition] = []
        list.reserveCapacity(n)
        for _ in 0..<n {
            let id = try r.readInstrument("snapshot.position.instrument")
            let qty = try r.readFixed("snapshot.position.qty")
            list.append(VenuePosition(instrumentId: id, qty: qty))
        }
        positions = list
        cash = try r.readOptionalFixed("snapshot.cash")
        let m = Int(try r.read(UInt16.self, "snapshot.orderCount"))
        var orders: [UInt64] = []
        orders.reserveCapacity(m)
        for _ in 0..<m { orders.append(try r.read(UInt64.self, "snapshot.order")) }
        openOrders = orders
        try r.finish("venue.snapshot")
    }

    public var fields: [EventField] {
        [EventField("positions", .list(positions.map { [EventField("instrument", .instrument($0.instrumentId)), EventField("qty", .fixed($0.qty))] })),
         EventField("cash", .optional(cash)),
         EventField("openOrders", .list(openOrders.map { [EventField("intentSeq", .seq($0))] }))]
    }
}
