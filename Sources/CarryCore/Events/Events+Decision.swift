// Decisions: what the reducer concluded from its inputs.
//
// Invariants: every decision is journaled with a causation link to the input that produced
// it. An order intent's own seq is its identity: the client order id sent to a venue is
// derived from it, so a restart or a replay regenerates the same id and a resend can never
// double an exposure.

/// Which strategy produced a signal.
public enum StrategyKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// v1: enter above a funding threshold, exit below another or after a holding time.
    case threshold = 1
    /// Weighted composite of level, trend, persistence, basis and volume.
    case composite = 2
    /// An operator's manual trade.
    case manual = 3
    public var description: String {
        switch self {
        case .threshold: return "threshold"
        case .composite: return "composite"
        case .manual: return "manual"
        }
    }
}

/// What a signal recommends.
public enum SignalAction: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case none = 0
    case enter = 1
    case exit = 2
    case hold = 3
    public var description: String {
        switch self {
        case .none: return "none"
        case .enter: return "enter"
        case .exit: return "exit"
        case .hold: return "hold"
        }
    }
}

/// The carry direction of a pair.
public enum CarryDirection: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Long spot, short perp: receives positive funding.
    case longSpotShortPerp = 1
    /// Short spot (borrowed), long perp: receives negative funding.
    case shortSpotLongPerp = 2
    public var description: String { self == .longSpotShortPerp ? "long-spot/short-perp" : "short-spot/long-perp" }
    /// The perp side when opening.
    public var perpSide: Side { self == .longSpotShortPerp ? .sell : .buy }
    /// The spot side when opening.
    public var spotSide: Side { self == .longSpotShortPerp ? .buy : .sell }
}

/// A factor a signal weighs.
public enum SignalFactor: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// The last settled rate, per 8 h equivalent.
    case fundingLevel = 1
    /// Slope of recent settled rates.
    case fundingTrend = 2
    /// Share of recent settlements with the same sign.
    case persistence = 3
    /// Perp premium over spot.
    case basis = 4
    /// Recent traded value relative to its norm.
    case volume = 5
    /// Time the pair has been held.
    case holdingTime = 6
    /// The venue's predicted next rate.
    case predictedRate = 7
    /// A threshold the signal compared against (entry or exit).
    case threshold = 8
    /// Expected funding over the expected holding less the round trip, fraction of notional.
    case expectedCarry = 9
    /// Fees, half spreads and impact of opening and closing both legs, fraction of notional.
    case roundTripCost = 10
    /// Hours at the expected rate that pay the round trip (−1: the rate does not pay).
    case breakevenHours = 11
    /// Consecutive settlements above the persistence level, ending at the newest.
    case persistenceRun = 12
    /// Max − min of the basis over its window.
    case basisRange = 13
    /// Funding collected less the pair's costs (paid and still to pay), quote asset.
    case netCollected = 14
    /// A flat candidate's extra expected funding over this pair's, fraction of notional.
    case replacement = 15
    /// The last bar close of a leg (missing before its first bar).
    case mark = 16
    public var description: String {
        switch self {
        case .fundingLevel: return "fundingLevel"
        case .fundingTrend: return "fundingTrend"
        case .persistence: return "persistence"
        case .basis: return "basis"
        case .volume: return "volume"
        case .holdingTime: return "holdingTime"
        case .predictedRate: return "predictedRate"
        case .threshold: return "threshold"
        case .expectedCarry: return "expectedCarry"
        case .roundTripCost: return "roundTripCost"
        case .breakevenHours: return "breakevenHours"
        case .persistenceRun: return "persistenceRun"
        case .basisRange: return "basisRange"
        case .netCollected: return "netCollected"
        case .replacement: return "replacement"
        case .mark: return "mark"
        }
    }
}

/// One scored input of a signal, with the event that supplied it.
public struct SignalComponent: Sendable, Equatable {
    public var factor: SignalFactor
    /// The raw value of the factor.
    public var value: Fixed
    /// Its weight in the score.
    public var weight: Fixed
    /// The event that supplied `value` (a CausationRef raw value; 0 when derived).
    public var sourceSeq: UInt64

    /// Builds a component.
    public init(factor: SignalFactor, value: Fixed, weight: Fixed, sourceSeq: UInt64) {
        self.factor = factor
        self.value = value
        self.weight = weight
        self.sourceSeq = sourceSeq
    }
}

