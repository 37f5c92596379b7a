// `carry analyze funding`: the funding statistics a carry trader asks for before any backtest —
// level, spread, extremes, how often a rate sits at the 0.01 % baseline, how long elevated rates
// last — per venue, symbol and regime, and the entry thresholds that would have paid for their
// round trip. Statistics are Doubles (they are estimates, not money); the rates themselves come
// exact from the journal.

public import CarryCore
import CarryJournal
import Foundation

/// One settled funding rate.
public struct FundingSample: Sendable, Equatable {
    public var time: Timestamp
    public var ratePerInterval: Fixed
    public var intervalMinutes: UInt32
    /// The rate normalised to 8 h (`FundingMath.per8h`).
    public var rate8h: Fixed

    public init(time: Timestamp, ratePerInterval: Fixed, intervalMinutes: UInt32) {
        self.time = time
        self.ratePerInterval = ratePerInterval
        self.intervalMinutes = intervalMinutes
        self.rate8h = FundingMath.per8h(ratePerInterval, intervalMinutes: intervalMinutes)
    }
}

/// A perpetual's settled funding, in time order.
public struct FundingHistory: Sendable {
    public var venue: Venue
    public var symbol: String
    public var samples: [FundingSample]

    public init(venue: Venue, symbol: String, samples: [FundingSample]) {
        self.venue = venue
        self.symbol = symbol
        self.samples = samples.sorted { $0.time < $1.time }
    }

    /// Every perpetual's funding in a market journal (one pass over the funding records only),
    /// optionally limited to venues and symbols.
    public static func load(from market: MarketJournal, venues: Set<Venue>? = nil, symbols: Set<String>? = nil) throws -> [FundingHistory] {
        var byInstrument: [InstrumentId: [FundingSample]] = [:]
        let wanted = Set(market.instruments.compactMap { d -> InstrumentId? in
            guard d.kind == .linearPerpetual, venues?.contains(d.venue) ?? true, symbols?.contains(d.symbol) ?? true else { return nil }
            return d.id
        })
        try market.journal.withSnapshot { snap in
            _ = try snap.scan { view in
                guard view.header.kindCode == EventKind.fundingSettled.rawValue,
                      case .fundingSettled(let f) = try view.decode(), wanted.contains(f.instrumentId), f.intervalMinutes > 0 else { return true }
                byInstrument[f.instrumentId, default: []].append(FundingSample(time: view.header.eventTime, ratePerInterval: f.ratePerInterval,
                                                                               intervalMinutes: f.intervalMinutes))
                return true
            }
        }
        return byInstrument.compactMap { id, samples in
            guard let d = market.instrument(id) else { return nil }
            return FundingHistory(venue: d.venue, symbol: d.symbol, samples: samples)
        }.sorted { ($0.venue.rawValue, $0.symbol) < ($1.venue.rawValue, $1.symbol) }
    }

    /// The samples settled in [from, to).
    public func slice(_ regime: RegimeSpan) -> [FundingSample] {
        samples.filter { $0.time >= regime.from && $0.time < regime.to }
    }
}

extension RegimeSpan {
    /// The whole history.
    public static let all = RegimeSpan(name: "all", from: .distantPast, to: .distantFuture)

    /// One span per calendar year (UTC) that has samples in any of `histories`.
    public static func years(of histories: [FundingHistory]) -> [RegimeSpan] {
        let years = Set(histories.flatMap { $0.samples.map(\.time.civil.year) }).sorted()
        return years.map { RegimeSpan(name: String($0), from: Timestamp(year: $0, month: 1, day: 1)!, to: Timestamp(year: $0 + 1, month: 1, day: 1)!) }
    }
}

/// Elevated-rate episodes: runs of consecutive settlements at or above a level.
public struct ElevatedEpisodes: Sendable, Equatable, Codable {
    public var level8h: Double
    public var episodes: Int
    public var meanHours: Double?
    public var medianHours: Double?
    public var longestHours: Double?
}

