// strategy_mode and the composite: section read strictly: misspelled keys (with a suggestion),
// negative or all-zero weights, sizes out of order or over the pair limit, an exit score above
// the entry score, the threshold strategy's keys under composite (and the reverse), an unknown
// mode — each refused with the key, the value and what is allowed. And the canonical text a
// composite run journals reads back to the same config.

import CarryCore
import CarryEngine
import CarryTesting
import Foundation
import Testing

/// The refusal of a config, or nil when it is accepted.
private func refusal(_ yaml: String) -> ConfigError? {
    do {
        _ = try BacktestConfig.parse(yaml: yaml, source: "test.yaml")
        return nil
    } catch {
        return error
    }
}

private let composite = "strategy_mode: composite\n"

@Suite("Composite config: bad input refused, canonical text round trip")
struct CompositeConfigTests {
    @Test("the defaults: no composite section is the documented default set; simple mode leaves composite nil")
    func defaults() throws {
        let c = try BacktestConfig.parse(yaml: composite, source: "test.yaml")
        #expect(c.composite == CompositeStrategyConfig.defaults)
        let simple = try BacktestConfig.parse(yaml: "strategy_mode: simple\n", source: "test.yaml")
        #expect(simple.composite == nil)
        #expect(simple == (try BacktestConfig.parse(yaml: "", source: "test.yaml")))
        // Volume is summed over 24 h of the configured bars.
        #expect(try BacktestConfig.parse(yaml: composite + "barInterval: 15m\n", source: "t").composite?.windows.volumeBars == 96)
        #expect(try BacktestConfig.parse(yaml: composite + "barInterval: 4h\n", source: "t").composite?.windows.volumeBars == 6)
    }

    @Test("misspelled composite keys are refused with the key and a suggestion", arguments: [
        ("composite: {entryScor: 0.3}", "composite.entryScor", "entryScore"),
        ("composite: {weights: {levl: 0.5}}", "composite.weights.levl", "level"),
        ("composite: {persistenceWindw: 21}", "composite.persistenceWindw", "persistenceWindow"),
        ("composite: {maxNotionalUSDT: 20000}", "composite.maxNotionalUSDT", "maxNotionalUsdt"),
        ("strategy_mod: composite", "strategy_mod", "strategy_mode"),
    ])
    func misspelled(yaml: String, key: String, suggestion: String) throws {
        let prefix = yaml.hasPrefix("strategy_mod:") ? "" : composite
        let e = try #require(refusal(prefix + yaml + "\n"))
        #expect(e.key == key, "\(e)")
        #expect(e.message.contains("unknown key") && e.message.contains("Did you mean `\(suggestion)`?"), "\(e)")
        #expect(e.message.contains("Allowed here:"), "\(e)")
    }

    @Test("an unknown key with no close match lists what is allowed")
    func unknownKey() throws {
        let e = try #require(refusal(composite + "composite: {colour: blue}\n"))
        #expect(e.key == "composite.colour" && !e.message.contains("Did you mean"))
        for allowed in ["entryScore", "exitScore", "weights", "feeGateMultiple", "minNotionalUsdt", "maxNotionalUsdt", "switchMargin"] {
            #expect(e.message.contains(allowed), "\(allowed): \(e)")
        }
    }

    @Test("a negative weight is refused with the key, the value and what is allowed", arguments: ["level", "trend", "persistence", "basis", "volume"])
    func negativeWeight(name: String) throws {
        let e = try #require(refusal(composite + "composite: {weights: {\(name): -0.1}}\n"))
        #expect(e.key == "composite.weights.\(name)" && e.value == "-0.1", "\(e)")
        #expect(e.message.contains("must be at least 0") && e.message.contains("non-negative"), "\(e)")
    }

    @Test("all-zero weights are refused: at least one component must count")
    func allZero() throws {
        let e = try #require(refusal(composite + "composite: {weights: {level: 0, trend: 0, persistence: 0, basis: 0, volume: 0}}\n"))
        #expect(e.key.hasPrefix("composite.weights") && e.value == "0", "\(e)")
        #expect(e.message.contains("every weight is zero") && e.message.contains("positive weight"), "\(e)")
        // One positive weight is enough.
        #expect(refusal(composite + "composite: {weights: {level: 0, trend: 0, persistence: 0, basis: 0, volume: 0.01}}\n") == nil)
    }