/// A strategy's evaluation of one spot+perp pair.
public struct SignalComputed: EventPayload {
    public static let kind = EventKind.signalComputed
    public var strategy: StrategyKind
    public var perp: InstrumentId
    public var spot: InstrumentId
    public var action: SignalAction
    public var direction: CarryDirection
    /// The combined score the action was decided on.
    public var score: Fixed
    /// Every factor that went into the score (at most 255).
    public var components: [SignalComponent]

    /// Builds a signal.
    public init(strategy: StrategyKind, perp: InstrumentId, spot: InstrumentId, action: SignalAction, direction: CarryDirection, score: Fixed, components: [SignalComponent]) {
        self.strategy = strategy
        self.perp = perp
        self.spot = spot
        self.action = action
        self.direction = direction
        self.score = score
        self.components = components
    }

    public var instrument: InstrumentId? { perp }

    public func encode(to w: inout ByteWriter) {
        precondition(components.count <= 255, "a signal has at most 255 components")
        w.write(strategy.rawValue)
        w.write(perp)
        w.write(spot)
        w.write(action.rawValue)
        w.write(direction.rawValue)
        w.write(score)
        w.write(UInt8(components.count))
        for c in components {
            w.write(c.factor.rawValue)
            w.write(c.value)
            w.write(c.weight)
            w.write(c.sourceSeq)
        }
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        strategy = try r.readEnum(StrategyKind.self, "signal.strategy")
        perp = try r.readInstrument("signal.perp")
        spot = try r.readInstrument("signal.spot")
        action = try r.readEnum(SignalAction.self, "signal.action")
        direction = try r.readEnum(CarryDirection.self, "signal.direction")
        score = try r.readFixed("signal.score")
        let n = Int(try r.read(UInt8.self, "signal.componentCount"))
        var list: [SignalComponent] = []
        list.reserveCapacity(n)
        for _ in 0..<n {
            let factor = try r.readEnum(SignalFactor.self, "signal.component.factor")
            let value = try r.readFixed("signal.component.value")
            let weight = try r.readFixed("signal.component.weight")
            let source = try r.read(UInt64.self, "signal.component.sourceSeq")
            list.append(SignalComponent(factor: factor, value: value, weight: weight, sourceSeq: source))
        }
        components = list
        try r.finish("signal.computed")
    }

    public var fields: [EventField] {
        [EventField("strategy", .name(strategy.description)), EventField("perp", .instrument(perp)),
         EventField("spot", .instrument(spot)), EventField("action", .name(action.description)),
         EventField("direction", .name(direction.description)), EventField("score", .fixed(score)),
         EventField("components", .list(components.map {
             [EventField("factor", .name($0.factor.description)), EventField("value", .fixed($0.value)),
              EventField("weight", .fixed($0.weight)), EventField("source", .seq($0.sourceSeq))]
         }))]
    }
}

/// Why an order is wanted.
public enum IntentReason: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case open = 1
    case close = 2
    case rebalance = 3
    /// The kill switch flattening a leg.
    case flatten = 4
    case manual = 5
    public var description: String {
        switch self {
        case .open: return "open"
        case .close: return "close"
        case .rebalance: return "rebalance"
        case .flatten: return "flatten"
        case .manual: return "manual"
        }
    }
}

/// An order the engine wants placed. Its seq is its identity.
public struct OrderIntended: EventPayload {
    public static let kind = EventKind.orderIntended
    /// The pair this leg belongs to (the seq of the pair's opening signal), 0 for none.
    public var pairId: UInt64
    public var leg: Leg
    public var instrumentId: InstrumentId
    public var side: Side
    public var type: OrderType
    public var timeInForce: TimeInForce
    /// Quantity in the base asset, already rounded to the instrument's step.
    public var qty: Fixed
    /// Limit price, already rounded to the tick; absent for market orders.
    public var limitPrice: Fixed?
    public var reduceOnly: Bool
    public var reason: IntentReason

    /// Builds an intent.
    public init(pairId: UInt64, leg: Leg, instrumentId: InstrumentId, side: Side, type: OrderType, timeInForce: TimeInForce,
                qty: Fixed, limitPrice: Fixed?, reduceOnly: Bool, reason: IntentReason) {
        self.pairId = pairId
        self.leg = leg
        self.instrumentId = instrumentId
        self.side = side
        self.type = type
        self.timeInForce = timeInForce
        self.qty = qty
        self.limitPrice = limitPrice
        self.reduceOnly = reduceOnly
        self.reason = reason
    }

