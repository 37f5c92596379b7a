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

    /// Ranks `rows` by `objective`.
    public init(sweepHash: String, objective: SweepObjective, configs: Int, sweptKeys: [String], rows: [SweepRow]) {
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
    }

    /// `results.json`: sorted keys, so equal results are equal bytes.
    func json() throws -> Data { try SweepStore.encoder().encode(self) }

    /// `results.csv`: one line per config, best first, the swept keys as columns.
    public func csv() -> String {
        var out = (["rank", "config"] + sweptKeys + ["net_pnl_usdt", "funding_usdt", "price_pnl_usdt", "fees_usdt", "slippage_usdt", "apr", "sharpe",
                                                     "sortino", "calmar", "max_drawdown", "max_drawdown_usdt", "pairs_opened", "fills", "time_in_market",
                                                     "turnover", "exposure_mean", "content_hash"]).joined(separator: ",") + "\n"
        func ratio(_ v: Double?) -> String { v.map { String(format: "%.6f", $0) } ?? "" }
        for r in rows {
            var fields = [String(r.rank ?? 0), r.config]
            for key in sweptKeys { fields.append(r.overrides.first { $0.key == key }?.value ?? "") }
            fields += [r.netPnlUsdt, r.fundingUsdt, r.pricePnlUsdt, r.feesUsdt, r.slippageUsdt, ratio(r.apr), ratio(r.sharpe), ratio(r.sortino),
                       ratio(r.calmar), ratio(r.maxDrawdown), r.maxDrawdownUsdt, String(r.pairsOpened), String(r.fills), ratio(r.timeInMarket),
                       ratio(r.turnover), ratio(r.exposureMean), r.contentHash]
            out += fields.map(Self.quoted).joined(separator: ",") + "\n"
        }
        return out
    }

    /// The best `limit` rows as a terminal table.
    public func table(limit: Int) -> String {
        let head = ["rank", "config"] + sweptKeys + ["net P&L", "APR", "Sharpe", "Calmar", "max DD", "pairs", "hash"]
        var lines = [head]
        for r in rows.prefix(limit) {
            var line = [String(r.rank ?? 0), r.config.split(separator: "/").last.map(String.init) ?? r.config]
            for key in sweptKeys { line.append(r.overrides.first { $0.key == key }?.value ?? "") }
            line += [Fixed(r.netPnlUsdt).map { money($0, signed: true) } ?? r.netPnlUsdt, percent(r.apr), ratio(r.sharpe), ratio(r.calmar),
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

    static func quoted(_ field: String) -> String {
        field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
    }
}