    @Test("sizes: min above max, max above the pair limit, and non-positive sizes are refused")
    func sizes() throws {
        let order = try #require(refusal(composite + "composite: {minNotionalUsdt: 30000, maxNotionalUsdt: 20000}\n"))
        #expect(order.key == "composite.minNotionalUsdt" && order.value == "30000" && order.message.contains("must not exceed maxNotionalUsdt (20000)"), "\(order)")
        // The default max (25,000) against a smaller min is fine; a min above the default max is not.
        let overDefault = try #require(refusal(composite + "composite: {minNotionalUsdt: 26000}\n"))
        #expect(overDefault.key == "composite.minNotionalUsdt" && overDefault.message.contains("25000"), "\(overDefault)")
        let pair = try #require(refusal(composite + "risk: {maxPairNotionalUsdt: 15000}\ncomposite: {minNotionalUsdt: 10000, maxNotionalUsdt: 20000}\n"))
        #expect(pair.key == "composite.maxNotionalUsdt" && pair.value == "20000" && pair.message.contains("risk.maxPairNotionalUsdt (15000)"), "\(pair)")
        let zero = try #require(refusal(composite + "composite: {minNotionalUsdt: 0}\n"))
        #expect(zero.key == "composite.minNotionalUsdt" && zero.value == "0" && zero.message.contains("must be at least 1"), "\(zero)")
        #expect(refusal(composite + "composite: {minNotionalUsdt: 20000, maxNotionalUsdt: 20000}\n") == nil)
    }

    @Test("scores: an exit score above the entry score, and scores outside −1…1, are refused")
    func scores() throws {
        let e = try #require(refusal(composite + "composite: {entryScore: 0.3, exitScore: 0.4}\n"))
        #expect(e.key == "composite.exitScore" && e.value == "0.4" && e.message.contains("must not exceed entryScore (0.3)"), "\(e)")
        #expect(refusal(composite + "composite: {entryScore: 0.3, exitScore: 0.3}\n") == nil)
        let high = try #require(refusal(composite + "composite: {entryScore: 1}\n"))
        #expect(high.key == "composite.entryScore" && high.value == "1" && high.message.contains("0.999999"), "\(high)")
        let low = try #require(refusal(composite + "composite: {exitScore: -1.5}\n"))
        #expect(low.key == "composite.exitScore" && low.value == "-1.5" && low.message.contains("must be at least -1"), "\(low)")
        let percent = try #require(refusal(composite + "composite: {entryScore: 30%}\n"))
        #expect(percent.key == "composite.entryScore" && percent.value == "30%", "\(percent)")
    }

    @Test("windows and holdings out of range are refused with what is allowed")
    func windows() throws {
        let trend = try #require(refusal(composite + "composite: {trendWindow: 1}\n"))
        #expect(trend.key == "composite.trendWindow" && trend.value == "1" && trend.message.contains("2…1000"), "\(trend)")
        let level = try #require(refusal(composite + "composite: {levelWindow: 0}\n"))
        #expect(level.key == "composite.levelWindow" && level.message.contains("1…1000"), "\(level)")
        let notInt = try #require(refusal(composite + "composite: {persistenceWindow: 2.5}\n"))
        #expect(notInt.key == "composite.persistenceWindow" && notInt.value == "2.5" && notInt.message.contains("whole number"), "\(notInt)")
        let holding = try #require(refusal(composite + "strategy: {maxHolding: 2d}\ncomposite: {minHolding: 3d}\n"))
        #expect(holding.key == "composite.minHolding" && holding.value == "3d" && holding.message.contains("strategy.maxHolding (2d)"), "\(holding)")
    }

    @Test("the threshold strategy's own keys are refused under strategy_mode: composite", arguments: [
        ("entryThreshold", "0.0001"), ("exitThreshold", "0.00002"), ("pairNotionalUsdt", "20000"), ("kind", "threshold"),
    ])
    func simpleKeysUnderComposite(key: String, value: String) throws {
        let e = try #require(refusal(composite + "strategy: {\(key): \(value)}\n"))
        #expect(e.key == "strategy.\(key)", "\(e)")
        #expect(e.message.contains("strategy_mode: simple only") && e.message.contains("composite.entryScore"), "\(e)")
        // The keys both modes share are accepted.
        #expect(refusal(composite + "strategy: {maxHolding: 10d, maxOpenPairs: 2, maxRateAge: 9h, reentryCooldown: 8h}\n") == nil)
    }

