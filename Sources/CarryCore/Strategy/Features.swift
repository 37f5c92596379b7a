// Market features for the composite strategy, kept from journaled inputs only: settled and
// predicted funding per perpetual, the spot–perp basis per pair at shared bar closes, and
// quote volume per instrument. Nothing reads ahead: a feature at time T is a function of the
// inputs with event time ≤ T, in journal order (the look-ahead tests perturb everything after
// T and compare every value before it).
//
// Methods (all exact fixed-point; statistics that need a square root or a log are avoided):
// - Level: the mean of the last `levelWindow` settled rates per 8 h (each normalised with the
//   interval it settled under, so a 4 h or 1 h contract compares with an 8 h one).
// - Trend: the least-squares slope of the last `trendWindow` settled rates per 8 h against
//   their index (0 … N−1), in rate per settlement:
//       slope = 6 · Σ (2i − (N − 1)) · r_i / (N · (N² − 1))
//   up when slope > dead band, down when slope < −dead band, stable between.
// - Persistence: of the last `persistenceWindow` settlements, the share strictly above the
//   persistence level, and the run of consecutive ones above it ending at the newest.
// - Basis: (perp close − spot close) ÷ spot close at bar closes both legs share; its min, max
//   and mean over the last `basisWindow` shared closes.
// - Volume: the quote volume of an instrument's last `volumeBars` bars (24 h of the engine's
//   bar interval); a pair's volume is its thinner leg's.

/// The direction of a funding rate's trend.
public enum TrendDirection: Int8, Sendable, Equatable, CustomStringConvertible {
    case down = -1
    case stable = 0
    case up = 1

    public var description: String {
        switch self {
        case .down: return "down"
        case .stable: return "stable"
        case .up: return "up"
        }
    }
}

/// Pure feature arithmetic, testable against hand-computed cases.
public enum FeatureMath {
    /// Scale of rates and fractions computed here.
    public static let rateScale = 12

    /// Mean of `values` at `rateScale`, rounded half-even; nil when empty.
    public static func mean<C: Collection>(_ values: C) -> Fixed? where C.Element == Fixed {
        guard !values.isEmpty else { return nil }
        var sum = Fixed.zero
        for v in values { sum += v }
        return sum.divided(by: Int64(values.count), scale: rateScale, .toNearestOrEven)
    }

    /// Least-squares slope of `values` (oldest first) against 0 … N−1, per step; nil for fewer
    /// than two values.
    public static func slope<C: Collection>(_ values: C) -> Fixed? where C.Element == Fixed {
        let n = Int64(values.count)
        guard n >= 2 else { return nil }
        var weighted = Fixed.zero
        for (i, v) in values.enumerated() { weighted += v.multiplied(by: 2 * Int64(i) - (n - 1)) }
        return weighted.multiplied(by: 6, dividedBy: n * (n * n - 1), scale: rateScale, .toNearestOrEven)
    }

    /// The trend of a slope against a dead band (|slope| ≤ band is stable).
    public static func trend(slope: Fixed, deadBand: Fixed) -> TrendDirection {
        if slope > deadBand { return .up }
        if slope < -deadBand { return .down }
        return .stable
    }

    /// Share of `values` strictly above `level` (0…1 at 6 decimals, rounded down) and the run
    /// of consecutive values above it ending at the newest (the last element).
    public static func persistence<C: BidirectionalCollection>(_ values: C, above level: Fixed) -> (share: Fixed, run: Int) where C.Element == Fixed {
        guard !values.isEmpty else { return (.zero, 0) }
        var above = 0
        for v in values where v > level { above += 1 }
        var run = 0
        for v in values.reversed() {
            guard v > level else { break }
            run += 1
        }
        return (Fixed(Int64(above)).divided(by: Int64(values.count), scale: 6, .down), run)
    }

    /// (perp − spot) ÷ spot at `rateScale`; nil when spot is not positive.
    public static func basis(spot: Fixed, perp: Fixed) -> Fixed? {
        guard spot.isPositive else { return nil }
        return (perp - spot).divided(by: spot, scale: rateScale, .toNearestOrEven)
    }

