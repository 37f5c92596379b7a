// Walk-forward and funding-regime validation of a sweep's configs, over one decoded market.
//
// Walk-forward: the span every config can trade is cut into folds — train [a, a + train],
// test [a + train, a + train + test], a advancing by step; only folds with a whole test window.
// On each fold every config runs over the train window alone; the best by the objective (the
// sweep's ranking: ties by config number) is then run over the test window alone; only the test
// windows are reported, stitched. Every window is its own run — a fresh `RunSession` that starts
// flat with the config's initial capital, reading market data from its warm-up start to its own
// end and nothing later — so a fold's choice and its test result depend on no data after the end
// of its test window (a test changes every later record and checks they do not move), and a
// test window equals `carry backtest --from --to` of the chosen config (same content hash).
//
// Regimes: every config over each named span on its own, ranked, with the deflated Sharpe and
// PBO of that span.
//
// All windows' plans go into one `MarketTape.decode`: the market journal is scanned and decoded
// once for the whole validation.

public import CarryCore
import CarryJournal
import Foundation
import Synchronization

/// `--walk-forward train=90d,test=30d[,step=30d]`.
public struct WalkForwardSpec: Sendable, Equatable, CustomStringConvertible {
    public var trainMs: Int64
    public var testMs: Int64
    /// Default: the test length (test windows tile the span).
    public var stepMs: Int64

    public init(trainMs: Int64, testMs: Int64, stepMs: Int64? = nil) {
        self.trainMs = trainMs
        self.testMs = testMs
        self.stepMs = stepMs ?? testMs
    }

    public init(parsing text: String) throws(BacktestError) {
        var values: [String: Int64] = [:]
        for part in text.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, ["train", "test", "step"].contains(kv[0]) else {
                throw BacktestError("--walk-forward \(text): expected train=DURATION,test=DURATION[,step=DURATION], e.g. train=90d,test=30d")
            }
            guard let ms = ConfigReader.parseDuration(kv[1]), ms >= Millis.day else {
                throw BacktestError("--walk-forward \(text): \(kv[0])=\(kv[1]) must be a duration of at least 1d, like 30d or 12w")
            }
            guard values[kv[0]] == nil else { throw BacktestError("--walk-forward \(text): \(kv[0]) is given twice") }
            values[kv[0]] = ms
        }
        guard let train = values["train"], let test = values["test"] else {
            throw BacktestError("--walk-forward \(text): give both train= and test=, e.g. train=90d,test=30d")
        }
        self.init(trainMs: train, testMs: test, stepMs: values["step"])
    }

    public var description: String {
        "train \(Millis.formatDuration(trainMs)), test \(Millis.formatDuration(testMs)), step \(Millis.formatDuration(stepMs))"
    }

    /// The folds over [from, to]: every one with a whole test window inside the span.
    public func folds(from: Timestamp, to: Timestamp) -> [WalkForwardFold] {
        var out: [WalkForwardFold] = []
        var start = from
        while true {
            let trainTo = start.adding(ms: trainMs)
            let testTo = trainTo.adding(ms: testMs)
            guard testTo <= to else { break }
            out.append(WalkForwardFold(index: out.count + 1, trainFrom: start, trainTo: trainTo, testFrom: trainTo, testTo: testTo))
            start = start.adding(ms: stepMs)
        }
        return out
    }
}

/// One fold's windows.
public struct WalkForwardFold: Sendable, Equatable {
    public var index: Int
    public var trainFrom: Timestamp
    public var trainTo: Timestamp
    public var testFrom: Timestamp
    public var testTo: Timestamp
}

/// A named span studied on its own (`--regimes 2022,2023,2025-26`).
public struct RegimeSpan: Sendable, Equatable {
    public var name: String
    public var from: Timestamp
    public var to: Timestamp

    public init(name: String, from: Timestamp, to: Timestamp) {
        self.name = name
        self.from = from
        self.to = to
    }

