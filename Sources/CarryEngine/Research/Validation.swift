// How much of a good backtest is luck: the deflated Sharpe ratio (Bailey & López de Prado
// 2014) and the probability of backtest overfitting by combinatorially symmetric
// cross-validation (Bailey, Borwein, López de Prado & Zhu 2017), over the daily excess
// returns every swept config produced. Statistics only (Double); no money is computed here.
//
// Conventions (the tests check them against hand-worked cases and an independent script):
// - A Sharpe ratio here is per day, mean ÷ sample standard deviation (n − 1) of the daily
//   returns in excess of the collateral cost — the annualised Sharpe of a summary ÷ √365.
// - Skewness and kurtosis are the population moments m3/m2^1.5 and m4/m2² (kurtosis not in
//   excess: 3 for a normal).
// - DSR = Φ((SR − SR₀)·√(T − 1) / √(1 − γ₃·SR + (γ₄ − 1)/4·SR²)) with
//   SR₀ = √V·((1 − γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e))), V the sample variance of the N
//   trials' Sharpe ratios, γ Euler–Mascheroni; N = 1 gives SR₀ = 0 (nothing was selected).
//   Trials without a Sharpe (no variance: a config that never traded) count in N but not in V.
// - CSCV: the T × N matrix (days × configs) is cut into S equal contiguous blocks of ⌊T/S⌋ days
//   (the earliest T mod S days dropped); for each of the C(S, S/2) halves J (lexicographic), the
//   config best in J (first on ties) is ranked among all N on the other half J̄: rank = 1 +
//   #worse + ½·#tied others, ω = rank/(N + 1), λ = ln(ω/(1 − ω)); PBO = share of λ ≤ 0. The
//   performance measure is the Sharpe ratio (objective sharpe or calmar) or the mean daily
//   return (net or apr); a half with no variance scores +∞, −∞ or 0 by the sign of its mean.

import Foundation

/// The label of a zero-basis run, first line of each of its reports.
public enum ZeroBasis {
    public static let banner = "ZERO-BASIS MODE: perps priced from spot bars (basis = 0; no perp bars read) — funding is real, basis P&L is not"
}

