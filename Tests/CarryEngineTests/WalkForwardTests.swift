// Walk-forward and regime validation, and zero-basis mode, over windows of the bundled data:
// each fold's test run equals `carry backtest` of the chosen config over the test window (it
// starts flat); changing every market record after a fold's test window changes none of that
// fold's choices or results (no look-ahead) while it does change later folds; zero-basis mode
// equals a journal whose perp bars are copies of the spot bars, whether read by a backtest or
// a sweep's tape, and says so on the first line of its reports.

import CarryCore
import CarryEngine
import CarryJournal
import CarryTesting
import Foundation
import Testing

@Suite("Walk-forward, regimes and zero-basis mode", .serialized)
struct WalkForwardTests {
    static let from = Timestamp(iso8601: "2025-09-20")!
    static let to = Timestamp(iso8601: "2025-12-20")!

    /// Four configs of the simple strategy over [from, to].
    func points(zeroBasis: Bool = false, span: Bool = true) throws -> [SweepPoint] {
        let dir = ScratchDirectory("wf-spec")
        let path = try writeFiles(dir, [
            ("sweep.yaml", """
            base: base.yaml
            objective: net
            grid:
              strategy.entryThreshold: [0.00003, 0.00006]
              strategy.maxHolding: [2d, 10d]
            """),
            ("base.yaml", """
            symbols: [BTCUSDT, ETHUSDT]
            \(span ? "from: 2025-09-20\nto: 2025-12-20" : "")
            zeroBasis: \(zeroBasis)
            strategy: {entryThreshold: 0.00005, exitThreshold: 0.00001, reentryCooldown: 1h}
            """),
        ])
        return try SweepSpec.load(path: path).points()
    }

    func validate(_ points: [SweepPoint], _ source: String, _ spec: WalkForwardSpec?, regimes: [RegimeSpan] = []) throws -> ValidationReport {
        let market = try MarketJournal(readOnlyPath: source)
        return try Validation.run(points: points, walkForward: spec, regimes: regimes, market: market, objective: .net, threads: 2,
                                  label: { String($0.config.source.dropLast(5)) })
    }

    @Test("folds tile the span (train, test, step) and only whole test windows count; the specs parse and bad ones are refused")
    func foldsAndParsing() throws {
        let spec = try WalkForwardSpec(parsing: "train=90d,test=30d")
        #expect(spec == WalkForwardSpec(trainMs: 90 * Millis.day, testMs: 30 * Millis.day, stepMs: 30 * Millis.day))
        let start = Timestamp(iso8601: "2025-01-01")!
        let folds = spec.folds(from: start, to: start.adding(ms: 181 * Millis.day))
        #expect(folds.count == 3)
        #expect(folds.map { $0.testFrom.iso8601 } == ["2025-04-01T00:00:00Z", "2025-05-01T00:00:00Z", "2025-05-31T00:00:00Z"])
        #expect(folds.allSatisfy { $0.trainTo == $0.testFrom && $0.testTo.msSince($0.testFrom) == 30 * Millis.day })
        #expect(try WalkForwardSpec(parsing: "test=10d,train=20d,step=5d").stepMs == 5 * Millis.day)
        for bad in ["train=90d", "train=90d,test=x", "train=90d,test=30d,foo=1d", "train=1h,test=30d", "train=9d,train=9d,test=1d"] {
            #expect(throws: BacktestError.self, "\(bad)") { try WalkForwardSpec(parsing: bad) }
        }
        #expect(try RegimeSpan(parsing: "2022") == RegimeSpan(name: "2022", from: Timestamp(iso8601: "2022-01-01")!, to: Timestamp(iso8601: "2023-01-01")!))
        #expect(try RegimeSpan(parsing: "2025-26") == RegimeSpan(name: "2025-26", from: Timestamp(iso8601: "2025-01-01")!, to: Timestamp(iso8601: "2027-01-01")!))
        #expect(try RegimeSpan(parsing: "calm=2024-03-01..2024-09-01") == RegimeSpan(name: "calm", from: Timestamp(iso8601: "2024-03-01")!, to: Timestamp(iso8601: "2024-09-01")!))
        for bad in ["22", "2023-22", "2024-09-01..2024-03-01", "x=..", "2022-13"] {
            #expect(throws: BacktestError.self, "\(bad)") { try RegimeSpan(parsing: bad) }
        }
    }

