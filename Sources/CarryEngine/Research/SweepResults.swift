// A swept config's result as stored (`rows/NNN.json`) and the ranked tables a sweep writes
// (`results.csv`, `results.json`). Amounts are exact decimals written as strings; ratios are
// doubles. Output is deterministic: rows ranked by the objective (best first, a figure that
// could not be computed last, ties by config number), JSON keys sorted.

import CarryCore
import CarryJournal
import Foundation

/// One swept config's figures.
public struct SweepRow: Codable, Sendable, Equatable {
    /// Place in the ranking (set in results, absent in a stored row).
    public var rank: Int?
    public var number: Int
    /// Its config file, relative to the sweep directory (`configs/007.yaml`).
    public var config: String
    public var overrides: [SweepOverride]
    /// The run journal's content hash of `carry backtest --config` on that file.
    public var contentHash: String
    public var stateHash: String
    public var from: String
    public var to: String
    public var netPnlUsdt: String
    public var fundingUsdt: String
    public var pricePnlUsdt: String
    public var feesUsdt: String
    public var slippageUsdt: String
    public var finalEquityUsdt: String
    public var apr: Double
    public var sharpe: Double?
    public var sortino: Double?
    public var calmar: Double?
    public var maxDrawdown: Double
    public var maxDrawdownUsdt: String
    public var pairsOpened: Int
    public var fills: Int
    public var liquidations: Int
    public var timeInMarket: Double
    public var turnover: Double
    public var exposureMean: Double
    public var killSwitch: Bool
    public var runEvents: Int
    public var inputEvents: Int
    public var warnings: Int
    /// The deflated Sharpe ratio (a probability) of this config's Sharpe with N = every
    /// config of the results (set in results; see `SweepValidation`).
    public var deflatedSharpe: Double?
    /// True when the config priced its perps from spot bars (`zeroBasis: true`).
    public var zeroBasis: Bool?
    /// Daily returns in excess of the collateral cost and the UTC day of the first: stored
    /// in rows/NNN.json (the return matrix of DSR and PBO), left out of results.json.
    public var dailyReturns: [Double]?
    public var returnsFirstDay: Int64?

    /// The row of a finished config.
    public init(_ result: SweepRunResult, overrides: [SweepOverride], config: String) {
        let s = result.summary
        rank = nil
        number = result.number
        self.config = config
        self.overrides = overrides
        contentHash = result.contentHash.description
        stateHash = result.stateHash.description
        from = s.from.iso8601
        to = s.to.iso8601
        netPnlUsdt = s.netPnL.description
        fundingUsdt = s.funding.description
        pricePnlUsdt = s.pricePnL.description
        feesUsdt = s.fees.description
        slippageUsdt = s.slippage.description
        finalEquityUsdt = s.finalEquity.description
        apr = s.apr
        sharpe = s.sharpe
        sortino = s.sortino
        calmar = s.calmar
        maxDrawdown = s.maxDrawdown
        maxDrawdownUsdt = s.maxDrawdownUsdt.description
        pairsOpened = s.pairsOpened
        fills = s.fills
        liquidations = s.liquidations
        timeInMarket = s.timeInMarket
        turnover = s.turnover
        exposureMean = s.exposureMean
        killSwitch = s.killSwitchEngaged
        runEvents = result.runEvents
        inputEvents = result.inputEvents
        warnings = result.warnings.count
        zeroBasis = s.zeroBasis ? true : nil
        dailyReturns = s.dailyReturns
        returnsFirstDay = s.dailyReturnsFirstDay
    }

    /// The figure `objective` ranks by (nil: could not be computed).
    public func figure(_ objective: SweepObjective) -> Double? {
        switch objective {
        case .net: return Fixed(netPnlUsdt)?.doubleValue
        case .sharpe: return sharpe
        case .calmar: return calmar
        case .apr: return apr
        }
    }
}

/// The ranked results of a sweep (or of the slices merged so far).
public struct SweepResults: Codable, Sendable, Equatable {
    public var format = "carry.sweep.results.v1"
    public var sweepHash: String
    public var objective: SweepObjective
    /// Configs in the whole sweep, and how many of them have a row here.
    public var configs: Int
    public var finished: Int
    public var sweptKeys: [String]
    public var rows: [SweepRow]
    /// Deflated Sharpe of the top config and PBO over the rows (nil: rows stored without
    /// their return series, by an older version).
    public var validation: SweepValidation?