    /// `2022` (the calendar year), `2025-26` (2025-01-01 → 2027-01-01), `FROM..TO` or
    /// `NAME=FROM..TO` with UTC dates.
    /// `option` names the flag in a refusal (`--regimes`, `--regime`).
    public init(parsing text: String, option: String = "--regimes") throws(BacktestError) {
        let usage = "expected a year (2022), a run of years (2025-26 or 2025-2026), FROM..TO or NAME=FROM..TO with UTC dates"
        var name = text
        var body = text
        if let eq = text.firstIndex(of: "=") {
            name = String(text[..<eq])
            body = String(text[text.index(after: eq)...])
        }
        func year(_ s: Substring) -> Int? { s.count == 4 ? Int(s).flatMap { (1970...2100).contains($0) ? $0 : nil } : nil }
        func start(of y: Int) -> Timestamp { Timestamp(year: y, month: 1, day: 1)! }
        if let r = body.range(of: "..") {
            guard let f = Timestamp(iso8601: String(body[..<r.lowerBound])), let t = Timestamp(iso8601: String(body[r.upperBound...])) else {
                throw BacktestError("\(option) \(text): \(usage)")
            }
            guard f < t else { throw BacktestError("\(option) \(text): the end must be after the start") }
            self.init(name: name, from: f, to: t)
            return
        }
        let parts = body.split(separator: "-", omittingEmptySubsequences: false)
        if parts.count == 1, let y = year(parts[0]) {
            self.init(name: name, from: start(of: y), to: start(of: y + 1))
        } else if parts.count == 2, let y = year(parts[0]) {
            let last: Int? = parts[1].count == 2 ? Int(parts[1]).map { y / 100 * 100 + $0 } : year(parts[1])
            guard let last, last > y else { throw BacktestError("\(option) \(text): \(usage); the last year must come after the first") }
            self.init(name: name, from: start(of: y), to: start(of: last + 1))
        } else {
            throw BacktestError("\(option) \(text): \(usage)")
        }
    }
}

/// One fold's outcome.
public struct WalkForwardFoldResult: Sendable {
    public var fold: WalkForwardFold
    /// Every config's train-window row, ranked (its validation is the in-sample DSR and PBO).
    public var train: SweepResults
    /// The chosen config's number and its test-window run.
    public var chosen: Int
    public var test: SweepRunResult
}

/// The stitched out-of-sample result: the test windows one after another, each started flat
/// with the chosen config's capital, their returns added.
public struct StitchedResult: Sendable {
    public var from: Timestamp
    public var to: Timestamp
    public var days: Double
    public var netPnL: Fixed
    public var funding: Fixed
    public var pricePnL: Fixed
    public var fees: Fixed
    public var slippage: Fixed
    public var pairsOpened: Int
    /// Σ fold net ÷ its capital, annualised by the test days.
    public var apr: Double
    /// Annualised Sharpe of the test windows' daily excess returns, concatenated.
    public var sharpe: Double?
    public var collateralCostApr: Fixed
    /// Largest fall of the stitched equity (each fold's samples, added as returns on capital).
    public var maxDrawdown: Double
    public var maxDrawdownPeakAt: Timestamp?
    public var maxDrawdownTroughAt: Timestamp?

    init(_ folds: [WalkForwardFoldResult]) {
        let tests = folds.map(\.test.summary)
        from = tests.first?.from ?? .distantPast
        to = tests.last?.to ?? .distantPast
        days = tests.reduce(0) { $0 + $1.days }
        netPnL = tests.reduce(Fixed.zero) { $0 + $1.netPnL }
        funding = tests.reduce(Fixed.zero) { $0 + $1.funding }
        pricePnL = tests.reduce(Fixed.zero) { $0 + $1.pricePnL }
        fees = tests.reduce(Fixed.zero) { $0 + $1.fees }
        slippage = tests.reduce(Fixed.zero) { $0 + $1.slippage }
        pairsOpened = tests.reduce(0) { $0 + $1.pairsOpened }
        collateralCostApr = tests.first?.collateralCostApr ?? .zero
        let totalReturn = tests.reduce(0.0) { $0 + $1.netPnL.doubleValue / $1.initialCapital.doubleValue }
        apr = days > 0 ? totalReturn * 365 / days : 0
        sharpe = ReturnMoments(tests.flatMap(\.dailyReturns)).sharpe.map { $0 * (365.0).squareRoot() }
        var offset = 0.0, peak = 1.0, peakAt: Timestamp? = nil
        maxDrawdown = 0
        for s in tests {
            let capital = s.initialCapital.doubleValue
            for (t, equity, _) in s.curve {
                let v = 1 + offset + (equity / capital - 1)
                if v > peak || peakAt == nil {
                    peak = max(peak, v)
                    peakAt = t
                }
                let dd = peak > 0 ? (peak - v) / peak : 0
                if dd > maxDrawdown {
                    maxDrawdown = dd
                    maxDrawdownPeakAt = peakAt
                    maxDrawdownTroughAt = t
                }
            }
            offset += s.netPnL.doubleValue / capital
        }
    }
}

