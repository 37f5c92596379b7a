// The strategy seam: a strategy observes market inputs (keeping whatever features it needs)
// and, at each scan, says which held pairs to exit and which flat pairs it would enter, best
// first, each with the signal that records why. The reducer keeps everything else: it
// journals the signals, sizes the entries (the sizer seam), checks risk, runs the pair and
// order state machines. Pure: a strategy sees only what it is given.

/// A pair as a strategy sees it.
public struct PairView: Sendable, Equatable {
    public var spec: PairSpec
    public var phase: PairPhase
    /// When both legs were filled (open pairs).
    public var openedAt: Timestamp?
    /// Target quantity of each leg (zero when flat).
    public var targetQty: Fixed = .zero
    /// Funding the perp leg collected since the pair's entry decision, quote asset.
    public var fundingUsdt: Fixed = .zero
    /// Fees and slippage of the pair's fills since its entry decision, quote asset.
    public var costsUsdt: Fixed = .zero
    /// False for a flat pair the reducer would not enter now (re-entry cool-down, halt,
    /// reconciliation hold, kill switch): a strategy must not close a held pair to make room
    /// for it.
    public var entryAllowed = true

    public init(spec: PairSpec, phase: PairPhase, openedAt: Timestamp?, targetQty: Fixed = .zero, fundingUsdt: Fixed = .zero, costsUsdt: Fixed = .zero,
                entryAllowed: Bool = true) {
        self.spec = spec
        self.phase = phase
        self.openedAt = openedAt
        self.targetQty = targetQty
        self.fundingUsdt = fundingUsdt
        self.costsUsdt = costsUsdt
        self.entryAllowed = entryAllowed
    }
}

/// What a strategy sees at a scan.
public struct StrategyView: Sendable {
    public var now: Timestamp
    public var pairs: [PairView]
    /// Last closes by instrument index (the marks).
    public var marks: [Fixed?]

    public init(now: Timestamp, pairs: [PairView], marks: [Fixed?]) {
        self.now = now
        self.pairs = pairs
        self.marks = marks
    }

    /// The mark of an instrument, if it has had a bar.
    public func mark(_ id: InstrumentId) -> Fixed? { id.index < marks.count ? marks[id.index] : nil }
}

/// A held pair the strategy wants out of.
public struct ExitSignal: Sendable, Equatable {
    public var pairIndex: Int
    public var signal: SignalComputed
}

/// Why a strategy would not enter a flat pair (journaled as `entry.skipped` when it changes).
public struct EntryVeto: Sendable, Equatable {
    public var reason: SkipReason
    /// The missing feature (`missingFeature`) or the factor that failed.
    public var factor: SignalFactor?
    public var limit: Fixed
    public var observed: Fixed

    public init(reason: SkipReason, factor: SignalFactor?, limit: Fixed, observed: Fixed) {
        self.reason = reason
        self.factor = factor
        self.limit = limit
        self.observed = observed
    }
}

/// A flat pair the strategy would enter. Small on purpose (candidates are ranked at every
/// scan and most are not entered): the signal that records why is built by
/// `entrySignal(for:)` only for the candidates the reducer journals.
public struct EntryCandidate: Sendable, Equatable {
    public var pairIndex: Int
    /// The score candidates are ranked by (higher first).
    public var score: Fixed
    /// 0…1: how strongly (sizers may scale by it; the threshold strategy says 1).
    public var conviction: Fixed
    /// The input behind the score (its causation raw value), for the signal's components.
    public var sourceSeq: UInt64
    /// Set when the strategy says why it would not enter (vetoed candidates come after the
    /// others, in pair order; the reducer journals the reason and enters none of them).
    public var veto: EntryVeto?

    public init(pairIndex: Int, score: Fixed, conviction: Fixed, sourceSeq: UInt64, veto: EntryVeto? = nil) {
        self.pairIndex = pairIndex
        self.score = score
        self.conviction = conviction
        self.sourceSeq = sourceSeq
        self.veto = veto
    }
}

/// A strategy.
public protocol CarryStrategy: Sendable, Equatable {
    /// Learns from a market input (its time is the input's).
    mutating func observe(_ input: MarketInput, time: Timestamp, ref: CausationRef)
    /// Exits for pairs in `open`, in pair order.
    func exits(_ view: StrategyView) -> [ExitSignal]
    /// Entries for flat pairs, best first (ties in pair order), then vetoed ones.
    func entries(_ view: StrategyView) -> [EntryCandidate]
    /// The journaled signal of a candidate the reducer acts on.
    func entrySignal(for candidate: EntryCandidate, pair: PairSpec, view: StrategyView) -> SignalComputed
    /// False when bars teach the strategy nothing (the reducer then skips `observe` for bars).
    var observesBars: Bool { get }
}

