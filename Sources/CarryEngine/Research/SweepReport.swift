// sweep.html: a sweep's results as a page — the ranking, a heatmap of the objective for every
// two swept keys, the objective of every config, and the best configs' equity curves and
// exposure against their caps. Written
// with results.csv and results.json (by a sweep and by a merge), self-contained.

import CarryCore
import CarryJournal
import Foundation

/// One cell grid of a heatmap: the objective's best value over every config with that pair of
/// values (the other swept keys free).
public struct SweepHeatmap: Sendable, Equatable {
    public var rowKey: String
    public var columnKey: String
    public var rowValues: [String]
    public var columnValues: [String]
    /// cells[r][c]; nil where no finished config has that pair (or its figure is undefined).
    public var cells: [[Double?]]
    /// The config number that gave each cell.
    public var configs: [[Int?]]

    /// Builds the heatmap of `rowKey` × `columnKey` over `results`' rows. Values keep the order
    /// in which they first appear in config-number order (the sweep file's order).
    public init(_ results: SweepResults, rowKey: String, columnKey: String) {
        self.rowKey = rowKey
        self.columnKey = columnKey
        let rows = results.rows.sorted { $0.number < $1.number }
        func value(_ row: SweepRow, _ key: String) -> String { row.overrides.first { $0.key == key }?.value ?? "(base)" }
        var rv: [String] = [], cv: [String] = []
        for r in rows {
            let a = value(r, rowKey), b = value(r, columnKey)
            if !rv.contains(a) { rv.append(a) }
            if !cv.contains(b) { cv.append(b) }
        }
        rowValues = rv
        columnValues = cv
        var cells = [[Double?]](repeating: [Double?](repeating: nil, count: cv.count), count: rv.count)
        var configs = [[Int?]](repeating: [Int?](repeating: nil, count: cv.count), count: rv.count)
        for r in rows {
            guard let f = r.figure(results.objective), f.isFinite else { continue }
            let i = rv.firstIndex(of: value(r, rowKey))!, j = cv.firstIndex(of: value(r, columnKey))!
            if cells[i][j].map({ f > $0 }) ?? true {
                cells[i][j] = f
                configs[i][j] = r.number
            }
        }
        self.cells = cells
        self.configs = configs
    }

    /// Every pair of swept keys that have two or more values each (at most `limit` pairs).
    public static func all(_ results: SweepResults, limit: Int = 10) -> [SweepHeatmap] {
        let keys = results.sweptKeys.filter { key in Set(results.rows.map { r in r.overrides.first { $0.key == key }?.value ?? "" }).count >= 2 }
        var out: [SweepHeatmap] = []
        for i in keys.indices {
            for j in keys.indices where j > i && out.count < limit {
                out.append(SweepHeatmap(results, rowKey: keys[i], columnKey: keys[j]))
            }
        }
        return out
    }

    /// The heatmap as an SVG grid: red below zero, green above, white at zero; each cell a
    /// `<rect class="cell">` with its value and config, labelled with its figure.
    func svg(objective: SweepObjective) -> String {
        let cellW = max(48, min(110, 860 / max(1, columnValues.count))), cellH = 30, left = 140, top = 40
        let width = left + cellW * columnValues.count + 10, height = top + cellH * rowValues.count + 10
        let extreme = cells.flatMap { $0 }.compactMap { $0 }.map(abs).max() ?? 1
        var s = "<svg class=\"heatmap\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" xmlns=\"http://www.w3.org/2000/svg\">\n"
        s += "<text x=\"\(left)\" y=\"14\" font-size=\"11\" fill=\"#444\">\(HTMLReport.escape(columnKey)) →</text>\n"
        s += "<text x=\"4\" y=\"\(top - 6)\" font-size=\"11\" fill=\"#444\">\(HTMLReport.escape(rowKey)) ↓</text>\n"
        for (j, v) in columnValues.enumerated() {
            s += "<text x=\"\(left + j * cellW + cellW / 2)\" y=\"\(top - 6)\" font-size=\"10\" text-anchor=\"middle\" fill=\"#666\">\(HTMLReport.escape(v))</text>\n"
        }
        for (i, rowValue) in rowValues.enumerated() {
            let y = top + i * cellH
            s += "<text x=\"\(left - 6)\" y=\"\(y + cellH / 2 + 4)\" font-size=\"10\" text-anchor=\"end\" fill=\"#666\">\(HTMLReport.escape(rowValue))</text>\n"
            for j in columnValues.indices {
                let x = left + j * cellW
                guard let v = cells[i][j] else {
                    s += "<rect class=\"cell empty\" x=\"\(x)\" y=\"\(y)\" width=\"\(cellW - 1)\" height=\"\(cellH - 1)\" fill=\"#eee\"/>\n"
                    continue
                }
                let t = extreme > 0 ? min(1, abs(v) / extreme) : 0
                let fill = v < 0 ? Self.mix(t, to: (207, 34, 46)) : Self.mix(t, to: (26, 127, 55))
                s += "<rect class=\"cell\" x=\"\(x)\" y=\"\(y)\" width=\"\(cellW - 1)\" height=\"\(cellH - 1)\" fill=\"\(fill)\" "
                    + "data-row=\"\(HTMLReport.escape(rowValue))\" data-column=\"\(HTMLReport.escape(columnValues[j]))\" data-value=\"\(String(format: "%.10g", v))\" "
                    + "data-config=\"\(configs[i][j] ?? 0)\"><title>config \(configs[i][j] ?? 0): \(Self.format(v, objective))</title></rect>\n"
                s += "<text x=\"\(x + cellW / 2)\" y=\"\(y + cellH / 2 + 4)\" font-size=\"10\" text-anchor=\"middle\" fill=\"\(t > 0.6 ? "#fff" : "#1b1f24")\">\(Self.format(v, objective))</text>\n"
            }
        }
        return s + "</svg>\n"
    }

