// The closed set of events, the record header, and the dispatch between kind codes and
// payload types.
//
// Record layout (every integer little-endian; the checksum trailer is added by the journal):
//
//   offset size field
//   0      1    formatVersion   record framing version (1)
//   1      1    layoutVersion   the payload layout version of this kind
//   2      2    kind            EventKind raw value
//   4      4    payloadLength   bytes of payload that follow the header
//   8      8    seq             the journal seq (equals the LMDB key)
//   16     8    eventTime       ms since epoch: when the fact happened / the decision's input time
//   24     8    recordTime      ms since epoch: when it was journaled (simulated time in a backtest)
//   32     8    causation       CausationRef raw value (0 = none, top bit = source journal)
//   40     n    payload
//   40+n   4    crc32c          over bytes [0, 40+n)

/// Every event Carry journals.
public enum Event: Sendable, Equatable {
    case instrumentDefined(InstrumentDefined)
    case barClosed(BarClosed)
    case quoteObserved(QuoteObserved)
    case fundingSettled(FundingSettled)
    case fundingPredicted(FundingPredicted)
    case fundingIntervalChanged(FundingIntervalChanged)
    case signalComputed(SignalComputed)
    case orderIntended(OrderIntended)
    case riskBreached(RiskBreached)
    case killSwitchChanged(KillSwitchChanged)
    case alertRaised(AlertRaised)
    case pairTransition(PairTransition)
    case cancelIntended(CancelIntended)
    case entrySkipped(EntrySkipped)
    case orderSubmitted(OrderSubmitted)
    case orderAccepted(OrderAccepted)
    case orderRejected(OrderRejected)
    case orderCancelled(OrderCancelled)
    case orderFilled(OrderFilled)
    case fundingPaid(FundingPaid)
    case reconciled(Reconciled)
    case orderUnknown(OrderUnknown)
    case orderExpired(OrderExpired)
    case orderStatus(OrderStatusReported)
    case venueSnapshot(VenueSnapshot)
    case configApplied(ConfigApplied)
    case clockTicked(ClockTicked)
    case runStarted(RunStarted)
    case runEnded(RunEnded)
    case sessionStats(SessionStats)
    case operatorTrade(OperatorTrade)

    /// The payload as its protocol, for generic presentation (tools, not hot paths).
    public var payload: any EventPayload {
        switch self {
        case .instrumentDefined(let p): return p
        case .barClosed(let p): return p
        case .quoteObserved(let p): return p
        case .fundingSettled(let p): return p
        case .fundingPredicted(let p): return p
        case .fundingIntervalChanged(let p): return p
        case .signalComputed(let p): return p
        case .orderIntended(let p): return p
        case .riskBreached(let p): return p
        case .killSwitchChanged(let p): return p
        case .alertRaised(let p): return p
        case .pairTransition(let p): return p
        case .cancelIntended(let p): return p
        case .entrySkipped(let p): return p
        case .orderSubmitted(let p): return p
        case .orderAccepted(let p): return p
        case .orderRejected(let p): return p
        case .orderCancelled(let p): return p
        case .orderFilled(let p): return p
        case .fundingPaid(let p): return p
        case .reconciled(let p): return p
        case .orderUnknown(let p): return p
        case .orderExpired(let p): return p
        case .orderStatus(let p): return p
        case .venueSnapshot(let p): return p
        case .configApplied(let p): return p
        case .clockTicked(let p): return p
        case .runStarted(let p): return p
        case .runEnded(let p): return p
        case .sessionStats(let p): return p
        case .operatorTrade(let p): return p
        }
    }

    /// The kind code.
    public var kind: EventKind {
        switch self {
        case .instrumentDefined: return .instrumentDefined
        case .barClosed: return .barClosed
        case .quoteObserved: return .quoteObserved
        case .fundingSettled: return .fundingSettled
        case .fundingPredicted: return .fundingPredicted
        case .fundingIntervalChanged: return .fundingIntervalChanged
        case .signalComputed: return .signalComputed
        case .orderIntended: return .orderIntended
        case .riskBreached: return .riskBreached
        case .killSwitchChanged: return .killSwitchChanged
        case .alertRaised: return .alertRaised
        case .pairTransition: return .pairTransition
        case .cancelIntended: return .cancelIntended
        case .entrySkipped: return .entrySkipped
        case .orderSubmitted: return .orderSubmitted
        case .orderAccepted: return .orderAccepted
        case .orderRejected: return .orderRejected
        case .orderCancelled: return .orderCancelled
        case .orderFilled: return .orderFilled
        case .fundingPaid: return .fundingPaid
        case .reconciled: return .reconciled
        case .orderUnknown: return .orderUnknown
        case .orderExpired: return .orderExpired
        case .orderStatus: return .orderStatus
        case .venueSnapshot: return .venueSnapshot
        case .configApplied: return .configApplied
        case .clockTicked: return .clockTicked
        case .runStarted: return .runStarted
        case .runEnded: return .runEnded
        case .sessionStats: return .sessionStats
        case .operatorTrade: return .operatorTrade
        }
    }

