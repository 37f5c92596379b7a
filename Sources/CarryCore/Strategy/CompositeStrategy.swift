// v1.1, the composite strategy: a score from funding level, trend, persistence, basis and
// volume; entries gated by the expected net carry after the round trip's costs; exits by
// score with hysteresis after a minimum holding, at a target profit, or at a time limit; a
// held pair replaced only when a candidate beats it by more than the cost of switching.
//
// The score. Each component is normalised to [−1, 1] (volume to [0, 1]) by
// `FeatureMath.normalised` (value ÷ scale, clamped), then
//     score = Σ wₖ · nₖ ÷ Σ wₖ                                   (6 decimals)
//   level        n = expected rate per 8 h ÷ levelScale; the expected rate is the mean of the
//                last `level` settlements, averaged with the venue's prediction when one is due
//   trend        n = slope ÷ trendScale, and 0 inside the dead band (stable)
//   persistence  n = 2 · share − 1 (share of the window strictly above `persistenceLevel`)
//   basis        n = (basis − its window mean) ÷ half its window range (a perp rich against
//                its recent basis is a better one to sell); 0 when the range is empty
//   volume       n = (thinner leg's 24 h quote volume ÷ the largest pair notional) ÷ volumeScale,
//                clamped to [0, 1]
// A component with weight 0 is not computed and its data is not required.
//
// Costs, as fractions of notional, for the largest notional the sizer may choose:
//   round trip = 2 · (spot taker + perp taker) + 4 · half spread
//                + 2 · impact coefficient · notional · (1 ÷ spot bar volume + 1 ÷ perp bar volume)
//   (bar volume: the leg's average quote volume per bar over the volume window)
//   expected funding = expected rate × expected holding ÷ 8 h
//   expected net carry = expected funding − round trip;   breakeven = round trip ÷ rate × 8 h
// Fee gate: enter only when expected net carry ≥ feeGateMultiple × round trip.

/// Weights of the score's components (non-negative, not all zero).
public struct CompositeWeights: Sendable, Equatable {
    public var level: Fixed
    public var trend: Fixed
    public var persistence: Fixed
    public var basis: Fixed
    public var volume: Fixed

    public init(level: Fixed, trend: Fixed, persistence: Fixed, basis: Fixed, volume: Fixed) {
        self.level = level
        self.trend = trend
        self.persistence = persistence
        self.basis = basis
        self.volume = volume
    }

    public var total: Fixed { level + trend + persistence + basis + volume }
}

/// The composite strategy's settings (validated by the config reader).
public struct CompositeStrategyConfig: Sendable, Equatable {
    public var weights: CompositeWeights
    public var windows: FeatureWindows
    /// A rate per 8 h that scores a full level (1).
    public var levelScale: Fixed
    /// |slope| per settlement at or below this is a stable trend.
    public var trendDeadBand: Fixed
    /// A slope per settlement that scores a full trend.
    public var trendScale: Fixed
    /// Persistence counts settlements strictly above this rate per 8 h.
    public var persistenceLevel: Fixed
    /// Thinner leg's 24 h quote volume ÷ pair notional that scores a full volume.
    public var volumeScale: Fixed
    /// Enter at or above this score; exit (after the minimum holding) below `exitScore`.
    public var entryScore: Fixed
    public var exitScore: Fixed
    public var minHoldingMs: Int64
    public var maxHoldingMs: Int64
    /// The holding the expected carry is computed over.
    public var expectedHoldingMs: Int64
    /// Expected net carry must be at least this multiple of the round-trip cost.
    public var feeGateMultiple: Fixed
    /// Exit when funding collected, less the pair's costs (paid and still to pay), reaches
    /// this multiple of its round-trip cost.
    public var targetProfitMultiple: Fixed
    /// Replace a held pair when a candidate's extra expected funding over the expected holding
    /// exceeds this multiple of the cost of switching.
    public var switchMargin: Fixed
    /// Conviction sizing: notional per leg between these.
    public var minNotionalUsdt: Fixed
    public var maxNotionalUsdt: Fixed
    public var maxOpenPairs: Int
    /// A settled rate older than this is stale: no entries on it.
    public var maxRateAgeMs: Int64

