// Configs side by side (`carry compare`): run over one decoded pass of the market journal by
// the sweep engine, so each column is exactly what `carry backtest` of that config reports,
// then set out as one table (P&L split, ratios after the collateral cost, drawdown and its
// dates, turnover, time in market, exposure against the cap, exit reasons, per-symbol rows)
// and as a self-contained HTML page with every equity curve on one chart.

import CarryCore
import CarryJournal
import Foundation

/// One config of a comparison and what it produced.
public struct ComparedRun: Sendable {
    /// The column's heading (the config file's name).
    public var label: String
    public var config: BacktestConfig
    public var result: SweepRunResult
}

/// Runs and presents comparisons.
public enum Comparison {
    /// Runs `configs` (their `source` is what each run journals, as `carry backtest` would)
    /// over one decoded pass of `market`, `threads` at a time; `equityPaths[k]` receives
    /// config k's equity curve when given.
    public static func run(_ configs: [BacktestConfig], labels: [String], market: MarketJournal, threads: Int,
                           equityPaths: [String?]) throws -> [ComparedRun] {
        var plans: [BacktestPlan] = []
        for (k, c) in configs.enumerated() {
            do {
                plans.append(try BacktestDriver.plan(config: c, market: market))
            } catch {
                throw BacktestError("\(labels[k]): \(error.message)", badInput: error.isBadInput)
            }
        }
        let tape = try MarketTape.decode(plans, market: market)
        let jobs = plans.indices.map { SweepJob(number: $0 + 1, plan: plans[$0], tape: tape.tapeOfPlan[$0], equityCSVPath: equityPaths[$0]) }
        let results = Collected()
        try SweepEngine.run(jobs, over: tape, threads: threads, completed: { results.add($0) })
        let byNumber = results.all
        return configs.indices.map { ComparedRun(label: labels[$0], config: configs[$0], result: byNumber[$0 + 1]!) }
    }