    /// The layout version this build writes for the event's kind.
    public var layoutVersion: UInt8 {
        switch self {
        case .instrumentDefined: return InstrumentDefined.layoutVersion
        case .barClosed: return BarClosed.layoutVersion
        case .quoteObserved: return QuoteObserved.layoutVersion
        case .fundingSettled: return FundingSettled.layoutVersion
        case .fundingPredicted: return FundingPredicted.layoutVersion
        case .fundingIntervalChanged: return FundingIntervalChanged.layoutVersion
        case .signalComputed: return SignalComputed.layoutVersion
        case .orderIntended: return OrderIntended.layoutVersion
        case .riskBreached: return RiskBreached.layoutVersion
        case .killSwitchChanged: return KillSwitchChanged.layoutVersion
        case .alertRaised: return AlertRaised.layoutVersion
        case .pairTransition: return PairTransition.layoutVersion
        case .cancelIntended: return CancelIntended.layoutVersion
        case .entrySkipped: return EntrySkipped.layoutVersion
        case .orderSubmitted: return OrderSubmitted.layoutVersion
        case .orderAccepted: return OrderAccepted.layoutVersion
        case .orderRejected: return OrderRejected.layoutVersion
        case .orderCancelled: return OrderCancelled.layoutVersion
        case .orderFilled(let p): return p.encodedLayoutVersion
        case .fundingPaid: return FundingPaid.layoutVersion
        case .reconciled: return Reconciled.layoutVersion
        case .orderUnknown: return OrderUnknown.layoutVersion
        case .orderExpired: return OrderExpired.layoutVersion
        case .orderStatus: return OrderStatusReported.layoutVersion
        case .venueSnapshot: return VenueSnapshot.layoutVersion
        case .configApplied: return ConfigApplied.layoutVersion
        case .clockTicked: return ClockTicked.layoutVersion
        case .runStarted: return RunStarted.layoutVersion
        case .runEnded: return RunEnded.layoutVersion
        case .sessionStats: return SessionStats.layoutVersion
        case .operatorTrade: return OperatorTrade.layoutVersion
        }
    }

    /// The instrument the event concerns, if one.
    public var instrument: InstrumentId? { payload.instrument }

    /// The payload fields, for tools.
    public var fields: [EventField] { payload.fields }

    /// Appends the payload bytes (no header).
    public func encodePayload(to w: inout ByteWriter) {
        switch self {
        case .instrumentDefined(let p): p.encode(to: &w)
        case .barClosed(let p): p.encode(to: &w)
        case .quoteObserved(let p): p.encode(to: &w)
        case .fundingSettled(let p): p.encode(to: &w)
        case .fundingPredicted(let p): p.encode(to: &w)
        case .fundingIntervalChanged(let p): p.encode(to: &w)
        case .signalComputed(let p): p.encode(to: &w)
        case .orderIntended(let p): p.encode(to: &w)
        case .riskBreached(let p): p.encode(to: &w)
        case .killSwitchChanged(let p): p.encode(to: &w)
        case .alertRaised(let p): p.encode(to: &w)
        case .pairTransition(let p): p.encode(to: &w)
        case .cancelIntended(let p): p.encode(to: &w)
        case .entrySkipped(let p): p.encode(to: &w)
        case .orderSubmitted(let p): p.encode(to: &w)
        case .orderAccepted(let p): p.encode(to: &w)
        case .orderRejected(let p): p.encode(to: &w)
        case .orderCancelled(let p): p.encode(to: &w)
        case .orderFilled(let p): p.encode(to: &w)
        case .fundingPaid(let p): p.encode(to: &w)
        case .reconciled(let p): p.encode(to: &w)
        case .orderUnknown(let p): p.encode(to: &w)
        case .orderExpired(let p): p.encode(to: &w)
        case .orderStatus(let p): p.encode(to: &w)
        case .venueSnapshot(let p): p.encode(to: &w)
        case .configApplied(let p): p.encode(to: &w)
        case .clockTicked(let p): p.encode(to: &w)
        case .runStarted(let p): p.encode(to: &w)
        case .runEnded(let p): p.encode(to: &w)
        case .sessionStats(let p): p.encode(to: &w)
        case .operatorTrade(let p): p.encode(to: &w)
        }
    }