    @Test("a composite: section under strategy_mode: simple (explicit or by default) is refused")
    func compositeUnderSimple() throws {
        for mode in ["strategy_mode: simple\n", ""] {
            let e = try #require(refusal(mode + "composite: {entryScore: 0.3}\n"))
            #expect(e.key == "composite", "\(e)")
            #expect(e.message.contains("applies to strategy_mode: composite") && e.message.contains("add `strategy_mode: composite`"), "\(e)")
        }
    }

    @Test("an unknown strategy_mode is refused with the value and the modes there are", arguments: ["fancy", "Composite", "v1.1", "complex"])
    func unknownMode(mode: String) throws {
        let e = try #require(refusal("strategy_mode: \(mode)\n"))
        #expect(e.key == "strategy_mode" && e.value == mode, "\(e)")
        #expect(e.message.contains("must be one of: simple, composite"), "\(e)")
        #expect(String(describing: e).contains("strategy_mode = \(mode)"))
    }

    @Test("the canonical text of a composite config reads back to the same config", arguments: [
        "",
        """
        symbols: [ETHUSDT, BTCUSDT]
        strategy: {maxHolding: 12d, maxOpenPairs: 2, maxRateAge: 5h, reentryCooldown: 0s}
        composite:
          weights: {level: 2, trend: 0, persistence: 0.333333, basis: 0.000001, volume: 1}
          levelWindow: 5
          levelScale: 0.00025
          trendWindow: 2
          trendDeadBand: 0
          trendScale: 0.0000003
          persistenceWindow: 30
          persistenceLevel: -0.00001
          basisWindow: 200
          volumeScale: 12.5
          entryScore: -0.25
          exitScore: -0.5
          minHolding: 36h
          expectedHolding: 7d
          feeGateMultiple: -0.5
          targetProfitMultiple: 0
          switchMargin: 2.75
          minNotionalUsdt: 1234.5
          maxNotionalUsdt: 1234.5
        """,
    ])
    func canonicalRoundTrip(extra: String) throws {
        let c = try BacktestConfig.parse(yaml: composite + extra + "\n", source: "journal")
        #expect(c.canonicalText.contains("strategy_mode: composite\n"))
        #expect(!c.canonicalText.contains("strategy.entryThreshold") && !c.canonicalText.contains("strategy.pairNotionalUsdt"))
        let back = try BacktestConfig.parse(canonical: c.canonicalText, source: "journal")
        #expect(back == c)
        #expect(back.composite == c.composite && back.composite != nil)
        #expect(back.canonicalText == c.canonicalText)
        // Every key of the section is in the text (none left to its default on the way back).
        for key in ["weights.level", "weights.trend", "weights.persistence", "weights.basis", "weights.volume", "levelWindow", "levelScale", "trendWindow",
                    "trendDeadBand", "trendScale", "persistenceWindow", "persistenceLevel", "basisWindow", "volumeScale", "entryScore", "exitScore",
                    "minHolding", "expectedHolding", "feeGateMultiple", "targetProfitMultiple", "switchMargin", "minNotionalUsdt", "maxNotionalUsdt"] {
            #expect(c.canonicalText.contains("\ncomposite.\(key): "), "\(key)")
        }
    }

    @Test("config/backtest-composite.yaml is a valid composite config whose canonical text reads back to it")
    func shippedExample() throws {
        let c = try BacktestConfig.load(path: Fixtures.repoRoot + "/config/backtest-composite.yaml")
        let composite = try #require(c.composite)
        #expect(composite.entryScore == Fixed("0.3")! && composite.minNotionalUsdt == Fixed(10_000) && composite.maxNotionalUsdt == Fixed(25_000))
        #expect(try BacktestConfig.parse(canonical: c.canonicalText, source: c.source) == c)
        // And config/backtest.yaml stays a simple (v1.0) config.
        #expect(try BacktestConfig.load(path: Fixtures.repoRoot + "/config/backtest.yaml").composite == nil)
    }
}