    public var instrument: InstrumentId? { instrumentId }

    public func encode(to w: inout ByteWriter) {
        w.write(pairId)
        w.write(leg.rawValue)
        w.write(instrumentId)
        w.write(side.rawValue)
        w.write(type.rawValue)
        w.write(timeInForce.rawValue)
        w.write(qty)
        w.write(limitPrice)
        w.write(reduceOnly)
        w.write(reason.rawValue)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        pairId = try r.read(UInt64.self, "intent.pairId")
        leg = try r.readEnum(Leg.self, "intent.leg")
        instrumentId = try r.readInstrument("intent.instrument")
        side = try r.readEnum(Side.self, "intent.side")
        type = try r.readEnum(OrderType.self, "intent.type")
        timeInForce = try r.readEnum(TimeInForce.self, "intent.timeInForce")
        qty = try r.readFixed("intent.qty")
        limitPrice = try r.readOptionalFixed("intent.limitPrice")
        reduceOnly = try r.readBool("intent.reduceOnly")
        reason = try r.readEnum(IntentReason.self, "intent.reason")
        try r.finish("order.intended")
    }

    public var fields: [EventField] {
        [EventField("pairId", .seq(pairId)), EventField("leg", .name(leg.description)),
         EventField("instrument", .instrument(instrumentId)), EventField("side", .name(side.description)),
         EventField("type", .name(type.description)), EventField("timeInForce", .name(timeInForce.description)),
         EventField("qty", .fixed(qty)), EventField("limitPrice", .optional(limitPrice)),
         EventField("reduceOnly", .bool(reduceOnly)), EventField("reason", .name(reason.description))]
    }
}

/// A pre-trade or portfolio rule.
public enum RiskRule: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case maxPairNotional = 1
    case maxTotalNotional = 2
    case maxLeverage = 3
    case marginBuffer = 4
    case balance = 5
    case drawdown = 6
    case maxOpenPairs = 7
    case minOrderSize = 8
    case staleData = 9
    case liquidation = 10
    case legImbalance = 11
    /// A venue fact named an intent the engine never made.
    case unknownIntent = 12
    /// A fill larger than what was asked.
    case overfill = 13
    /// A fill with a quantity or price that is not positive.
    case invalidFill = 14
    /// A reconciliation named an instrument the engine does not know.
    case unknownInstrument = 15
    /// A venue fact the order state machine refuses in the order's state.
    case orderStateRefused = 16
    /// Reconciliation found a mismatch.
    case reconciliation = 17
    /// Naked notional × time on one leg reached the budget.
    case legRisk = 18
    /// |spot − perp| ÷ pair quantity went past the band.
    case deltaDrift = 19
    public var description: String {
        switch self {
        case .maxPairNotional: return "maxPairNotional"
        case .maxTotalNotional: return "maxTotalNotional"
        case .maxLeverage: return "maxLeverage"
        case .marginBuffer: return "marginBuffer"
        case .balance: return "balance"
        case .drawdown: return "drawdown"
        case .maxOpenPairs: return "maxOpenPairs"
        case .minOrderSize: return "minOrderSize"
        case .staleData: return "staleData"
        case .liquidation: return "liquidation"
        case .legImbalance: return "legImbalance"
        case .unknownIntent: return "unknownIntent"
        case .overfill: return "overfill"
        case .invalidFill: return "invalidFill"
        case .unknownInstrument: return "unknownInstrument"
        case .orderStateRefused: return "orderStateRefused"
        case .reconciliation: return "reconciliation"
        case .legRisk: return "legRisk"
        case .deltaDrift: return "deltaDrift"
        }
    }
}

/// What a breach led to.
public enum RiskAction: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// The intent was not sent.
    case rejected = 1
    /// The kill switch engaged and positions are being flattened.
    case killSwitch = 2
    /// Recorded only.
    case warned = 3
    /// The affected pair is being closed.
    case closed = 4
    /// The engine stops opening new pairs until an operator (or a clean reconciliation) clears it.
    case halted = 5
    /// Local state was corrected to the venue's.
    case corrected = 6
    /// The order was made smaller to fit the limit.
    case scaled = 7
    public var description: String {
        switch self {
        case .rejected: return "rejected"
        case .killSwitch: return "killSwitch"
        case .warned: return "warned"
        case .closed: return "closed"
        case .halted: return "halted"
        case .corrected: return "corrected"
        case .scaled: return "scaled"
        }
    }
}