    /// Decodes a payload given its kind code and layout version. Unknown kinds, newer
    /// versions, truncation and leftover bytes are errors, never crashes.
    @inlinable
    public static func decode(kind code: UInt16, version: UInt8, payload: UnsafeRawBufferPointer) throws(CodecError) -> Event {
        guard let kind = EventKind(rawValue: code) else {
            throw CodecError(.unknownKind, "kind code \(code) is not in this build's catalogue (a newer Carry, or corruption)")
        }
        var r = ByteReader(payload)
        switch kind {
        case .instrumentDefined: return .instrumentDefined(try InstrumentDefined(from: &r, version: version))
        case .barClosed: return .barClosed(try BarClosed.decode(payload: payload, version: version))
        case .quoteObserved: return .quoteObserved(try QuoteObserved(from: &r, version: version))
        case .fundingSettled: return .fundingSettled(try FundingSettled(from: &r, version: version))
        case .fundingPredicted: return .fundingPredicted(try FundingPredicted(from: &r, version: version))
        case .fundingIntervalChanged: return .fundingIntervalChanged(try FundingIntervalChanged(from: &r, version: version))
        case .signalComputed: return .signalComputed(try SignalComputed(from: &r, version: version))
        case .orderIntended: return .orderIntended(try OrderIntended(from: &r, version: version))
        case .riskBreached: return .riskBreached(try RiskBreached(from: &r, version: version))
        case .killSwitchChanged: return .killSwitchChanged(try KillSwitchChanged(from: &r, version: version))
        case .alertRaised: return .alertRaised(try AlertRaised(from: &r, version: version))
        case .pairTransition: return .pairTransition(try PairTransition(from: &r, version: version))
        case .cancelIntended: return .cancelIntended(try CancelIntended(from: &r, version: version))
        case .entrySkipped: return .entrySkipped(try EntrySkipped(from: &r, version: version))
        case .orderSubmitted: return .orderSubmitted(try OrderSubmitted(from: &r, version: version))
        case .orderAccepted: return .orderAccepted(try OrderAccepted(from: &r, version: version))
        case .orderRejected: return .orderRejected(try OrderRejected(from: &r, version: version))
        case .orderCancelled: return .orderCancelled(try OrderCancelled(from: &r, version: version))
        case .orderFilled: return .orderFilled(try OrderFilled(from: &r, version: version))
        case .fundingPaid: return .fundingPaid(try FundingPaid(from: &r, version: version))
        case .reconciled: return .reconciled(try Reconciled(from: &r, version: version))
        case .orderUnknown: return .orderUnknown(try OrderUnknown(from: &r, version: version))
        case .orderExpired: return .orderExpired(try OrderExpired(from: &r, version: version))
        case .orderStatus: return .orderStatus(try OrderStatusReported(from: &r, version: version))
        case .venueSnapshot: return .venueSnapshot(try VenueSnapshot(from: &r, version: version))
        case .configApplied: return .configApplied(try ConfigApplied(from: &r, version: version))
        case .clockTicked: return .clockTicked(try ClockTicked(from: &r, version: version))
        case .runStarted: return .runStarted(try RunStarted(from: &r, version: version))
        case .runEnded: return .runEnded(try RunEnded(from: &r, version: version))
        case .sessionStats: return .sessionStats(try SessionStats(from: &r, version: version))
        case .operatorTrade: return .operatorTrade(try OperatorTrade(from: &r, version: version))
        }
    }
}

/// The fixed-size header in front of every payload.
public struct RecordHeader: Equatable, Sendable {
    /// Header bytes.
    public static let size = 40
    /// Checksum trailer bytes.
    public static let trailerSize = 4
    /// The record framing this build writes and reads.
    public static let currentFormatVersion: UInt8 = 1

    public var formatVersion: UInt8
    public var layoutVersion: UInt8
    /// The raw kind code (may be unknown to this build).
    public var kindCode: UInt16
    public var payloadLength: UInt32
    public var seq: UInt64
    public var eventTime: Timestamp
    public var recordTime: Timestamp
    public var causation: CausationRef

    /// Builds a header.
    public init(formatVersion: UInt8 = RecordHeader.currentFormatVersion, layoutVersion: UInt8, kindCode: UInt16, payloadLength: UInt32,
                seq: UInt64, eventTime: Timestamp, recordTime: Timestamp, causation: CausationRef) {
        self.formatVersion = formatVersion
        self.layoutVersion = layoutVersion
        self.kindCode = kindCode
        self.payloadLength = payloadLength
        self.seq = seq
        self.eventTime = eventTime
        self.recordTime = recordTime
        self.causation = causation
    }

    /// The kind, if this build knows it.
    public var kind: EventKind? { EventKind(rawValue: kindCode) }