    /// `value ÷ scale` clamped to [lower, 1], at 6 decimals: the normalisation every score
    /// component goes through. A zero scale gives 0.
    public static func normalised(_ value: Fixed, scale: Fixed, lower: Fixed = Fixed(-1)) -> Fixed {
        guard scale.isPositive else { return .zero }
        let r = value.divided(by: scale, scale: 6, .toNearestOrEven)
        return Fixed.min(Fixed(1), Fixed.max(lower, r))
    }
}

/// The last `capacity` values of a series, oldest first, with their times and sources.
public struct RecentSeries: Sendable, Equatable {
    public let capacity: Int
    public private(set) var values: [Fixed] = []
    public private(set) var times: [Timestamp] = []
    public private(set) var refs: [CausationRef] = []

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        values.reserveCapacity(capacity + 1)
    }

    public mutating func append(_ value: Fixed, time: Timestamp, ref: CausationRef) {
        values.append(value)
        times.append(time)
        refs.append(ref)
        if values.count > capacity {
            values.removeFirst()
            times.removeFirst()
            refs.removeFirst()
        }
    }

    public var count: Int { values.count }
    /// The newest `n` values, oldest first; nil when fewer were seen.
    public func last(_ n: Int) -> ArraySlice<Fixed>? { values.count >= n ? values[(values.count - n)...] : nil }
}

/// How far back features look.
public struct FeatureWindows: Sendable, Equatable {
    /// Settlements averaged for the level.
    public var level: Int
    /// Settlements the trend's slope is fitted over.
    public var trend: Int
    /// Settlements persistence is measured over.
    public var persistence: Int
    /// Shared bar closes the basis range is measured over.
    public var basis: Int
    /// Bars summed for volume (24 h of the engine's bars).
    public var volumeBars: Int

    public init(level: Int, trend: Int, persistence: Int, basis: Int, volumeBars: Int) {
        self.level = level
        self.trend = trend
        self.persistence = persistence
        self.basis = basis
        self.volumeBars = volumeBars
    }

    /// The most settlements any funding feature needs.
    public var settlements: Int { max(level, trend, persistence) }
}

/// The funding of one perpetual as features see it.
public struct FundingFeature: Sendable, Equatable {
    /// Mean of the last `level` settled rates per 8 h.
    public var level: Fixed
    /// The newest settled rate per 8 h, when it settled, and its source.
    public var last: Fixed
    public var lastTime: Timestamp
    public var lastRef: CausationRef
    /// The venue's predicted rate per 8 h for the next settlement, if one is known and due.
    public var predicted: Fixed?
    public var predictedRef: CausationRef
    /// Slope per settlement, and its direction (nil: too few settlements).
    public var slope: Fixed?
    /// Share above the persistence level and the current run (nil: too few settlements).
    public var persistenceShare: Fixed?
    public var persistenceRun: Int
}

/// What a perp's settled rates say whatever the time: the parts of a `FundingFeature` that
/// change only with a settlement.
struct FundingStatistics: Sendable {
    var level: Fixed
    var slope: Fixed?
    var persistenceShare: Fixed?
    var persistenceRun = 0

    init(_ series: RecentSeries, windows: FeatureWindows, persistenceLevel: Fixed) {
        level = FeatureMath.mean(series.last(windows.level) ?? series.values[...])!
        if let t = series.last(windows.trend) { slope = FeatureMath.slope(t) }
        if let w = series.last(windows.persistence) {
            let p = FeatureMath.persistence(w, above: persistenceLevel)
            persistenceShare = p.share
            persistenceRun = p.run
        }
    }
}

/// The basis of one pair.
public struct BasisFeature: Sendable, Equatable {
    public var current: Fixed
    public var min: Fixed
    public var max: Fixed
    public var mean: Fixed
    /// Shared closes in the window.
    public var count: Int
    public var ref: CausationRef
}

