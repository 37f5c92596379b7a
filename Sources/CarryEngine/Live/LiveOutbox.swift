// The executor seam for live trading: an `ExecutionVenue` that does no IO. The pipeline
// journals an intent and its write-ahead `order.submitted`, then hands the command here; the
// outbox only queues it and answers nothing. Bars and settlements produce no facts either —
// the real venue fills and pays. The live session takes the queued commands after the step's
// records are committed, sends them (`LiveGateway`), and hands back what the venue answered
// and reported, each fact stamped with the venue's time.
//
// Facts wait in the inbox until the engine's clock reaches their time, so the reducer sees the
// venue's facts and the market's in one time order, as a backtest sees the simulated
// exchange's: within an instant, the venue's answers, fills at the instant (before its bars),
// then each settlement's payment right before the settlement itself (`onFundingSettled`), so a
// position filled at a settlement earns it in the engine as at the venue. A create's answer is
// never released after a fill of the same order (it is pulled forward), and a reconciliation
// snapshot comes after every other fact of its instant.

public import CarryCore

/// Commands out, facts in, for a venue that answers asynchronously.
public struct LiveOutbox: ExecutionVenue, Sendable {
    /// A command the pipeline decided, journaled under `seq`.
    public struct Command: Sendable, Equatable {
        public var seq: UInt64
        public var command: OrderCommand
        public var decidedAt: Timestamp
    }

    private var commands: [Command] = []
    private var inbox: [(fact: VenueFact, order: Int)] = []
    private var funding: [(fact: VenueFact, order: Int)] = []
    private var arrivals = 0
    /// Snapshots handed to the engine so far.
    public private(set) var snapshotsReleased = 0

    public init() {}

    // MARK: The pipeline's side

    public mutating func define(_ d: InstrumentDefined) {}

    public mutating func execute(_ command: OrderCommand, commandSeq: UInt64, at time: Timestamp) -> [VenueFact] {
        commands.append(Command(seq: commandSeq, command: command, decidedAt: time))
        return []
    }

    public mutating func onBar(_ bar: BarClosed, barRef: CausationRef) -> [VenueFact] { [] }

    /// The venue's payments for this settlement, released right before the engine sees it.
    public mutating func onFundingSettled(_ f: FundingSettled, at time: Timestamp, cause: CausationRef) -> [VenueFact] {
        Self.take(from: &funding) { fact in
            guard case .fundingPaid(let p) = fact.event else { return false }
            return p.instrumentId == f.instrumentId && p.settlementTime == time
        }
    }

    /// Every fact with time ≤ `time`, except payments of a settlement at exactly `time` (those
    /// wait for the settlement, or for a later instant) and a book read at exactly `time` while
    /// such a payment waits: the venue's wallet already holds it, so the engine is handed the
    /// book only after the payment — never a book with a payment it has not been given (that
    /// was a cash drift of one payment, adopted, then reversed when the payment came).
    public mutating func due(through time: Timestamp) -> [VenueFact] {
        var out = Self.take(from: &funding) { $0.time < time }
        let paymentWaits = funding.contains { $0.fact.time == time }
        out += Self.take(from: &inbox) { $0.time < time || ($0.time == time && !(paymentWaits && $0.event.kind == .venueSnapshot)) }
        guard !out.isEmpty else { return out }
        out = Self.ordered(out)
        pullAnswersForward(&out)
        snapshotsReleased += out.reduce(0) { $0 + ($1.event.kind == .venueSnapshot ? 1 : 0) }
        return out
    }

    public var holdsFacts: Bool { !inbox.isEmpty || !funding.isEmpty }

    /// Status queries are the gateway's: it reads the venue's book every step.
    public mutating func query(intentSeq: UInt64, at time: Timestamp) -> [VenueFact] { [] }

    /// The live book is read by the gateway and delivered as `venue.snapshot`; nothing here.
    public func snapshot() -> VenueSnapshot { VenueSnapshot(positions: [], cash: nil, openOrders: []) }

