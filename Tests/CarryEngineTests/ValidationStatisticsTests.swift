// The deflated Sharpe ratio and the probability of backtest overfitting against cases worked
// by hand, the paper's numerical example, and an independent Python script (standard library
// only: itertools, statistics.NormalDist) fed the same seeded matrices; pure noise gives a PBO
// near ½ and one truly dominant config a PBO near 0.

import CarryCore
import CarryEngine
import CarryTesting
import Foundation
import Testing

/// Seeded standard normals (SplitMix64, Box–Muller): the same numbers on every machine.
struct SeededNormals {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func uniform() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return (Double(z >> 11) + 0.5) / Double(1 << 53)
    }
    mutating func next() -> Double {
        let u = uniform(), v = uniform()
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }
    /// `n` columns of `t` daily returns: mean `drift[j]`, deviation 0.01.
    mutating func matrix(configs n: Int, days t: Int, drift: [Double]? = nil) -> [[Double]] {
        (0..<n).map { j in (0..<t).map { _ in (drift?[j] ?? 0) + 0.01 * next() } }
    }
}

@Suite("Deflated Sharpe ratio and PBO (CSCV)")
struct ValidationStatisticsTests {
    @Test("Φ and Φ⁻¹: known quantiles, and Φ⁻¹ inverts Φ across the range")
    func normal() {
        #expect(abs(Normal.cdf(0) - 0.5) < 1e-15)
        #expect(abs(Normal.cdf(1.959963984540054) - 0.975) < 1e-12)
        #expect(abs(Normal.quantile(0.975) - 1.959963984540054) < 1e-12)
        #expect(abs(Normal.quantile(0.99) - 2.326347874040841) < 1e-12)
        #expect(abs(Normal.quantile(0.01) + 2.326347874040841) < 1e-12)
        for p in [1e-9, 0.001, 0.02, 0.3, 0.5, 0.77, 0.98, 0.999999] {
            #expect(abs(Normal.cdf(Normal.quantile(p)) - p) < 1e-12 * max(1, p / 1e-3), "p = \(p)")
        }
    }

    @Test("deflated Sharpe by hand: SR₀ for N = 2 and the paper's example (N = 100, SR 2.5 a year, V 0.5, T = 1250, skew −3, kurtosis 10 → DSR ≈ 0.90)")
    func deflatedByHand() throws {
        // N = 2, V = 1: SR₀ = (1 − γ)·Φ⁻¹(½) + γ·Φ⁻¹(1 − 1/(2e)) = 0 + 0.5772157 × 0.9004 ≈ 0.5197.
        #expect(abs(DeflatedSharpe.expectedMaximum(trials: 2, variance: 1) - 0.5197) < 5e-4)
        #expect(DeflatedSharpe.expectedMaximum(trials: 1, variance: 4) == 0, "one trial: nothing was selected")
        // Bailey & López de Prado (2014), §"A numerical example": 250 days a year.
        let sr0 = DeflatedSharpe.expectedMaximum(trials: 100, variance: 0.5 / 250)
        #expect(abs(sr0 - 0.1132) < 1e-4, "the paper's SR₀ = 0.1132 (1.79 a year)")
        let dsr = try #require(DeflatedSharpe.probability(sharpe: 2.5 / 250.0.squareRoot(), expectedMax: sr0, skewness: -3, kurtosis: 10, days: 1250))
        #expect(abs(dsr - 0.9004) < 1e-3, "the paper's DSR 0.9004; got \(dsr)")
        // From returns: N = 1 is the probabilistic Sharpe against 0. r = [0.02, −0.01, 0.03, 0.00]:
        // mean 0.01, deviations ±0.01, ±0.02 → Σd² = 0.001, sample sd √(0.001/3) = 0.0182574,
        // SR = 0.547723 (SR² = 0.3); population m2 = 2.5e-4, m3 = 0, m4 = 8.5e-8 → skew 0,
        // kurtosis 8.5e-8 / 6.25e-8 = 1.36; z = 0.547723·√3 / √(1 + 0.09·0.3) = 0.936130,
        // Φ(z) = 0.825397.
        let one = try #require(DeflatedSharpe.compute(returns: [0.02, -0.01, 0.03, 0.00], trialSharpes: [0.5]))
        #expect(abs(one.sharpe - 0.5477226) < 1e-6)
        #expect(abs(one.skewness) < 1e-12 && abs(one.kurtosis - 1.36) < 1e-9)
        #expect(one.expectedMaxSharpe == 0 && one.trials == 1)
        #expect(abs(one.probability - 0.825397) < 1e-6)
        // A config that never traded (a constant −cost/365 a day, whose mean rounds) has no Sharpe: no DSR.
        let flat = Array(repeating: -0.04 / 365, count: 90)
        #expect(ReturnMoments(flat).sharpe == nil && ReturnMoments(flat).deviation == 0)
        #expect(DeflatedSharpe.compute(returns: [-0.0001, -0.0001, -0.0001], trialSharpes: [nil, 0.1, 0.2]) == nil)
    }