/// What an entry threshold would have earned on funding alone over a span, after round trips.
///
/// The rule, with no look-ahead: after a settlement whose 8 h rate is at least `entry8h`, the
/// pair opens (paying half the round trip); it collects every later settlement's rate per
/// interval while held; after a settlement below `exit8h` it closes (the other half). A pair
/// still open at the span's end is charged its exit too. Prices and basis are left out: this
/// is the funding side of the carry, which is what a threshold decides on.
public struct ThresholdOutcome: Sendable, Equatable, Codable {
    public var entry8h: Double
    public var exit8h: Double
    public var episodes: Int
    public var settlementsHeld: Int
    public var hoursHeld: Double
    /// Funding collected, as a fraction of the perp leg's notional.
    public var gross: Double
    /// Round trips paid, same unit.
    public var costs: Double
    public var net: Double { gross - costs }
    /// Net per year of time held (nil when never held).
    public var netAprWhileHeld: Double? { hoursHeld > 0 ? net / (hoursHeld / 8760) : nil }
}

/// The statistics of one venue, symbol and regime.
public struct FundingStats: Sendable, Equatable, Codable {
    public var venue: String
    public var symbol: String
    public var regime: String
    public var from: String
    public var to: String
    public var settlements: Int
    /// 8 h-normalised rate statistics (fractions: 0.0001 is 0.01 %).
    public var mean8h: Double
    public var median8h: Double
    public var stdev8h: Double
    public var p05: Double, p25: Double, p75: Double, p95: Double
    public var min8h: String, minAt: String
    public var max8h: String, maxAt: String
    public var sharePositive: Double
    public var shareNegative: Double
    /// Share of settlements exactly at 0.01 % per 8 h (the interest-only baseline).
    public var shareBaseline: Double
    /// Funding a short perp held throughout collected, per year of the span's settled time.
    public var carryApr: Double
    /// Lag-1 autocorrelation of the 8 h rate between consecutive settlements.
    public var autocorrelation: Double?
    /// Hours for a deviation from the mean to halve under AR(1) with the lag-1 coefficient.
    public var halfLifeHours: Double?
    public var elevated: ElevatedEpisodes
    /// The grid's thresholds that netted a profit after round trips (their outcomes in
    /// `thresholds`).
    public var profitableEntries: [Double]
    public var thresholds: [ThresholdOutcome]
}

/// The analysis: statistics per venue, symbol and regime.
public enum FundingAnalysis {
    /// Default entry thresholds (per 8 h): 0 to 0.1 %.
    public static let defaultGrid: [Double] = [0, 0.000025, 0.00005, 0.000075, 0.0001, 0.000125, 0.00015, 0.0002, 0.0003, 0.0005, 0.00075, 0.001]
    /// The interest-only baseline, per 8 h.
    public static let baseline = Fixed("0.0001")!