    static func mix(_ t: Double, to rgb: (Int, Int, Int)) -> String {
        func c(_ v: Int) -> Int { Int((255 + (Double(v) - 255) * t).rounded()) }
        return String(format: "#%02x%02x%02x", c(rgb.0), c(rgb.1), c(rgb.2))
    }

    static func format(_ v: Double, _ objective: SweepObjective) -> String {
        switch objective {
        case .net: return String(format: "%+.0f", v)
        case .apr: return String(format: "%+.2f%%", v * 100)
        case .sharpe, .calmar: return String(format: "%.2f", v)
        }
    }
}

public enum SweepReport {
    /// The page. `directory` is the sweep's output (its equity/NNN.csv are read for the best
    /// configs' curves, its configs/NNN.yaml for their caps).
    public static func html(_ results: SweepResults, directory: String, top: Int = 20, curves: Int = 5) -> String {
        var page = HTMLReport.head(title: "Carry sweep — \(results.finished) of \(results.configs) configs, ranked by \(results.objective.rawValue)")
        page += "<p class=\"muted\">Sweep hash <code>\(HTMLReport.escape(String(results.sweepHash.prefix(16))))</code> · swept keys: "
            + HTMLReport.escape(results.sweptKeys.joined(separator: ", ")) + " · any row re-runs as <code>carry backtest --config configs/NNN.yaml</code> with its content hash</p>\n"
        page += "<h2>Best \(min(top, results.rows.count))</h2>\n<table class=\"ranking\"><tr><th>rank</th><th>config</th>"
            + results.sweptKeys.map { "<th>\(HTMLReport.escape($0))</th>" }.joined()
            + "<th>net P&amp;L</th><th>APR</th><th>Sharpe</th><th>Calmar</th><th>max DD</th><th>pairs</th><th>hash</th></tr>\n"
        for r in results.rows.prefix(top) {
            var cells = [String(r.rank ?? 0), r.config]
            cells += results.sweptKeys.map { key in r.overrides.first { $0.key == key }?.value ?? "" }
            cells += [Fixed(r.netPnlUsdt).map { money($0, signed: true) } ?? r.netPnlUsdt, percent(r.apr), ratio(r.sharpe), ratio(r.calmar),
                      percent(-r.maxDrawdown), String(r.pairsOpened), String(r.contentHash.prefix(12))]
            page += "<tr>" + cells.map { "<td>\(HTMLReport.escape($0))</td>" }.joined() + "</tr>\n"
        }
        page += "</table>\n"
        let maps = SweepHeatmap.all(results)
        page += "<h2>Heatmaps (\(results.objective.rawValue), best over the other keys)</h2>\n"
        if maps.isEmpty { page += "<p class=\"muted\">A heatmap needs two swept keys with two or more values each.</p>\n" }
        for m in maps {
            page += "<h3>\(HTMLReport.escape(m.rowKey)) × \(HTMLReport.escape(m.columnKey))</h3>\n" + m.svg(objective: results.objective)
        }
        let byNumber = results.rows.sorted { $0.number < $1.number }
        page += "<h2>\(results.objective.rawValue) of every config (by config number)</h2>\n"
        page += HTMLReport.barChart(byNumber.map { String(format: "%03d", $0.number) }, byNumber.map { $0.figure(results.objective) ?? 0 }, height: 180,
                                    labelEvery: max(1, byNumber.count / 20))
        var lines: [HTMLReport.Series] = []
        var exposures: [(name: String, rows: [EquityRow], cap: Double)] = []
        for (k, r) in results.rows.prefix(curves).enumerated() {
            let rows = ReportSeries.decimate(ReportSeries.parseEquity((try? String(contentsOfFile: directory + "/equity/" + equityName(r), encoding: .utf8)) ?? ""))
            let name = "#\(r.rank ?? 0) \(r.config)"
            lines.append(HTMLReport.Series(name: name, color: HTMLReport.palette[k % HTMLReport.palette.count], points: rows.map { ($0.time, $0.equity) }))
            // The cap from the config's own file (a sweep may vary it); a config that no longer
            // reads is left out of the exposure chart.
            if let config = try? BacktestConfig.load(path: directory + "/" + r.config) {
                exposures.append((name, rows, config.risk.maxTotalNotionalUsdt.doubleValue))
            }
        }
        page += "<h2>Equity of the best \(lines.count) (USDT)</h2>\n" + HTMLReport.chart(lines, height: 260, fill: false)
        page += "<h2>Exposure vs cap of the best \(exposures.count) (% of each config's own risk.maxTotalNotionalUsdt)</h2>\n"
            + HTMLReport.exposureShareChart(exposures)
        page += "<p class=\"muted\">Generated by Carry \(CarryVersion.current).</p>\n</body></html>\n"
        return page
    }

    /// `configs/007.yaml` → `007.csv` (the store names a config's curve after its file).
    static func equityName(_ row: SweepRow) -> String {
        let file = row.config.split(separator: "/").last.map(String.init) ?? row.config
        return (file.hasSuffix(".yaml") ? String(file.dropLast(5)) : file) + ".csv"
    }
}
