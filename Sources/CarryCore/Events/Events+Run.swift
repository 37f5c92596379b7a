// Run control: the operator, the clock, and the boundaries of a run.
//
// Invariant: nothing here holds a wall-clock reading or a host name; a backtest's run
// journal must be byte-identical from one run to the next.

/// A configuration document took effect.
public struct ConfigApplied: EventPayload {
    public static let kind = EventKind.configApplied
    /// Where it came from (`config/backtest.yaml`, `--entry-threshold` overrides).
    public var source: String
    /// The effective configuration, canonical `key: value` lines (secrets never included).
    public var text: String

    /// Builds a config record.
    public init(source: String, text: String) {
        self.source = source
        self.text = text
    }

    public func encode(to w: inout ByteWriter) {
        w.write(source)
        w.writeLongText(text)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        source = try r.readString("config.source")
        text = try r.readLongText("config.text")
        try r.finish("config.applied")
    }

    public var fields: [EventField] { [EventField("source", .text(source)), EventField("text", .text(text))] }
}

/// Why the clock ticked.
public enum TickPurpose: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// The strategy's periodic scan of opportunities.
    case scan = 1
    /// A liveness beat.
    case heartbeat = 2
    public var description: String { self == .scan ? "scan" : "heartbeat" }
}

/// A clock tick; its event time is the (wall or simulated) time it represents.
public struct ClockTicked: EventPayload {
    public static let kind = EventKind.clockTicked
    public var purpose: TickPurpose

    /// Builds a tick.
    public init(purpose: TickPurpose) { self.purpose = purpose }

    public func encode(to w: inout ByteWriter) { w.write(purpose.rawValue) }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        purpose = try r.readEnum(TickPurpose.self, "tick.purpose")
        try r.finish("clock.ticked")
    }

    public var fields: [EventField] { [EventField("purpose", .name(purpose.description))] }
}

/// A run began: what it is, and for a replay, exactly which input it reads.
public struct RunStarted: EventPayload {
    public static let kind = EventKind.runStarted
    public var mode: RunMode
    /// The market journal a backtest replays (`JournalId.none` otherwise).
    public var sourceJournal: JournalId
    /// First and last source seq the run may read.
    public var sourceFirstSeq: UInt64
    public var sourceLastSeq: UInt64
    /// The simulated span.
    public var from: Timestamp
    public var to: Timestamp
    /// The seed of every random choice the run makes.
    public var seed: UInt64
    /// The Carry version that wrote the run.
    public var carryVersion: String

    /// Builds a run start.
    public init(mode: RunMode, sourceJournal: JournalId, sourceFirstSeq: UInt64, sourceLastSeq: UInt64, from: Timestamp, to: Timestamp, seed: UInt64, carryVersion: String) {
        self.mode = mode
        self.sourceJournal = sourceJournal
        self.sourceFirstSeq = sourceFirstSeq
        self.sourceLastSeq = sourceLastSeq
        self.from = from
        self.to = to
        self.seed = seed
        self.carryVersion = carryVersion
    }

    public func encode(to w: inout ByteWriter) {
        w.write(mode.rawValue)
        w.write(sourceJournal.high)
        w.write(sourceJournal.low)
        w.write(sourceFirstSeq)
        w.write(sourceLastSeq)
        w.write(from)
        w.write(to)
        w.write(seed)
        w.write(carryVersion)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        mode = try r.readEnum(RunMode.self, "run.mode")
        let high = try r.read(UInt64.self, "run.sourceJournal")
        let low = try r.read(UInt64.self, "run.sourceJournal")
        sourceJournal = JournalId(high: high, low: low)
        sourceFirstSeq = try r.read(UInt64.self, "run.sourceFirstSeq")
        sourceLastSeq = try r.read(UInt64.self, "run.sourceLastSeq")
        from = try r.readTimestamp("run.from")
        to = try r.readTimestamp("run.to")
        seed = try r.read(UInt64.self, "run.seed")
        carryVersion = try r.readString("run.carryVersion")
        try r.finish("run.started")
    }