    public init(weights: CompositeWeights, windows: FeatureWindows, levelScale: Fixed, trendDeadBand: Fixed, trendScale: Fixed,
                persistenceLevel: Fixed, volumeScale: Fixed, entryScore: Fixed, exitScore: Fixed, minHoldingMs: Int64, maxHoldingMs: Int64,
                expectedHoldingMs: Int64, feeGateMultiple: Fixed, targetProfitMultiple: Fixed, switchMargin: Fixed, minNotionalUsdt: Fixed,
                maxNotionalUsdt: Fixed, maxOpenPairs: Int, maxRateAgeMs: Int64) {
        self.weights = weights
        self.windows = windows
        self.levelScale = levelScale
        self.trendDeadBand = trendDeadBand
        self.trendScale = trendScale
        self.persistenceLevel = persistenceLevel
        self.volumeScale = volumeScale
        self.entryScore = entryScore
        self.exitScore = exitScore
        self.minHoldingMs = minHoldingMs
        self.maxHoldingMs = maxHoldingMs
        self.expectedHoldingMs = expectedHoldingMs
        self.feeGateMultiple = feeGateMultiple
        self.targetProfitMultiple = targetProfitMultiple
        self.switchMargin = switchMargin
        self.minNotionalUsdt = minNotionalUsdt
        self.maxNotionalUsdt = maxNotionalUsdt
        self.maxOpenPairs = maxOpenPairs
        self.maxRateAgeMs = maxRateAgeMs
    }
}

/// A pair scored at one instant.
public struct CompositeScore: Sendable, Equatable {
    public var score: Fixed
    /// The expected rate per 8 h the carry is computed from.
    public var expectedRate: Fixed
    /// Round trip and expected net carry over the expected holding, fractions of notional.
    public var roundTrip: Fixed
    public var expectedNetCarry: Fixed
    /// Hours of holding at the expected rate that pay the round trip (nil: the rate does not pay).
    public var breakevenHours: Fixed?
    /// The journaled components (value, weight, source) in a fixed order; empty when the
    /// evaluation was asked for the score alone.
    public var components: [SignalComponent]
    /// The input behind the funding level (the first component's source).
    public var sourceSeq: UInt64
}

/// Why a pair cannot be scored, or does not qualify.
public enum CompositeVerdict: Sendable, Equatable {
    case missing(SignalFactor, limit: Fixed, observed: Fixed)
    case scored(CompositeScore)
}

/// The composite strategy.
public struct CompositeStrategy: CarryStrategy {
    public let config: CompositeStrategyConfig
    public let pairs: [PairSpec]
    public let fees: FeeSchedule
    public let slippage: SlippageModel
    public private(set) var features: MarketFeatures
    /// Taker fee rates of each pair's legs, once both instruments are defined.
    private var takerFees: [(spot: Fixed?, perp: Fixed?)]

    public init(config: CompositeStrategyConfig, pairs: [PairSpec], fees: FeeSchedule, slippage: SlippageModel) {
        self.config = config
        self.pairs = pairs
        self.fees = fees
        self.slippage = slippage
        features = MarketFeatures(windows: config.windows, pairs: pairs, persistenceLevel: config.persistenceLevel)
        takerFees = Array(repeating: (nil, nil), count: pairs.count)
    }

    public static func == (a: CompositeStrategy, b: CompositeStrategy) -> Bool {
        a.config == b.config && a.pairs == b.pairs && a.fees == b.fees && a.slippage == b.slippage && a.features == b.features
            && a.takerFees.elementsEqual(b.takerFees) { $0.spot == $1.spot && $0.perp == $1.perp }
    }

    public var observesBars: Bool { true }

    public mutating func observe(_ input: MarketInput, time: Timestamp, ref: CausationRef) {
        if case .defined(let d) = input {
            for (i, p) in pairs.enumerated() {
                if p.spot == d.id { takerFees[i].spot = fees.rates(for: d).taker }
                if p.perp == d.id { takerFees[i].perp = fees.rates(for: d).taker }
            }
            return
        }
        features.observe(input, time: time, ref: ref)
    }

    // MARK: - Scoring