    /// Ranks `rows` by `objective`; measures the top config's deflated Sharpe and the PBO
    /// over the rows' daily returns (CSCV in `blocks` blocks).
    public init(sweepHash: String, objective: SweepObjective, configs: Int, sweptKeys: [String], rows: [SweepRow], blocks: Int = 16) {
        self.sweepHash = sweepHash
        self.objective = objective
        self.configs = configs
        self.sweptKeys = sweptKeys
        finished = rows.count
        self.rows = rows.sorted { a, b in
            switch (a.figure(objective), b.figure(objective)) {
            case let (x?, y?) where x != y: return x > y
            case (.some, nil): return true
            case (nil, .some): return false
            default: return a.number < b.number
            }
        }
        for i in self.rows.indices { self.rows[i].rank = i + 1 }
        validation = SweepValidation(rows: self.rows, objective: objective, blocks: blocks)
        if let v = validation {
            for i in self.rows.indices { self.rows[i].deflatedSharpe = v.deflatedSharpe(of: self.rows[i]) }
        }
    }

    /// True when any config priced its perps from spot bars.
    public var zeroBasis: Bool { rows.contains { $0.zeroBasis == true } }

    /// `results.json`: sorted keys, so equal results are equal bytes; the return series stay
    /// in rows/NNN.json.
    func json() throws -> Data {
        var slim = self
        for i in slim.rows.indices {
            slim.rows[i].dailyReturns = nil
            slim.rows[i].returnsFirstDay = nil
        }
        return try SweepStore.encoder().encode(slim)
    }

    /// `results.csv`: one line per config, best first, the swept keys as columns.
    public func csv() -> String {
        var out = (["rank", "config"] + sweptKeys + ["net_pnl_usdt", "funding_usdt", "price_pnl_usdt", "fees_usdt", "slippage_usdt", "apr", "sharpe",
                                                     "sortino", "calmar", "max_drawdown", "max_drawdown_usdt", "pairs_opened", "fills", "time_in_market",
                                                     "turnover", "exposure_mean", "deflated_sharpe", "zero_basis", "content_hash"]).joined(separator: ",") + "\n"
        func ratio(_ v: Double?) -> String { v.map { String(format: "%.6f", $0) } ?? "" }
        for r in rows {
            var fields = [String(r.rank ?? 0), r.config]
            for key in sweptKeys { fields.append(r.overrides.first { $0.key == key }?.value ?? "") }
            fields += [r.netPnlUsdt, r.fundingUsdt, r.pricePnlUsdt, r.feesUsdt, r.slippageUsdt, ratio(r.apr), ratio(r.sharpe), ratio(r.sortino),
                       ratio(r.calmar), ratio(r.maxDrawdown), r.maxDrawdownUsdt, String(r.pairsOpened), String(r.fills), ratio(r.timeInMarket),
                       ratio(r.turnover), ratio(r.exposureMean), ratio(r.deflatedSharpe), r.zeroBasis == true ? "true" : "false", r.contentHash]
            out += fields.map(csvField).joined(separator: ",") + "\n"
        }
        return out
    }