    @Test("each fold chooses the best config on its train window alone, and its test run equals `carry backtest` of that config over the test window (a flat start)")
    func foldEqualsBacktest() throws {
        let dir = ScratchDirectory("wf-backtest")
        let window = try RealWindow(symbols: ["BTCUSDT", "ETHUSDT"], from: Self.from.adding(ms: -3 * Millis.day), to: Self.to)
        let source = try window.journal(dir.sub("market"), window.records)
        let points = try points()
        let report = try validate(points, source, WalkForwardSpec(trainMs: 20 * Millis.day, testMs: 10 * Millis.day, stepMs: 15 * Millis.day))
        #expect(report.folds.count == 5)
        var foldsWithDSR = 0
        for f in report.folds {
            // The train ranking is by net P&L of each config run over the train window alone.
            let nets = f.train.rows.map { Fixed($0.netPnlUsdt)! }
            #expect(nets == nets.sorted(by: >))
            #expect(f.chosen == f.train.rows[0].number)
            #expect(f.train.rows.allSatisfy { $0.from == f.fold.trainFrom.iso8601 && $0.to == f.fold.trainTo.iso8601 })
            var config = points.first { $0.number == f.chosen }!.config
            config.from = f.fold.testFrom
            config.to = f.fold.testTo
            config.canonicalText = config.canonical()
            let b = try runBacktest(config, dir, "fold-\(f.fold.index)", source: source)
            #expect(f.test.contentHash == b.contentHash, "fold \(f.fold.index)")
            #expect(f.test.summary.text(title: "t") == b.summary.text(title: "t"))
            #expect(f.test.summary.dailyReturns == b.summary.dailyReturns)
            // The in-sample DSR shown is the DSR of the chosen row with N = every config.
            let rows = f.train.rows
            if let d = f.train.validation?.deflatedSharpe {
                foldsWithDSR += 1
                let again = DeflatedSharpe.compute(returns: rows[0].dailyReturns!, trialSharpes: rows.map { ReturnMoments($0.dailyReturns!).sharpe })
                #expect(d == again && rows[0].deflatedSharpe == d.probability && d.trials == 4)
            }
        }
        #expect(foldsWithDSR >= 1, "the DSR wiring is checked on at least one fold")
        // Stitched: the test windows' sums, returns concatenated.
        let st = try #require(report.stitched)
        #expect(st.netPnL == report.folds.reduce(Fixed.zero) { $0 + $1.test.summary.netPnL })
        #expect(st.days == 50)
        let r = report.folds.flatMap(\.test.summary.dailyReturns)
        #expect(st.sharpe == ReturnMoments(r).sharpe.map { $0 * 365.0.squareRoot() })
        #expect(report.folds.contains { $0.test.summary.pairsOpened > 0 }, "the case covers trading test windows")
        let text = report.text(title: "T")
        #expect(text.hasPrefix("T\n") && text.contains("Stitched out-of-sample") && text.contains("fold"))
    }