    /// Scores pair `i` at `now`, or says which feature has no data yet; with the components
    /// that record why unless `wanted` is false (a scan ranks every flat pair every hour and
    /// journals a few: building every pair's list was a tenth of a composite config's time).
    public func evaluate(_ i: Int, now: Timestamp, components wanted: Bool = true) -> CompositeVerdict {
        let p = pairs[i]
        let w = config.weights
        guard let f = features.funding(p.perp, now: now, persistenceLevel: config.persistenceLevel) else {
            return .missing(.fundingLevel, limit: Fixed(1), observed: .zero)
        }
        let age = now.msSince(f.lastTime)
        guard age <= config.maxRateAgeMs else { return .missing(.fundingLevel, limit: Fixed(config.maxRateAgeMs), observed: Fixed(age)) }
        let seen = Fixed(Int64(features.settlementCount(p.perp)))
        var components: [SignalComponent] = []
        func add(_ c: @autoclosure () -> SignalComponent) { if wanted { components.append(c()) } }
        var weighted = Fixed.zero

        // Level (always required: the carry is computed from it).
        var expected = f.level
        if let predicted = f.predicted { expected = (f.level + predicted).divided(by: Int64(2), scale: FeatureMath.rateScale, .toNearestOrEven) }
        weighted += w.level.multiplied(by: FeatureMath.normalised(expected, scale: config.levelScale), scale: 12, .toNearestOrEven)
        add(SignalComponent(factor: .fundingLevel, value: expected, weight: w.level, sourceSeq: f.lastRef.raw))
        if let predicted = f.predicted {
            add(SignalComponent(factor: .predictedRate, value: predicted, weight: .zero, sourceSeq: f.predictedRef.raw))
        }
        if w.trend.isPositive {
            guard let slope = f.slope else { return .missing(.fundingTrend, limit: Fixed(Int64(config.windows.trend)), observed: seen) }
            let direction = FeatureMath.trend(slope: slope, deadBand: config.trendDeadBand)
            let n = direction == .stable ? Fixed.zero : FeatureMath.normalised(slope, scale: config.trendScale)
            weighted += w.trend.multiplied(by: n, scale: 12, .toNearestOrEven)
            add(SignalComponent(factor: .fundingTrend, value: slope, weight: w.trend, sourceSeq: f.lastRef.raw))
        }
        if w.persistence.isPositive {
            guard let share = f.persistenceShare else {
                return .missing(.persistence, limit: Fixed(Int64(config.windows.persistence)), observed: seen)
            }
            let n = share.multiplied(by: 2) - Fixed(1)
            weighted += w.persistence.multiplied(by: n, scale: 12, .toNearestOrEven)
            add(SignalComponent(factor: .persistence, value: share, weight: w.persistence, sourceSeq: f.lastRef.raw))
            add(SignalComponent(factor: .persistenceRun, value: Fixed(Int64(f.persistenceRun)), weight: .zero, sourceSeq: f.lastRef.raw))
        }
        if w.basis.isPositive {
            guard let b = features.basis(pair: i), b.count >= config.windows.basis else {
                return .missing(.basis, limit: Fixed(Int64(config.windows.basis)), observed: Fixed(Int64(features.basis(pair: i)?.count ?? 0)))
            }
            let halfRange = (b.max - b.min).divided(by: Int64(2), scale: FeatureMath.rateScale, .toNearestOrEven)
            let n = FeatureMath.normalised(b.current - b.mean, scale: halfRange)
            weighted += w.basis.multiplied(by: n, scale: 12, .toNearestOrEven)
            add(SignalComponent(factor: .basis, value: b.current, weight: w.basis, sourceSeq: b.ref.raw))
            add(SignalComponent(factor: .basisRange, value: b.max - b.min, weight: .zero, sourceSeq: b.ref.raw))
        }
        // Volume: needed for the cost's impact term whatever its weight.
        guard let spotVolume = features.volume(p.spot), let perpVolume = features.volume(p.perp) else {
            return .missing(.volume, limit: Fixed(Int64(config.windows.volumeBars)), observed: .zero)
        }
        let thinner = spotVolume.quote < perpVolume.quote ? spotVolume : perpVolume
        if w.volume.isPositive {
            let ratio = thinner.quote.divided(by: config.maxNotionalUsdt, scale: 6, .down)
            weighted += w.volume.multiplied(by: FeatureMath.normalised(ratio, scale: config.volumeScale, lower: .zero), scale: 12, .toNearestOrEven)
            add(SignalComponent(factor: .volume, value: ratio, weight: w.volume, sourceSeq: thinner.ref.raw))
        }
        guard let spotFee = takerFees[i].spot, let perpFee = takerFees[i].perp else {
            return .missing(.roundTripCost, limit: .zero, observed: .zero)
        }
        let score = weighted.divided(by: w.total, scale: 6, .toNearestOrEven)

        // Costs and carry, fractions of notional.
        let bars = Int64(config.windows.volumeBars)
        var roundTrip = (spotFee + perpFee).multiplied(by: 2) + slippage.halfSpread.multiplied(by: 4)
        if slippage.impactCoefficient.isPositive, spotVolume.quote.isPositive, perpVolume.quote.isPositive {
            // notional ÷ (volume ÷ bars) per leg.
            let spotShare = config.maxNotionalUsdt.multiplied(by: bars).divided(by: spotVolume.quote, scale: FeatureMath.rateScale, .up)
            let perpShare = config.maxNotionalUsdt.multiplied(by: bars).divided(by: perpVolume.quote, scale: FeatureMath.rateScale, .up)
            roundTrip += slippage.impactCoefficient.multiplied(by: (spotShare + perpShare).multiplied(by: 2), scale: FeatureMath.rateScale, .up)
        }
        let expectedFunding = expected.multiplied(by: config.expectedHoldingMs, dividedBy: 8 * Millis.hour, scale: FeatureMath.rateScale, .toNearestOrEven)
        let net = expectedFunding - roundTrip
        var breakeven: Fixed?
        if expected.isPositive {
            breakeven = roundTrip.multiplied(by: 8).divided(by: expected, scale: 2, .up)
        }
        add(SignalComponent(factor: .roundTripCost, value: roundTrip, weight: .zero, sourceSeq: 0))
        add(SignalComponent(factor: .expectedCarry, value: net, weight: .zero, sourceSeq: 0))
        add(SignalComponent(factor: .breakevenHours, value: breakeven ?? Fixed(-1), weight: .zero, sourceSeq: 0))
        return .scored(CompositeScore(score: score, expectedRate: expected, roundTrip: roundTrip, expectedNetCarry: net, breakevenHours: breakeven,
                                      components: components, sourceSeq: f.lastRef.raw))
    }

