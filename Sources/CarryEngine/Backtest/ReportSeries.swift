// The series a report draws beyond the summary: read back from what a run wrote (its
// equity.csv and its run journal), so every page — backtest, sweep, comparison — draws the
// same figures the files hold.

public import CarryCore
import CarryJournal
import Foundation

/// One row of an equity CSV (`time,equity_usdt,cash_usdt,funding_usdt,fees_usdt,
/// slippage_usdt,price_pnl_usdt,drawdown,open_pairs,exposure_usdt`), as Doubles for charts.
public struct EquityRow: Sendable, Equatable {
    public var time: Timestamp
    public var equity: Double
    public var funding: Double
    public var fees: Double
    public var slippage: Double
    public var pricePnL: Double
    public var openPairs: Int
    /// The perp legs' gross notional (what `risk.maxTotalNotionalUsdt` caps); nil in a CSV
    /// written before the column existed (a sweep directory merged from an older build).
    public var exposure: Double?

    public init(time: Timestamp, equity: Double, funding: Double, fees: Double, slippage: Double, pricePnL: Double, openPairs: Int, exposure: Double?) {
        self.time = time
        self.equity = equity
        self.funding = funding
        self.fees = fees
        self.slippage = slippage
        self.pricePnL = pricePnL
        self.openPairs = openPairs
        self.exposure = exposure
    }
}

/// A run's series for its report.
public struct ReportSeries: Sendable {
    public var initialCapital: Double
    /// The run's `risk.maxTotalNotionalUsdt`, what the rows' exposure is drawn against.
    public var exposureCap: Double
    public var rows: [EquityRow]
    /// Funding received per settlement (all pairs), in time order.
    public var fundingPerSettlement: [(Timestamp, Double)]

    public init(initialCapital: Double, exposureCap: Double, rows: [EquityRow], fundingPerSettlement: [(Timestamp, Double)]) {
        self.initialCapital = initialCapital
        self.exposureCap = exposureCap
        self.rows = rows
        self.fundingPerSettlement = fundingPerSettlement
    }

    /// Reads `equityCSV` (a file that cannot be read gives empty series: the report says so,
    /// never a failed run) beside the run's funding per settlement, from its summary, and its
    /// exposure cap (`risk.maxTotalNotionalUsdt`, from its config).
    public static func load(summary: BacktestSummary, exposureCap: Fixed, equityCSV: String) -> ReportSeries {
        let rows = (try? String(contentsOfFile: equityCSV, encoding: .utf8)).map(parseEquity) ?? []
        return ReportSeries(initialCapital: summary.initialCapital.doubleValue, exposureCap: exposureCap.doubleValue, rows: rows,
                            fundingPerSettlement: summary.fundingPerSettlement.map { ($0.time, $0.amount.doubleValue) })
    }

    /// Parses an equity CSV by its header's column names (rows that do not parse are skipped).
    public static func parseEquity(_ text: String) -> [EquityRow] {
        var lines = text.split(separator: "\n")
        guard !lines.isEmpty else { return [] }
        let header = lines.removeFirst().split(separator: ",").map(String.init)
        func index(_ name: String) -> Int? { header.firstIndex(of: name) }
        guard let t = index("time"), let e = index("equity_usdt"), let f = index("funding_usdt"), let fe = index("fees_usdt"),
              let s = index("slippage_usdt"), let p = index("price_pnl_usdt"), let o = index("open_pairs") else { return [] }
        let x = index("exposure_usdt")
        return lines.compactMap { line in
            let c = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard c.count == header.count, let time = Timestamp(iso8601: c[t]), let equity = Double(c[e]), let funding = Double(c[f]),
                  let fees = Double(c[fe]), let slip = Double(c[s]), let price = Double(c[p]), let open = Int(c[o]) else { return nil }
            var exposure: Double?
            if let x {
                guard let v = Double(c[x]) else { return nil }
                exposure = v
            }
            return EquityRow(time: time, equity: equity, funding: funding, fees: fees, slippage: slip, pricePnL: price, openPairs: open, exposure: exposure)
        }
    }

    /// Return per calendar month (UTC): the month's last equity over the previous month's last
    /// (the first month over the initial capital). Labels `2025-10`.
    public func monthlyReturns() -> [(month: String, ret: Double)] {
        var out: [(String, Double)] = []
        var previous = initialCapital
        var month = "", last = 0.0
        for r in rows {
            let m = String(r.time.isoDate.prefix(7))
            if m != month, !month.isEmpty {
                out.append((month, previous > 0 ? last / previous - 1 : 0))
                previous = last
            }
            month = m
            last = r.equity
        }
        if !month.isEmpty { out.append((month, previous > 0 ? last / previous - 1 : 0)) }
        return out
    }

