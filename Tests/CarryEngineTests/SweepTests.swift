// The sweep engine against the backtest it replaces: every swept config's content hash, state
// hash, equity curve and summary equal those of `BacktestDriver.run` of the same config —
// configs over different spans and symbol sets sharing one decode, on a journal with holes —
// and a sweep file's expansion, order and refusals.

import CarryCore
import CarryEngine
import CarryJournal
import CarryTesting
import Foundation
import Testing

/// Writes `files` (name → text) into `dir` and returns the path of the first.
@discardableResult
func writeFiles(_ dir: ScratchDirectory, _ files: [(String, String)]) throws -> String {
    for (name, text) in files { try text.write(toFile: dir.sub(name), atomically: true, encoding: .utf8) }
    return dir.sub(files[0].0)
}

@Suite("Sweep engine: one decode, many configs", .serialized)
struct SweepEngineTests {
    @Test("each swept config equals its own backtest — content hash, state hash, equity.csv, summary — over two spans, two symbol sets and both strategies sharing one decode of a journal with holes")
    func sweptEqualsBacktest() throws {
        let dir = ScratchDirectory("sweep-engine")
        let window = try RealWindow(symbols: ["BTCUSDT", "ETHUSDT"], from: Timestamp(iso8601: "2025-09-20")!, to: Timestamp(iso8601: "2025-11-10")!)
        let perp = window.pairs[0].perp.id
        // A hole in BTC's perp bars inside every span: each run must journal the same alert.
        let holeFrom = Timestamp(iso8601: "2025-10-12T01:00:00Z")!, holeTo = Timestamp(iso8601: "2025-10-12T05:00:00Z")!
        let holed = window.records.filter { r in
            if case .bar(let b) = r { return !(b.instrumentId == perp && b.closeTime >= holeFrom && b.closeTime <= holeTo) }
            return true
        }
        let source = try window.journal(dir.sub("market"), holed)
        let configs = try [
            "symbols: [BTCUSDT, ETHUSDT]\nfrom: 2025-10-01\nto: 2025-11-01\nstrategy: {entryThreshold: 0.00005, exitThreshold: 0.00001, maxHolding: 5d, reentryCooldown: 1h}",
            "symbols: [BTCUSDT, ETHUSDT]\nfrom: 2025-10-01\nto: 2025-11-01\nstrategy: {entryThreshold: 0.0001, exitThreshold: 0, maxHolding: 2d}",
            "symbols: [BTCUSDT]\nfrom: 2025-10-05\nto: 2025-10-25\nstrategy: {entryThreshold: -0.01, exitThreshold: -0.01, maxHolding: 49h, maxRateAge: 2d}",
            "strategy_mode: composite\nsymbols: [BTCUSDT, ETHUSDT]\nfrom: 2025-10-01\nto: 2025-11-01\nwarmup: 8d\ncomposite: {entryScore: 0.1, feeGateMultiple: 0, minHolding: 1d}",
            // Starts before the data: clamped, with the clamp's warning in the header.
            "symbols: [BTCUSDT, ETHUSDT]\nfrom: 2025-09-01\nto: 2025-10-20\nstrategy: {entryThreshold: 0.00005, exitThreshold: 0}",
        ].enumerated().map { k, yaml in try BacktestConfig.parse(yaml: yaml, source: "\(k + 1).yaml") }
        let market = try MarketJournal(readOnlyPath: source)
        let plans = try configs.map { try BacktestDriver.plan(config: $0, market: market) }
        let tape = try MarketTape.decode(plans, market: market)
        #expect(tape.tapes.count == 4, "configs 1, 2 and 4 share a plan only where instruments and spans agree")
        #expect(tape.tapeOfPlan[0] == tape.tapeOfPlan[1])
        let jobs = plans.indices.map { SweepJob(number: $0 + 1, plan: plans[$0], tape: tape.tapeOfPlan[$0], equityCSVPath: dir.sub("swept-\($0 + 1).csv")) }
        let collected = Locked<[Int: SweepRunResult]>([:])
        try SweepEngine.run(jobs, over: tape, threads: 2, completed: { r in collected.mutate { $0[r.number] = r } })
        let swept = collected.value
        #expect(swept.count == configs.count)
        for (k, config) in configs.enumerated() {
            let backtest = try runBacktest(config, dir, "backtest-\(k + 1)", source: source)
            let s = try #require(swept[k + 1])
            #expect(s.contentHash == backtest.contentHash, "config \(k + 1)")
            #expect(s.stateHash == backtest.stateHash, "config \(k + 1)")
            #expect(s.runEvents == backtest.events.run)
            #expect(s.inputEvents == backtest.events.source)
            #expect(s.warnings == backtest.warnings)
            #expect(s.summary.text(title: "t") == backtest.summary.text(title: "t"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: dir.sub("swept-\(k + 1).csv"))) == Data(contentsOf: URL(fileURLWithPath: dir.sub("backtest-\(k + 1)/equity.csv"))))
        }
        // The cases the test is meant to cover did happen.
        #expect(swept[1]!.warnings.contains { $0.contains("BTCUSDT perp 1h bars") && $0.contains("treated as no data") })
        #expect(swept[5]!.warnings.contains { $0.contains("the backtest starts there") })
        #expect(swept[1]!.summary.pairsOpened > 0 && swept[3]!.summary.pairsOpened > 0 && swept[4]!.summary.pairsOpened > 0)
        #expect(Set(swept.values.map(\.contentHash)).count == configs.count)
    }

