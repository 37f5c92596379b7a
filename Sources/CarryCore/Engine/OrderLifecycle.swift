// The order state machine: one transition table, every venue fact an input.
//
//   intended ─sent─► submitted ─ack─► accepted ─fill─► partiallyFilled ─fill(leaves 0)─► filled
//                       │  └─no answer─► unknown ─(a later fact: ack, fill, status)─► …
//                       └─reject─► rejected        cancelled / expired end what is working
//
// `unknown` (sent, no answer) is resolved only by a later fact — an ack, a fill, a status
// query, reconciliation — never by sending again; a status of "not found" for an unknown
// order means it was never placed. Terminal states accept late fills of a cancelled or
// expired order (a cancel can lose the race with a fill; the fill is real), and refuse
// everything else: a refusal is journaled by the reducer and halts new entries.

/// Where an order is in its life.
public enum OrderState: UInt8, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    case intended = 0
    case submitted = 1
    case accepted = 2
    case partiallyFilled = 3
    case filled = 4
    case cancelled = 5
    case rejected = 6
    case expired = 7
    case unknown = 8

    public var description: String {
        switch self {
        case .intended: return "intended"
        case .submitted: return "submitted"
        case .accepted: return "accepted"
        case .partiallyFilled: return "partiallyFilled"
        case .filled: return "filled"
        case .cancelled: return "cancelled"
        case .rejected: return "rejected"
        case .expired: return "expired"
        case .unknown: return "unknown"
        }
    }

    /// No further fills are expected.
    public var isTerminal: Bool { self == .filled || self == .cancelled || self == .rejected || self == .expired }
    /// Sent and not finished: may still fill.
    public var isWorking: Bool { !isTerminal && self != .intended }
}

/// What happened to an order, as the state machine sees it.
public enum OrderSignal: Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// The executor handed it to the venue.
    case sent
    case acknowledged
    case refused
    /// A fill that leaves part of the order open.
    case partialFill
    /// A fill that completes the order.
    case finalFill
    case cancelled
    case expired
    /// Sent and no answer.
    case noAnswer
    /// A status query's answer.
    case reported(VenueOrderStatus)

    public static var allCases: [OrderSignal] {
        [.sent, .acknowledged, .refused, .partialFill, .finalFill, .cancelled, .expired, .noAnswer] + VenueOrderStatus.allCases.map { .reported($0) }
    }

    public var description: String {
        switch self {
        case .sent: return "sent"
        case .acknowledged: return "acknowledged"
        case .refused: return "refused"
        case .partialFill: return "partialFill"
        case .finalFill: return "finalFill"
        case .cancelled: return "cancelled"
        case .expired: return "expired"
        case .noAnswer: return "noAnswer"
        case .reported(let s): return "reported(\(s))"
        }
    }
}

/// The transition table.
public enum OrderLifecycle {
    /// The next state, or nil when the input is refused in this state.
    public static func next(_ state: OrderState, _ signal: OrderSignal) -> OrderState? {
        switch (state, signal) {
        // Not yet sent: only the executor's hand-off, or a local refusal before sending.
        case (.intended, .sent): return .submitted
        case (.intended, .refused): return .rejected
        case (.intended, _): return nil

        // Sent, or sent with no answer: any fact the venue gives settles it.
        case (.submitted, .sent): return nil
        case (.unknown, .sent): return nil
        case (.submitted, .noAnswer), (.unknown, .noAnswer): return .unknown
        case (.submitted, .reported(.notFound)): return .submitted   // a query before any answer is not evidence: still waiting
        case (.unknown, .reported(.notFound)): return .rejected      // never placed
        case (.submitted, let s), (.unknown, let s): return working(s)

        // Acknowledged and working.
        case (.accepted, .acknowledged), (.partiallyFilled, .acknowledged): return state
        case (.accepted, .noAnswer), (.partiallyFilled, .noAnswer): return state    // a cancel that got no answer
        case (.accepted, .sent), (.partiallyFilled, .sent), (.accepted, .refused), (.partiallyFilled, .refused): return nil
        case (.accepted, .reported(.notFound)), (.partiallyFilled, .reported(.notFound)): return nil
        case (.accepted, .reported(.rejected)), (.partiallyFilled, .reported(.rejected)): return nil
        case (.partiallyFilled, .reported(.new)): return .partiallyFilled
        case (.accepted, let s), (.partiallyFilled, let s): return working(s)

        // Finished. A cancelled or expired order may still report a fill that raced the cancel.
        case (.cancelled, .partialFill), (.cancelled, .finalFill), (.cancelled, .reported(.cancelled)), (.cancelled, .reported(.expired)), (.cancelled, .cancelled):
            return .cancelled
        case (.expired, .partialFill), (.expired, .finalFill), (.expired, .reported(.expired)), (.expired, .reported(.cancelled)), (.expired, .expired): return .expired
        case (.filled, .reported(.filled)): return .filled
        case (.rejected, .reported(.rejected)), (.rejected, .reported(.notFound)), (.rejected, .refused): return .rejected
        case (.filled, _), (.cancelled, _), (.rejected, _), (.expired, _): return nil
        }
    }

    /// Where a working order goes on a fact.
    private static func working(_ signal: OrderSignal) -> OrderState? {
        switch signal {
        case .acknowledged: return .accepted
        case .refused: return .rejected
        case .partialFill: return .partiallyFilled
        case .finalFill: return .filled
        case .cancelled: return .cancelled
        case .expired: return .expired
        case .noAnswer: return .unknown
        case .sent: return nil
        case .reported(let s):
            switch s {
            case .notFound: return nil
            case .new: return .accepted
            case .partiallyFilled: return .partiallyFilled
            case .filled: return .filled
            case .cancelled: return .cancelled
            case .rejected: return .rejected
            case .expired: return .expired
            }
        }
    }
}

/// An order the engine has decided, and what it knows of it.
public struct OrderTrack: Sendable, Equatable {
    public var intent: OrderIntended
    public var intentSeq: UInt64
    public var pairIndex: Int?
    public var state: OrderState = .intended
    /// Quantity executed so far (from fills, de-duplicated by execution id).
    public var filledQty: Fixed = .zero
    /// Execution ids seen for this order.
    public var executionIds: [String] = []
    /// A cancel has been decided for it (sent once, never repeated).
    public var cancelRequested = false
    /// When it ended (cancelled or expired orders may still report a fill that raced the end).
    public var endedAt: Timestamp?

    /// Quantity still to fill.
    public var remaining: Fixed { intent.qty - filledQty }
}