    /// Conviction from a score: 0 at the entry score, 1 at a perfect score.
    public func conviction(_ score: Fixed) -> Fixed {
        let room = Fixed(1) - config.entryScore
        guard room.isPositive else { return Fixed(1) }
        return Fixed.min(Fixed(1), Fixed.max(.zero, (score - config.entryScore).divided(by: room, scale: 6, .down)))
    }

    /// The verdict on entering flat pair `i`: a candidate, or why not; with the score it rests
    /// on when the pair could be scored (callers need not evaluate it again).
    func entryVerdict(_ i: Int, view: StrategyView, components: Bool = true) -> (candidate: EntryCandidate, score: CompositeScore?) {
        let p = pairs[i]
        guard view.mark(p.spot) != nil, view.mark(p.perp) != nil else {
            return (EntryCandidate(pairIndex: i, score: .zero, conviction: .zero, sourceSeq: 0,
                                   veto: EntryVeto(reason: .missingFeature, factor: .mark, limit: .zero, observed: .zero)), nil)
        }
        switch evaluate(i, now: view.now, components: components) {
        case .missing(let factor, let limit, let observed):
            return (EntryCandidate(pairIndex: i, score: .zero, conviction: .zero, sourceSeq: 0,
                                   veto: EntryVeto(reason: .missingFeature, factor: factor, limit: limit, observed: observed)), nil)
        case .scored(let s):
            let source = s.sourceSeq
            var veto: EntryVeto?
            let gate = s.roundTrip.multiplied(by: config.feeGateMultiple, scale: FeatureMath.rateScale, .up)
            if s.score < config.entryScore {
                veto = EntryVeto(reason: .belowEntry, factor: nil, limit: config.entryScore, observed: s.score)
            } else if s.expectedNetCarry < gate {
                veto = EntryVeto(reason: .feeGate, factor: .expectedCarry, limit: gate, observed: s.expectedNetCarry)
            }
            return (EntryCandidate(pairIndex: i, score: s.score, conviction: veto == nil ? conviction(s.score) : .zero, sourceSeq: source, veto: veto), s)
        }
    }