    @Test("a sweep file expands list × grid in order, last grid key fastest; overrides go through the strict parser; ~ removes a key")
    func expansion() throws {
        let dir = ScratchDirectory("sweep-spec")
        let path = try writeFiles(dir, [
            ("sweep.yaml", """
            base: base.yaml
            objective: calmar
            grid:
              strategy.entryThreshold: [0.0001, 0.0002]
              strategy.maxHolding: [7d, 14d, 30d]
            list:
              - {risk.maxTotalNotionalUsdt: 40000}
              - {risk.maxTotalNotionalUsdt: 60000, strategy.maxOpenPairs: 2}
            """),
            ("base.yaml", "symbols: [BTCUSDT]\nstrategy:\n  entryThreshold: 0.0003\n  exitThreshold: 0.00005\nrisk: {maxTotalNotionalUsdt: 75000}\n"),
        ])
        let spec = try SweepSpec.load(path: path)
        #expect(spec.count == 12)
        #expect(spec.objective == .calmar)
        #expect(spec.sweptKeys == ["strategy.entryThreshold", "strategy.maxHolding", "risk.maxTotalNotionalUsdt", "strategy.maxOpenPairs"])
        let points = try spec.points()
        #expect(points.map(\.config.source) == (1...12).map { String(format: "%03d.yaml", $0) })
        #expect(points[0].overrides.map(\.value) == ["40000", "0.0001", "7d"])
        #expect(points[1].overrides.map(\.value) == ["40000", "0.0001", "14d"])
        #expect(points[3].overrides.map(\.value) == ["40000", "0.0002", "7d"])
        #expect(points[6].overrides.map(\.value) == ["60000", "2", "0.0001", "7d"])
        let c = points[11].config
        #expect(c.strategy.entryThresholdPerInterval8h == Fixed("0.0002")!)
        #expect(c.strategy.maxHoldingMs == 30 * Millis.day)
        #expect(c.strategy.maxOpenPairs == 2)
        #expect(c.risk.maxTotalNotionalUsdt == Fixed(60000))
        #expect(c.strategy.exitThresholdPerInterval8h == Fixed("0.00005")!, "keys not swept keep the base's value")
        // The written config reads back to the same canonical text.
        let yaml = try BacktestConfig.yaml(canonical: c.canonicalText, source: "x")
        #expect(try BacktestConfig.parse(yaml: yaml, source: "x").canonicalText == c.canonicalText)
        // Removing a key restores its default; a mode switch works on a base with no simple-only keys.
        let switchPath = try writeFiles(dir, [
            ("switch.yaml", "base: base.yaml\nlist:\n  - {strategy.entryThreshold: ~, strategy.exitThreshold: ~, strategy_mode: composite}\n  - {}\n")])
        let switched = try SweepSpec.load(path: switchPath).points()
        #expect(switched[0].config.composite != nil)
        #expect(switched[1].config.composite == nil && switched[1].config.strategy.entryThresholdPerInterval8h == Fixed("0.0003")!)
    }

