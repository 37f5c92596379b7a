// The pair state machine: one transition table for the spot+perp aggregate.
//
//   flat ─entry─► opening ─legsFilled─► open ─deltaDrift─► rebalancing ─rebalanced─► open
//                   │ └─legFailed / legRiskBudget─► unwinding ─flat─► flat
//                   └─nothingFilled─► flat
//   opening / open / rebalancing ─exit / risk / killSwitch─► closing ─flat─► flat
//   closing / unwinding ─closeRetry─► (same): a close order ended with a position left
//   flat ─strayPosition─► unwinding: a raced fill or a correction left a flat pair holding something
//
// A cause the table has no entry for is refused: the reducer journals the refusal (an
// alert) and leaves the pair where it was. `legRiskBudget` in `opening` stays in `opening`
// when the policy is to complete the missing leg.

/// The transition table of a pair.
public enum PairMachine {
    /// The next phase, or nil when the cause is refused in this phase.
    public static func next(_ phase: PairPhase, _ cause: PairCause, completeMissingLeg: Bool = false) -> PairPhase? {
        switch (phase, cause) {
        case (.flat, .entry): return .opening
        case (.flat, .strayPosition): return .unwinding
        case (.flat, _): return nil

        case (.opening, .legsFilled): return .open
        case (.opening, .legFailed): return .unwinding
        case (.opening, .legRiskBudget): return completeMissingLeg ? .opening : .unwinding
        case (.opening, .nothingFilled): return .flat
        case (.opening, .exit), (.opening, .risk), (.opening, .killSwitch): return .closing
        case (.opening, _): return nil

        case (.open, .deltaDrift): return .rebalancing
        case (.open, .exit), (.open, .risk), (.open, .killSwitch): return .closing
        case (.open, .flat): return .flat             // both legs gone at once (liquidated and closed by the venue)
        case (.open, _): return nil

        case (.rebalancing, .rebalanced): return .open
        case (.rebalancing, .legFailed): return .open   // the rebalancing order ended unfilled: back to open, retried later
        case (.rebalancing, .flat): return .flat
        case (.rebalancing, .exit), (.rebalancing, .risk), (.rebalancing, .killSwitch): return .closing
        case (.rebalancing, _): return nil

        case (.closing, .flat): return .flat
        case (.closing, .closeRetry), (.closing, .killSwitch), (.closing, .risk): return .closing
        case (.closing, _): return nil

        case (.unwinding, .flat): return .flat
        case (.unwinding, .closeRetry), (.unwinding, .killSwitch), (.unwinding, .risk): return .unwinding
        case (.unwinding, _): return nil
        }
    }
}