    @Test("no look-ahead: every market record after a fold's test window changed (funding sign flipped, prices +20 %) leaves that fold's choice and results unchanged, and changes later folds")
    func noLookAhead() throws {
        let dir = ScratchDirectory("wf-lookahead")
        let window = try RealWindow(symbols: ["BTCUSDT", "ETHUSDT"], from: Self.from.adding(ms: -3 * Millis.day), to: Self.to)
        let spec = WalkForwardSpec(trainMs: 20 * Millis.day, testMs: 10 * Millis.day)
        let points = try points()
        let original = try validate(points, try window.journal(dir.sub("a"), window.records), spec)
        let cut = original.folds[2].fold.testTo
        let changed = window.records.map { r -> MarketRecord in
            switch r {
            case .bar(var b) where b.closeTime > cut:
                let k = Fixed("1.2")!
                b.open = b.open.multiplied(by: k, scale: 8, .toNearestOrEven)
                b.high = b.high.multiplied(by: k, scale: 8, .toNearestOrEven)
                b.low = b.low.multiplied(by: k, scale: 8, .toNearestOrEven)
                b.close = b.close.multiplied(by: k, scale: 8, .toNearestOrEven)
                return .bar(b)
            case .funding(let t, var f) where t > cut:
                f.ratePerInterval = -f.ratePerInterval
                return .funding(settlementTime: t, f)
            default:
                return r
            }
        }
        #expect(changed != window.records)
        let altered = try validate(points, try window.journal(dir.sub("b"), changed), spec)
        #expect(altered.folds.count == original.folds.count && original.folds.count >= 5)
        for (a, b) in zip(original.folds, altered.folds) where a.fold.testTo <= cut {
            #expect(a.chosen == b.chosen, "fold \(a.fold.index)")
            // (Content hashes name the source journal, a different one here: compare the books and figures.)
            #expect(a.test.stateHash == b.test.stateHash, "fold \(a.fold.index)")
            #expect(a.test.summary.text(title: "") == b.test.summary.text(title: "") && a.test.summary.dailyReturns == b.test.summary.dailyReturns)
            #expect(a.train.rows.map(\.stateHash) == b.train.rows.map(\.stateHash), "fold \(a.fold.index)")
            #expect(a.train.rows.map(\.netPnlUsdt) == b.train.rows.map(\.netPnlUsdt))
        }
        let later = zip(original.folds, altered.folds).filter { $0.0.fold.testFrom >= cut }
        #expect(!later.isEmpty)
        #expect(later.contains { $0.0.test.stateHash != $0.1.test.stateHash }, "the change is visible to the folds after the cut")
    }