    /// At most `limit` rows, evenly strided (the last always kept), for a chart.
    public func decimated(_ limit: Int = 2_000) -> [EquityRow] { Self.decimate(rows, limit) }

    /// `rows`, at most `limit` of them, evenly strided (the last always kept). Each kept row's
    /// exposure is the largest of the rows it stands for, so a short approach to the cap is
    /// not thinned away from the chart drawn against it.
    public static func decimate(_ rows: [EquityRow], _ limit: Int = 2_000) -> [EquityRow] {
        guard rows.count > limit else { return rows }
        let stride = (rows.count + limit - 1) / limit
        var out = Swift.stride(from: 0, to: rows.count, by: stride).map { i in
            var row = rows[i]
            row.exposure = rows[i..<min(rows.count, i + stride)].compactMap(\.exposure).max()
            return row
        }
        if out.last?.time != rows.last?.time { out.append(rows.last!) }
        return out
    }
}

extension HTMLReport {
    /// The report sections drawn from a run's series: P&L split over time, monthly returns,
    /// funding per settlement, open pairs against the limit, exposure against the cap.
    static func seriesSections(_ series: ReportSeries, maxOpenPairs: Int?) -> String {
        guard series.rows.count >= 2 else { return "<p class=\"muted\">No equity samples to chart (equity.csv missing or empty).</p>\n" }
        let rows = series.decimated()
        var html = "<h2>P&amp;L split over time (USDT)</h2>\n"
        html += chart([
            Series(name: "funding", color: "#1a7f37", points: rows.map { ($0.time, $0.funding) }),
            Series(name: "basis / price", color: "#0969da", points: rows.map { ($0.time, $0.pricePnL) }),
            Series(name: "fees", color: "#cf222e", points: rows.map { ($0.time, -$0.fees) }),
            Series(name: "slippage", color: "#bf8700", points: rows.map { ($0.time, -$0.slippage) }),
        ], height: 220, fill: false)
        let months = series.monthlyReturns()
        html += "<h2>Monthly returns (%)</h2>\n"
        html += barChart(months.map(\.month), months.map { $0.ret * 100 }, height: 180, unit: " %", labelEvery: max(1, months.count / 12))
        html += "<table class=\"monthly\"><tr>" + months.map { "<th>\(escape($0.month))</th>" }.joined() + "</tr>\n<tr>"
        html += months.map { "<td class=\"\($0.ret < 0 ? "neg" : ($0.ret > 0 ? "pos" : ""))\">\(String(format: "%+.2f %%", $0.ret * 100))</td>" }.joined() + "</tr></table>\n"
        html += "<h2>Funding received per settlement (USDT, all pairs)</h2>\n"
        if series.fundingPerSettlement.isEmpty {
            html += "<p class=\"muted\">No funding was paid in this run.</p>\n"
        } else {
            let f = series.fundingPerSettlement
            html += barChart(f.map { $0.0.iso8601 }, f.map(\.1), height: 180, labelEvery: max(1, f.count / 8)) { String($0.prefix(10)) }
        }
        html += "<h2>Open pairs\(maxOpenPairs.map { " (limit \($0))" } ?? "")</h2>\n"
        html += chart([Series(name: "", color: "#8250df", points: rows.map { ($0.time, Double($0.openPairs)) })], height: 140, fill: true)
        let cap = series.exposureCap
        html += "<h2>Exposure vs cap (the perp legs' gross notional, USDT · share of risk.maxTotalNotionalUsdt \(label(cap)))</h2>\n"
        let exposure = rows.compactMap { r in r.exposure.map { (r.time, $0) } }
        if exposure.count == rows.count {
            html += chart([Series(name: "", color: "#bc4c00", points: exposure)], height: 180, fill: true, limit: Limit(value: cap, label: "cap \(label(cap)) USDT"),
                          tickLabel: { label($0) + String(format: " · %.0f %%", $0 / cap * 100) }, svgClass: "exposure")
        } else {
            html += noExposureColumn
        }
        return html
    }

    static let noExposureColumn = "<p class=\"muted\">This equity.csv has no exposure_usdt column (written before Carry recorded it).</p>\n"

    /// Each run's exposure as a share of its own cap (caps may differ), one line per run, the
    /// cap at 100 %. A run whose CSV has no exposure column is left out.
    static func exposureShareChart(_ runs: [(name: String, rows: [EquityRow], cap: Double)]) -> String {
        var lines: [Series] = []
        for (k, run) in runs.enumerated() {
            let points = run.rows.compactMap { r in r.exposure.map { (r.time, $0 / run.cap * 100) } }
            if points.count == run.rows.count { lines.append(Series(name: run.name, color: palette[k % palette.count], points: points)) }
        }
        guard !lines.isEmpty else { return noExposureColumn }
        return chart(lines, height: 200, fill: false, unit: " %", limit: Limit(value: 100, label: "cap"), svgClass: "exposure")
    }
}
