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
}
