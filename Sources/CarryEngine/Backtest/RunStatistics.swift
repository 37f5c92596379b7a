// Figures of a run read off its journal records as they go by: pairs opened per symbol, the
// notional traded and why pairs were closed. The backtest (from the records it journals), a
// sweep (from the same records, hashed instead of stored) and `RunProjector` (from the run
// journal) feed the same fold, so their summaries agree by construction.

public import CarryCore

/// Why a pair was sent to closing or unwinding.
public enum ExitReason: Int, Sendable, CaseIterable, CustomStringConvertible {
    /// The strategy's signal fell below its exit level (rate or score).
    case signal
    /// Held for `strategy.maxHolding`.
    case maxHolding
    /// The composite strategy's target profit was reached.
    case targetProfit
    /// Closed to make room for a better candidate (composite).
    case replacement
    /// A risk rule (margin buffer, a liquidated leg).
    case risk
    /// The drawdown kill switch flattened it.
    case killSwitch
    /// An opening leg failed or the leg-risk budget ran out: the filled leg was unwound.
    case unwound
    /// Anything else (a stray position found on a flat pair).
    case other

    public var description: String {
        switch self {
        case .signal: return "signal"
        case .maxHolding: return "max holding"
        case .targetProfit: return "target profit"
        case .replacement: return "replacement"
        case .risk: return "risk"
        case .killSwitch: return "kill switch"
        case .unwound: return "unwound"
        case .other: return "other"
        }
    }
}

/// The fold of a run's records behind the summary's event-based figures.
public struct RunEventStatistics: Sendable {
    /// Perp instrument of each configured pair, in pair order.
    private let perps: [InstrumentId]
    private let maxHoldingHours: Int64
    /// Pairs opened, per pair index.
    public private(set) var opened: [Int]
    /// Σ |quantity × price| of every fill, rounded to 8 decimals per fill.
    public private(set) var tradedNotional = Fixed.zero
    private var exits = Array(repeating: 0, count: ExitReason.allCases.count)
    /// The reason of the newest exit signal: a strategy exit's transition follows its signal.
    private var lastExitSignal = ExitReason.signal
    /// Funding received per settlement (every pair's payments at that settlement time added),
    /// in settlement order: the report's bar chart, folded here with everything else.
    public private(set) var fundingPerSettlement: [(time: Timestamp, amount: Fixed)] = []

    /// Statistics for a run over `pairs`, whose strategy holds pairs at most `maxHoldingMs`.
    init(pairs: [ResolvedPair], maxHoldingMs: Int64) {
        perps = pairs.map(\.perp.id)
        maxHoldingHours = maxHoldingMs / Millis.hour
        opened = Array(repeating: 0, count: pairs.count)
    }

    /// Exit reasons that occurred, in `ExitReason` order.
    public var exitReasonCounts: [(reason: ExitReason, count: Int)] {
        ExitReason.allCases.compactMap { exits[$0.rawValue] > 0 ? ($0, exits[$0.rawValue]) : nil }
    }

    /// Folds one record of the run.
    mutating func observe(_ event: Event) {
        switch event {
        case .orderIntended(let i) where i.reason == .open && i.leg == .perp:
            if let k = perps.firstIndex(of: i.instrumentId) { opened[k] += 1 }
        case .orderFilled(let f):
            tradedNotional += f.qty.multiplied(by: f.price, scale: 8, .toNearestOrEven).magnitude
        case .fundingPaid(let p):
            if let last = fundingPerSettlement.last, last.time == p.settlementTime {
                fundingPerSettlement[fundingPerSettlement.count - 1].amount += p.amount
            } else {
                fundingPerSettlement.append((p.settlementTime, p.amount))
            }
        case .signalComputed(let s) where s.action == .exit:
            lastExitSignal = classify(s)
        case .pairTransition(let t) where (t.to == .closing || t.to == .unwinding) && t.from != .closing && t.from != .unwinding:
            exits[reason(t.cause).rawValue] += 1
        default:
            break
        }
    }

    private func reason(_ cause: PairCause) -> ExitReason {
        switch cause {
        case .exit: return lastExitSignal
        case .risk: return .risk
        case .killSwitch: return .killSwitch
        case .legFailed, .legRiskBudget: return .unwound
        default: return .other
        }
    }

    /// What an exit signal records: a replacement or a net-collected component names its
    /// rule; a holding time at the limit is the time limit; otherwise the signal fell.
    private func classify(_ s: SignalComputed) -> ExitReason {
        if s.components.contains(where: { $0.factor == .replacement }) { return .replacement }
        if s.components.contains(where: { $0.factor == .netCollected }) { return .targetProfit }
        if let held = s.components.first(where: { $0.factor == .holdingTime }), held.value >= Fixed(maxHoldingHours) { return .maxHolding }
        return .signal
    }
}
