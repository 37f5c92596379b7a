// The reducer's typed seams. Inputs are facts from outside, sorted by who reports them;
// outputs are what the engine decided. An executor consumes `OrderCommand`s (submit and
// cancel) without looking at the event catalogue; the journal stores every input and output
// as an `Event` (the `event` properties and `EngineInput(_:)` map between the two).
//
// Invariant: `EngineInput(e)!.event == e` for every input event, and `output.event` is the
// record journaled for a decision — the mapping is total and lossless in both directions.

/// Market and reference data.
public enum MarketInput: Sendable, Equatable {
    case defined(InstrumentDefined)
    case bar(BarClosed)
    case quote(QuoteObserved)
    case fundingSettled(FundingSettled)
    case fundingPredicted(FundingPredicted)
    case fundingInterval(FundingIntervalChanged)

    public var event: Event {
        switch self {
        case .defined(let p): return .instrumentDefined(p)
        case .bar(let p): return .barClosed(p)
        case .quote(let p): return .quoteObserved(p)
        case .fundingSettled(let p): return .fundingSettled(p)
        case .fundingPredicted(let p): return .fundingPredicted(p)
        case .fundingInterval(let p): return .fundingIntervalChanged(p)
        }
    }
}

/// What the venue (or the executor in front of it) reported.
public enum VenueInput: Sendable, Equatable {
    /// The executor handed the order to the venue (journaled before it is sent).
    case submitted(OrderSubmitted)
    case accepted(OrderAccepted)
    case rejected(OrderRejected)
    case cancelled(OrderCancelled)
    case expired(OrderExpired)
    case filled(OrderFilled)
    /// Sent, and no answer: resolved only by a later fact.
    case unknown(OrderUnknown)
    /// The answer to a status query by client order id.
    case status(OrderStatusReported)
    case fundingPaid(FundingPaid)
    /// The venue's whole book, for reconciliation.
    case snapshot(VenueSnapshot)

    public var event: Event {
        switch self {
        case .submitted(let p): return .orderSubmitted(p)
        case .accepted(let p): return .orderAccepted(p)
        case .rejected(let p): return .orderRejected(p)
        case .cancelled(let p): return .orderCancelled(p)
        case .expired(let p): return .orderExpired(p)
        case .filled(let p): return .orderFilled(p)
        case .unknown(let p): return .orderUnknown(p)
        case .status(let p): return .orderStatus(p)
        case .fundingPaid(let p): return .fundingPaid(p)
        case .snapshot(let p): return .venueSnapshot(p)
        }
    }

    /// The intent an order fact answers (nil for funding and snapshots).
    public var intentSeq: UInt64? {
        switch self {
        case .submitted(let p): return p.intentSeq
        case .accepted(let p): return p.intentSeq
        case .rejected(let p): return p.intentSeq
        case .cancelled(let p): return p.intentSeq
        case .expired(let p): return p.intentSeq
        case .filled(let p): return p.isLiquidation ? nil : p.intentSeq
        case .unknown(let p): return p.intentSeq
        case .status(let p): return p.intentSeq
        case .fundingPaid, .snapshot: return nil
        }
    }
}

/// An operator's command: the kill switch, or a paired trade (`carry trade open|close`).
public enum OperatorCommand: Sendable, Equatable {
    /// Engage (cancel working orders, flatten every pair, stop entries) or release.
    case killSwitch(engaged: Bool, reason: String)
    /// Open or close one configured pair (the same sizing, risk checks and paired execution
    /// as the strategy's entries and exits).
    case trade(OperatorTrade)

    public var event: Event {
        switch self {
        case .killSwitch(let engaged, let reason):
            return .killSwitchChanged(KillSwitchChanged(engaged: engaged, source: .operatorCommand, reason: reason))
        case .trade(let t):
            return .operatorTrade(t)
        }
    }
}

/// Everything the reducer takes in.
public enum EngineInput: Sendable, Equatable {
    case market(MarketInput)
    case venue(VenueInput)
    case clock(ClockTicked)
    case command(OperatorCommand)