    public func entries(_ view: StrategyView) -> [EntryCandidate] {
        var ready: [EntryCandidate] = []
        var vetoed: [EntryCandidate] = []
        for (i, pair) in view.pairs.enumerated() where pair.phase == .flat {
            // The score alone: `entrySignal(for:)` builds the components of those journaled.
            let c = entryVerdict(i, view: view, components: false).candidate
            if c.veto == nil { ready.append(c) } else { vetoed.append(c) }
        }
        if ready.count > 1 { ready.sort { $0.score != $1.score ? $0.score > $1.score : $0.pairIndex < $1.pairIndex } }
        return ready + vetoed
    }

    public func entrySignal(for c: EntryCandidate, pair p: PairSpec, view: StrategyView) -> SignalComputed {
        var components: [SignalComponent] = []
        if case .scored(let s) = evaluate(c.pairIndex, now: view.now) { components = s.components }
        components.append(SignalComponent(factor: .threshold, value: config.entryScore, weight: .zero, sourceSeq: 0))
        return SignalComputed(strategy: .composite, perp: p.perp, spot: p.spot, action: .enter, direction: .longSpotShortPerp,
                              score: c.score, components: components)
    }

    public func exits(_ view: StrategyView) -> [ExitSignal] {
        var out: [ExitSignal] = []
        var held: [(pair: Int, score: CompositeScore)] = []
        for (i, pair) in view.pairs.enumerated() where pair.phase == .open {
            let p = pair.spec
            let heldMs = pair.openedAt.map { view.now.msSince($0) } ?? 0
            let verdict = evaluate(i, now: view.now)
            var components: [SignalComponent]
            var score = Fixed.zero
            switch verdict {
            case .scored(let s):
                components = s.components
                score = s.score
            case .missing:
                components = []
            }
            components.append(SignalComponent(factor: .holdingTime, value: Fixed(heldMs / Millis.hour), weight: .zero, sourceSeq: 0))
            func exit(_ extra: [SignalComponent]) {
                out.append(ExitSignal(pairIndex: i, signal: SignalComputed(strategy: .composite, perp: p.perp, spot: p.spot, action: .exit,
                                                                           direction: .longSpotShortPerp, score: score, components: components + extra)))
            }
            if heldMs >= config.maxHoldingMs {
                exit([SignalComponent(factor: .threshold, value: Fixed(config.maxHoldingMs / Millis.hour), weight: .zero, sourceSeq: 0)])
                continue
            }
            // Target profit: funding collected less costs paid and the close still to pay.
            if case .scored(let s) = verdict, let mark = view.mark(p.perp), pair.targetQty.isPositive {
                let notional = pair.targetQty.multiplied(by: mark, scale: quoteScale, .up)
                let roundTripUsdt = notional.multiplied(by: s.roundTrip, scale: quoteScale, .up)
                let closeCost = roundTripUsdt.divided(by: Int64(2), scale: quoteScale, .up)
                let net = pair.fundingUsdt - pair.costsUsdt - closeCost
                let target = roundTripUsdt.multiplied(by: config.targetProfitMultiple, scale: quoteScale, .up)
                if config.targetProfitMultiple.isPositive && net >= target {
                    exit([SignalComponent(factor: .netCollected, value: net, weight: .zero, sourceSeq: 0),
                          SignalComponent(factor: .threshold, value: target, weight: .zero, sourceSeq: 0)])
                    continue
                }
            }
            guard heldMs >= config.minHoldingMs else { continue }
            switch verdict {
            case .missing:
                continue    // no opinion without data: hold until the time limit
            case .scored(let s):
                if s.score < config.exitScore {
                    exit([SignalComponent(factor: .threshold, value: config.exitScore, weight: .zero, sourceSeq: 0)])
                } else {
                    held.append((i, s))
                }
            }
        }
        // Replacement: all places taken, and the best flat candidate pays more than the
        // weakest held pair (past its minimum holding) by more than switching costs.
        let active = view.pairs.reduce(0) { $0 + ($1.phase == .flat ? 0 : 1) } - out.count
        guard active >= config.maxOpenPairs, let weakest = held.min(by: { $0.score.expectedRate != $1.score.expectedRate ? $0.score.expectedRate < $1.score.expectedRate : $0.pair > $1.pair }) else { return out }
        var best: (candidate: EntryCandidate, rate: Fixed, roundTrip: Fixed)?
        // Only a candidate the reducer would enter now (not cooling down, not halted) is worth a switch.
        for (i, pair) in view.pairs.enumerated() where pair.phase == .flat && pair.entryAllowed {
            let (c, scored) = entryVerdict(i, view: view, components: false)
            guard c.veto == nil, let s = scored else { continue }
            if best == nil || s.expectedRate > best!.rate { best = (c, s.expectedRate, s.roundTrip) }
        }
        guard let best else { return out }
        let advantage = (best.rate - weakest.score.expectedRate).multiplied(by: config.expectedHoldingMs, dividedBy: 8 * Millis.hour,
                                                              scale: FeatureMath.rateScale, .toNearestOrEven)
        // Switching closes the held pair and opens the candidate: half of each round trip.
        let switching = (weakest.score.roundTrip + best.roundTrip).divided(by: Int64(2), scale: FeatureMath.rateScale, .up)
        let bar = switching.multiplied(by: config.switchMargin, scale: FeatureMath.rateScale, .up)
        guard advantage > bar else { return out }
        let i = weakest.pair
        let p = pairs[i]
        var components = weakest.score.components
        let score = weakest.score.score
        components.append(SignalComponent(factor: .replacement, value: advantage, weight: .zero, sourceSeq: UInt64(best.candidate.sourceSeq)))
        components.append(SignalComponent(factor: .threshold, value: bar, weight: .zero, sourceSeq: 0))
        out.append(ExitSignal(pairIndex: i, signal: SignalComputed(strategy: .composite, perp: p.perp, spot: p.spot, action: .exit,
                                                                   direction: .longSpotShortPerp, score: score, components: components)))
        return out
    }
}