/// A regime's outcome: every config over the span, ranked.
public struct RegimeResult: Sendable {
    public var regime: RegimeSpan
    /// The span the configs ran (clamped to the data).
    public var from: Timestamp
    public var to: Timestamp
    public var results: SweepResults
    public var warnings: [String]
}

/// What `carry validate` measured.
public struct ValidationReport: Sendable {
    public var spec: WalkForwardSpec?
    public var span: (from: Timestamp, to: Timestamp)?
    public var folds: [WalkForwardFoldResult]
    public var stitched: StitchedResult?
    public var regimes: [RegimeResult]
    public var zeroBasis: Bool
    public var decoded: Int
    public var configRuns: Int
}

/// Runs walk-forward and regime validation.
public enum Validation {
    /// Runs `points` (a sweep's configs) walk-forward by `walkForward` and over each of
    /// `regimes`, decoding `market` once. `label` names a config in a row (its file);
    /// `monitor` sees the progress of each batch of runs.
    public static func run(points: [SweepPoint], walkForward: WalkForwardSpec?, regimes: [RegimeSpan], market: MarketJournal, objective: SweepObjective,
                           threads: Int, blocks: Int = 16, sweptKeys: [String] = [], label: @escaping (SweepPoint) -> String,
                           monitor: @escaping (String, SweepProgress) -> Void = { _, _ in }) throws -> ValidationReport {
        precondition(!points.isEmpty)
        func plan(_ p: SweepPoint, _ from: Timestamp?, _ to: Timestamp?, _ what: String) throws -> BacktestPlan {
            var c = p.config
            c.from = from
            c.to = to
            c.canonicalText = c.canonical()
            do {
                return try BacktestDriver.plan(config: c, market: market)
            } catch {
                throw BacktestError("\(what), config \(p.number) (\(label(p))): \(error.message)")
            }
        }
        // The span every config can trade.
        var span: (from: Timestamp, to: Timestamp)?
        var folds: [WalkForwardFold] = []
        if let walkForward {
            var lo = Timestamp.distantPast, hi = Timestamp.distantFuture
            for p in points {
                let whole = try plan(p, p.config.from, p.config.to, "walk-forward span")
                lo = max(lo, whole.from)
                hi = min(hi, whole.to)
            }
            guard lo < hi else { throw BacktestError("the configs have no span in common to walk forward over") }
            span = (lo, hi)
            folds = walkForward.folds(from: lo, to: hi)
            guard !folds.isEmpty else {
                throw BacktestError("--walk-forward \(walkForward): \(lo.iso8601) → \(hi.iso8601) (\(String(format: "%.0f", Double(hi.msSince(lo)) / Double(Millis.day))) days) holds no fold of train + test; shorten the windows or widen the span")
            }
        }
        // Every window's plan: train and test of each fold, then each regime, for every config.
        var plans: [BacktestPlan] = []
        var trainPlans: [[Int]] = [], testPlans: [[Int]] = [], regimePlans: [[Int]] = []
        for f in folds {
            trainPlans.append(try points.map { p in
                plans.append(try plan(p, f.trainFrom, f.trainTo, "fold \(f.index) train \(f.trainFrom.iso8601) → \(f.trainTo.iso8601)"))
                return plans.count - 1
            })
            testPlans.append(try points.map { p in
                plans.append(try plan(p, f.testFrom, f.testTo, "fold \(f.index) test \(f.testFrom.iso8601) → \(f.testTo.iso8601)"))
                return plans.count - 1
            })
        }
        for r in regimes {
            regimePlans.append(try points.map { p in
                plans.append(try plan(p, r.from, r.to, "regime \(r.name)"))
                return plans.count - 1
            })
        }
        // No window reads past its own end (clamping only shortens).
        for (k, f) in folds.enumerated() {
            for i in trainPlans[k] { precondition(plans[i].to <= f.trainTo) }
            for i in testPlans[k] { precondition(plans[i].to <= f.testTo && plans[i].from >= f.testFrom) }
        }
        let tape = try MarketTape.decode(plans, market: market)
        var configRuns = 0
        func runAll(_ indices: [Int], _ what: String) throws -> [SweepRunResult] {
            let jobs = indices.enumerated().map { k, i in SweepJob(number: k, plan: plans[i], tape: tape.tapeOfPlan[i], equityCSVPath: nil) }
            let out = Mutex<[Int: SweepRunResult]>([:])
            try SweepEngine.run(jobs, over: tape, threads: threads, monitor: { monitor(what, $0) }, completed: { r in out.withLock { $0[r.number] = r } })
            configRuns += jobs.count
            return out.withLock { d in jobs.map { d[$0.number]! } }
        }
        func ranked(_ results: [SweepRunResult]) -> SweepResults {
            let rows = zip(points, results).map { p, r in
                var r = r
                r.number = p.number
                return SweepRow(r, overrides: p.overrides, config: label(p))
            }
            return SweepResults(sweepHash: "", objective: objective, configs: points.count, sweptKeys: sweptKeys, rows: rows, blocks: blocks)
        }
        // Train windows of every fold in one batch; then each fold's chosen config on its test.
        let allTrain = try runAll(trainPlans.flatMap { $0 }, "walk-forward train")
        var trains: [SweepResults] = []
        var chosen: [Int] = []
        for k in folds.indices {
            let t = ranked(Array(allTrain[(k * points.count)..<((k + 1) * points.count)]))
            trains.append(t)
            chosen.append(t.rows[0].number)
        }
        let tests = try runAll(folds.indices.map { k in testPlans[k][points.firstIndex { $0.number == chosen[k] }!] }, "walk-forward test")
        let foldResults = folds.indices.map { k in
            var test = tests[k]
            test.number = chosen[k]
            return WalkForwardFoldResult(fold: folds[k], train: trains[k], chosen: chosen[k], test: test)
        }
        var regimeResults: [RegimeResult] = []
        if !regimes.isEmpty {
            let all = try runAll(regimePlans.flatMap { $0 }, "regimes")
            for (k, r) in regimes.enumerated() {
                let slice = Array(all[(k * points.count)..<((k + 1) * points.count)])
                let first = plans[regimePlans[k][0]]
                var warnings: [String] = []
                for w in slice.flatMap(\.warnings) where !warnings.contains(w) { warnings.append(w) }
                regimeResults.append(RegimeResult(regime: r, from: first.from, to: first.to, results: ranked(slice), warnings: warnings))
            }
        }
        return ValidationReport(spec: walkForward, span: span, folds: foldResults, stitched: folds.isEmpty ? nil : StitchedResult(foldResults),
                                regimes: regimeResults, zeroBasis: points.contains { $0.config.zeroBasis }, decoded: tape.decoded, configRuns: configRuns)
    }
}