    @Test("PBO by hand: a config best in one half and worst in the other on both splits gives PBO 1; a config best in both gives 0")
    func pboByHand() throws {
        // S = 2: two splits. A wins the first half and loses the second; C the reverse; B is flat.
        let a: [Double] = [1, 1, -1, -1], b: [Double] = [0, 0, 0, 0], c: [Double] = [-1, -1, 1, 1]
        let flip = try #require(BacktestOverfitting.compute(columns: [a, b, c], blocks: 2, measure: .mean))
        // Split 1: A best in-sample (1), worst out (rank 1, ω = ¼, λ = ln ⅓); split 2: C likewise.
        #expect(flip.splits == 2 && flip.pbo == 1 && abs(flip.meanLogit - log(1.0 / 3)) < 1e-12)
        let d: [Double] = [2, 2, 2, 2]
        let dominant = try #require(BacktestOverfitting.compute(columns: [a, b, c, d], blocks: 2, measure: .mean))
        // D best in both halves and out of sample: rank 4 of 4, ω = ⅘, λ = ln 4.
        #expect(dominant.pbo == 0 && abs(dominant.meanLogit - log(4.0)) < 1e-12)
        // Sharpe measure (mean ÷ sample sd of each half). Halves: a2 (1, 2 | −2, −1): 1.5/0.7071 = 2.12
        // then −2.12; c2 the reverse; b2 0 and 0; d2 (3, 4 | 3, 4): 4.95 and 4.95.
        let a2: [Double] = [1, 2, -2, -1], b2: [Double] = [0.5, -0.5, 0.5, -0.5], c2: [Double] = [-2, -1, 1, 2], d2: [Double] = [3, 4, 3, 4]
        let flip2 = try #require(BacktestOverfitting.compute(columns: [a2, b2, c2], blocks: 2, measure: .sharpe))
        #expect(flip2.pbo == 1 && abs(flip2.meanLogit - log(1.0 / 3)) < 1e-12, "a2 then c2 chosen, each last out of sample")
        let dom2 = try #require(BacktestOverfitting.compute(columns: [a2, b2, c2, d2], blocks: 2, measure: .sharpe))
        #expect(dom2.pbo == 0 && abs(dom2.meanLogit - log(4.0)) < 1e-12)
        // A half without variance scores by its mean's sign: a constant gain is +∞, chosen and best out of sample.
        let constant = try #require(BacktestOverfitting.compute(columns: [a2, b2, c2, [1, 1, 1, 1]], blocks: 2, measure: .sharpe))
        #expect(constant.pbo == 0)
        // S = 4 over 9 days: the first day is dropped, C(4, 2) = 6 splits.
        let nine = try #require(BacktestOverfitting.compute(columns: [Array(repeating: 0.0, count: 9), (0..<9).map(Double.init)], blocks: 4, measure: .mean))
        #expect(nine.splits == 6 && nine.days == 8)
        // Refusals: one config, odd S, fewer than 2 days a block.
        #expect(BacktestOverfitting.compute(columns: [a], blocks: 2) == nil)
        #expect(BacktestOverfitting.compute(columns: [a, b], blocks: 3) == nil)
        #expect(BacktestOverfitting.compute(columns: [a, b], blocks: 4) == nil)
    }