    /// The best `limit` rows as a terminal table.
    public func table(limit: Int) -> String {
        let head = ["rank", "config"] + sweptKeys + ["net P&L", "APR", "Sharpe", "DSR", "Calmar", "max DD", "pairs", "hash"]
        var lines = [head]
        for r in rows.prefix(limit) {
            var line = [String(r.rank ?? 0), r.config.split(separator: "/").last.map(String.init) ?? r.config]
            for key in sweptKeys { line.append(r.overrides.first { $0.key == key }?.value ?? "") }
            line += [Fixed(r.netPnlUsdt).map { money($0, signed: true) } ?? r.netPnlUsdt, percent(r.apr), ratio(r.sharpe), r.deflatedSharpe.map { String(format: "%.3f", $0) } ?? "n/a", ratio(r.calmar),
                     percent(-r.maxDrawdown), String(r.pairsOpened), String(r.contentHash.prefix(12))]
            lines.append(line)
        }
        var widths = Array(repeating: 0, count: head.count)
        for l in lines { for (i, f) in l.enumerated() { widths[i] = max(widths[i], f.count) } }
        return lines.map { l in
            l.enumerated().map { i, f in i < 2 + sweptKeys.count ? f.padding(toLength: widths[i], withPad: " ", startingAt: 0) : f.leftPadded(widths[i]) }
                .joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    /// What the DSR and PBO say, for under the table.
    public func validationText() -> String {
        guard let v = validation else {
            return "Overfitting  n/a: some rows have no daily returns (stored by an older carry); re-run the sweep into a new --out\n"
        }
        var s = ""
        if let d = v.deflatedSharpe, let top = rows.first {
            s += String(format: "Deflated Sharpe of the top config (%@): %.3f — per-day Sharpe %.4f vs %.4f expected from the best of N = %d unskilled trials (V = %.3g over %d with a Sharpe), skew %.2f, kurtosis %.2f, T = %d days\n",
                        top.config, d.probability, d.sharpe, d.expectedMaxSharpe, d.trials, d.sharpeVariance, d.trialsWithSharpe, d.skewness, d.kurtosis, d.days)
        } else {
            s += "Deflated Sharpe of the top config: n/a (\(v.note ?? "it has no Sharpe ratio"))\n"
        }
        if let p = v.overfitting {
            s += String(format: "PBO (CSCV, S = %d blocks, %d splits, %d days × %d configs, by %@): %.3f — share of splits whose in-sample best ranks at or below the median out of sample\n",
                        p.blocks, p.splits, p.days, p.configs, p.measure == .sharpe ? "Sharpe" : "mean daily return", p.pbo)
        } else {
            s += "PBO: n/a (\(v.pboNote ?? "too few configs or days"))\n"
        }
        return s
    }
}

/// The overfitting statistics of a set of swept configs.
public struct SweepValidation: Codable, Sendable, Equatable {
    /// Of the top-ranked config, with N = every row (nil: it has no Sharpe ratio).
    public var deflatedSharpe: DeflatedSharpe?
    public var overfitting: BacktestOverfitting?
    public var note: String?
    public var pboNote: String?
    /// N and the variance of the rows' per-day Sharpe ratios, for each row's own DSR.
    public var trials: Int
    public var sharpeVariance: Double?

    /// Nil when a row has no return series.
    public init?(rows: [SweepRow], objective: SweepObjective, blocks: Int) {
        guard !rows.isEmpty, rows.allSatisfy({ $0.dailyReturns != nil }) else { return nil }
        let series = rows.map { $0.dailyReturns ?? [] }
        let sharpes = series.map { ReturnMoments($0).sharpe }
        trials = rows.count
        let defined = sharpes.compactMap { $0 }
        sharpeVariance = defined.count > 1 ? pow(ReturnMoments(defined).deviation, 2) : nil
        deflatedSharpe = DeflatedSharpe.compute(returns: series[0], trialSharpes: sharpes)
        if deflatedSharpe == nil {
            note = sharpes[0] == nil ? "the top config's daily returns have no variance (it never traded?)" : "fewer than two configs have a Sharpe ratio"
        }
        // CSCV needs one matrix: every config over the same days.
        let firsts = Set(rows.map { $0.returnsFirstDay ?? 0 })
        if firsts.count > 1 {
            pboNote = "the configs cover different spans (their daily returns start on different days)"
        } else {
            let t = series.map(\.count).min() ?? 0
            overfitting = BacktestOverfitting.compute(columns: series.map { Array($0.prefix(t)) }, blocks: blocks, measure: CSCVMeasure(objective))
            if overfitting == nil { pboNote = rows.count < 2 ? "one config" : "\(t) days are too few for \(blocks) blocks of at least 2 days" }
        }
    }

    /// A row's DSR against the same N and V.
    func deflatedSharpe(of row: SweepRow) -> Double? {
        guard let r = row.dailyReturns, trials == 1 || sharpeVariance != nil else { return nil }
        return DeflatedSharpe.compute(returns: r, trials: trials, sharpeVariance: sharpeVariance ?? 0, trialsWithSharpe: 0)?.probability
    }
}

/// A CSV field (RFC 4180): quoted, with quotes doubled, when it holds a comma, a quote or a
/// line break; as it is otherwise. Every CSV the research commands write goes through it.
func csvField(_ field: String) -> String {
    field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
}