    /// The input a journaled event carries; nil for decisions and run-control records (and
    /// for an automatic kill-switch change, which is a decision).
    public init?(_ event: Event) {
        switch event {
        case .instrumentDefined(let p): self = .market(.defined(p))
        case .barClosed(let p): self = .market(.bar(p))
        case .quoteObserved(let p): self = .market(.quote(p))
        case .fundingSettled(let p): self = .market(.fundingSettled(p))
        case .fundingPredicted(let p): self = .market(.fundingPredicted(p))
        case .fundingIntervalChanged(let p): self = .market(.fundingInterval(p))
        case .orderSubmitted(let p): self = .venue(.submitted(p))
        case .orderAccepted(let p): self = .venue(.accepted(p))
        case .orderRejected(let p): self = .venue(.rejected(p))
        case .orderCancelled(let p): self = .venue(.cancelled(p))
        case .orderExpired(let p): self = .venue(.expired(p))
        case .orderFilled(let p): self = .venue(.filled(p))
        case .orderUnknown(let p): self = .venue(.unknown(p))
        case .orderStatus(let p): self = .venue(.status(p))
        case .fundingPaid(let p): self = .venue(.fundingPaid(p))
        case .venueSnapshot(let p): self = .venue(.snapshot(p))
        case .clockTicked(let p): self = .clock(p)
        case .killSwitchChanged(let k) where k.source == .operatorCommand: self = .command(.killSwitch(engaged: k.engaged, reason: k.reason))
        case .operatorTrade(let t): self = .command(.trade(t))
        case .signalComputed, .orderIntended, .riskBreached, .killSwitchChanged, .alertRaised, .pairTransition, .cancelIntended,
             .entrySkipped, .reconciled, .configApplied, .runStarted, .runEnded, .sessionStats:
            return nil
        }
    }

    public var event: Event {
        switch self {
        case .market(let m): return m.event
        case .venue(let v): return v.event
        case .clock(let c): return .clockTicked(c)
        case .command(let c): return c.event
        }
    }
}

/// An order command for the executor: place an intent's order, or cancel it.
public enum OrderCommand: Sendable, Equatable {
    case submit(OrderIntended)
    case cancel(CancelIntended)
}

/// Everything the reducer decides.
public enum EngineOutput: Sendable, Equatable {
    case signal(SignalComputed)
    case submit(OrderIntended)
    case cancel(CancelIntended)
    case risk(RiskBreached)
    case pair(PairTransition)
    case killSwitch(KillSwitchChanged)
    case alert(AlertRaised)
    case skipped(EntrySkipped)
    case reconciled(Reconciled)

    /// The record journaled for it.
    public var event: Event {
        switch self {
        case .signal(let p): return .signalComputed(p)
        case .submit(let p): return .orderIntended(p)
        case .cancel(let p): return .cancelIntended(p)
        case .risk(let p): return .riskBreached(p)
        case .pair(let p): return .pairTransition(p)
        case .killSwitch(let p): return .killSwitchChanged(p)
        case .alert(let p): return .alertRaised(p)
        case .skipped(let p): return .entrySkipped(p)
        case .reconciled(let p): return .reconciled(p)
        }
    }

    /// The command an executor acts on, if this output is one.
    public var orderCommand: OrderCommand? {
        switch self {
        case .submit(let i): return .submit(i)
        case .cancel(let c): return .cancel(c)
        default: return nil
        }
    }
}

/// Something the reducer decided, with what caused it.
public struct Decision: Sendable, Equatable {
    public var output: EngineOutput
    public var causation: CausationRef

    /// Builds a decision.
    public init(_ output: EngineOutput, causation: CausationRef) {
        self.output = output
        self.causation = causation
    }

    /// The record journaled for it.
    public var event: Event { output.event }
}

/// Collects decisions and knows the seq each will be journaled under.
struct DecisionBuffer {
    var nextSeq: UInt64
    var decisions: [Decision] = []

    init(nextSeq: UInt64) { self.nextSeq = nextSeq }

    /// Adds a decision; returns the seq it will have.
    @discardableResult
    mutating func add(_ output: EngineOutput, causation: CausationRef) -> UInt64 {
        let seq = nextSeq + UInt64(decisions.count)
        decisions.append(Decision(output, causation: causation))
        return seq
    }
}