    /// Total record length: header, payload, checksum.
    @inlinable public var recordLength: Int { RecordHeader.size + Int(payloadLength) + RecordHeader.trailerSize }

    /// Appends the 40 header bytes.
    public func encode(to w: inout ByteWriter) {
        w.write(formatVersion)
        w.write(layoutVersion)
        w.write(kindCode)
        w.write(payloadLength)
        w.write(seq)
        w.write(eventTime)
        w.write(recordTime)
        w.write(causation.raw)
    }

    /// Reads a header from the first 40 bytes of a record, checking the framing version
    /// and that the declared length matches the record's.
    @inlinable
    public static func decode(record: UnsafeRawBufferPointer) throws(CodecError) -> RecordHeader {
        guard record.count >= RecordHeader.size + RecordHeader.trailerSize else {
            throw CodecError(.truncated, "record of \(record.count) bytes is shorter than its \(RecordHeader.size + RecordHeader.trailerSize)-byte frame")
        }
        let format = record[0]
        guard format == RecordHeader.currentFormatVersion else {
            throw CodecError(.badHeader, "record format version \(format); this build reads version \(RecordHeader.currentFormatVersion)")
        }
        let h = RecordHeader(
            formatVersion: format,
            layoutVersion: record[1],
            kindCode: UInt16(littleEndian: record.loadUnaligned(fromByteOffset: 2, as: UInt16.self)),
            payloadLength: UInt32(littleEndian: record.loadUnaligned(fromByteOffset: 4, as: UInt32.self)),
            seq: UInt64(littleEndian: record.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
            eventTime: Timestamp(ms: Int64(littleEndian: record.loadUnaligned(fromByteOffset: 16, as: Int64.self))),
            recordTime: Timestamp(ms: Int64(littleEndian: record.loadUnaligned(fromByteOffset: 24, as: Int64.self))),
            causation: CausationRef(raw: UInt64(littleEndian: record.loadUnaligned(fromByteOffset: 32, as: UInt64.self))))
        guard h.recordLength == record.count else {
            throw CodecError(.badHeader, "seq \(h.seq): header declares a \(h.payloadLength)-byte payload but the record holds \(record.count - RecordHeader.size - RecordHeader.trailerSize)")
        }
        return h
    }
}

/// An event with the header fields it was journaled with.
public struct RecordedEvent: Sendable, Equatable {
    public var seq: UInt64
    public var eventTime: Timestamp
    public var recordTime: Timestamp
    public var causation: CausationRef
    public var event: Event

    /// Builds a recorded event.
    public init(seq: UInt64, eventTime: Timestamp, recordTime: Timestamp, causation: CausationRef, event: Event) {
        self.seq = seq
        self.eventTime = eventTime
        self.recordTime = recordTime
        self.causation = causation
        self.event = event
    }
}

// MARK: - Reading a payload without decoding it

extension Event {
    /// The instrument an encoded event is about — `Event.instrument` without building the
    /// event when possible: every market kind (instrument.defined, bar.closed, quote.observed,
    /// funding.settled, funding.predicted, funding.interval) begins its layout-1 payload with
    /// the instrument id (u32 LE); any other kind or layout is decoded. Nil only when the
    /// event names no instrument. Lets replay and filters skip other instruments' records
    /// cheaply; `CodecTests` pins it to `decode(…).instrument` for every kind.
    public static func instrument(kind code: UInt16, version: UInt8, payload: UnsafeRawBufferPointer) throws(CodecError) -> InstrumentId? {
        if version == 1, payload.count >= 4, code >= EventKind.instrumentDefined.rawValue, code <= EventKind.fundingIntervalChanged.rawValue {
            return InstrumentId(UInt32(littleEndian: payload.loadUnaligned(as: UInt32.self)))
        }
        return try decode(kind: code, version: version, payload: payload).instrument
    }
}

extension BarClosed {
    /// Decodes a bar.closed payload (what `Event.decode` does for this kind, without the
    /// `Event` around it: the replay and verify hot paths).
    @inlinable
    public static func decode(payload: UnsafeRawBufferPointer, version: UInt8) throws(CodecError) -> BarClosed {
        var r = ByteReader(payload)
        return try BarClosed(from: &r, version: version)
    }

    /// An encoded bar's interval in seconds without decoding it (layout 1: the u32 after the
    /// instrument id); other layouts are decoded.
    public static func intervalSeconds(payload: UnsafeRawBufferPointer, version: UInt8) throws(CodecError) -> UInt32 {
        if version == 1, payload.count >= 8 { return UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) }
        return try decode(payload: payload, version: version).intervalSeconds
    }
}
