// config/backtest.yaml, read strictly: unknown keys, impossible values and percent strings
// are refused with the key, the value and what is allowed.

public import CarryCore
import Foundation

/// Everything a backtest run needs, validated.
public struct BacktestConfig: Sendable, Equatable {
    /// The venue whose instruments are traded.
    public var venue: Venue
    /// Symbols to trade (each needs a spot and a perpetual instrument in the journal).
    public var symbols: [String]
    /// Simulated span; nil means "the span where every pair has data".
    public var from: Timestamp?
    public var to: Timestamp?
    /// Bars the engine prices from.
    public var barIntervalSeconds: UInt32
    /// How often the strategy scans.
    public var scanIntervalMs: Int64
    /// Market data before `from` fed to prime prices and funding (no trading).
    public var warmupMs: Int64
    public var initialCapitalUsdt: Fixed
    /// Yearly cost of the capital (the risk-free rate a Sharpe ratio is measured over).
    public var collateralCostApr: Fixed
    public var strategy: ThresholdStrategyConfig
    /// `strategy_mode: composite`: the v1.1 strategy's settings; nil is `simple` (v1.0).
    public var composite: CompositeStrategyConfig?
    public var reentryCooldownMs: Int64
    public var risk: RiskLimits
    public var fees: FeeSchedule
    public var slippage: SlippageModel
    public var margin: MarginModel
    public var latencyMs: Int64
    /// Leg risk, the delta band and rebalancing (`execution.*`).
    public var execution: ExecutionPolicy = .standard
    /// How a paper or live session (`carry run`) polls its venue (`session.*`); nil when the
    /// file has no `session:` section (backtests).
    public var session: SessionSettings?
    /// The canonical text of this config (journaled as `config.applied`).
    public var canonicalText: String
    /// Where it came from.
    public var source: String
    /// `zeroBasis: true`: price every perp from its spot bar (zero basis) and read no perp
    /// bars — for spans that have funding and spot bars but no perp bars (the bundled
    /// 2022–23). Off by default; a run made so says so on the first line of its reports.
    public var zeroBasis = false

}

extension BacktestConfig {
    /// Parses and validates a backtest config document.
    public static func parse(yaml: String, source: String) throws(ConfigError) -> BacktestConfig {
        try parse(root: try ConfigReader(yaml: yaml, source: source), source: source)
    }