    @Test("config/sweep-example.yaml is 18 composite configs, every one valid, entry score × exit score × fee gate")
    func shippedExample() throws {
        let spec = try SweepSpec.load(path: Fixtures.repoRoot + "/config/sweep-example.yaml")
        let points = try spec.points()
        #expect(points.count == 18 && spec.objective == .sharpe)
        #expect(points.allSatisfy { $0.config.composite != nil })
        let combos = Set(points.map { p in "\(p.config.composite!.entryScore) \(p.config.composite!.exitScore) \(p.config.composite!.feeGateMultiple)" })
        #expect(combos.count == 18)
        #expect(Set(points.map(\.config.canonicalText)).count == 18)
    }

    @Test("bad sweep files are refused with what is wrong and the sweep file's line")
    func refusals() throws {
        let dir = ScratchDirectory("sweep-bad")
        try writeFiles(dir, [("base.yaml", "symbols: [BTCUSDT]\nstrategy: {entryThreshold: 0.0001, exitThreshold: 0}\n")])
        func refusal(_ text: String) -> ConfigError? {
            do {
                let path = try writeFiles(dir, [("s.yaml", text)])
                _ = try SweepSpec.load(path: path).points()
                return nil
            } catch let e as ConfigError {
                return e
            } catch {
                return ConfigError(source: "", key: "", value: nil, message: "unexpected \(error)")
            }
        }
        let unknown = try #require(refusal("base: base.yaml\ngrid:\n  strategy.entryThreshold: [0.0001]\n  strategy.entryThresold: [0.0002]\n"))
        #expect(unknown.source == dir.sub("s.yaml") + ":4")
        #expect(unknown.key == "strategy.entryThresold")
        #expect(unknown.description.contains("unknown key") && unknown.description.contains("Did you mean `entryThreshold`"))
        #expect(unknown.description.contains("config 1 of 1"))
        let topLevel = try #require(refusal("base: base.yaml\ngrid:\n  strateg.maxHolding: [1d]\n"))
        #expect(topLevel.source.hasSuffix("s.yaml:3") && topLevel.description.contains("unknown key"))
        let empty = try #require(refusal("base: base.yaml\ngrid: {}\n"))
        #expect(empty.description.contains("the grid is empty"))
        let emptyValues = try #require(refusal("base: base.yaml\ngrid:\n  strategy.maxHolding: []\n"))
        #expect(emptyValues.source.hasSuffix("s.yaml:3") && emptyValues.description.contains("list of values is empty"))
        let nothing = try #require(refusal("base: base.yaml\n"))
        #expect(nothing.key == "grid" && nothing.description.contains("missing"))
        let noBase = try #require(refusal("grid:\n  strategy.maxHolding: [1d]\n"))
        #expect(noBase.key == "base")
        let missingBase = try #require(refusal("base: nowhere.yaml\ngrid:\n  strategy.maxHolding: [1d]\n"))
        #expect(missingBase.description.contains("cannot read") && missingBase.description.contains("nowhere.yaml"))
        let scalar = try #require(refusal("base: base.yaml\ngrid:\n  strategy.maxHolding: 1d\n"))
        #expect(scalar.description.contains("expected a list of values"))
        // A combination the parser refuses names the key's line and the config.
        let combination = try #require(refusal("base: base.yaml\ngrid:\n  strategy.entryThreshold: [0.0001, 0.00002]\n  strategy.exitThreshold: [0.00005]\n"))
        #expect(combination.source.hasSuffix("s.yaml:4"))
        #expect(combination.description.contains("must not exceed entryThreshold") && combination.description.contains("config 2 of 2"))
        let both = try #require(refusal("base: base.yaml\ngrid:\n  strategy.maxHolding: [1d]\nlist:\n  - {strategy.maxHolding: 2d}\n"))
        #expect(both.description.contains("both a grid key and a list key"))
        let stray = try #require(refusal("base: base.yaml\ngrids:\n  strategy.maxHolding: [1d]\n"))
        #expect(stray.source.hasSuffix("s.yaml:2") && stray.description.contains("unknown key"))
        #expect(throws: BacktestError.self) { try SweepShard(parsing: "3/2") }
        #expect(throws: BacktestError.self) { try SweepShard(parsing: "0/2") }
        #expect(throws: BacktestError.self) { try SweepShard(parsing: "1-2") }
        #expect(try SweepShard(parsing: "2/3").numbers(of: 8) == [2, 5, 8])
    }
}

/// A value shared by the sweep's worker threads in a test.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func mutate(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}