    // MARK: The session's side

    /// The commands queued since the last call, in the order decided.
    public mutating func takeCommands() -> [Command] {
        defer { commands.removeAll() }
        return commands
    }

    /// True when commands wait to be sent.
    public var hasCommands: Bool { !commands.isEmpty }

    /// Intents whose orders wait to be sent (not at the venue yet).
    public var queuedIntents: Set<UInt64> {
        Set(commands.compactMap { if case .submit = $0.command { return $0.seq } else { return nil } })
    }

    /// Facts the venue reported, to release when the engine's clock reaches their time.
    public mutating func receive(_ facts: [VenueFact]) {
        for fact in facts {
            arrivals += 1
            if fact.event.kind == .fundingPaid { funding.append((fact, arrivals)) } else { inbox.append((fact, arrivals)) }
        }
    }

    /// Facts waiting, and the intents with a terminal fact (a refusal, a final status) waiting.
    public var waiting: Int { inbox.count + funding.count }
    public var intentsEnding: Set<UInt64> {
        var out: Set<UInt64> = []
        for (fact, _) in inbox {
            switch fact.event {
            case .orderRejected(let r): out.insert(r.intentSeq)
            case .orderStatus(let s) where s.status.isTerminal: out.insert(s.intentSeq)
            default: break
            }
        }
        return out
    }

    /// Fills waiting, per instrument (signed position change), for comparing the venue's book
    /// with the engine's before they are released.
    public var pendingPositionChange: [InstrumentId: Fixed] {
        var out: [InstrumentId: Fixed] = [:]
        for (fact, _) in inbox {
            if case .orderFilled(let f) = fact.event { out[f.instrumentId, default: .zero] += f.positionDelta }
        }
        return out
    }

    // MARK: Order

    private static func take(from list: inout [(fact: VenueFact, order: Int)], where match: (VenueFact) -> Bool) -> [VenueFact] {
        var out: [(fact: VenueFact, order: Int)] = []
        list.removeAll { item in
            guard match(item.fact) else { return false }
            out.append(item)
            return true
        }
        return out.sorted { $0.order < $1.order }.map(\.fact)
    }

    /// Time order; within an instant: answers to creates, fills, statuses, everything else,
    /// snapshots last; then arrival order.
    static func ordered(_ facts: [VenueFact]) -> [VenueFact] {
        facts.enumerated().sorted { a, b in
            let ka = (a.element.time, rank(a.element.event), a.offset), kb = (b.element.time, rank(b.element.event), b.offset)
            return ka < kb
        }.map(\.element)
    }

    private static func rank(_ e: Event) -> Int {
        switch e {
        case .orderAccepted, .orderRejected, .orderUnknown: return 0
        case .orderFilled: return 1
        case .orderStatus, .orderCancelled, .orderExpired: return 2
        case .venueSnapshot: return 4
        default: return 3
        }
    }

    /// A create's answer that is still in the inbox (a later time) goes before the first fill
    /// of its order in `out`: the order state machine takes a fill after an ack, not an ack
    /// after a fill.
    private mutating func pullAnswersForward(_ out: inout [VenueFact]) {
        var i = 0
        while i < out.count {
            if case .orderFilled(let f) = out[i].event, !f.isLiquidation {
                let answer = Self.take(from: &inbox) { fact in
                    switch fact.event {
                    case .orderAccepted(let a): return a.intentSeq == f.intentSeq
                    case .orderRejected(let r): return r.intentSeq == f.intentSeq
                    case .orderUnknown(let u): return u.intentSeq == f.intentSeq
                    default: return false
                    }
                }
                if !answer.isEmpty {
                    out.insert(contentsOf: answer.map { VenueFact(event: $0.event, time: out[i].time, causation: $0.causation) }, at: i)
                    i += answer.count
                }
            }
            i += 1
        }
    }
}