    /// Parses and validates a config document already read into a `ConfigReader` (a sweep
    /// applies its overrides to the document first).
    static func parse(root: ConfigReader, source: String) throws(ConfigError) -> BacktestConfig {
        root.expect(["venue", "symbols", "from", "to", "barInterval", "scanInterval", "warmup", "initialCapitalUsdt", "collateralCostApr", "zeroBasis",
                     "strategy_mode", "strategy", "composite", "execution", "fees", "slippage", "margin", "risk", "session"])
        let mode = try root.string("strategy_mode", default: "simple", allowed: ["simple", "composite"])
        let venueName = try root.string("venue", default: "binance", allowed: Venue.allCases.map(\.description))
        let venue = Venue(name: venueName)!
        let symbols = try root.stringList("symbols", default: ["BTCUSDT", "ETHUSDT", "SOLUSDT"]).map { $0.uppercased() }
        if symbols.isEmpty { throw root.error("symbols", nil, "list at least one symbol") }
        var seenSymbols = Set<String>()
        for symbol in symbols where !seenSymbols.insert(symbol).inserted {
            throw root.error("symbols", symbol, "\(symbol) is listed twice: each symbol trades as one pair (a repeat would open two pairs on the same instruments)")
        }
        let from = try root.timestamp("from")
        let to = try root.timestamp("to")
        if let from, let to, from >= to { throw root.error("to", to.iso8601, "must be after from (\(from.iso8601))") }
        let barMs = try root.durationMs("barInterval", default: Millis.hour, min: Millis.minute, max: Millis.day)
        let scanMs = try root.durationMs("scanInterval", default: Millis.hour, min: Millis.minute, max: Millis.day)
        let warmupMs = try root.durationMs("warmup", default: Millis.day, min: 0, max: 30 * Millis.day)
        let capital = try root.fixed("initialCapitalUsdt", default: Fixed(100_000), min: Fixed(1), max: Fixed(1_000_000_000))
        let collateral = try root.fixed("collateralCostApr", default: Fixed("0.04")!, min: .zero, max: Fixed(1),
                                        hint: "A yearly rate as a fraction: 0.04 is 4 %.")

        let s = try root.section("strategy")
        s.expect(["kind", "entryThreshold", "exitThreshold", "maxHolding", "pairNotionalUsdt", "maxOpenPairs", "maxRateAge", "reentryCooldown"])
        if mode == "composite" {
            // The threshold strategy's own keys would be silently ignored: refuse them.
            for key in ["kind", "entryThreshold", "exitThreshold", "pairNotionalUsdt"] where s.has(key) {
                throw s.error(key, (try? s.scalar(key)) ?? nil, "applies to strategy_mode: simple only; the composite strategy enters by composite.entryScore "
                                      + "and sizes between composite.minNotionalUsdt and composite.maxNotionalUsdt")
            }
        }
        _ = try s.string("kind", default: "threshold", allowed: ["threshold"])
        let rateHint = "A funding rate per 8 h as a decimal fraction: 0.0001 is 0.01 % per 8 h."
        let entry = try s.fixed("entryThreshold", default: Fixed("0.0001")!, min: Fixed("-0.01")!, max: Fixed("0.01")!, hint: rateHint)
        let exit = try s.fixed("exitThreshold", default: .zero, min: Fixed("-0.01")!, max: Fixed("0.01")!, hint: rateHint)
        if exit > entry { throw s.error("exitThreshold", exit.description, "must not exceed entryThreshold (\(entry)), or pairs would open and close at once") }
        let maxHolding = try s.durationMs("maxHolding", default: 30 * Millis.day, min: Millis.hour, max: 3650 * Millis.day)
        let pairNotional = try s.fixed("pairNotionalUsdt", default: Fixed(20_000), min: Fixed(1), max: Fixed(1_000_000_000))
        let maxOpenPairs = try s.int("maxOpenPairs", default: 3, range: 1...100)
        let maxRateAge = try s.durationMs("maxRateAge", default: 9 * Millis.hour, min: Millis.hour, max: 7 * Millis.day)
        let cooldown = try s.durationMs("reentryCooldown", default: 8 * Millis.hour, min: 0, max: 30 * Millis.day)

        let x = try root.section("execution")
        x.expect(["latency", "orderType", "legRiskBudget", "legFailure", "deltaBand", "rebalanceRetry"])
        let latency = try x.durationMs("latency", default: 250, min: 0, max: Millis.hour)
        _ = try x.string("orderType", default: "market", allowed: ["market"])
        let standard = ExecutionPolicy.standard
        let execution = ExecutionPolicy(
            legRiskBudgetMs: try x.durationMs("legRiskBudget", default: standard.legRiskBudgetMs, min: 0, max: Millis.day),
            legFailure: try x.string("legFailure", default: "unwind", allowed: ["unwind", "complete"]) == "complete" ? .complete : .unwind,
            deltaBand: try x.fixed("deltaBand", default: standard.deltaBand, min: Fixed("0.001")!, max: Fixed(1), hint: "A fraction of the pair: 0.02 is 2 %."),
            rebalanceRetryMs: try x.durationMs("rebalanceRetry", default: standard.rebalanceRetryMs, min: 0, max: Millis.day))
        if execution.legFailure == .complete && execution.legRiskBudgetMs < barMs {
            // A backtest fills at bar closes: a budget shorter than a bar always runs out before
            // the second try can fill, so `complete` would silently behave as `unwind`.
            throw x.error("legRiskBudget", ConfigReader.formatDuration(execution.legRiskBudgetMs),
                          "with legFailure: complete it must be at least one bar (\(ConfigReader.formatDuration(barMs))): fills happen at bar closes")
        }

        let f = try root.section("fees")
        f.expect(Venue.allCases.map(\.description) + ["overrides"])
        var spotFees: [UInt8: FeeRates] = [:]
        var perpFees: [UInt8: FeeRates] = [:]
        let feeHint = "A fee rate as a fraction of traded value: 0.001 is 0.1 %."
        let defaults: [Venue: (spot: (String, String), perp: (String, String))] = [
            .binance: (("0.001", "0.001"), ("0.0005", "0.0002")),
            .bybit: (("0.001", "0.001"), ("0.00055", "0.0002")),
            .okx: (("0.001", "0.0008"), ("0.0005", "0.0002")),
        ]
        for v in Venue.allCases {
            let vs = try f.section(v.description)
            vs.expect(["spotTaker", "spotMaker", "perpTaker", "perpMaker"])
            let d = defaults[v]!
            spotFees[v.rawValue] = FeeRates(taker: try vs.fixed("spotTaker", default: Fixed(d.spot.0)!, min: Fixed("-0.001")!, max: Fixed("0.01")!, hint: feeHint),
                                            maker: try vs.fixed("spotMaker", default: Fixed(d.spot.1)!, min: Fixed("-0.001")!, max: Fixed("0.01")!, hint: feeHint))
            perpFees[v.rawValue] = FeeRates(taker: try vs.fixed("perpTaker", default: Fixed(d.perp.0)!, min: Fixed("-0.001")!, max: Fixed("0.01")!, hint: feeHint),
                                            maker: try vs.fixed("perpMaker", default: Fixed(d.perp.1)!, min: Fixed("-0.001")!, max: Fixed("0.01")!, hint: feeHint))
            if spotFees[v.rawValue]!.taker.isNegative { throw vs.error("spotTaker", spotFees[v.rawValue]!.taker.description, "a taker fee cannot be negative (makers may earn rebates; takers pay)") }
            if perpFees[v.rawValue]!.taker.isNegative { throw vs.error("perpTaker", perpFees[v.rawValue]!.taker.description, "a taker fee cannot be negative (makers may earn rebates; takers pay)") }
        }
        var overrides: [String: FeeRates] = [:]
        let o = try f.section("overrides")
        for key in o.keys {
            // e.g. "binance:linear:BTCUSDT": { taker: 0.0004, maker: 0.0002 }
            let parts = key.split(separator: ":")
            guard parts.count == 3, Venue(name: String(parts[0])) != nil, InstrumentKind(name: String(parts[1])) != nil else {
                throw o.error(key, nil, "override keys are venue:kind:SYMBOL, e.g. binance:linear:BTCUSDT")
            }
            let e = try o.section(key)
            e.expect(["taker", "maker"])
            let taker = try e.fixed("taker", default: .zero, min: .zero, max: Fixed("0.01")!, hint: feeHint)
            let maker = try e.fixed("maker", default: .zero, min: Fixed("-0.001")!, max: Fixed("0.01")!, hint: feeHint)
            overrides[key] = FeeRates(taker: taker, maker: maker)
        }

        let sl = try root.section("slippage")
        sl.expect(["halfSpread", "impactCoefficient", "maxParticipation"])
        let slippage = SlippageModel(
            halfSpread: try sl.fixed("halfSpread", default: Fixed("0.0001")!, min: .zero, max: Fixed("0.05")!, hint: "Half the bid–ask spread as a fraction of price: 0.0001 is 1 bp."),
            impactCoefficient: try sl.fixed("impactCoefficient", default: Fixed("0.1")!, min: .zero, max: Fixed(100)),
            maxParticipation: try sl.fixed("maxParticipation", default: Fixed("0.1")!, min: Fixed("0.0001")!, max: Fixed(1)))

        let m = try root.section("margin")
        m.expect(["perpLeverage", "maintenanceMarginRate"])
        let margin = MarginModel(
            perpLeverage: try m.fixed("perpLeverage", default: Fixed(2), min: Fixed(1), max: Fixed(100)),
            maintenanceMarginRate: try m.fixed("maintenanceMarginRate", default: Fixed("0.005")!, min: .zero, max: Fixed("0.5")!))

        let r = try root.section("risk")
        r.expect(["maxPairNotionalUsdt", "maxTotalNotionalUsdt", "maxLeverage", "minMarginBuffer", "exitMarginBuffer", "maxDrawdown", "minFreeCashUsdt"])
        let risk = RiskLimits(
            maxPairNotionalUsdt: try r.fixed("maxPairNotionalUsdt", default: Fixed(25_000), min: Fixed(1), max: Fixed(1_000_000_000)),
            maxTotalNotionalUsdt: try r.fixed("maxTotalNotionalUsdt", default: Fixed(75_000), min: Fixed(1), max: Fixed(1_000_000_000)),
            maxLeverage: try r.fixed("maxLeverage", default: Fixed(3), min: Fixed(1), max: Fixed(100)),
            minMarginBuffer: try r.fixed("minMarginBuffer", default: Fixed("0.30")!, min: .zero, max: Fixed(10), hint: "A fraction of price: 0.30 is 30 %."),
            exitMarginBuffer: try r.fixed("exitMarginBuffer", default: Fixed("0.10")!, min: .zero, max: Fixed(10), hint: "A fraction of price: 0.10 is 10 %."),
            maxDrawdown: try r.fixed("maxDrawdown", default: Fixed("0.05")!, min: Fixed("0.001")!, max: Fixed(1), hint: "A fraction of peak equity: 0.05 is 5 %."),
            minFreeCashUsdt: try r.fixed("minFreeCashUsdt", default: .zero, min: .zero, max: Fixed(1_000_000_000)))
        if risk.exitMarginBuffer > risk.minMarginBuffer {
            throw r.error("exitMarginBuffer", risk.exitMarginBuffer.description, "must not exceed minMarginBuffer (\(risk.minMarginBuffer))")
        }
        var composite: CompositeStrategyConfig?
        if mode == "composite" {
            composite = try parseComposite(try root.section("composite"), barMs: barMs, maxHoldingMs: maxHolding, maxOpenPairs: maxOpenPairs,
                                           maxRateAgeMs: maxRateAge, risk: risk)
        } else if root.has("composite") {
            throw root.error("composite", nil, "applies to strategy_mode: composite; add `strategy_mode: composite` or remove the section")
        }

        var config = BacktestConfig(
            venue: venue, symbols: symbols, from: from, to: to, barIntervalSeconds: UInt32(barMs / 1000), scanIntervalMs: scanMs, warmupMs: warmupMs,
            initialCapitalUsdt: capital, collateralCostApr: collateral,
            strategy: ThresholdStrategyConfig(entryThresholdPerInterval8h: entry, exitThresholdPerInterval8h: exit, maxHoldingMs: maxHolding,
                                              pairNotionalUsdt: pairNotional, maxOpenPairs: maxOpenPairs, maxRateAgeMs: maxRateAge),
            composite: composite, reentryCooldownMs: cooldown, risk: risk, fees: FeeSchedule(spot: spotFees, perp: perpFees, overrides: overrides),
            slippage: slippage, margin: margin, latencyMs: latency, execution: execution, canonicalText: "", source: source)
        if root.has("session") {
            let ss = try root.section("session")
            ss.expect(["pollInterval", "marketLag", "reconcileInterval", "controlPort", "staleAfter"])
            config.session = SessionSettings(
                pollMs: try ss.durationMs("pollInterval", default: SessionSettings.standard.pollMs, min: 10, max: Millis.hour),
                marketLagMs: try ss.durationMs("marketLag", default: SessionSettings.standard.marketLagMs, min: 0, max: Millis.hour),
                reconcileMs: try ss.durationMs("reconcileInterval", default: SessionSettings.standard.reconcileMs, min: 1000, max: Millis.day),
                controlPort: try ss.int("controlPort", default: 0, range: 0...65535),
                staleAfterMs: try ss.durationMs("staleAfter", default: SessionSettings.standard.staleAfterMs, min: 100, max: Millis.day))
        }
        config.zeroBasis = try root.bool("zeroBasis", default: false)
        try root.finish()
        config.canonicalText = config.canonical()
        return config
    }