    @Test("pure noise gives PBO near ½ (20 seeded configs × 512 days, S = 16, 10 seeds); one truly dominant config gives PBO near 0")
    func noiseAndDominant() throws {
        var pbos: [Double] = []
        for seed in 1...10 {
            var g = SeededNormals(seed: UInt64(seed))
            let m = g.matrix(configs: 20, days: 512)
            let r = try #require(BacktestOverfitting.compute(columns: m, blocks: 16, measure: .sharpe))
            #expect(r.splits == 12870 && r.configs == 20 && r.days == 512)
            pbos.append(r.pbo)
        }
        let mean = pbos.reduce(0, +) / Double(pbos.count)
        // One matrix's PBO is a noisy estimate (its 12 870 splits share the same days): the mean
        // over seeds is near ½, and the seeds do not all fall on one side.
        #expect(abs(mean - 0.5) < 0.1, "mean PBO of pure noise \(mean): \(pbos)")
        #expect(pbos.contains { $0 < 0.5 } && pbos.contains { $0 > 0.5 }, "\(pbos)")
        // One config earns 0.004 a day more (Sharpe 0.4 a day against noise of 0.01).
        var g = SeededNormals(seed: 99)
        let m = g.matrix(configs: 20, days: 512, drift: [0.004] + Array(repeating: 0, count: 19))
        let r = try #require(BacktestOverfitting.compute(columns: m, blocks: 16, measure: .sharpe))
        #expect(r.pbo < 0.02, "dominant config: PBO \(r.pbo)")
        #expect(r.meanLogit > 2)
        // DSR: the best of 20 noise configs is no evidence of skill; the dominant one is.
        var n = SeededNormals(seed: 7)
        let noise = n.matrix(configs: 20, days: 512)
        let sharpes = noise.map { ReturnMoments($0).sharpe }
        let best = noise.indices.max { sharpes[$0]! < sharpes[$1]! }!
        let dNoise = try #require(DeflatedSharpe.compute(returns: noise[best], trialSharpes: sharpes))
        #expect(dNoise.probability < 0.8, "best of noise: DSR \(dNoise.probability)")
        #expect(ReturnMoments(noise[best]).sharpe! > dNoise.expectedMaxSharpe * 0.5)
        let dDominant = try #require(DeflatedSharpe.compute(returns: m[0], trialSharpes: m.map { ReturnMoments($0).sharpe }))
        #expect(dDominant.probability > 0.99)
    }