    /// Statistics of `samples` (time order); nil when there are none.
    public static func stats(venue: Venue, symbol: String, regime: RegimeSpan, samples: [FundingSample],
                             elevated8h: Double, exit8h: Double, roundTripCost: Double, grid: [Double] = defaultGrid) -> FundingStats? {
        guard let first = samples.first, let last = samples.last else { return nil }
        let x = samples.map { $0.rate8h.doubleValue }
        let n = Double(x.count)
        let moments = ReturnMoments(x)
        let sorted = x.sorted()
        let minSample = samples.min { ($0.rate8h, $1.time) < ($1.rate8h, $0.time) }!
        let maxSample = samples.max { ($0.rate8h, $1.time) < ($1.rate8h, $0.time) }!
        let hours = samples.reduce(0.0) { $0 + Double($1.intervalMinutes) / 60 }
        let collected = samples.reduce(0.0) { $0 + $1.ratePerInterval.doubleValue }
        let r1 = autocorrelation(x)
        let meanInterval = hours / n
        var halfLife: Double?
        if let r1, r1 > 0, r1 < 1 { halfLife = log(0.5) / log(r1) * meanInterval }
        let outcomes = grid.map { threshold(samples, entry8h: $0, exit8h: min(exit8h, $0), roundTripCost: roundTripCost) }
        return FundingStats(
            venue: venue.description, symbol: symbol, regime: regime.name, from: first.time.iso8601, to: last.time.iso8601, settlements: x.count,
            mean8h: moments.mean, median8h: quantile(sorted, 0.5), stdev8h: moments.deviation,
            p05: quantile(sorted, 0.05), p25: quantile(sorted, 0.25), p75: quantile(sorted, 0.75), p95: quantile(sorted, 0.95),
            min8h: minSample.rate8h.normalized.description, minAt: minSample.time.iso8601,
            max8h: maxSample.rate8h.normalized.description, maxAt: maxSample.time.iso8601,
            sharePositive: Double(samples.filter { $0.rate8h.isPositive }.count) / n,
            shareNegative: Double(samples.filter { $0.rate8h.isNegative }.count) / n,
            shareBaseline: Double(samples.filter { $0.rate8h == baseline }.count) / n,
            carryApr: hours > 0 ? collected / (hours / 8760) : 0,
            autocorrelation: r1, halfLifeHours: halfLife,
            elevated: episodes(samples, level8h: elevated8h),
            profitableEntries: outcomes.filter { $0.net > 0 }.map(\.entry8h), thresholds: outcomes)
    }