extension ValidationReport {
    /// The report as printed (and written to validation.txt); its first line says so when
    /// the perps were priced from spot bars.
    public func text(title: String, top: Int = 5) -> String {
        var s = zeroBasis ? ZeroBasis.banner + "\n" : ""
        s += title + "\n"
        func day(_ t: Timestamp) -> String { String(t.iso8601.prefix(10)) }
        func pad(_ cells: [[String]], left: Int) -> String {
            var widths = Array(repeating: 0, count: cells[0].count)
            for l in cells { for (i, f) in l.enumerated() { widths[i] = max(widths[i], f.count) } }
            return cells.map { l in
                l.enumerated().map { i, f in i < left ? f.padding(toLength: widths[i], withPad: " ", startingAt: 0) : f.leftPadded(widths[i]) }.joined(separator: "  ")
            }.joined(separator: "\n") + "\n"
        }
        if let spec, let span, let st = stitched {
            s += "\nWalk-forward (\(spec)) over \(day(span.from)) → \(day(span.to)): \(folds.count) folds. On each fold every config runs the train window alone and the best by \(folds[0].train.objective.rawValue) runs the test window alone, starting flat; only the test windows count.\n\n"
            var cells = [["fold", "train", "test", "chosen", "train \(folds[0].train.objective.rawValue)", "train DSR", "test net", "test APR", "test Sharpe", "test max DD", "pairs"]]
            for f in folds {
                let r = f.train.rows[0]
                let fig = r.figure(f.train.objective).map { f.train.objective == .net ? String(format: "%+.2f", $0) : String(format: "%.2f", $0) } ?? "n/a"
                let t = f.test.summary
                cells.append([String(f.fold.index), "\(day(f.fold.trainFrom)) → \(day(f.fold.trainTo))", "\(day(f.fold.testFrom)) → \(day(f.fold.testTo))",
                              r.config, fig, r.deflatedSharpe.map { String(format: "%.3f", $0) } ?? "n/a", money(t.netPnL, signed: true), percent(t.apr),
                              ratio(t.sharpe), percent(t.maxDrawdown > 0 ? -t.maxDrawdown : 0), String(t.pairsOpened)])
            }
            s += pad(cells, left: 4)
            s += "\nStitched out-of-sample, \(day(st.from)) → \(day(st.to)) (\(String(format: "%.1f", st.days)) days of test windows only):\n"
            s += "  net P&L      \(money(st.netPnL, signed: true)) USDT  (funding \(money(st.funding, signed: true)), price/basis \(money(st.pricePnL, signed: true)), fees \(money(-st.fees, signed: true)), slippage \(money(-st.slippage, signed: true)))\n"
            s += "  APR          \(percent(st.apr))\n"
            s += "  Sharpe       \(ratio(st.sharpe))  (after \(percent(st.collateralCostApr.doubleValue)) collateral cost, daily returns of the test windows)\n"
            let dd = st.maxDrawdownTroughAt.map { t in " (\(st.maxDrawdownPeakAt.map(day) ?? "?") → \(day(t)))" } ?? ""
            s += "  max drawdown \(percent(st.maxDrawdown > 0 ? -st.maxDrawdown : 0))\(dd)\n"
            s += "  pairs opened \(st.pairsOpened)\n"
            let picks = Dictionary(grouping: folds, by: \.chosen).mapValues(\.count)
            s += "  chosen       \(folds.map { $0.train.rows[0].config }.joined(separator: ", "))  (\(picks.count) distinct of \(folds[0].train.rows.count) configs)\n"
            var seen = Set<Int>()
            for f in folds where seen.insert(f.chosen).inserted {
                let r = f.train.rows[0]
                s += "    \(r.config): \(r.overrides.isEmpty ? "the base config" : r.overrides.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))\n"
            }
        }
        for r in regimes {
            s += "\nRegime \(r.regime.name): \(day(r.regime.from)) → \(day(r.regime.to)), run over \(day(r.from)) → \(day(r.to)) (\(String(format: "%.1f", Double(r.to.msSince(r.from)) / Double(Millis.day))) days), \(r.results.rows.count) configs, ranked by \(r.results.objective.rawValue)\n\n"
            s += r.results.table(limit: top)
            let nets = r.results.rows.compactMap { Fixed($0.netPnlUsdt) }.sorted()
            if !nets.isEmpty {
                s += "  median config net P&L \(money(nets[nets.count / 2], signed: true)) USDT; \(nets.filter(\.isPositive).count) of \(nets.count) configs made money\n"
            }
            s += r.results.validationText().split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n"
            if !r.warnings.isEmpty {
                s += "  data: " + r.warnings.prefix(3).joined(separator: "; ") + (r.warnings.count > 3 ? "; … (\(r.warnings.count) warnings)" : "") + "\n"
            }
        }
        return s
    }
}