    /// Results gathered from the worker threads.
    private final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var results: [Int: SweepRunResult] = [:]
        func add(_ r: SweepRunResult) { lock.withLock { results[r.number] = r } }
        var all: [Int: SweepRunResult] { lock.withLock { results } }
    }

    /// The exact figures of each run (`compare.json`), as a sweep's rows.
    public static func writeJSON(_ runs: [ComparedRun], to path: String) throws {
        try SweepStore.writeAtomically(try SweepStore.encoder().encode(runs.map { SweepRow($0.result, overrides: [], config: $0.label) }), to: path)
    }

    /// `v1.0 threshold` or `v1.1 composite`.
    static func strategyName(_ c: BacktestConfig) -> String { c.composite == nil ? "v1.0 threshold" : "v1.1 composite" }

    /// The comparison's rows: a label and one cell per run (empty label: a section heading).
    static func rows(_ runs: [ComparedRun]) -> [(label: String, cells: [String])] {
        let s = runs.map(\.result.summary)
        var rows: [(String, [String])] = []
        func add(_ label: String, _ cell: (BacktestSummary) -> String) { rows.append((label, s.map(cell))) }
        rows.append(("strategy", runs.map { strategyName($0.config) }))
        if Set(s.map { "\($0.from.ms)-\($0.to.ms)" }).count > 1 { add("span") { "\($0.from.isoDate) → \($0.to.isoDate)" } }
        add("net P&L (USDT)") { money($0.netPnL, signed: true) }
        add("  funding") { money($0.funding, signed: true) }
        add("  basis / price") { money($0.pricePnL, signed: true) }
        add("  fees") { money(-$0.fees, signed: true) }
        add("  slippage") { money(-$0.slippage, signed: true) }
        add("final equity (USDT)") { money($0.finalEquity) }
        add("APR") { percent($0.apr) }
        let collateral = Set(s.map(\.collateralCostApr)).count == 1 ? " after \(percent(s[0].collateralCostApr.doubleValue)) collateral" : " after collateral cost"
        add("Sharpe" + collateral) { ratio($0.sharpe) }
        add("Sortino" + collateral) { ratio($0.sortino) }
        add("Calmar") { ratio($0.calmar) }
        add("max drawdown") { percent(-$0.maxDrawdown) }
        add("  USDT") { money(-$0.maxDrawdownUsdt, signed: true) }
        add("  peak → bottom") { $0.drawdownDates ?? "-" }
        add("pairs opened") { String($0.pairsOpened) }
        add("fills / liquidations") { "\($0.fills) / \($0.liquidations)" }
        add("turnover") { String(format: "%.2fx", $0.turnover) }
        add("time in market") { percent($0.timeInMarket, digits: 1) }
        add("exposure vs cap, mean") { percent($0.exposureMean, digits: 1) }
        add("exposure vs cap, max") { percent($0.exposureMax, digits: 1) }
        for reason in ExitReason.allCases where s.contains(where: { $0.exitReasons.contains { $0.reason == reason } }) {
            add("exits: \(reason)") { summary in String(summary.exitReasons.first { $0.reason == reason }?.count ?? 0) }
        }
        if s.contains(where: \.killSwitchEngaged) { add("kill switch") { $0.killSwitchEngaged ? "ENGAGED" : "-" } }
        rows.append(("content hash", runs.map { String($0.result.contentHash.description.prefix(12)) }))
        // Per symbol, in the order the configs first name them.
        var symbols: [String] = []
        for summary in s { for r in summary.perSymbol where !symbols.contains(r.symbol) { symbols.append(r.symbol) } }
        for symbol in symbols {
            rows.append(("", []))
            func cell(_ summary: BacktestSummary, _ f: (SymbolBreakdown) -> String) -> String {
                summary.perSymbol.first { $0.symbol == symbol }.map(f) ?? "-"
            }
            rows.append(("\(symbol) net (USDT)", s.map { cell($0) { money($0.net, signed: true) } }))
            rows.append(("  funding", s.map { cell($0) { money($0.funding, signed: true) } }))
            rows.append(("  basis / price", s.map { cell($0) { money($0.pricePnL, signed: true) } }))
            rows.append(("  fees", s.map { cell($0) { money(-$0.fees, signed: true) } }))
            rows.append(("  slippage", s.map { cell($0) { money(-$0.slippage, signed: true) } }))
            rows.append(("  pairs opened", s.map { cell($0) { String($0.pairsOpened) } }))
        }
        return rows
    }

    /// The header line: venue, symbols and span when the configs share them.
    static func subtitle(_ runs: [ComparedRun]) -> String {
        let s = runs.map(\.result.summary)
        var parts = ["\(runs.count) configs"]
        if Set(runs.map { $0.config.venue.description }).count == 1 { parts.append(runs[0].config.venue.description) }
        if Set(s.map { "\($0.from.ms)-\($0.to.ms)" }).count == 1 {
            parts.append("\(s[0].from.iso8601) → \(s[0].to.iso8601) (\(String(format: "%.1f", s[0].days)) days)")
        }
        return parts.joined(separator: ", ")
    }

    /// The table for a terminal.
    public static func table(_ runs: [ComparedRun]) -> String {
        let rows = rows(runs)
        let labelWidth = max(24, rows.map(\.label.count).max() ?? 0)
        var widths = runs.map { $0.label.count }
        for r in rows { for (k, c) in r.cells.enumerated() { widths[k] = max(widths[k], c.count) } }
        var out = runs.contains { $0.result.summary.zeroBasis } ? ZeroBasis.banner + "\n" : ""
        out += "Carry compare — \(subtitle(runs))\n\n"
        out += "".padding(toLength: labelWidth, withPad: " ", startingAt: 0) + runs.indices.map { "  " + runs[$0].label.leftPadded(widths[$0]) }.joined() + "\n"
        for r in rows {
            if r.label.isEmpty && r.cells.isEmpty {
                out += "\n"
                continue
            }
            out += r.label.padding(toLength: labelWidth, withPad: " ", startingAt: 0) + r.cells.enumerated().map { "  " + $1.leftPadded(widths[$0]) }.joined() + "\n"
        }
        return out
    }

    /// The self-contained page: the table, every equity curve on one chart, every drawdown on
    /// another, and each config's canonical text.
    /// `equityPaths[k]`, when given, is run k's equity CSV: the page adds the P&L split, the
    /// exposure against each run's cap and the monthly returns of every run.
    public static func html(_ runs: [ComparedRun], equityPaths: [String] = []) -> String {
        let title = "Carry compare — " + runs.map(\.label).joined(separator: " vs ")
        var html = HTMLReport.head(title: title)
        html += "<p class=\"muted\">\(HTMLReport.escape(subtitle(runs)))</p>\n<h2>Summary</h2>\n<table>\n<tr><th></th>"
        html += runs.map { "<th>\(HTMLReport.escape($0.label))</th>" }.joined() + "</tr>\n"
        for r in rows(runs) {
            if r.label.isEmpty && r.cells.isEmpty {
                html += "<tr><td colspan=\"\(runs.count + 1)\">&nbsp;</td></tr>\n"
                continue
            }
            html += "<tr><td>\(HTMLReport.escape(r.label))</td>"
            for c in r.cells {
                let cls = c.hasPrefix("−") ? "neg" : (c.hasPrefix("+") ? "pos" : "")
                html += "<td class=\"\(cls)\">\(HTMLReport.escape(c))</td>"
            }
            html += "</tr>\n"
        }
        html += "</table>\n<h2>Equity (USDT)</h2>\n"
        let palette = HTMLReport.palette
        html += HTMLReport.chart(runs.enumerated().map { k, r in
            HTMLReport.Series(name: r.label, color: palette[k % palette.count], points: r.result.summary.curve.map { ($0.0, $0.1) })
        }, height: 300, fill: false)
        html += "<h2>Drawdown</h2>\n"
        html += HTMLReport.chart(runs.enumerated().map { k, r in
            HTMLReport.Series(name: r.label, color: palette[k % palette.count], points: r.result.summary.curve.map { ($0.0, -$0.2 * 100) })
        }, height: 160, fill: false, unit: " %")
        if equityPaths.count == runs.count {
            let series = runs.indices.map { k in
                ReportSeries.load(summary: runs[k].result.summary, exposureCap: runs[k].config.risk.maxTotalNotionalUsdt, equityCSV: equityPaths[k])
            }
            html += "<h2>Funding received, cumulative (USDT)</h2>\n"
            html += HTMLReport.chart(runs.indices.map { k in
                HTMLReport.Series(name: runs[k].label, color: palette[k % palette.count], points: series[k].decimated().map { ($0.time, $0.funding) })
            }, height: 200, fill: false)
            html += "<h2>Fees and slippage paid, cumulative (USDT)</h2>\n"
            html += HTMLReport.chart(runs.indices.map { k in
                HTMLReport.Series(name: runs[k].label, color: palette[k % palette.count], points: series[k].decimated().map { ($0.time, -$0.fees - $0.slippage) })
            }, height: 200, fill: false)
            html += "<h2>Exposure vs cap (% of each config's own risk.maxTotalNotionalUsdt)</h2>\n"
            html += HTMLReport.exposureShareChart(runs.indices.map { k in (runs[k].label, series[k].decimated(), series[k].exposureCap) })
            let monthly = series.map { Dictionary($0.monthlyReturns().map { ($0.month, $0.ret) }, uniquingKeysWith: { a, _ in a }) }
            let months = Set(monthly.flatMap(\.keys)).sorted()
            html += "<h2>Monthly returns</h2>\n<table class=\"monthly\"><tr><th>month</th>" + runs.map { "<th>\(HTMLReport.escape($0.label))</th>" }.joined() + "</tr>\n"
            for m in months {
                html += "<tr><td>\(m)</td>" + monthly.map { d in
                    guard let r = d[m] else { return "<td>-</td>" }
                    return "<td class=\"\(r < 0 ? "neg" : (r > 0 ? "pos" : ""))\">\(String(format: "%+.2f %%", r * 100))</td>"
                }.joined() + "</tr>\n"
            }
            html += "</table>\n"
        }
        html += "<h2>Configurations</h2>\n"
        for r in runs {
            html += "<details><summary>\(HTMLReport.escape(r.label)) — \(strategyName(r.config)), content hash <code>\(r.result.contentHash.short)</code></summary>\n"
            html += "<pre>\(HTMLReport.escape(r.config.canonicalText))</pre></details>\n"
        }
        html += "<p class=\"muted\">Generated by Carry \(CarryVersion.current). Each column is what <code>carry backtest --config</code> of that file reports.</p>\n</body></html>\n"
        return html
    }
}
