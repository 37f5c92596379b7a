// The event catalogue: one kind code per fact or decision Carry journals.
//
// Invariants: kind codes are permanent. A code is never reused or renumbered; a changed
// payload layout bumps that kind's layout version and the decoder keeps reading (upcasting)
// every older version. Codes are grouped: 1–31 market and reference data, 32–63 decisions,
// 64–95 venue facts, 96–127 run control.

/// The kind code of a journaled event.
public enum EventKind: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    // Market and reference data (inputs)
    case instrumentDefined = 1
    case barClosed = 2
    case quoteObserved = 3
    case fundingSettled = 4
    case fundingPredicted = 5
    case fundingIntervalChanged = 6
    // Decisions (outputs of the reducer)
    case signalComputed = 32
    case orderIntended = 33
    case riskBreached = 34
    case killSwitchChanged = 35
    case alertRaised = 36
    case pairTransition = 37
    case cancelIntended = 38
    case entrySkipped = 39
    // Venue facts (inputs from the exchange or the simulated exchange)
    case orderSubmitted = 64
    case orderAccepted = 65
    case orderRejected = 66
    case orderCancelled = 67
    case orderFilled = 68
    case fundingPaid = 69
    case reconciled = 70
    case orderUnknown = 71
    case orderExpired = 72
    case orderStatus = 73
    case venueSnapshot = 74
    // Run control (inputs from the operator and the clock)
    case configApplied = 96
    case clockTicked = 97
    case runStarted = 98
    case runEnded = 99
    case sessionStats = 100
    case operatorTrade = 101

    /// The stable name tools print and filter by (`carry-journal ls --kind funding.settled`).
    public var name: String {
        switch self {
        case .instrumentDefined: return "instrument.defined"
        case .barClosed: return "bar.closed"
        case .quoteObserved: return "quote.observed"
        case .fundingSettled: return "funding.settled"
        case .fundingPredicted: return "funding.predicted"
        case .fundingIntervalChanged: return "funding.interval"
        case .signalComputed: return "signal.computed"
        case .orderIntended: return "order.intended"
        case .riskBreached: return "risk.breached"
        case .killSwitchChanged: return "killswitch.changed"
        case .alertRaised: return "alert.raised"
        case .pairTransition: return "pair.transition"
        case .cancelIntended: return "cancel.intended"
        case .entrySkipped: return "entry.skipped"
        case .orderSubmitted: return "order.submitted"
        case .orderAccepted: return "order.accepted"
        case .orderRejected: return "order.rejected"
        case .orderCancelled: return "order.cancelled"
        case .orderFilled: return "order.filled"
        case .fundingPaid: return "funding.paid"
        case .reconciled: return "reconciled"
        case .orderUnknown: return "order.unknown"
        case .orderExpired: return "order.expired"
        case .orderStatus: return "order.status"
        case .venueSnapshot: return "venue.snapshot"
        case .configApplied: return "config.applied"
        case .clockTicked: return "clock.ticked"
        case .runStarted: return "run.started"
        case .runEnded: return "run.ended"
        case .sessionStats: return "session.stats"
        case .operatorTrade: return "operator.trade"
        }
    }

    public var description: String { name }

    /// Looks a kind up by its name or its numeric code.
    public init?(name: String) {
        if let code = UInt16(name), let k = EventKind(rawValue: code) {
            self = k
            return
        }
        guard let k = EventKind.allCases.first(where: { $0.name == name }) else { return nil }
        self = k
    }

    /// Where the kind sits in the data flow.
    public var category: EventCategory {
        switch rawValue {
        case 1...31: return .market
        case 32...63: return .decision
        case 64...95: return .venue
        default: return .control
        }
    }
}

/// The four families of the catalogue.
public enum EventCategory: String, Sendable {
    /// Market and reference data: inputs.
    case market
    /// What the reducer decided: outputs, with a causation link to their input.
    case decision
    /// What a venue (or the simulated exchange) reported: inputs.
    case venue
    /// Operator and clock: inputs.
    case control
}