/// The standard normal distribution.
public enum Normal {
    /// Φ(x).
    public static func cdf(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

    /// Φ⁻¹(p) for 0 < p < 1 (Acklam's rational approximation, then one Halley step: about
    /// 1e-15 relative error).
    public static func quantile(_ p: Double) -> Double {
        precondition(p > 0 && p < 1, "quantile of \(p)")
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        var x: Double
        if p < low {
            let q = (-2 * log(p)).squareRoot()
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else if p <= 1 - low {
            let q = p - 0.5, r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        } else {
            let q = (-2 * log(1 - p)).squareRoot()
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        let e = cdf(x) - p
        let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
        x -= u / (1 + x * u / 2)
        return x
    }
}

/// Mean, sample deviation and population shape of a return series.
public struct ReturnMoments: Sendable, Equatable {
    public var count: Int
    public var mean: Double
    /// Sample standard deviation (n − 1).
    public var deviation: Double
    public var skewness: Double
    /// Not in excess (3 for a normal).
    public var kurtosis: Double

    public init(_ r: [Double]) {
        count = r.count
        mean = r.isEmpty ? 0 : r.reduce(0, +) / Double(r.count)
        var m2 = 0.0, m3 = 0.0, m4 = 0.0
        for x in r {
            let d = x - mean, d2 = d * d
            m2 += d2
            m3 += d2 * d
            m4 += d2 * d2
        }
        // A constant series (a config that never traded earns exactly −cost/365 a day) has no
        // deviation, whatever rounding the mean picked up.
        let constant = r.allSatisfy { $0 == r[0] }
        if constant { m2 = 0; m3 = 0; m4 = 0 }
        deviation = r.count > 1 ? (m2 / Double(r.count - 1)).squareRoot() : 0
        let n = Double(max(1, r.count))
        let p2 = m2 / n
        skewness = p2 > 0 ? (m3 / n) / pow(p2, 1.5) : 0
        kurtosis = p2 > 0 ? (m4 / n) / (p2 * p2) : 3
    }

    /// Per-period Sharpe ratio; nil without variance.
    public var sharpe: Double? { count > 1 && deviation > 0 ? mean / deviation : nil }
}

/// The deflated Sharpe ratio of a selected config.
public struct DeflatedSharpe: Codable, Sendable, Equatable {
    /// Configs tried (N).
    public var trials: Int
    /// Trials with a Sharpe ratio (the ones V is measured over).
    public var trialsWithSharpe: Int
    /// Sample variance of the trials' per-day Sharpe ratios (V).
    public var sharpeVariance: Double
    /// The selected config's per-day Sharpe, and the expected maximum of N unskilled ones (SR₀).
    public var sharpe: Double
    public var expectedMaxSharpe: Double
    public var skewness: Double
    public var kurtosis: Double
    /// Days of returns (T).
    public var days: Int
    /// The probability that the selected config's true Sharpe exceeds zero after allowing for
    /// N trials, non-normal returns and the sample length.
    public var probability: Double

    /// SR₀ for `trials` trials whose Sharpe ratios have variance `variance`.
    public static func expectedMaximum(trials: Int, variance: Double) -> Double {
        guard trials > 1 else { return 0 }
        let gamma = 0.5772156649015329
        let n = Double(trials)
        return variance.squareRoot() * ((1 - gamma) * Normal.quantile(1 - 1 / n) + gamma * Normal.quantile(1 - 1 / (n * M_E)))
    }

    /// The DSR of a config with daily returns `returns`, selected among `trials` configs whose
    /// per-day Sharpe ratios (nil: none) are `trialSharpes`. Nil when the selected config has
    /// no Sharpe, fewer than 2 trials have one (with N > 1), or the shape makes the
    /// denominator vanish.
    public static func compute(returns: [Double], trialSharpes: [Double?]) -> DeflatedSharpe? {
        let defined = trialSharpes.compactMap { $0 }
        let n = trialSharpes.count
        var variance = 0.0
        if n > 1 {
            guard defined.count > 1 else { return nil }
            variance = pow(ReturnMoments(defined).deviation, 2)
        }
        return compute(returns: returns, trials: n, sharpeVariance: variance, trialsWithSharpe: defined.count)
    }

    /// The DSR of `returns` among `trials` trials whose Sharpe ratios have variance `sharpeVariance`.
    public static func compute(returns: [Double], trials n: Int, sharpeVariance variance: Double, trialsWithSharpe: Int) -> DeflatedSharpe? {
        let m = ReturnMoments(returns)
        guard let sr = m.sharpe else { return nil }
        let sr0 = expectedMaximum(trials: n, variance: variance)
        guard let p = probability(sharpe: sr, expectedMax: sr0, skewness: m.skewness, kurtosis: m.kurtosis, days: m.count) else { return nil }
        return DeflatedSharpe(trials: n, trialsWithSharpe: trialsWithSharpe, sharpeVariance: variance, sharpe: sr, expectedMaxSharpe: sr0,
                              skewness: m.skewness, kurtosis: m.kurtosis, days: m.count, probability: p)
    }

    /// Φ((SR − SR₀)·√(T − 1) / √(1 − γ₃·SR + (γ₄ − 1)/4·SR²)); nil when the root's argument is not positive.
    public static func probability(sharpe sr: Double, expectedMax sr0: Double, skewness: Double, kurtosis: Double, days: Int) -> Double? {
        let shape = 1 - skewness * sr + (kurtosis - 1) / 4 * sr * sr
        guard shape > 0, days > 1 else { return nil }
        return Normal.cdf((sr - sr0) * Double(days - 1).squareRoot() / shape.squareRoot())
    }
}

/// The measure CSCV ranks configs by on each half.
public enum CSCVMeasure: String, Codable, Sendable {
    case sharpe
    case mean

    /// The measure that matches a sweep's objective.
    public init(_ objective: SweepObjective) {
        switch objective {
        case .sharpe, .calmar: self = .sharpe
        case .net, .apr: self = .mean
        }
    }
}

/// The probability of backtest overfitting by CSCV.
public struct BacktestOverfitting: Codable, Sendable, Equatable {
    public var pbo: Double
    /// Combinations evaluated: C(S, S/2).
    public var splits: Int
    public var blocks: Int
    /// Days used (S × ⌊T/S⌋) and configs (N).
    public var days: Int
    public var configs: Int
    public var measure: CSCVMeasure
    /// Mean of the logits (negative: the in-sample best tends to be below the median out of sample).
    public var meanLogit: Double

    /// PBO of the matrix whose columns are the configs' return series (all the same length T).
    /// Nil with fewer than 2 configs, an odd or < 2 `blocks`, or fewer than 2 days a block.
    public static func compute(columns: [[Double]], blocks s: Int = 16, measure: CSCVMeasure = .sharpe) -> BacktestOverfitting? {
        let n = columns.count
        guard n >= 2, s >= 2, s % 2 == 0, let t = columns.first?.count, columns.allSatisfy({ $0.count == t }) else { return nil }
        let size = t / s
        guard size >= 2 else { return nil }
        let skip = t - s * size
        // Each block's count, mean and M2 per config (Welford; a constant block has M2 = 0 exactly).
        var stats = Array(repeating: Array(repeating: (n: 0.0, mean: 0.0, m2: 0.0), count: s), count: n)
        for j in 0..<n {
            for k in 0..<s {
                var c = 0.0, mean = 0.0, m2 = 0.0
                for x in columns[j][(skip + k * size)..<(skip + (k + 1) * size)] {
                    c += 1
                    let d = x - mean
                    mean += d / c
                    m2 += d * (x - mean)
                }
                stats[j][k] = (c, mean, m2)
            }
        }
        func score(_ j: Int, _ blocks: [Int]) -> Double {
            var c = 0.0, mean = 0.0, m2 = 0.0
            for k in blocks {
                let b = stats[j][k]
                let total = c + b.n
                let delta = b.mean - mean
                mean += delta * b.n / total
                m2 += b.m2 + delta * delta * c * b.n / total
                c = total
            }
            switch measure {
            case .mean: return mean
            case .sharpe:
                let variance = m2 / (c - 1)
                if variance > 0 { return mean / variance.squareRoot() }
                return mean > 0 ? .infinity : (mean < 0 ? -.infinity : 0)
            }
        }
        var below = 0, splits = 0
        var logitSum = 0.0
        var chosen = Array(0..<(s / 2))
        while true {
            var inJ = Array(repeating: false, count: s)
            for k in chosen { inJ[k] = true }
            let rest = (0..<s).filter { !inJ[$0] }
            var best = 0, bestScore = -Double.infinity
            for j in 0..<n {
                let v = score(j, chosen)
                if j == 0 || v > bestScore { best = j; bestScore = v }
            }
            let outOf = (0..<n).map { score($0, rest) }
            var worse = 0, tied = 0
            for j in 0..<n where j != best {
                if outOf[j] < outOf[best] { worse += 1 } else if outOf[j] == outOf[best] { tied += 1 }
            }
            // rank = 1 + worse + tied/2; λ ≤ 0 ⇔ 2·rank ≤ N + 1 (exact in integers).
            let twiceRank = 2 + 2 * worse + tied
            if twiceRank <= n + 1 { below += 1 }
            let omega = Double(twiceRank) / 2 / Double(n + 1)
            logitSum += log(omega / (1 - omega))
            splits += 1
            // Next combination in lexicographic order.
            var i = s / 2 - 1
            while i >= 0 && chosen[i] == s - s / 2 + i { i -= 1 }
            if i < 0 { break }
            chosen[i] += 1
            for k in (i + 1)..<(s / 2) { chosen[k] = chosen[k - 1] + 1 }
        }
        return BacktestOverfitting(pbo: Double(below) / Double(splits), splits: splits, blocks: s, days: s * size, configs: n, measure: measure,
                                   meanLogit: logitSum / Double(splits))
    }
}