    /// Quantile by linear interpolation between closest ranks (type 7: NumPy's default and
    /// Python's `statistics.quantiles(method="inclusive")`) of ascending `sorted`.
    public static func quantile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let h = Double(sorted.count - 1) * p
        let lo = Int(h.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
        return sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo])
    }

    /// Lag-1 autocorrelation Σ(xₜ−x̄)(xₜ₊₁−x̄) ÷ Σ(xₜ−x̄)²; nil for fewer than 3 values or none varying.
    public static func autocorrelation(_ x: [Double]) -> Double? {
        guard x.count >= 3 else { return nil }
        let mean = x.reduce(0, +) / Double(x.count)
        var num = 0.0, den = 0.0
        for i in x.indices {
            let d = x[i] - mean
            den += d * d
            if i + 1 < x.count { num += d * (x[i + 1] - mean) }
        }
        return den > 0 ? num / den : nil
    }

    /// Runs of consecutive settlements with an 8 h rate ≥ `level8h`; a run's length is the
    /// intervals it covers.
    public static func episodes(_ samples: [FundingSample], level8h: Double) -> ElevatedEpisodes {
        var runs: [Double] = []
        var current = 0.0
        for s in samples {
            if s.rate8h.doubleValue >= level8h {
                current += Double(s.intervalMinutes) / 60
            } else if current > 0 {
                runs.append(current)
                current = 0
            }
        }
        if current > 0 { runs.append(current) }
        let sorted = runs.sorted()
        return ElevatedEpisodes(level8h: level8h, episodes: runs.count, meanHours: runs.isEmpty ? nil : runs.reduce(0, +) / Double(runs.count),
                                medianHours: runs.isEmpty ? nil : quantile(sorted, 0.5), longestHours: sorted.last)
    }

    /// The threshold rule of `ThresholdOutcome` over `samples`.
    public static func threshold(_ samples: [FundingSample], entry8h: Double, exit8h: Double, roundTripCost: Double) -> ThresholdOutcome {
        var out = ThresholdOutcome(entry8h: entry8h, exit8h: exit8h, episodes: 0, settlementsHeld: 0, hoursHeld: 0, gross: 0, costs: 0)
        var held = false
        for s in samples {
            let r = s.rate8h.doubleValue
            if held {
                out.gross += s.ratePerInterval.doubleValue
                out.settlementsHeld += 1
                out.hoursHeld += Double(s.intervalMinutes) / 60
                if r < exit8h {
                    held = false
                    out.costs += roundTripCost / 2
                }
            } else if r >= entry8h {
                held = true
                out.episodes += 1
                out.costs += roundTripCost / 2
            }
        }
        if held { out.costs += roundTripCost / 2 }
        return out
    }

    /// The round trip of a pair as a fraction of one leg's notional: each leg bought and sold
    /// once at the taker rate plus the half spread.
    public static func roundTripCost(spotTaker: Fixed, perpTaker: Fixed, halfSpread: Fixed) -> Double {
        2 * (spotTaker.doubleValue + perpTaker.doubleValue + 2 * halfSpread.doubleValue)
    }

    /// Every history's statistics for `regimes` (regimes with no samples are left out).
    public static func analyze(_ histories: [FundingHistory], regimes: [RegimeSpan], elevated8h: Double, exit8h: Double,
                               roundTripCost: (Venue) -> Double, grid: [Double] = defaultGrid) -> [FundingStats] {
        histories.flatMap { h in
            regimes.compactMap { regime in
                stats(venue: h.venue, symbol: h.symbol, regime: regime, samples: h.slice(regime), elevated8h: elevated8h, exit8h: exit8h,
                      roundTripCost: roundTripCost(h.venue), grid: grid)
            }
        }
    }

    /// Contiguous ranges of profitable thresholds of the grid, e.g. `0.0100–0.0300 %`; `none`.
    public static func profitableRanges(_ s: FundingStats) -> String {
        var ranges: [(Double, Double)] = []
        for t in s.thresholds {
            if t.net > 0 {
                if let last = ranges.last, let i = s.thresholds.firstIndex(where: { $0.entry8h == last.1 }), i + 1 < s.thresholds.count,
                   s.thresholds[i + 1].entry8h == t.entry8h {
                    ranges[ranges.count - 1].1 = t.entry8h
                } else {
                    ranges.append((t.entry8h, t.entry8h))
                }
            }
        }
        guard !ranges.isEmpty else { return "none" }
        return ranges.map { $0.0 == $0.1 ? pct($0.0) : "\(pct($0.0))–\(pct($0.1))" }.joined(separator: ", ")
    }

    static func pct(_ v: Double) -> String { String(format: "%.4f %%", v * 100) }

    // MARK: Output

    /// The statistics as CSV, one row per venue, symbol and regime.
    public static func statsCSV(_ stats: [FundingStats]) -> String {
        var out = "venue,symbol,regime,from,to,settlements,mean_8h,median_8h,stdev_8h,p05,p25,p75,p95,min_8h,min_at,max_8h,max_at,"
            + "share_positive,share_negative,share_baseline,carry_apr,autocorrelation,half_life_hours,elevated_level_8h,elevated_episodes,"
            + "elevated_mean_hours,elevated_median_hours,elevated_longest_hours,profitable_entries\n"
        func d(_ v: Double?) -> String { v.map { String(format: "%.10g", $0) } ?? "" }
        for s in stats {
            let cells: [String] = [s.venue, s.symbol, s.regime, s.from, s.to, String(s.settlements), d(s.mean8h), d(s.median8h), d(s.stdev8h),
                                   d(s.p05), d(s.p25), d(s.p75), d(s.p95), s.min8h, s.minAt, s.max8h, s.maxAt, d(s.sharePositive), d(s.shareNegative),
                                   d(s.shareBaseline), d(s.carryApr), d(s.autocorrelation), d(s.halfLifeHours), d(s.elevated.level8h),
                                   String(s.elevated.episodes), d(s.elevated.meanHours), d(s.elevated.medianHours), d(s.elevated.longestHours),
                                   s.profitableEntries.map { d($0) }.joined(separator: " ")]
            out += cells.map(csvField).joined(separator: ",") + "\n"
        }
        return out
    }

    /// Every threshold outcome as CSV.
    public static func thresholdsCSV(_ stats: [FundingStats]) -> String {
        var out = "venue,symbol,regime,entry_8h,exit_8h,episodes,settlements_held,hours_held,gross,costs,net,net_apr_while_held\n"
        for s in stats {
            for t in s.thresholds {
                out += [s.venue, s.symbol, s.regime].map(csvField).joined(separator: ",")
                out += String(format: ",%.10g,%.10g,%d,%d,%.10g,%.10g,%.10g,%.10g,", t.entry8h, t.exit8h, t.episodes, t.settlementsHeld, t.hoursHeld,
                              t.gross, t.costs, t.net)
                out += t.netAprWhileHeld.map { String(format: "%.10g", $0) } ?? ""
                out += "\n"
            }
        }
        return out
    }

    /// The table printed on a terminal.
    public static func table(_ stats: [FundingStats]) -> String {
        let header = ["venue", "symbol", "regime", "n", "mean/8h", "median", "p05", "p95", "min", "max", "pos", "base", "carry APR", "ac1", "half-life",
                      "elev", "profitable entry"]
        var rows: [[String]] = [header]
        for s in stats {
            rows.append([s.venue, s.symbol, s.regime, String(s.settlements), pct(s.mean8h), pct(s.median8h), pct(s.p05), pct(s.p95),
                         pct(Double(s.min8h) ?? 0), pct(Double(s.max8h) ?? 0),
                         String(format: "%.0f%%", s.sharePositive * 100), String(format: "%.0f%%", s.shareBaseline * 100),
                         String(format: "%.2f%%", s.carryApr * 100), s.autocorrelation.map { String(format: "%.2f", $0) } ?? "-",
                         s.halfLifeHours.map { String(format: "%.0fh", $0) } ?? "-",
                         "\(s.elevated.episodes)" + (s.elevated.medianHours.map { String(format: "×%.0fh", $0) } ?? ""), profitableRanges(s)])
        }
        let widths = header.indices.map { c in rows.map { $0[c].count }.max()! }
        return rows.map { row in
            row.enumerated().map { c, cell in c < 3 || c == row.count - 1 ? cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                : String(repeating: " ", count: widths[c] - cell.count) + cell }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}

extension FundingAnalysis {
    /// The self-contained analysis page: the statistics table, then per perpetual its 8 h rate
    /// over time, the distribution of its rates and what each entry threshold netted after
    /// round trips (over the whole history). No scripts, no network.
    public static func html(_ stats: [FundingStats], histories: [FundingHistory], source: String, roundTripCost: (Venue) -> Double) -> String {
        var page = HTMLReport.head(title: "Funding analysis")
        page += "<p class=\"muted\">Source journal <code>\(HTMLReport.escape(source))</code> · rates per 8 h (0.0100 % is the baseline) · "
            + "thresholds judged on funding alone after a round trip of "
            + Set(histories.map { String(format: "%.3f %% (%@)", roundTripCost($0.venue) * 100, $0.venue.description) }).sorted().joined(separator: ", ")
            + " of a leg's notional</p>\n"
        page += "<h2>Statistics</h2>\n<table class=\"stats\"><tr><th>venue</th><th>symbol</th><th>regime</th><th>n</th><th>mean</th><th>median</th><th>p05</th>"
            + "<th>p95</th><th>min</th><th>max</th><th>positive</th><th>baseline</th><th>carry APR</th><th>ac(1)</th><th>half-life</th><th>profitable entries</th></tr>\n"
        for s in stats {
            let cells = [s.venue, s.symbol, s.regime, String(s.settlements), pct(s.mean8h), pct(s.median8h), pct(s.p05), pct(s.p95),
                         pct(Double(s.min8h) ?? 0), pct(Double(s.max8h) ?? 0), String(format: "%.0f %%", s.sharePositive * 100),
                         String(format: "%.0f %%", s.shareBaseline * 100), String(format: "%.2f %%", s.carryApr * 100),
                         s.autocorrelation.map { String(format: "%.2f", $0) } ?? "-", s.halfLifeHours.map { String(format: "%.0f h", $0) } ?? "-",
                         profitableRanges(s)]
            page += "<tr>" + cells.map { "<td>\(HTMLReport.escape($0))</td>" }.joined() + "</tr>\n"
        }
        page += "</table>\n"
        for h in histories where h.samples.count >= 2 {
            let name = "\(h.venue) \(h.symbol)"
            page += "<h2 class=\"symbol\">\(HTMLReport.escape(name))</h2>\n<h3>Rate per 8 h (%)\(h.samples.count > 1500 ? ", daily mean" : "")</h3>\n"
            // A line per stretch of data: a gap of more than a week is left blank, not bridged.
            let segments = ratePoints(h.samples).split(gapMs: 7 * 86_400_000)
            page += HTMLReport.chart(segments.map { HTMLReport.Series(name: name, color: "#0969da", points: $0) }, height: 200, fill: false, unit: " %")
            let (labels, counts) = histogram(h.samples.map { $0.rate8h.doubleValue * 100 }, bins: 30)
            page += "<h3>Distribution (settlements per bin of the 8 h rate, %)</h3>\n"
            page += HTMLReport.barChart(labels, counts.map(Double.init), height: 160, color: "#8250df", labelEvery: 5)
            if let all = stats.first(where: { $0.venue == h.venue.description && $0.symbol == h.symbol && $0.regime == RegimeSpan.all.name }) {
                page += "<h3>Net after round trips by entry threshold (% of a leg's notional, whole history)</h3>\n"
                page += HTMLReport.barChart(all.thresholds.map { String(format: "%.4f", $0.entry8h * 100) }, all.thresholds.map { $0.net * 100 }, height: 160, unit: " %")
            }
        }
        page += "<p class=\"muted\">Generated by Carry \(CarryVersion.current).</p>\n</body></html>\n"
        return page
    }

    /// The 8 h rate in %, per settlement, or per UTC day (mean) for long histories.
    static func ratePoints(_ samples: [FundingSample]) -> [(Timestamp, Double)] {
        guard samples.count > 1500 else { return samples.map { ($0.time, $0.rate8h.doubleValue * 100) } }
        var out: [(Timestamp, Double)] = []
        var day = Int64.min, sum = 0.0, n = 0.0
        for s in samples {
            let d = s.time.ms / Millis.day
            if d != day, n > 0 {
                out.append((Timestamp(ms: day * Millis.day), sum / n))
                sum = 0
                n = 0
            }
            day = d
            sum += s.rate8h.doubleValue * 100
            n += 1
        }
        if n > 0 { out.append((Timestamp(ms: day * Millis.day), sum / n)) }
        return out
    }

    /// Equal-width bins between the 1st and 99th percentile (the tails go in the end bins).
    static func histogram(_ values: [Double], bins: Int) -> (labels: [String], counts: [Int]) {
        let sorted = values.sorted()
        var lo = quantile(sorted, 0.01), hi = quantile(sorted, 0.99)
        if hi - lo < 1e-12 {
            lo -= 0.001
            hi += 0.001
        }
        let w = (hi - lo) / Double(bins)
        var counts = [Int](repeating: 0, count: bins)
        for v in values { counts[min(bins - 1, max(0, Int((v - lo) / w)))] += 1 }
        return ((0..<bins).map { String(format: "%.4f", lo + w * (Double($0) + 0.5)) }, counts)
    }
}

extension Array where Element == (Timestamp, Double) {
    /// Runs of points whose consecutive times are at most `gapMs` apart.
    func split(gapMs: Int64) -> [[(Timestamp, Double)]] {
        var out: [[(Timestamp, Double)]] = []
        for p in self {
            if let last = out.last?.last, p.0.ms - last.0.ms <= gapMs {
                out[out.count - 1].append(p)
            } else {
                out.append([p])
            }
        }
        return out
    }
}
