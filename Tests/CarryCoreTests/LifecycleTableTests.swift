// Both transition tables, every state × every input, against tables written out here from
// the documented semantics (OrderLifecycle.swift and PairMachine.swift headers), not copied
// from the code: the next state, or nil for a refusal.

import CarryCore
import Testing

/// The order table as the header documents it.
private func expectedOrder(_ state: OrderState, _ signal: OrderSignal) -> OrderState? {
    /// A fact about a sent order that has not finished: it moves to what the fact says.
    func settle(_ s: OrderSignal) -> OrderState? {
        switch s {
        case .sent: return nil                                   // sending twice is never right
        case .acknowledged, .reported(.new): return .accepted
        case .refused, .reported(.rejected): return .rejected
        case .partialFill, .reported(.partiallyFilled): return .partiallyFilled
        case .finalFill, .reported(.filled): return .filled
        case .cancelled, .reported(.cancelled): return .cancelled
        case .expired, .reported(.expired): return .expired
        case .noAnswer: return .unknown
        case .reported(.notFound): return nil
        }
    }
    switch state {
    case .intended:
        // Only the hand-off to the venue, or a refusal before it is sent.
        if signal == .sent { return .submitted }
        if signal == .refused { return .rejected }
        return nil
    case .submitted:
        if signal == .reported(.notFound) { return .submitted }  // notFound before any answer is no evidence: still waiting
        return settle(signal)
    case .unknown:
        if signal == .reported(.notFound) { return .rejected }   // never placed
        return settle(signal)
    case .accepted, .partiallyFilled:
        switch signal {
        case .sent, .refused, .reported(.rejected), .reported(.notFound): return nil   // contradicts the acknowledgement
        case .acknowledged, .noAnswer: return state                                    // a repeat, or a cancel with no answer
        case .reported(.new): return state                                             // still working, fills kept
        default: return settle(signal)
        }
    case .filled:
        return signal == .reported(.filled) ? .filled : nil
    case .cancelled:
        // A fill that raced the cancel is real; a repeat of the cancel is idempotent, and a
        // venue may report the same end as expired.
        switch signal {
        case .partialFill, .finalFill, .cancelled, .reported(.cancelled), .reported(.expired): return .cancelled
        default: return nil
        }
    case .expired:
        // Bybit reports an expired IOC remainder as cancelled.
        switch signal {
        case .partialFill, .finalFill, .expired, .reported(.expired), .reported(.cancelled): return .expired
        default: return nil
        }
    case .rejected:
        switch signal {
        case .refused, .reported(.rejected), .reported(.notFound): return .rejected
        default: return nil
        }
    }
}

/// The pair table as the header documents it.
private func expectedPair(_ phase: PairPhase, _ cause: PairCause, complete: Bool) -> PairPhase? {
    let closeCauses: Set<PairCause> = [.exit, .risk, .killSwitch]
    switch phase {
    case .flat:
        if cause == .strayPosition { return .unwinding }   // a raced fill or a correction left it holding something
        return cause == .entry ? .opening : nil
    case .opening:
        switch cause {
        case .legsFilled: return .open
        case .legFailed: return .unwinding
        case .legRiskBudget: return complete ? .opening : .unwinding
        case .nothingFilled: return .flat
        default: return closeCauses.contains(cause) ? .closing : nil
        }
    case .open:
        if cause == .deltaDrift { return .rebalancing }
        if cause == .flat { return .flat }
        return closeCauses.contains(cause) ? .closing : nil
    case .rebalancing:
        if cause == .rebalanced || cause == .legFailed { return .open }
        if cause == .flat { return .flat }            // both legs gone at once, as from open
        return closeCauses.contains(cause) ? .closing : nil
    case .closing, .unwinding:
        // Already flattening: only reaching flat ends it; a retry, the kill switch or a risk
        // rule keep it where it is (no second close is started by the table).
        if cause == .flat { return .flat }
        return [.closeRetry, .killSwitch, .risk].contains(cause) ? phase : nil
    }
}

private let allStatuses: [VenueOrderStatus] = [.notFound, .new, .partiallyFilled, .filled, .cancelled, .rejected, .expired]

@Suite("Transition tables")
struct LifecycleTableTests {
    @Test("OrderSignal.allCases covers every signal, every status report included")
    func signalCatalogue() {
        #expect(OrderSignal.allCases.count == 8 + VenueOrderStatus.allCases.count)
        #expect(VenueOrderStatus.allCases == allStatuses)
        #expect(OrderState.allCases.count == 9)
    }

    @Test("order table: every state × every signal gives the documented next state or a refusal")
    func orderTable() {
        var cells = 0
        for state in OrderState.allCases {
            for signal in OrderSignal.allCases {
                let got = OrderLifecycle.next(state, signal)
                let want = expectedOrder(state, signal)
                #expect(got == want, "\(state) × \(signal): code \(got.map(\.description) ?? "refused"), expected \(want.map(\.description) ?? "refused")")
                cells += 1
            }
        }
        #expect(cells == 9 * 15)
    }

    @Test("order table, the rules that matter most for money, spelled out")
    func orderTableKeyCells() {
        #expect(OrderLifecycle.next(.intended, .sent) == .submitted)
        #expect(OrderLifecycle.next(.intended, .finalFill) == nil)
        #expect(OrderLifecycle.next(.unknown, .reported(.notFound)) == .rejected)
        #expect(OrderLifecycle.next(.submitted, .reported(.notFound)) == .submitted)
        #expect(OrderLifecycle.next(.unknown, .sent) == nil)                  // never resolved by resending
        #expect(OrderLifecycle.next(.unknown, .finalFill) == .filled)
        #expect(OrderLifecycle.next(.cancelled, .finalFill) == .cancelled)    // late fill after cancel is booked
        #expect(OrderLifecycle.next(.rejected, .finalFill) == nil)            // a fill of a rejected order is refused
        #expect(OrderLifecycle.next(.filled, .partialFill) == nil)            // an overfill is refused
        // Terminal states stay terminal: nothing moves them to a working state.
        for state in OrderState.allCases where state.isTerminal {
            for signal in OrderSignal.allCases {
                if let next = OrderLifecycle.next(state, signal) { #expect(next == state, "\(state) × \(signal) → \(next)") }
            }
        }
    }

    @Test("pair table: every phase × every cause, both leg-failure policies")
    func pairTable() {
        var cells = 0
        for complete in [false, true] {
            for phase in PairPhase.allCases {
                for cause in PairCause.allCases {
                    let got = PairMachine.next(phase, cause, completeMissingLeg: complete)
                    let want = expectedPair(phase, cause, complete: complete)
                    #expect(got == want, "\(phase) × \(cause) (complete \(complete)): code \(got.map(\.description) ?? "refused"), expected \(want.map(\.description) ?? "refused")")
                    cells += 1
                }
            }
        }
        #expect(cells == 2 * 6 * 13)
        #expect(PairMachine.next(.opening, .legRiskBudget, completeMissingLeg: true) == .opening)
        #expect(PairMachine.next(.opening, .legRiskBudget, completeMissingLeg: false) == .unwinding)
        #expect(PairMachine.next(.closing, .killSwitch) == .closing)
    }
}
