// Research pages in a real browser (headless chromium): the charts must be drawn, not just
// written — lines with their points, bars with their heights, tables with their rows.

import CarryTesting
import Foundation
import Testing

@Suite("research pages in headless chromium", .serialized)
struct ResearchPagesBrowserTests {
    @Test("carry analyze funding's page: a rate line, a distribution and a threshold chart per perpetual, the statistics table; a screenshot kept")
    func fundingPage() async throws {
        let scratch = ScratchDirectory("funding-page")
        let run = try runProcess(Fixtures.executable("carry"), ["analyze", "funding", "--journal", BundledMarket.path, "--venue", "binance",
                                                                "--symbol", "BTCUSDT", "--symbol", "ETHUSDT", "--out", scratch.path], timeoutSeconds: 300)
        #expect(run.status == 0, "\(run.stderr)")
        let rows = run.stdout.split(separator: "\n").filter { $0.hasPrefix("binance") }.count
        let browser = try HeadlessBrowser(url: "file://" + scratch.sub("funding.html"))
        #expect(try await browser.waitFor("String(document.readyState === 'complete')") == "true")
        #expect(try await browser.evaluate("String(document.querySelectorAll('table.stats tr').length - 1)") == String(rows))
        #expect(try await browser.evaluate("String(document.querySelectorAll('h2.symbol').length)") == "2")
        // Each perpetual's rate line (a polyline per stretch of data: the bundled binance history
        // has 2024 missing): hundreds of points with a real length on screen.
        for symbol in ["BTCUSDT", "ETHUSDT"] {
            let line = try await browser.evaluate("""
                JSON.stringify([...document.querySelectorAll('polyline[data-series="binance \(symbol)"]')].reduce((a, p) => [a[0] + 1, a[1] + p.points.numberOfItems, a[2] + p.getTotalLength()], [0, 0, 0]).map(Math.round))
                """)
            let parsed = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [Int] ?? []
            #expect(parsed.count == 3 && parsed[0] == 2 && parsed[1] > 1000 && parsed[2] > 500, "\(symbol): \(line)")
        }
        // Distribution and threshold bars: 30 + 12 per perpetual, drawn with a height, the
        // histogram's counts adding up to the perpetual's settlements.
        let bars = try await browser.evaluate("String([...document.querySelectorAll('rect.bar')].filter(r => r.getBBox().height > 0).length)")
        #expect(bars == String(2 * (30 + 12)))
        let firstHistogram = try await browser.evaluate("""
            String([...document.querySelectorAll('svg')][1].querySelectorAll('rect.bar').length ? [...[...document.querySelectorAll('svg')][1].querySelectorAll('rect.bar')].reduce((a, r) => a + Number(r.dataset.value), 0) : -1)
            """)
        #expect(firstHistogram == "5478", "binance BTCUSDT's settlements in the bundled history")
        let shot = try await browser.command("Page.captureScreenshot", ["format": "png"])
        let png = Data(base64Encoded: shot["data"] as? String ?? "") ?? Data()
        #expect(png.count > 10_000)
        let artefacts = Fixtures.repoRoot + "/out/test-artifacts"
        try FileManager.default.createDirectory(atPath: artefacts, withIntermediateDirectories: true)
        try png.write(to: URL(fileURLWithPath: artefacts + "/funding-analysis.png"))
    }

    /// A browser on `file`, loaded.
    func open(_ file: String) async throws -> HeadlessBrowser {
        let browser = try HeadlessBrowser(url: "file://" + file)
        #expect(try await browser.waitFor("String(document.readyState === 'complete')") == "true")
        return browser
    }

    func keepScreenshot(_ browser: HeadlessBrowser, _ name: String) async throws {
        let shot = try await browser.command("Page.captureScreenshot", ["format": "png"])
        let png = Data(base64Encoded: shot["data"] as? String ?? "") ?? Data()
        #expect(png.count > 10_000)
        let artefacts = Fixtures.repoRoot + "/out/test-artifacts"
        try FileManager.default.createDirectory(atPath: artefacts, withIntermediateDirectories: true)
        try png.write(to: URL(fileURLWithPath: artefacts + "/" + name))
    }