    @Test("DSR and PBO equal an independent Python script's (standard library only) on seeded matrices")
    func againstPython() throws {
        var cases: [(columns: [[Double]], blocks: Int, measure: CSCVMeasure)] = []
        var g = SeededNormals(seed: 2026)
        cases.append((g.matrix(configs: 6, days: 64), 8, .sharpe))
        cases.append((g.matrix(configs: 5, days: 83, drift: [0.002, 0, 0.001, 0, -0.001]), 6, .mean))
        cases.append((g.matrix(configs: 9, days: 40, drift: [0, 0, 0, 0, 0, 0, 0, 0, 0.003]), 4, .sharpe))
        let script = #"""
        import itertools, json, math, statistics, sys
        from statistics import NormalDist
        N01 = NormalDist()
        def sharpe(r):
            sd = statistics.stdev(r)
            return statistics.fmean(r) / sd if sd > 0 else None
        def dsr(cols):
            srs = [sharpe(c) for c in cols]
            best = max(range(len(cols)), key=lambda j: (srs[j], -j))
            r = cols[best]; n = len(cols); t = len(r)
            v = statistics.variance([s for s in srs if s is not None])
            g = 0.5772156649015329
            sr0 = math.sqrt(v) * ((1 - g) * N01.inv_cdf(1 - 1 / n) + g * N01.inv_cdf(1 - 1 / (n * math.e)))
            mu = statistics.fmean(r)
            m2 = sum((x - mu) ** 2 for x in r) / t
            m3 = sum((x - mu) ** 3 for x in r) / t
            m4 = sum((x - mu) ** 4 for x in r) / t
            skew, kurt = m3 / m2 ** 1.5, m4 / m2 ** 2
            sr = srs[best]
            return best, N01.cdf((sr - sr0) * math.sqrt(t - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr * sr))
        def pbo(cols, s, measure):
            n, t = len(cols), len(cols[0]); size = t // s; skip = t - s * size
            blocks = [list(range(skip + k * size, skip + (k + 1) * size)) for k in range(s)]
            def score(c, ks):
                xs = [c[i] for k in ks for i in blocks[k]]
                if measure == "mean": return statistics.fmean(xs)
                sd = statistics.stdev(xs); mu = statistics.fmean(xs)
                return mu / sd if sd > 0 else (math.inf if mu > 0 else (-math.inf if mu < 0 else 0.0))
            below = 0; logits = []
            for J in itertools.combinations(range(s), s // 2):
                rest = [k for k in range(s) if k not in J]
                ins = [score(c, J) for c in cols]
                b = max(range(n), key=lambda j: (ins[j], -j))
                outs = [score(c, rest) for c in cols]
                worse = sum(1 for j in range(n) if j != b and outs[j] < outs[b])
                tied = sum(1 for j in range(n) if j != b and outs[j] == outs[b])
                w = (1 + worse + tied / 2) / (n + 1)
                logits.append(math.log(w / (1 - w)))
                below += 1 if logits[-1] <= 0 else 0
            return below / len(logits), statistics.fmean(logits), len(logits)
        out = []
        for case in json.load(sys.stdin):
            best, d = dsr(case["columns"])
            p, ml, splits = pbo(case["columns"], case["blocks"], case["measure"])
            out.append({"best": best, "dsr": d, "pbo": p, "meanLogit": ml, "splits": splits})
        print(json.dumps(out))
        """#
        let input: [[String: Any]] = cases.map { ["columns": $0.columns, "blocks": $0.blocks, "measure": $0.measure.rawValue] }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: input), as: UTF8.self)
        let py = try runProcess("/usr/bin/env", ["python3", "-c", script], timeoutSeconds: 120, stdin: json)
        try #require(py.status == 0, "python3 failed: \(py.stderr)")
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(py.stdout.utf8)) as? [[String: Double]])
        try #require(expected.count == cases.count)
        for (k, c) in cases.enumerated() {
            let e = expected[k]
            let sharpes = c.columns.map { ReturnMoments($0).sharpe }
            let best = c.columns.indices.max { (sharpes[$0] ?? -.infinity, -$0) < (sharpes[$1] ?? -.infinity, -$1) }!
            #expect(Double(best) == e["best"], "case \(k)")
            let d = try #require(DeflatedSharpe.compute(returns: c.columns[best], trialSharpes: sharpes))
            #expect(abs(d.probability - e["dsr"]!) < 1e-9, "case \(k): DSR \(d.probability) vs python \(e["dsr"]!)")
            let p = try #require(BacktestOverfitting.compute(columns: c.columns, blocks: c.blocks, measure: c.measure))
            #expect(p.pbo == e["pbo"], "case \(k): PBO \(p.pbo) vs python \(e["pbo"]!)")
            #expect(Double(p.splits) == e["splits"])
            #expect(abs(p.meanLogit - e["meanLogit"]!) < 1e-9, "case \(k)")
        }
        // The cases are not all trivial.
        #expect(expected.contains { $0["pbo"]! > 0 && $0["pbo"]! < 1 })
    }
}
