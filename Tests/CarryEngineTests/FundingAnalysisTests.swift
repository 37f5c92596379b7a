// `carry analyze funding`'s statistics against hand-worked cases, and the command over the
// bundled history checked against `carry series` (another projection of the same records).

import CarryCore
import CarryEngine
import CarryTesting
import Foundation
import Testing

@Suite("funding analysis")
struct FundingAnalysisTests {
    static let t0 = Timestamp(iso8601: "2025-01-01T00:00:00Z")!

    /// Settlements every `minutes`, rates per interval.
    func samples(_ rates: [String], minutes: UInt32 = 480) -> [FundingSample] {
        rates.enumerated().map { i, r in
            FundingSample(time: Self.t0.adding(ms: Int64(i) * Int64(minutes) * 60_000), ratePerInterval: Fixed(r)!, intervalMinutes: minutes)
        }
    }

    @Test("five 8 h settlements worked by hand: moments, quantiles, shares, carry, autocorrelation, episodes, thresholds")
    func handWorked() throws {
        let s = samples(["0.0001", "0.0003", "-0.0001", "0.0002", "0.0001"])
        let st = try #require(FundingAnalysis.stats(venue: .bybit, symbol: "BTCUSDT", regime: .all, samples: s, elevated8h: 0.0002, exit8h: 0,
                                                    roundTripCost: 0.004, grid: [0.0002, 0.00035]))
        #expect(st.settlements == 5)
        #expect(abs(st.mean8h - 0.00012) < 1e-15)
        #expect(abs(st.median8h - 0.0001) < 1e-15)
        // Sorted: −1, 1, 1, 2, 3 (×1e-4); type-7 quantile h = (n−1)p.
        #expect(abs(st.p05 - -0.00006) < 1e-15)        // h = 0.2: −1 + 0.2 × 2
        #expect(abs(st.p25 - 0.0001) < 1e-15)          // h = 1
        #expect(abs(st.p75 - 0.0002) < 1e-15)          // h = 3
        #expect(abs(st.p95 - 0.00028) < 1e-15)         // h = 3.8: 2 + 0.8 × 1
        // Sample variance: deviations −0.2, 1.8, −2.2, 0.8, −0.2 (×1e-4) → 8.8e-8 / 4.
        #expect(abs(st.stdev8h - (8.8e-8 / 4).squareRoot()) < 1e-15)
        #expect(st.min8h == "-0.0001" && st.minAt == "2025-01-01T16:00:00Z")
        #expect(st.max8h == "0.0003" && st.maxAt == "2025-01-01T08:00:00Z")
        #expect(st.sharePositive == 0.8 && st.shareNegative == 0.2 && st.shareBaseline == 0.4)
        // 0.0006 collected over 40 h, per year.
        #expect(abs(st.carryApr - 0.0006 / (40.0 / 8760)) < 1e-12)
        // Σ dₜdₜ₊₁ = −0.36 − 3.96 − 1.76 − 0.16 = −6.24; Σ d² = 8.8.
        #expect(abs(try #require(st.autocorrelation) - -6.24 / 8.8) < 1e-12)
        #expect(st.halfLifeHours == nil, "no half-life for a negative coefficient")
        // At or above 0.02 %: settlement 2 alone, then settlement 4 alone.
        #expect(st.elevated.level8h == 0.0002 && st.elevated.episodes == 2)
        #expect(st.elevated.meanHours == 8 && st.elevated.medianHours == 8 && st.elevated.longestHours == 8)
        // Entry 0.02 %: opens after #2 (half a round trip), collects #3 (−0.01 %) and leaves (half);
        // opens after #4, collects #5, charged its exit at the end: 2 episodes, 2 round trips.
        let t = st.thresholds[0]
        #expect(t.episodes == 2 && t.settlementsHeld == 2 && t.hoursHeld == 16)
        #expect(abs(t.gross - 0) < 1e-15 && abs(t.costs - 0.008) < 1e-15 && abs(t.net - -0.008) < 1e-15)
        // Entry 0.035 %: never reached.
        #expect(st.thresholds[1].episodes == 0 && st.thresholds[1].net == 0 && st.thresholds[1].netAprWhileHeld == nil)
        #expect(st.profitableEntries.isEmpty && FundingAnalysis.profitableRanges(st) == "none")
    }

    @Test("a 4 h contract: rates normalised to 8 h (0.005 % per 4 h is the baseline), carry per year of its own hours")
    func fourHourContract() throws {
        let s = samples(["0.00005", "0.00005", "0.0001", "0.00015"], minutes: 240)
        let st = try #require(FundingAnalysis.stats(venue: .bybit, symbol: "X", regime: .all, samples: s, elevated8h: 0.0002, exit8h: 0, roundTripCost: 0.001,
                                                    grid: [0.0001, 0.0002, 0.0003]))
        #expect(st.shareBaseline == 0.5)
        #expect(abs(st.mean8h - 0.000175) < 1e-15)  // (1 + 1 + 2 + 3) / 4 × 1e-4
        #expect(abs(st.carryApr - 0.00035 / (16.0 / 8760)) < 1e-12)
        // Elevated (≥ 0.02 % per 8 h): the last two, one 8 h run.
        #expect(st.elevated.episodes == 1 && st.elevated.longestHours == 8)
        // Entry 0.01 %: opens after #1, collects 0.00005 + 0.0001 + 0.00015 = 0.0003, one round trip 0.001.
        #expect(abs(st.thresholds[0].net - (0.0003 - 0.001)) < 1e-15)
        // Entry 0.02 %: opens after #3, collects #4 (0.00015): net 0.00015 − 0.001.
        #expect(st.thresholds[1].episodes == 1 && abs(st.thresholds[1].gross - 0.00015) < 1e-15)
    }

    @Test("the AR(1) half-life from a rising series, and the profitable range of a grid")
    func halfLifeAndRanges() throws {
        // 1…5 (×1e-4): deviations −2…2, Σ d² = 10, Σ dₜdₜ₊₁ = 2 + 0 + 0 + 2 = 4 → ρ = 0.4.
        let st = try #require(FundingAnalysis.stats(venue: .binance, symbol: "Y", regime: .all, samples: samples(["0.0001", "0.0002", "0.0003", "0.0004", "0.0005"]),
                                                    elevated8h: 0.0003, exit8h: 0, roundTripCost: 0.0001, grid: [0.0001, 0.0002, 0.0004, 0.0006]))
        #expect(abs(try #require(st.halfLifeHours) - log(0.5) / log(0.4) * 8) < 1e-9)
        // Entry 0.01 %: collects 2+3+4+5 = 14e-4 − 1e-4 > 0; 0.02 %: 12e-4 − 1e-4; 0.04 %: 5e-4 − 1e-4; 0.06 %: never.
        #expect(st.profitableEntries == [0.0001, 0.0002, 0.0004])
        #expect(FundingAnalysis.profitableRanges(st) == "0.0100 %–0.0400 %")
    }

    @Test("round-trip cost from fees and spread; the calendar years of a history, each [1 Jan, next 1 Jan)")
    func costsAndRegimes() throws {
        #expect(abs(FundingAnalysis.roundTripCost(spotTaker: Fixed("0.001")!, perpTaker: Fixed("0.0005")!, halfSpread: Fixed("0.0001")!) - 0.0034) < 1e-15)
        let h = FundingHistory(venue: .bybit, symbol: "Z", samples: [
            FundingSample(time: Timestamp(iso8601: "2023-12-31T16:00:00Z")!, ratePerInterval: Fixed("0.0001")!, intervalMinutes: 480),
            FundingSample(time: Timestamp(iso8601: "2024-01-01T00:00:00Z")!, ratePerInterval: Fixed("0.0002")!, intervalMinutes: 480),
        ])
        let years = RegimeSpan.years(of: [h])
        #expect(years.map(\.name) == ["2023", "2024"])
        #expect(h.slice(years[0]).count == 1 && h.slice(years[1]).map(\.ratePerInterval) == [Fixed("0.0002")!], "a year is [1 Jan, next 1 Jan)")
    }

    @Test("carry analyze funding over the bundled history: counts and means equal `carry series` for the same symbol and year; files written; bad input refused")
    func commandLine() throws {
        let carry = Fixtures.executable("carry")
        let scratch = ScratchDirectory("analyze-funding")
        let run = try runProcess(carry, ["analyze", "funding", "--journal", BundledMarket.path, "--venue", "binance", "--symbol", "BTCUSDT",
                                         "--out", scratch.sub("out")], timeoutSeconds: 300)
        #expect(run.status == 0, "\(run.stderr)")
        let csv = try String(contentsOfFile: scratch.sub("out/funding-stats.csv"), encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = csv[0]
        func column(_ row: [String], _ name: String) -> String { row[header.firstIndex(of: name)!] }
        let y2023 = try #require(csv.first { $0.count > 3 && $0[2] == "2023" })
        // The same settlements through `carry series` (SeriesProjection), averaged here.
        let series = try runProcess(carry, ["series", "--journal", BundledMarket.path, "--venue", "binance", "--symbol", "BTCUSDT",
                                            "--from", "2023-01-01", "--to", "2023-12-31T23:59:59Z"])
        #expect(series.status == 0, "\(series.stderr)")
        let rates = series.stdout.split(separator: "\n").dropFirst().compactMap { Double($0.split(separator: ",")[3]) }
        #expect(rates.count == 1095 && Int(column(y2023, "settlements")) == rates.count)
        let mean = rates.reduce(0, +) / Double(rates.count)
        let analysedMean = Double(column(y2023, "mean_8h")) ?? .nan
        #expect(abs(analysedMean - mean) < 1e-12)
        let positive = Double(rates.filter { $0 > 0 }.count) / Double(rates.count)
        let analysedPositive = Double(column(y2023, "share_positive")) ?? .nan
        #expect(abs(analysedPositive - positive) < 1e-9, "the CSV carries ten significant digits")
        #expect(run.stdout.contains("binance  BTCUSDT  2023") && run.stdout.contains("round trip of binance 0.340 %"), "\(run.stdout)")
        for file in ["funding-thresholds.csv", "funding-stats.json", "funding.html"] {
            #expect(FileManager.default.fileExists(atPath: scratch.sub("out/" + file)), "\(file)")
        }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: scratch.sub("out/funding-stats.json")))) as? [[String: Any]] ?? []
        #expect(json.count == csv.count - 1)

        let unknown = try runProcess(carry, ["analyze", "funding", "--journal", BundledMarket.path, "--symbol", "BTCUSTD", "--out", scratch.sub("bad")])
        #expect(unknown.status == 2 && unknown.stderr.contains("BTCUSTD has no funding") && unknown.stderr.contains("BTCUSDT"), "\(unknown.stderr)")
        // Spans are parsed as `carry validate --regimes` parses them (tested there); the refusal names this flag.
        let regime = try runProcess(carry, ["analyze", "funding", "--journal", BundledMarket.path, "--regime", "late=2026-01-01..2025-01-01", "--out", scratch.sub("bad")])
        #expect(regime.status == 2 && regime.stderr.contains("--regime late=2026-01-01..2025-01-01: the end must be after the start"), "\(regime.stderr)")
        let missing = try runProcess(carry, ["analyze", "funding", "--journal", scratch.sub("nothing"), "--out", scratch.sub("bad")])
        #expect(missing.status == 2 && missing.stderr.contains("no market journal"), "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.sub("bad")), "nothing written on bad input")
    }
}