/// The strategies Carry has, as one concrete type (no existential on the scan path): the one
/// in use in its own stored property. (Not an enum: mutating an enum's payload means taking it
/// out and putting it back, and every settlement observed copied the whole enum, 560 bytes,
/// three times.)
public struct AnyCarryStrategy: CarryStrategy {
    private var threshold: ThresholdStrategy?
    private var composite: CompositeStrategy?
    /// Which of the two is in use, kept apart from them: `threshold != nil` copied the whole
    /// optional strategy (its six arrays retained) at every settlement observed, and the
    /// mutation that followed then copied the arrays it wrote (perf: 6 % of a swept config).
    private let isThreshold: Bool

    /// v1.0's threshold strategy.
    public static func threshold(_ s: ThresholdStrategy) -> AnyCarryStrategy { AnyCarryStrategy(threshold: s, composite: nil, isThreshold: true) }

    /// v1.1's composite strategy.
    public static func composite(_ s: CompositeStrategy) -> AnyCarryStrategy { AnyCarryStrategy(threshold: nil, composite: s, isThreshold: false) }

    public mutating func observe(_ input: MarketInput, time: Timestamp, ref: CausationRef) {
        // Mutated in place through the optional.
        if isThreshold { threshold!.observe(input, time: time, ref: ref) } else { composite!.observe(input, time: time, ref: ref) }
    }

    public func exits(_ view: StrategyView) -> [ExitSignal] {
        isThreshold ? threshold!.exits(view) : composite!.exits(view)
    }

    public func entries(_ view: StrategyView) -> [EntryCandidate] {
        isThreshold ? threshold!.entries(view) : composite!.entries(view)
    }

    public func entrySignal(for candidate: EntryCandidate, pair: PairSpec, view: StrategyView) -> SignalComputed {
        isThreshold ? threshold!.entrySignal(for: candidate, pair: pair, view: view) : composite!.entrySignal(for: candidate, pair: pair, view: view)
    }

    public var observesBars: Bool { isThreshold ? threshold!.observesBars : composite!.observesBars }
}

/// v1.0, the simple threshold: enter when the last settled rate per 8 h reaches the entry
/// threshold (and is fresh), exit when it falls below the exit threshold or the pair has been
/// held for the maximum time. Ranks by rate.
public struct ThresholdStrategy: CarryStrategy {
    public let config: ThresholdStrategyConfig
    /// Per perp: the last settled rate per 8 h (normalised with the interval it settled
    /// under), when it settled, and the input that carried it.
    private var rate8h: [Fixed?] = []
    private var rateTime: [Timestamp] = []
    private var rateRef: [CausationRef] = []
    /// The perp of each pair, and the pair of each perp (by instrument index).
    private let perpOfPair: [Int]
    private let pairOfPerp: [Int?]
    /// The pairs whose last rate meets the entry threshold, best rate first, equal rates in
    /// pair order — kept as each settlement arrives, so a scan only filters it (ranking every
    /// flat pair at every scan, with Fixed comparisons at two scales and an insertion sort,
    /// was a tenth of a swept config's time). A function of the rates: part of the state
    /// only as they are.
    private var ranking: [Int] = []

    /// A strategy with these thresholds over these pairs (the pairs a scan's view lists, in
    /// that order).
    public init(config: ThresholdStrategyConfig, pairs: [PairSpec]) {
        self.config = config
        perpOfPair = pairs.map(\.perp.index)
        var pairOfPerp: [Int?] = Array(repeating: nil, count: (perpOfPair.max() ?? -1) + 1)
        for (i, perp) in perpOfPair.enumerated() {
            precondition(pairOfPerp[perp] == nil, "a perp is in two pairs: the config must list each symbol once")
            pairOfPerp[perp] = i
        }
        self.pairOfPerp = pairOfPerp
    }