extension CompositeStrategyConfig {
    /// The documented defaults (config/backtest-composite.yaml), chosen on the in-sample half
    /// of the bundled data (2025-09-13 → 2025-12-16) by scripts/oos-study: three days of
    /// settlements for level and trend, a week for persistence, three days of hourly bars for
    /// the basis; enter at a score of 0.3 when the expected carry over 30 days clears the round
    /// trip once more; hold at least 7 days; leave below −0.3. (The time limit is strategy.maxHolding,
    /// 30 days by default; config/backtest-composite.yaml sets 90.)
    public static let defaults = CompositeStrategyConfig(
        weights: CompositeWeights(level: Fixed("0.5")!, trend: Fixed("0.1")!, persistence: Fixed("0.3")!, basis: Fixed("0.05")!, volume: Fixed("0.05")!),
        windows: FeatureWindows(level: 9, trend: 9, persistence: 21, basis: 72, volumeBars: 24),
        levelScale: Fixed("0.0001")!, trendDeadBand: Fixed("0.000001")!, trendScale: Fixed("0.000005")!, persistenceLevel: Fixed("0.00005")!,
        volumeScale: Fixed(1000), entryScore: Fixed("0.3")!, exitScore: Fixed("-0.3")!, minHoldingMs: 7 * Millis.day, maxHoldingMs: 30 * Millis.day,
        expectedHoldingMs: 30 * Millis.day, feeGateMultiple: Fixed(1), targetProfitMultiple: Fixed(3), switchMargin: Fixed(1),
        minNotionalUsdt: Fixed(10_000), maxNotionalUsdt: Fixed(25_000), maxOpenPairs: 3, maxRateAgeMs: 9 * Millis.hour)
}