/// A risk rule refused something or stopped the engine.
public struct RiskBreached: EventPayload {
    public static let kind = EventKind.riskBreached
    public var rule: RiskRule
    public var action: RiskAction
    /// The instrument concerned, if one.
    public var instrumentId: InstrumentId?
    /// The configured limit.
    public var limit: Fixed
    /// What was observed (or would have resulted).
    public var observed: Fixed

    /// Builds a breach.
    public init(rule: RiskRule, action: RiskAction, instrumentId: InstrumentId?, limit: Fixed, observed: Fixed) {
        self.rule = rule
        self.action = action
        self.instrumentId = instrumentId
        self.limit = limit
        self.observed = observed
    }

    public var instrument: InstrumentId? { instrumentId }

    public func encode(to w: inout ByteWriter) {
        w.write(rule.rawValue)
        w.write(action.rawValue)
        w.write(instrumentId?.rawValue ?? UInt32.max)
        w.write(limit)
        w.write(observed)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        rule = try r.readEnum(RiskRule.self, "risk.rule")
        action = try r.readEnum(RiskAction.self, "risk.action")
        let raw = try r.read(UInt32.self, "risk.instrument")
        instrumentId = raw == UInt32.max ? nil : InstrumentId(raw)
        limit = try r.readFixed("risk.limit")
        observed = try r.readFixed("risk.observed")
        try r.finish("risk.breached")
    }

    public var fields: [EventField] {
        [EventField("rule", .name(rule.description)), EventField("action", .name(action.description)),
         EventField("instrument", instrumentId.map(FieldValue.instrument) ?? .absent),
         EventField("limit", .fixed(limit)), EventField("observed", .fixed(observed))]
    }
}

/// Who moved the kill switch.
public enum KillSwitchSource: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case automatic = 1
    case operatorCommand = 2
    public var description: String { self == .automatic ? "automatic" : "operator" }
}

/// The kill switch engaged (stop opening, flatten) or released.
public struct KillSwitchChanged: EventPayload {
    public static let kind = EventKind.killSwitchChanged
    public var engaged: Bool
    public var source: KillSwitchSource
    public var reason: String

    /// Builds a kill-switch change.
    public init(engaged: Bool, source: KillSwitchSource, reason: String) {
        self.engaged = engaged
        self.source = source
        self.reason = reason
    }

    public func encode(to w: inout ByteWriter) {
        w.write(engaged)
        w.write(source.rawValue)
        w.write(reason)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        engaged = try r.readBool("killswitch.engaged")
        source = try r.readEnum(KillSwitchSource.self, "killswitch.source")
        reason = try r.readString("killswitch.reason")
        try r.finish("killswitch.changed")
    }

    public var fields: [EventField] {
        [EventField("engaged", .bool(engaged)), EventField("source", .name(source.description)), EventField("reason", .text(reason))]
    }
}

/// How urgent an alert is.
public enum AlertSeverity: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case info = 1
    case warning = 2
    case critical = 3
    public var description: String {
        switch self {
        case .info: return "info"
        case .warning: return "warning"
        case .critical: return "critical"
        }
    }
}

/// Something an operator should see.
public struct AlertRaised: EventPayload {
    public static let kind = EventKind.alertRaised
    public var severity: AlertSeverity
    /// A stable machine code (`data.gap`, `leg.imbalance`).
    public var code: String
    public var message: String

    /// Builds an alert.
    public init(severity: AlertSeverity, code: String, message: String) {
        self.severity = severity
        self.code = code
        self.message = message
    }

    public func encode(to w: inout ByteWriter) {
        w.write(severity.rawValue)
        w.write(code)
        w.write(message)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        severity = try r.readEnum(AlertSeverity.self, "alert.severity")
        code = try r.readString("alert.code")
        message = try r.readString("alert.message")
        try r.finish("alert.raised")
    }

    public var fields: [EventField] {
        [EventField("severity", .name(severity.description)), EventField("code", .text(code)), EventField("message", .text(message))]
    }
}
