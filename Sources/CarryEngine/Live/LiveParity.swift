// `carry parity` for a live session's journal: its market inputs, scan ticks and operator
// commands replayed through the backtest pipeline (the simulated exchange fills) with the
// session's config, as for a paper session — but the venue's facts are real and the replay's
// are simulated, so records are not compared one by one. Instead:
//
//   decisions   the order intents, in order (time, pair — by the order pairs first appear,
//               as pair ids are seqs —, leg, instrument, side, quantity, reason): the first
//               that differs, or identical through the last;
//   fill gap    per order, while the decisions agree (the k-th intent of each, same pair
//               leg, instrument, side and reason): the real fills against the simulated ones —
//               volume-weighted price (the gap in basis points, positive when the real fill was
//               worse: dearer for a buy, cheaper for a sell), quantity, fees in the quote coin
//               (a base-coin fee at its fill's price), and timing (the last real fill against
//               the last simulated one, and each after the intent).
//
// Pure over the records: no venue, no clock.

public import CarryCore
import CarryJournal

/// One order's real fills against the simulated ones.
public struct FillGap: Sendable, Equatable {
    public var intentSeq: UInt64
    public var decidedAt: Timestamp
    public var instrumentId: InstrumentId
    public var leg: Leg
    public var side: Side
    public var reason: IntentReason
    public var liveQty: Fixed
    public var simQty: Fixed
    public var livePrice: Fixed?
    public var simPrice: Fixed?
    public var liveFee: Fixed
    public var simFee: Fixed
    public var liveFilledAt: Timestamp?
    public var simFilledAt: Timestamp?

    /// (real − simulated) ÷ simulated in basis points, signed so that worse is positive.
    public var priceGapBps: Fixed? {
        guard let l = livePrice, let s = simPrice, s.isPositive else { return nil }
        let gap = (l - s).divided(by: s, scale: 10, .toNearestOrEven).multiplied(by: Fixed(10_000), scale: 4, .toNearestOrEven)
        return side == .buy ? gap : -gap
    }

    /// Real last fill − simulated last fill, ms.
    public var timingGapMs: Int64? {
        guard let l = liveFilledAt, let s = simFilledAt else { return nil }
        return l.msSince(s)
    }
}

/// What a live journal's parity found.
public struct LiveParityOutcome: Sendable {
    /// Intents in the journal and in the replay.
    public var liveIntents: Int
    public var replayIntents: Int
    /// Intents that agreed before the first that differs (all of them: nil divergence).
    public var agreed: Int
    public var divergence: ReplayDivergence?
    /// Per order, for the agreeing intents that filled on either side.
    public var gaps: [FillGap]
    public var lateInputs: Int
}

extension SessionReplay {
    /// The decisions and fill quality of a live session's journal against a backtest replay.
    public static func liveParity(_ records: [RecordedEvent], config: BacktestConfig) throws -> LiveParityOutcome {
        let (_, written, late, _) = try regenerate(records, config: config)
        let firstSeq = records.first?.seq ?? 1
        let live = Orders(records.lazy.map { ($0.seq, $0.event, $0.eventTime) })
        let sim = Orders(written.enumerated().lazy.map { (firstSeq + UInt64($0.offset), $0.element.event, $0.element.time) })

        var agreed = 0
        var divergence: ReplayDivergence?
        var gaps: [FillGap] = []
        for k in 0..<max(live.intents.count, sim.intents.count) {
            let l = k < live.intents.count ? live.intents[k] : nil
            let s = k < sim.intents.count ? sim.intents[k] : nil
            if let l, let s, l.time == s.time, l.pair == s.pair, l.intent.leg == s.intent.leg,
               l.intent.instrumentId == s.intent.instrumentId, l.intent.side == s.intent.side, l.intent.qty == s.intent.qty,
               l.intent.reason == s.intent.reason {
                agreed += 1
                let lf = live.fills[l.seq] ?? Filled(), sf = sim.fills[s.seq] ?? Filled()
                if lf.qty.isPositive || sf.qty.isPositive {
                    gaps.append(FillGap(intentSeq: l.seq, decidedAt: l.time, instrumentId: l.intent.instrumentId, leg: l.intent.leg, side: l.intent.side,
                                        reason: l.intent.reason, liveQty: lf.qty, simQty: sf.qty, livePrice: lf.price, simPrice: sf.price,
                                        liveFee: lf.fee, simFee: sf.fee, liveFilledAt: lf.last, simFilledAt: sf.last))
                }
                continue
            }
            divergence = ReplayDivergence(seq: l?.seq ?? s?.seq ?? 0, journaled: l.map { Self.describeIntent($0.intent, $0.time, pair: $0.pair) } ?? "(no more intents)",
                                          replayed: s.map { Self.describeIntent($0.intent, $0.time, pair: $0.pair) } ?? "(no more intents)")
            break
        }
        return LiveParityOutcome(liveIntents: live.intents.count, replayIntents: sim.intents.count, agreed: agreed, divergence: divergence,
                                 gaps: gaps, lateInputs: late)
    }

    static func describeIntent(_ i: OrderIntended, _ t: Timestamp, pair: Int) -> String {
        "order.intended at \(t.iso8601) {pair #\(pair + 1) (id \(i.pairId)) leg=\(i.leg) instrument=\(i.instrumentId.rawValue) side=\(i.side) qty=\(i.qty) reason=\(i.reason)}"
    }

    /// Fills of one order, summed.
    struct Filled {
        var qty: Fixed = .zero
        var notional: Fixed = .zero
        var fee: Fixed = .zero
        var last: Timestamp?
        var price: Fixed? { qty.isPositive ? notional.divided(by: qty, scale: 8, .toNearestOrEven) : nil }
    }

    /// The intents (in order) and each one's fills, of a journal or a replay.
    struct Orders {
        /// `pair`: the pair's place in the order pairs first appear (pair ids are seqs, and the
        /// journal's seqs differ from the replay's: the venue's facts sit between its decisions).
        var intents: [(seq: UInt64, intent: OrderIntended, time: Timestamp, pair: Int)] = []
        var fills: [UInt64: Filled] = [:]
        private var pairs: [UInt64: Int] = [:]

        init<S: Sequence>(_ records: S) where S.Element == (UInt64, Event, Timestamp) {
            for (seq, event, time) in records {
                switch event {
                case .orderIntended(let i):
                    let pair = pairs[i.pairId] ?? pairs.count
                    pairs[i.pairId] = pair
                    intents.append((seq, i, time, pair))
                case .orderFilled(let f) where !f.isLiquidation:
                    var x = fills[f.intentSeq] ?? Filled()
                    x.qty += f.qty
                    x.notional += f.qty.multiplied(by: f.price, scale: 8, .toNearestOrEven)
                    x.fee += f.feeAsset == .base ? f.fee.multiplied(by: f.price, scale: 8, .toNearestOrEven) : f.fee
                    x.last = max(x.last ?? time, time)
                    fills[f.intentSeq] = x
                default:
                    break
                }
            }
        }
    }
}