    public var fields: [EventField] {
        [EventField("mode", .name(mode.description)), EventField("sourceJournal", .text(sourceJournal.description)),
         EventField("sourceFirstSeq", .uint(sourceFirstSeq)), EventField("sourceLastSeq", .uint(sourceLastSeq)),
         EventField("from", .time(from)), EventField("to", .time(to)), EventField("seed", .uint(seed)),
         EventField("carryVersion", .text(carryVersion))]
    }
}

/// How a run ended.
public enum RunOutcome: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case completed = 1
    case interrupted = 2
    case killSwitch = 3
    case failed = 4
    public var description: String {
        switch self {
        case .completed: return "completed"
        case .interrupted: return "interrupted"
        case .killSwitch: return "killSwitch"
        case .failed: return "failed"
        }
    }
}

/// A run ended.
public struct RunEnded: EventPayload {
    public static let kind = EventKind.runEnded
    public var outcome: RunOutcome
    /// Input events the run consumed.
    public var inputEvents: UInt64
    public var message: String

    /// Builds a run end.
    public init(outcome: RunOutcome, inputEvents: UInt64, message: String) {
        self.outcome = outcome
        self.inputEvents = inputEvents
        self.message = message
    }

    public func encode(to w: inout ByteWriter) {
        w.write(outcome.rawValue)
        w.write(inputEvents)
        w.write(message)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        outcome = try r.readEnum(RunOutcome.self, "runEnded.outcome")
        inputEvents = try r.read(UInt64.self, "runEnded.inputEvents")
        message = try r.readString("runEnded.message")
        try r.finish("run.ended")
    }

    public var fields: [EventField] {
        [EventField("outcome", .name(outcome.description)), EventField("inputEvents", .uint(inputEvents)), EventField("message", .text(message))]
    }
}

/// What an operator asked of a pair.
public enum OperatorTradeAction: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Open the pair at a notional (long spot, short perp), through the same sizing, risk
    /// checks and paired execution as an automatic entry.
    case open = 1
    /// Close both legs, as a strategy exit does.
    case close = 2
    public var description: String { self == .open ? "open" : "close" }
}

/// An operator's paired trade (`carry trade open|close`), journaled before the engine acts on
/// it: an engine input like the operator's kill switch, so a fold or a replay decides again
/// exactly what the running engine decided.
public struct OperatorTrade: EventPayload {
    public static let kind = EventKind.operatorTrade
    public var action: OperatorTradeAction
    public var spot: InstrumentId
    public var perp: InstrumentId
    /// The notional asked for (quote asset, per leg); zero for a close.
    public var notionalUsdt: Fixed
    /// Who asked and why (printable ASCII, journaled as given).
    public var reason: String

    /// Builds an operator trade.
    public init(action: OperatorTradeAction, spot: InstrumentId, perp: InstrumentId, notionalUsdt: Fixed, reason: String) {
        self.action = action
        self.spot = spot
        self.perp = perp
        self.notionalUsdt = notionalUsdt
        self.reason = reason
    }

    public var instrument: InstrumentId? { perp }

    public func encode(to w: inout ByteWriter) {
        w.write(action.rawValue)
        w.write(spot)
        w.write(perp)
        w.write(notionalUsdt)
        w.write(reason)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        action = try r.readEnum(OperatorTradeAction.self, "operatorTrade.action")
        spot = try r.readInstrument("operatorTrade.spot")
        perp = try r.readInstrument("operatorTrade.perp")
        notionalUsdt = try r.readFixed("operatorTrade.notionalUsdt")
        reason = try r.readString("operatorTrade.reason")
        try r.finish("operator.trade")
    }

    public var fields: [EventField] {
        [EventField("action", .name(action.description)), EventField("spot", .instrument(spot)), EventField("perp", .instrument(perp)),
         EventField("notionalUsdt", .fixed(notionalUsdt)), EventField("reason", .text(reason))]
    }
}