/// Every feature, updated from market inputs.
public struct MarketFeatures: Sendable, Equatable {
    public let windows: FeatureWindows
    public let pairs: [PairSpec]
    /// Settled rates per 8 h, by perp instrument index.
    private var settled: [RecentSeries?] = []
    /// Predicted rate per 8 h, its next settlement time and source, by perp index.
    private var predicted: [(rate: Fixed, due: Timestamp, ref: CausationRef)?] = []
    /// Last bar close, its close time and source, by instrument index.
    private var lastClose: [(price: Fixed, time: Timestamp, ref: CausationRef)?] = []
    /// Basis at shared closes, by pair index.
    private var basisSeries: [RecentSeries]
    /// Quote volume of the last bars, by instrument index (ring, running sum).
    private var volumeRing: [[Fixed]] = []
    private var volumeNext: [Int] = []
    private var volumeSum: [Fixed] = []
    private var volumeRef: [CausationRef] = []
    /// Pair index by instrument index.
    private var pairOf: [Int?] = []
    /// The persistence level the owner asks with, if it said at init: then each perp's
    /// level, slope and persistence are computed as its settlements arrive (`fundingMemo`)
    /// instead of at every ask — a scan asks for every pair every hour, and they change at
    /// settlements only (a composite config spent a sixth of its time recomputing them).
    private let memoLevel: Fixed?
    /// By perp index: a function of `settled` (and `memoLevel`), so not compared.
    private var fundingMemo: [FundingStatistics?] = []
    /// Each pair's basis feature as of its series' last shared close, computed when that
    /// close comes (a scan asks for it once or twice per pair: entries, and the replacement
    /// search when every place is taken). A function of `basisSeries`, so not compared.
    private var basisMemo: [BasisFeature?]

    /// Features over `pairs`; `persistenceLevel` is the level `funding(_:now:persistenceLevel:)`
    /// will be asked with, when known (asked with another, it computes as it is asked).
    public init(windows: FeatureWindows, pairs: [PairSpec], persistenceLevel: Fixed? = nil) {
        self.windows = windows
        self.pairs = pairs
        memoLevel = persistenceLevel
        basisSeries = Array(repeating: RecentSeries(capacity: windows.basis), count: pairs.count)
        basisMemo = Array(repeating: nil, count: pairs.count)
        for (i, p) in pairs.enumerated() {
            grow(p.spot.index)
            grow(p.perp.index)
            pairOf[p.spot.index] = i
            pairOf[p.perp.index] = i
        }
    }

    public static func == (a: MarketFeatures, b: MarketFeatures) -> Bool {
        a.windows == b.windows && a.pairs == b.pairs && a.settled == b.settled && a.basisSeries == b.basisSeries
            && a.volumeRing == b.volumeRing && a.volumeSum == b.volumeSum && a.volumeNext == b.volumeNext && a.volumeRef == b.volumeRef
            && a.predicted.elementsEqual(b.predicted) { $0?.rate == $1?.rate && $0?.due == $1?.due && $0?.ref == $1?.ref }
            && a.lastClose.elementsEqual(b.lastClose) { $0?.price == $1?.price && $0?.time == $1?.time && $0?.ref == $1?.ref }
    }

    private mutating func grow(_ i: Int) {
        while settled.count <= i {
            settled.append(nil)
            fundingMemo.append(nil)
            predicted.append(nil)
            lastClose.append(nil)
            volumeRing.append([])
            volumeNext.append(0)
            volumeSum.append(.zero)
            volumeRef.append(.none)
            pairOf.append(nil)
        }
    }