    @Test("zero-basis mode: no perp bars needed; equals a journal whose perp bars are the spot bars (backtest and sweep tape alike); real perp bars are ignored; the first line of every report says so")
    func zeroBasis() throws {
        let dir = ScratchDirectory("zero-basis")
        let window = try RealWindow(symbols: ["BTCUSDT", "ETHUSDT"], from: Timestamp(iso8601: "2025-09-25")!, to: Timestamp(iso8601: "2025-11-05")!)
        let perps = Set(window.pairs.map(\.perp.id))
        let perpOf = Dictionary(uniqueKeysWithValues: window.pairs.map { ($0.spot.id, $0.perp.id) })
        let spotOnly = window.records.filter { if case .bar(let b) = $0 { return !perps.contains(b.instrumentId) } else { return true } }
        var copied: [MarketRecord] = []
        for r in spotOnly {
            copied.append(r)
            if case .bar(var b) = r, let perp = perpOf[b.instrumentId] {
                b.instrumentId = perp
                copied.append(.bar(b))
            }
        }
        let noPerp = try window.journal(dir.sub("no-perp"), spotOnly)
        let withCopies = try window.journal(dir.sub("copies"), copied)
        let real = try window.journal(dir.sub("real"), window.records)
        let yaml = "symbols: [BTCUSDT, ETHUSDT]\nfrom: 2025-10-01\nto: 2025-11-01\nstrategy: {entryThreshold: 0.00004, exitThreshold: 0.00001, maxHolding: 5d, reentryCooldown: 1h}"
        let plain = try backtestConfig(yaml)
        let zero = try backtestConfig(yaml + "\nzeroBasis: true")
        #expect(zero.zeroBasis && zero.canonicalText.contains("zeroBasis: true\n") && !plain.canonicalText.contains("zeroBasis"))
        #expect(try BacktestConfig.parse(yaml: BacktestConfig.yaml(canonical: zero.canonicalText, source: "z"), source: "z").canonicalText == zero.canonicalText,
                "a sweep's or validation's config file keeps the mode")
        // Without the mode a span with no perp bars is refused, pointing at the mode.
        do {
            _ = try runBacktest(plain, dir, "refused", source: noPerp)
            Issue.record("a backtest without perp bars ran")
        } catch let e as BacktestError {
            #expect(e.message.contains("perp 1h bars") && e.message.contains("zeroBasis: true"), "\(e.message)")
        }
        let z = try runBacktest(zero, dir, "zero", source: noPerp)
        let c = try runBacktest(plain, dir, "copies", source: withCopies)
        let zr = try runBacktest(zero, dir, "zero-real", source: real)
        let p = try runBacktest(plain, dir, "real", source: real)
        #expect(z.summary.pairsOpened > 0)
        #expect(z.stateHash == c.stateHash, "zero basis = perp bars that are the spot bars")
        #expect(z.summary.netPnL == c.summary.netPnL && z.summary.dailyReturns == c.summary.dailyReturns)
        #expect(zr.stateHash == z.stateHash && zr.summary.text(title: "") == z.summary.text(title: ""), "real perp bars are not read in zero-basis mode")
        #expect(p.stateHash != z.stateHash, "the real basis matters in this window")
        // The first line of its report says so; a real-basis run's does not.
        #expect(z.summary.text(title: "T").hasPrefix(ZeroBasis.banner + "\nT\n"))
        #expect(c.summary.text(title: "T").hasPrefix("T\n"))
        #expect(HTMLReport.render(title: "T", result: z, configText: zero.canonicalText).contains("<title>ZERO-BASIS MODE: perps priced from spot bars"))
        // The run journal records the mode and rebuilds to the same book.
        let rebuilt = try RunProjector.rebuild(runPath: z.runJournalPath, sourcePath: noPerp)
        #expect(rebuilt.stateHash == z.stateHash && rebuilt.config.zeroBasis)
        // A sweep's tape reads it the same way.
        let market = try MarketJournal(readOnlyPath: noPerp)
        let plans = [try BacktestDriver.plan(config: zero, market: market)]
        let tape = try MarketTape.decode(plans, market: market)
        let swept = try SweepEngine.run(SweepJob(number: 1, plan: plans[0], tape: 0, equityCSVPath: nil), over: tape.tapes[0], source: tape.source)
        #expect(swept.contentHash == z.contentHash && swept.summary.zeroBasis)
    }

    @Test("configs without from/to walk forward over the span the data covers")
    func dataSpan() throws {
        let dir = ScratchDirectory("wf-data-span")
        let window = try RealWindow(symbols: ["BTCUSDT", "ETHUSDT"], from: Self.from, to: Timestamp(iso8601: "2025-11-20")!)
        let source = try window.journal(dir.sub("market"), window.records)
        let report = try validate(try points(span: false), source, WalkForwardSpec(trainMs: 20 * Millis.day, testMs: 10 * Millis.day))
        let span = try #require(report.span)
        #expect(span.from >= Self.from && span.from < Self.from.adding(ms: Millis.day))
        #expect(span.to <= Timestamp(iso8601: "2025-11-20")! && span.to > Timestamp(iso8601: "2025-11-19")!)
        #expect(report.folds.count == 4 && report.stitched != nil, "61 days: tests end on days 30, 40, 50 and 60")
    }

    @Test("regimes: every config over each span on its own, clamped to the data, ranked with DSR and PBO; a zero-basis validation says so first")
    func regimes() throws {
        let dir = ScratchDirectory("wf-regimes")
        let window = try RealWindow(symbols: ["BTCUSDT", "ETHUSDT"], from: Self.from.adding(ms: -3 * Millis.day), to: Self.to)
        let source = try window.journal(dir.sub("market"), window.records)
        let regimes = [try RegimeSpan(parsing: "oct=2025-10-01..2025-11-01"), try RegimeSpan(parsing: "late=2025-11-01..2026-01-01")]
        let report = try validate(try points(zeroBasis: true), source, nil, regimes: regimes)
        #expect(report.folds.isEmpty && report.stitched == nil && report.regimes.count == 2)
        #expect(report.regimes[0].from == regimes[0].from && report.regimes[0].to == regimes[0].to)
        #expect(report.regimes[1].to <= Self.to && report.regimes[1].to > Timestamp(iso8601: "2025-12-19")!, "clamped to the data")
        #expect(report.regimes.allSatisfy { $0.results.rows.count == 4 && $0.results.validation != nil })
        let text = report.text(title: "T")
        #expect(text.hasPrefix(ZeroBasis.banner + "\nT\n"))
        #expect(text.contains("Regime oct") && text.contains("Regime late") && text.contains("PBO"))
    }
}