    public mutating func observe(_ input: MarketInput, time: Timestamp, ref: CausationRef) {
        guard case .fundingSettled(let f) = input else { return }
        let i = f.instrumentId.index
        while rate8h.count <= i {
            rate8h.append(nil)
            rateTime.append(.distantPast)
            rateRef.append(.none)
        }
        let rate = f.intervalMinutes > 0 ? FundingMath.per8h(f.ratePerInterval, intervalMinutes: f.intervalMinutes) : nil
        // The ranking orders pairs by value only: a rate equal to the last one (most
        // settlements repeat the 0.01 % baseline) leaves it as it is.
        let moved = rate != rate8h[i]
        rate8h[i] = rate
        rateTime[i] = time
        rateRef[i] = ref
        if moved, i < pairOfPerp.count, let pair = pairOfPerp[i] { rerank(pair, rate: rate) }
    }

    /// Moves `pair` to its place in the ranking for its new rate (out of it below the
    /// threshold); the other pairs' rates did not change, so their order stands.
    private mutating func rerank(_ pair: Int, rate: Fixed?) {
        ranking.removeAll { $0 == pair }
        guard let rate, rate >= config.entryThresholdPerInterval8h else { return }
        var k = 0
        while k < ranking.count {
            let other = ranking[k]
            let c = Fixed.compare(rate8h[perpOfPair[other]]!, rate)
            if c < 0 || (c == 0 && other > pair) { break }
            k += 1
        }
        ranking.insert(pair, at: k)
    }

    /// The rate of a perp per 8 h and its source, if fresh at `now`.
    func freshRate(_ perp: InstrumentId, now: Timestamp) -> (rate8h: Fixed, ref: CausationRef)? {
        let i = perp.index
        guard i < rate8h.count, let r = rate8h[i], now.msSince(rateTime[i]) <= config.maxRateAgeMs else { return nil }
        return (r, rateRef[i])
    }

    public func exits(_ view: StrategyView) -> [ExitSignal] {
        var out: [ExitSignal] = []
        for i in view.pairs.indices where view.pairs[i].phase == .open {
            let p = view.pairs[i].spec
            let held = view.pairs[i].openedAt.map { view.now.msSince($0) } ?? 0
            let rate = freshRate(p.perp, now: view.now)
            // Decided first: the signal's components are built only for a pair that exits
            // (this runs for every open pair at every scan).
            guard held >= config.maxHoldingMs || (rate.map { $0.rate8h < config.exitThresholdPerInterval8h } ?? false) else { continue }
            var components = [SignalComponent(factor: .holdingTime, value: Fixed(held / Millis.hour), weight: .zero, sourceSeq: 0)]
            if let rate {
                components.insert(SignalComponent(factor: .fundingLevel, value: rate.rate8h, weight: Fixed(1), sourceSeq: rate.ref.raw), at: 0)
                components.append(SignalComponent(factor: .threshold, value: config.exitThresholdPerInterval8h, weight: .zero, sourceSeq: 0))
            }
            out.append(ExitSignal(pairIndex: i, signal: SignalComputed(strategy: .threshold, perp: p.perp, spot: p.spot, action: .exit,
                                                                       direction: .longSpotShortPerp, score: rate?.rate8h ?? .zero, components: components)))
        }
        return out
    }

    /// Flat pairs whose last rate is fresh and meets the entry threshold and whose legs have
    /// marks, best rate first, equal rates in pair order: the ranking filtered (a subsequence
    /// of a sorted list is sorted, so this is the same list as sorting the qualifying pairs).
    public func entries(_ view: StrategyView) -> [EntryCandidate] {
        precondition(view.pairs.count == perpOfPair.count, "the view lists other pairs than the strategy was made for")
        var out: [EntryCandidate] = []
        out.reserveCapacity(ranking.count)
        for i in ranking where view.pairs[i].phase == .flat {
            let p = view.pairs[i].spec
            guard let rate = freshRate(p.perp, now: view.now) else { continue }
            guard view.mark(p.spot) != nil, view.mark(p.perp) != nil else { continue }
            out.append(EntryCandidate(pairIndex: i, score: rate.rate8h, conviction: Fixed(1), sourceSeq: rate.ref.raw))
        }
        return out
    }

    public func entrySignal(for c: EntryCandidate, pair p: PairSpec, view: StrategyView) -> SignalComputed {
        let components = [
            SignalComponent(factor: .fundingLevel, value: c.score, weight: Fixed(1), sourceSeq: c.sourceSeq),
            SignalComponent(factor: .threshold, value: config.entryThresholdPerInterval8h, weight: .zero, sourceSeq: 0),
        ]
        return SignalComputed(strategy: .threshold, perp: p.perp, spot: p.spot, action: .enter, direction: .longSpotShortPerp,
                              score: c.score, components: components)
    }

    public var observesBars: Bool { false }
}