    @Test("a backtest's report: monthly bars one per month, funding bars adding up to the summary's funding income, the P&L split drawn")
    func backtestReport() async throws {
        let scratch = ScratchDirectory("report-page")
        let run = try runProcess(Fixtures.executable("carry"), ["backtest", "--journal", BundledMarket.path, "--from", "2025-10-01", "--to", "2025-12-01",
                                                                "--out", scratch.sub("run")], timeoutSeconds: 600)
        #expect(run.status == 0, "\(run.stderr)")
        let fundingLine = try #require(run.stdout.split(separator: "\n").first { $0.contains("funding income") })
        let funding = try #require(Double(String(fundingLine.split(separator: " ").last { Double($0.replacingOccurrences(of: ",", with: "")) != nil } ?? "")
            .replacingOccurrences(of: ",", with: "")), "\(fundingLine)")
        let browser = try await open(scratch.sub("run/report.html"))
        let months = try await browser.evaluate("JSON.stringify([...document.querySelectorAll('rect.bar')].filter(r => r.dataset.label.length === 7).map(r => r.dataset.label))")
        #expect(months == #"["2025-10","2025-11","2025-12"]"#, "the span ends at 2025-12-01T00:00: \(months)")
        let paid = try await browser.evaluate("String([...document.querySelectorAll('rect.bar')].filter(r => r.dataset.label.includes('T')).reduce((a, r) => a + Number(r.dataset.value), 0))")
        #expect(abs((Double(paid) ?? .nan) - funding) < 0.005, "funding bars \(paid) vs summary \(funding)")
        let split = try await browser.evaluate("String([...document.querySelectorAll('polyline[data-series]')].filter(p => p.points.numberOfItems > 100 && p.getTotalLength() > 100).length)")
        #expect(split == "4", "funding, basis / price, fees and slippage lines")
        try await keepScreenshot(browser, "backtest-report.png")
    }

    @Test("a sweep's page: the heatmap's cells are the results' figures (best over the other key), the ranking and the best curves drawn")
    func sweepPage() async throws {
        let scratch = ScratchDirectory("sweep-page")
        try """
        base: base.yaml
        objective: net
        grid:
          strategy.entryThreshold: [0.00005, 0.0001]
          strategy.maxHolding: [3d, 30d]
          strategy.pairNotionalUsdt: [10000, 20000]
        """.write(toFile: scratch.sub("sweep.yaml"), atomically: true, encoding: .utf8)
        try "symbols: [BTCUSDT, ETHUSDT]\nfrom: 2025-10-01\nto: 2025-11-15\n".write(toFile: scratch.sub("base.yaml"), atomically: true, encoding: .utf8)
        let run = try runProcess(Fixtures.executable("carry"), ["sweep", scratch.sub("sweep.yaml"), "--journal", BundledMarket.path, "--out", scratch.sub("out"), "--quiet"],
                                 timeoutSeconds: 900)
        #expect(run.status == 0, "\(run.stderr)")
        let results = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: scratch.sub("out/results.json")))) as? [String: Any] ?? [:]
        let rows = results["rows"] as? [[String: Any]] ?? []
        #expect(rows.count == 8)
        func value(_ row: [String: Any], _ key: String) -> String {
            (row["overrides"] as? [[String: String]] ?? []).first { $0["key"] == key }?["value"] ?? "?"
        }
        let browser = try await open(scratch.sub("out/sweep.html"))
        #expect(try await browser.evaluate("String(document.querySelectorAll('svg.heatmap').length)") == "3", "three pairs of three swept keys")
        let cells = try await browser.evaluate("JSON.stringify([...document.querySelectorAll('svg.heatmap')][0].querySelectorAll('rect.cell:not(.empty)').length)")
        #expect(cells == "4")
        // entryThreshold × maxHolding: each cell is the best net over both notionals.
        for entry in ["0.00005", "0.0001"] {
            for holding in ["3d", "30d"] {
                let best = rows.filter { value($0, "strategy.entryThreshold") == entry && value($0, "strategy.maxHolding") == holding }
                    .compactMap { Double($0["netPnlUsdt"] as? String ?? "") }.max() ?? .nan
                let cell = try await browser.evaluate("""
                    [...document.querySelectorAll('svg.heatmap')][0].querySelector('rect.cell[data-row="\(entry)"][data-column="\(holding)"]').dataset.value
                    """)
                #expect(abs((Double(cell) ?? .nan) - best) < 1e-6, "\(entry) × \(holding): cell \(cell), best row \(best)")
                let fill = try await browser.evaluate("""
                    [...document.querySelectorAll('svg.heatmap')][0].querySelector('rect.cell[data-row="\(entry)"][data-column="\(holding)"]').getAttribute('fill')
                    """)
                #expect(fill.hasPrefix("#") && fill != "#ffffff" || best == 0, "\(fill)")
            }
        }
        #expect(try await browser.evaluate("String(document.querySelectorAll('table.ranking tr').length - 1)") == "8")
        let curves = try await browser.evaluate("String([...document.querySelectorAll('polyline[data-series]')].filter(p => p.points.numberOfItems > 100).length)")
        #expect(curves == "5", "the best five equity curves")
        try await keepScreenshot(browser, "sweep.png")
    }

    @Test("a comparison's page: both equity curves, cumulative funding and monthly returns of both configs")
    func comparePage() async throws {
        let scratch = ScratchDirectory("compare-page")
        let configs = Fixtures.repoRoot + "/config"
        let run = try runProcess(Fixtures.executable("carry"), ["compare", configs + "/backtest.yaml", configs + "/backtest-composite.yaml", "--journal", BundledMarket.path,
                                                                "--from", "2025-10-01", "--to", "2025-12-01", "--out", scratch.path], timeoutSeconds: 600)
        #expect(run.status == 0, "\(run.stderr)")
        let browser = try await open(scratch.sub("compare.html"))
        for label in ["backtest.yaml", "backtest-composite.yaml"] {
            let lines = try await browser.evaluate("String([...document.querySelectorAll('polyline[data-series=\"\(label)\"]')].filter(p => p.points.numberOfItems > 100 && p.getTotalLength() > 100).length)")
            #expect(lines == "4", "\(label): equity, drawdown, funding, costs")
        }
        let monthly = try await browser.evaluate("JSON.stringify([...document.querySelectorAll('table.monthly tr')].slice(1).map(r => r.cells[0].innerText))")
        #expect(monthly == #"["2025-10","2025-11","2025-12"]"#, "the span ends at 2025-12-01T00:00: \(monthly)")
        try await keepScreenshot(browser, "compare.png")
    }
}