    /// Reads and parses a config file.
    public static func load(path: String) throws(ConfigError) -> BacktestConfig {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError(source: path, key: "", value: nil, message: "cannot read the file. Pass --config with an existing file (the default is config/backtest.yaml).")
        }
        return try parse(yaml: text, source: path)
    }

    /// Reads back the canonical text a run journaled in `config.applied`, so a run journal
    /// alone says how to value and re-run it.
    public static func parse(canonical text: String, source: String) throws(ConfigError) -> BacktestConfig {
        try parse(yaml: try yaml(canonical: text, source: source), source: source)
    }

    /// The canonical text as a nested YAML document that `parse(yaml:)` reads back to the same
    /// canonical text (what a sweep writes as each config's file, for `carry backtest`).
    public static func yaml(canonical text: String, source: String) throws(ConfigError) -> String {
        // Rebuild the nested document from the dotted keys.
        final class Node {
            var order: [String] = []
            var children: [String: Node] = [:]
            var value: String?
        }
        let root = Node()
        for line in text.split(separator: "\n") where !line.isEmpty {
            // Override keys hold ":" but never ": " — split at the first ": ".
            guard let range = line.range(of: ": ") else {
                throw ConfigError(source: source, key: String(line), value: nil, message: "not a `key: value` line of a canonical config")
            }
            let key = String(line[..<range.lowerBound]), value = String(line[range.upperBound...])
            var node = root
            for part in key.split(separator: ".").map(String.init) {
                if node.children[part] == nil {
                    node.children[part] = Node()
                    node.order.append(part)
                }
                node = node.children[part]!
            }
            node.value = value
        }
        var yaml = ""
        func emit(_ node: Node, indent: String) {
            for name in node.order {
                let child = node.children[name]!
                let key = name.contains(":") ? "\"\(name)\"" : name
                if let v = child.value {
                    switch (indent.isEmpty ? name : "", v) {
                    case ("from", "auto"), ("to", "auto"): continue
                    case ("symbols", _): yaml += "\(indent)\(key): [\(v.split(separator: ",").joined(separator: ", "))]\n"
                    default: yaml += "\(indent)\(key): \(v)\n"
                    }
                } else {
                    yaml += "\(indent)\(key):\n"
                    emit(child, indent: indent + "  ")
                }
            }
        }
        emit(root, indent: "")
        return yaml
    }

    /// The effective configuration as sorted `key: value` lines: what `config.applied`
    /// records, so a run can be explained and re-run exactly.
    public func canonical() -> String {
        var lines: [String] = []
        func add(_ k: String, _ v: String) { lines.append("\(k): \(v)") }
        add("venue", venue.description)
        add("symbols", symbols.joined(separator: ","))
        add("from", from?.iso8601 ?? "auto")
        add("to", to?.iso8601 ?? "auto")
        add("barInterval", ConfigReader.formatDuration(Int64(barIntervalSeconds) * 1000))
        add("scanInterval", ConfigReader.formatDuration(scanIntervalMs))
        add("warmup", ConfigReader.formatDuration(warmupMs))
        add("initialCapitalUsdt", initialCapitalUsdt.description)
        add("collateralCostApr", collateralCostApr.description)
        // Listed only when on, so every other run records the config it always did.
        if zeroBasis { add("zeroBasis", "true") }
        if let c = composite {
            // Composite runs record their mode and settings; simple runs keep v1.0's lines.
            add("strategy_mode", "composite")
            add("composite.weights.level", c.weights.level.description)
            add("composite.weights.trend", c.weights.trend.description)
            add("composite.weights.persistence", c.weights.persistence.description)
            add("composite.weights.basis", c.weights.basis.description)
            add("composite.weights.volume", c.weights.volume.description)
            add("composite.levelWindow", String(c.windows.level))
            add("composite.levelScale", c.levelScale.description)
            add("composite.trendWindow", String(c.windows.trend))
            add("composite.trendDeadBand", c.trendDeadBand.description)
            add("composite.trendScale", c.trendScale.description)
            add("composite.persistenceWindow", String(c.windows.persistence))
            add("composite.persistenceLevel", c.persistenceLevel.description)
            add("composite.basisWindow", String(c.windows.basis))
            add("composite.volumeScale", c.volumeScale.description)
            add("composite.entryScore", c.entryScore.description)
            add("composite.exitScore", c.exitScore.description)
            add("composite.minHolding", ConfigReader.formatDuration(c.minHoldingMs))
            add("composite.expectedHolding", ConfigReader.formatDuration(c.expectedHoldingMs))
            add("composite.feeGateMultiple", c.feeGateMultiple.description)
            add("composite.targetProfitMultiple", c.targetProfitMultiple.description)
            add("composite.switchMargin", c.switchMargin.description)
            add("composite.minNotionalUsdt", c.minNotionalUsdt.description)
            add("composite.maxNotionalUsdt", c.maxNotionalUsdt.description)
        } else {
            add("strategy.kind", "threshold")
            add("strategy.entryThreshold", strategy.entryThresholdPerInterval8h.description)
            add("strategy.exitThreshold", strategy.exitThresholdPerInterval8h.description)
        }
        add("strategy.maxHolding", ConfigReader.formatDuration(strategy.maxHoldingMs))
        if composite == nil { add("strategy.pairNotionalUsdt", strategy.pairNotionalUsdt.description) }
        add("strategy.maxOpenPairs", String(strategy.maxOpenPairs))
        add("strategy.maxRateAge", ConfigReader.formatDuration(strategy.maxRateAgeMs))
        add("strategy.reentryCooldown", ConfigReader.formatDuration(reentryCooldownMs))
        add("execution.latency", ConfigReader.formatDuration(latencyMs))
        add("execution.orderType", "market")
        // Keys added after v1.0 appear only when they differ from their defaults, so a run
        // journaled by v1.0 and the same run now record the same config.
        let standard = ExecutionPolicy.standard
        if execution.legRiskBudgetMs != standard.legRiskBudgetMs { add("execution.legRiskBudget", ConfigReader.formatDuration(execution.legRiskBudgetMs)) }
        if execution.legFailure != standard.legFailure { add("execution.legFailure", execution.legFailure == .complete ? "complete" : "unwind") }
        if execution.deltaBand != standard.deltaBand { add("execution.deltaBand", execution.deltaBand.description) }
        if execution.rebalanceRetryMs != standard.rebalanceRetryMs { add("execution.rebalanceRetry", ConfigReader.formatDuration(execution.rebalanceRetryMs)) }
        for v in Venue.allCases {
            let s = fees.spot[v.rawValue]!, p = fees.perp[v.rawValue]!
            add("fees.\(v).spotTaker", s.taker.description)
            add("fees.\(v).spotMaker", s.maker.description)
            add("fees.\(v).perpTaker", p.taker.description)
            add("fees.\(v).perpMaker", p.maker.description)
        }
        for key in fees.overrides.keys.sorted() {
            add("fees.overrides.\(key).taker", fees.overrides[key]!.taker.description)
            add("fees.overrides.\(key).maker", fees.overrides[key]!.maker.description)
        }
        add("slippage.halfSpread", slippage.halfSpread.description)
        add("slippage.impactCoefficient", slippage.impactCoefficient.description)
        add("slippage.maxParticipation", slippage.maxParticipation.description)
        add("margin.perpLeverage", margin.perpLeverage.description)
        add("margin.maintenanceMarginRate", margin.maintenanceMarginRate.description)
        add("risk.maxPairNotionalUsdt", risk.maxPairNotionalUsdt.description)
        add("risk.maxTotalNotionalUsdt", risk.maxTotalNotionalUsdt.description)
        add("risk.maxLeverage", risk.maxLeverage.description)
        add("risk.minMarginBuffer", risk.minMarginBuffer.description)
        add("risk.exitMarginBuffer", risk.exitMarginBuffer.description)
        add("risk.maxDrawdown", risk.maxDrawdown.description)
        add("risk.minFreeCashUsdt", risk.minFreeCashUsdt.description)
        if let session {
            add("session.pollInterval", ConfigReader.formatDuration(session.pollMs))
            add("session.marketLag", ConfigReader.formatDuration(session.marketLagMs))
            // Listed only when set (a paper session's config.applied reads as before it existed).
            if session.reconcileMs != SessionSettings.standard.reconcileMs { add("session.reconcileInterval", ConfigReader.formatDuration(session.reconcileMs)) }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension BacktestConfig {
    /// The `composite:` section (strategy_mode: composite), validated.
    static func parseComposite(_ c: ConfigReader, barMs: Int64, maxHoldingMs: Int64, maxOpenPairs: Int, maxRateAgeMs: Int64,
                               risk: RiskLimits) throws(ConfigError) -> CompositeStrategyConfig {
        c.expect(["weights", "levelWindow", "levelScale", "trendWindow", "trendDeadBand", "trendScale", "persistenceWindow", "persistenceLevel",
                  "basisWindow", "volumeScale", "entryScore", "exitScore", "minHolding", "expectedHolding", "feeGateMultiple",
                  "targetProfitMultiple", "switchMargin", "minNotionalUsdt", "maxNotionalUsdt"])
        let d = CompositeStrategyConfig.defaults
        let w = try c.section("weights")
        w.expect(["level", "trend", "persistence", "basis", "volume"])
        let weightHint = "A weight is a non-negative number; the score divides by their sum."
        let weights = CompositeWeights(
            level: try w.fixed("level", default: d.weights.level, min: .zero, max: Fixed(1000), hint: weightHint),
            trend: try w.fixed("trend", default: d.weights.trend, min: .zero, max: Fixed(1000), hint: weightHint),
            persistence: try w.fixed("persistence", default: d.weights.persistence, min: .zero, max: Fixed(1000), hint: weightHint),
            basis: try w.fixed("basis", default: d.weights.basis, min: .zero, max: Fixed(1000), hint: weightHint),
            volume: try w.fixed("volume", default: d.weights.volume, min: .zero, max: Fixed(1000), hint: weightHint))
        if !weights.total.isPositive {
            throw w.error("level", weights.level.description, "every weight is zero: give at least one component a positive weight")
        }
        let rateHint = "A funding rate per 8 h as a decimal fraction: 0.0001 is 0.01 % per 8 h."
        let level = try c.int("levelWindow", default: d.windows.level, range: 1...1000)
        let trend = try c.int("trendWindow", default: d.windows.trend, range: 2...1000)
        let persistence = try c.int("persistenceWindow", default: d.windows.persistence, range: 1...1000)
        let basis = try c.int("basisWindow", default: d.windows.basis, range: 1...10_000)
        let volumeBars = Int(max(1, Millis.day / barMs))
        let entryScore = try c.fixed("entryScore", default: d.entryScore, min: Fixed(-1), max: Fixed("0.999999")!,
                                     hint: "The score runs from −1 to 1.")
        let exitScore = try c.fixed("exitScore", default: d.exitScore, min: Fixed(-1), max: Fixed(1), hint: "The score runs from −1 to 1.")
        if exitScore > entryScore {
            throw c.error("exitScore", exitScore.description, "must not exceed entryScore (\(entryScore)), or pairs would open and close at once")
        }
        let minHolding = try c.durationMs("minHolding", default: d.minHoldingMs, min: 0, max: 3650 * Millis.day)
        if minHolding > maxHoldingMs {
            throw c.error("minHolding", ConfigReader.formatDuration(minHolding),
                          "must not exceed strategy.maxHolding (\(ConfigReader.formatDuration(maxHoldingMs)))")
        }
        let minNotional = try c.fixed("minNotionalUsdt", default: d.minNotionalUsdt, min: Fixed(1), max: Fixed(1_000_000_000))
        let maxNotional = try c.fixed("maxNotionalUsdt", default: d.maxNotionalUsdt, min: Fixed(1), max: Fixed(1_000_000_000))
        if minNotional > maxNotional {
            throw c.error("minNotionalUsdt", minNotional.description, "must not exceed maxNotionalUsdt (\(maxNotional))")
        }
        if maxNotional > risk.maxPairNotionalUsdt {
            throw c.error("maxNotionalUsdt", maxNotional.description,
                          "must not exceed risk.maxPairNotionalUsdt (\(risk.maxPairNotionalUsdt)): every entry that large would be refused")
        }
        return CompositeStrategyConfig(
            weights: weights, windows: FeatureWindows(level: level, trend: trend, persistence: persistence, basis: basis, volumeBars: volumeBars),
            levelScale: try c.fixed("levelScale", default: d.levelScale, min: Fixed("0.000001")!, max: Fixed("0.01")!, hint: rateHint),
            trendDeadBand: try c.fixed("trendDeadBand", default: d.trendDeadBand, min: .zero, max: Fixed("0.01")!,
                                       hint: "A change of the rate per 8 h per settlement: 0.000001 is 0.0001 % per settlement."),
            trendScale: try c.fixed("trendScale", default: d.trendScale, min: Fixed("0.0000001")!, max: Fixed("0.01")!,
                                    hint: "A change of the rate per 8 h per settlement that scores a full trend."),
            persistenceLevel: try c.fixed("persistenceLevel", default: d.persistenceLevel, min: Fixed("-0.01")!, max: Fixed("0.01")!, hint: rateHint),
            volumeScale: try c.fixed("volumeScale", default: d.volumeScale, min: Fixed("0.001")!, max: Fixed(1_000_000),
                                     hint: "The thinner leg's 24 h quote volume ÷ the pair's notional that scores a full volume."),
            entryScore: entryScore, exitScore: exitScore, minHoldingMs: minHolding, maxHoldingMs: maxHoldingMs,
            expectedHoldingMs: try c.durationMs("expectedHolding", default: d.expectedHoldingMs, min: Millis.hour, max: 3650 * Millis.day),
            feeGateMultiple: try c.fixed("feeGateMultiple", default: d.feeGateMultiple, min: Fixed(-1), max: Fixed(100),
                                         hint: "Expected net carry ÷ round-trip cost required to enter: 0.5 asks the carry to clear the costs by half again."),
            targetProfitMultiple: try c.fixed("targetProfitMultiple", default: d.targetProfitMultiple, min: .zero, max: Fixed(1000),
                                              hint: "Net funding collected ÷ round-trip cost at which a pair is closed; 0 turns the target off."),
            switchMargin: try c.fixed("switchMargin", default: d.switchMargin, min: .zero, max: Fixed(1000),
                                      hint: "A candidate replaces a held pair when its extra expected funding exceeds this multiple of the switching cost."),
            minNotionalUsdt: minNotional, maxNotionalUsdt: maxNotional, maxOpenPairs: maxOpenPairs, maxRateAgeMs: maxRateAgeMs)
    }
}

/// How a session polls its venue.
public struct SessionSettings: Sendable, Equatable {
    /// Wall time between polls of the venue.
    public var pollMs: Int64
    /// How long after an instant the venue's klines and funding history are complete for it:
    /// the session processes an instant (and scans at it) only once the venue's clock is that
    /// far past it.
    public var marketLagMs: Int64
    /// A live session reconciles with the venue (positions, wallet, open orders) this often, on
    /// the venue's clock, and at every start.
    public var reconcileMs: Int64
    /// The loopback control port (`/health`, `/metrics`, `/kill` on 127.0.0.1); 0 = none.
    /// Operational: not part of the canonical text, so changing it never refuses a journal.
    public var controlPort: Int
    /// `/health` answers 503 once the last completed step is older than this (wall time).
    /// Operational, like `controlPort`.
    public var staleAfterMs: Int64

    public init(pollMs: Int64, marketLagMs: Int64, reconcileMs: Int64 = 5 * Millis.minute, controlPort: Int = 0, staleAfterMs: Int64 = 30_000) {
        self.pollMs = pollMs
        self.marketLagMs = marketLagMs
        self.reconcileMs = reconcileMs
        self.controlPort = controlPort
        self.staleAfterMs = staleAfterMs
    }

    /// Poll every second; treat an instant as complete 10 s after it; reconcile every 5
    /// minutes; no control port; stale after 30 s without a step.
    public static let standard = SessionSettings(pollMs: 1000, marketLagMs: 10_000)
}