    /// Learns from a market input (bars must already be filtered to the engine's interval).
    public mutating func observe(_ input: MarketInput, time: Timestamp, ref: CausationRef) {
        switch input {
        case .fundingSettled(let f):
            guard f.intervalMinutes > 0 else { return }
            let i = f.instrumentId.index
            grow(i)
            if settled[i] == nil { settled[i] = RecentSeries(capacity: windows.settlements) }
            settled[i]!.append(FundingMath.per8h(f.ratePerInterval, intervalMinutes: f.intervalMinutes), time: time, ref: ref)
            if let memoLevel { fundingMemo[i] = FundingStatistics(settled[i]!, windows: windows, persistenceLevel: memoLevel) }
        case .fundingPredicted(let p):
            guard p.intervalMinutes > 0 else { return }
            let i = p.instrumentId.index
            grow(i)
            predicted[i] = (FundingMath.per8h(p.predictedRatePerInterval, intervalMinutes: p.intervalMinutes), p.nextSettlementTime, ref)
        case .bar(let bar):
            let i = bar.instrumentId.index
            grow(i)
            lastClose[i] = (bar.close, time, ref)
            addVolume(i, bar.volumeQuote, ref: ref)
            guard let pi = pairOf[i] else { return }
            let p = pairs[pi]
            guard let s = lastClose[p.spot.index], let q = lastClose[p.perp.index], s.time == q.time,
                  let b = FeatureMath.basis(spot: s.price, perp: q.price) else { return }
            basisSeries[pi].append(b, time: time, ref: ref)
            basisMemo[pi] = Self.basisFeature(basisSeries[pi])
        case .defined, .quote, .fundingInterval:
            break
        }
    }

    private mutating func addVolume(_ i: Int, _ v: Fixed, ref: CausationRef) {
        let n = windows.volumeBars
        if volumeRing[i].count < n {
            volumeRing[i].append(v)
        } else {
            volumeSum[i] -= volumeRing[i][volumeNext[i]]
            volumeRing[i][volumeNext[i]] = v
            volumeNext[i] = (volumeNext[i] + 1) % n
        }
        volumeSum[i] += v
        volumeRef[i] = ref
    }

    /// The funding features of a perp at `now` (nil: no settlement yet). A prediction counts
    /// only while its settlement is still ahead.
    public func funding(_ perp: InstrumentId, now: Timestamp, persistenceLevel: Fixed) -> FundingFeature? {
        let i = perp.index
        guard i < settled.count, let series = settled[i], let last = series.values.last else { return nil }
        let stats = (memoLevel == persistenceLevel ? fundingMemo[i] : nil)
            ?? FundingStatistics(series, windows: windows, persistenceLevel: persistenceLevel)
        var f = FundingFeature(level: stats.level, last: last, lastTime: series.times.last!, lastRef: series.refs.last!,
                               predicted: nil, predictedRef: .none, slope: stats.slope, persistenceShare: stats.persistenceShare,
                               persistenceRun: stats.persistenceRun)
        if let p = predicted[i], p.due > now {
            f.predicted = p.rate
            f.predictedRef = p.ref
        }
        return f
    }

    /// How many settlements of a perp have been seen (capped at the longest window).
    public func settlementCount(_ perp: InstrumentId) -> Int { perp.index < settled.count ? settled[perp.index]?.count ?? 0 : 0 }

    /// The basis of pair `i` (nil: no shared close yet).
    public func basis(pair i: Int) -> BasisFeature? { basisMemo[i] }

    private static func basisFeature(_ s: RecentSeries) -> BasisFeature? {
        guard let current = s.values.last else { return nil }
        var lo = current, hi = current
        for v in s.values {
            lo = Fixed.min(lo, v)
            hi = Fixed.max(hi, v)
        }
        return BasisFeature(current: current, min: lo, max: hi, mean: FeatureMath.mean(s.values)!, count: s.count, ref: s.refs.last!)
    }

    /// Quote volume of an instrument's last `volumeBars` bars; nil until that many were seen.
    public func volume(_ id: InstrumentId) -> (quote: Fixed, ref: CausationRef)? {
        let i = id.index
        guard i < volumeRing.count, volumeRing[i].count >= windows.volumeBars else { return nil }
        return (volumeSum[i], volumeRef[i])
    }

    /// The last close of an instrument's bar.
    public func close(_ id: InstrumentId) -> Fixed? { id.index < lastClose.count ? lastClose[id.index]?.price : nil }
}
