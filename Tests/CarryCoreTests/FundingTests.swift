// Funding math against hand-computed cases: the sign convention, rounding, 8 h / 4 h / 1 h
// settlement schedules, negative rates, and which side of a settlement boundary counts.
//
// The boundary rule: a position is paid on the settlement at instant S when it is held at S
// after the fills of S. A pair whose fills land exactly at S earns S; a pair whose closing
// fills land exactly at S does not. (Bars of S are processed before settlements of S.)

import CarryCore
import Testing

@Suite("Funding math")
struct FundingTests {
    @Test("payment = −qty × mark × rate, rounded once half-even to 8 decimals; shorts receive positive rates")
    func payments() {
        // Short 0.5 BTC at 60,000, +0.01 %: the short receives 3 USDT.
        #expect(FundingMath.payment(positionQty: f("-0.5"), markPrice: f("60000"), ratePerInterval: f("0.0001")) == f("3"))
        // Long 2 at 3,000.5, +0.025 %: the long pays 1.50025.
        #expect(FundingMath.payment(positionQty: f("2"), markPrice: f("3000.5"), ratePerInterval: f("0.00025")) == f("-1.50025"))
        // Negative rate: shorts pay, longs receive.
        #expect(FundingMath.payment(positionQty: f("-2"), markPrice: f("50000"), ratePerInterval: f("-0.00025")) == f("-25"))
        #expect(FundingMath.payment(positionQty: f("1.5"), markPrice: f("12345.67"), ratePerInterval: f("-0.0000375")) == f("0.69444394"))
        // 0.003 × 33,333.33 × 0.00012345 = 0.0123449987655 → 0.01234500.
        #expect(FundingMath.payment(positionQty: f("0.003"), markPrice: f("33333.33"), ratePerInterval: f("0.00012345")) == f("-0.012345"))
        // Exact ties round to even.
        #expect(FundingMath.payment(positionQty: f("1"), markPrice: f("1"), ratePerInterval: f("0.000000005")) == .zero)
        #expect(FundingMath.payment(positionQty: f("1"), markPrice: f("1"), ratePerInterval: f("0.000000015")) == f("-0.00000002"))
        #expect(FundingMath.payment(positionQty: f("-1"), markPrice: f("1"), ratePerInterval: f("0.000000025")) == f("0.00000002"))
        #expect(FundingMath.payment(positionQty: .zero, markPrice: f("100"), ratePerInterval: f("0.01")) == .zero)
    }

    @Test("rates per 4 h and 1 h are compared per 8 h")
    func normalisation() {
        #expect(FundingMath.per8h(f("0.0001"), intervalMinutes: 480) == f("0.0001"))
        #expect(FundingMath.per8h(f("0.00005"), intervalMinutes: 240) == f("0.0001"))
        #expect(FundingMath.per8h(f("0.0000125"), intervalMinutes: 60) == f("0.0001"))
        #expect(FundingMath.per8h(f("-0.00003"), intervalMinutes: 60) == f("-0.00024"))
    }

    @Test("settlement instants: 00/08/16 UTC for 8 h, every 4 h, every hour; the end is inclusive, the start exclusive")
    func schedules() {
        let eight = FundingMath.settlements(after: day0, through: hours(24), intervalMinutes: 480)
        #expect(eight.map(\.iso8601) == ["2025-01-01T08:00:00Z", "2025-01-01T16:00:00Z", "2025-01-02T00:00:00Z"])
        #expect(FundingMath.settlements(after: day0, through: hours(24), intervalMinutes: 240).count == 6)
        #expect(FundingMath.settlements(after: day0, through: hours(24), intervalMinutes: 60).count == 24)
        // From mid-interval: the next 8 h boundary.
        #expect(FundingMath.settlements(after: hours(3), through: hours(9), intervalMinutes: 480).map(\.iso8601) == ["2025-01-01T08:00:00Z"])
    }

    /// A pair held across a whole day under each interval collects one payment per settlement.
    @Test("a hedged pair held for 24 h is paid 3, 6 or 24 times for 8 h, 4 h and 1 h intervals", arguments: [(480, 3), (240, 6), (60, 24)])
    func perInterval(interval: Int, expected: Int) {
        let intervalMinutes = UInt32(interval)
        // Open at the 00:00 tick (rate 0.0002 per interval ≥ the threshold per 8 h), hold, never exit.
        let config = engineConfig(strategy: strategy(entry: "0.0001", exit: "-0.01"), slippage: noSlippage)
        var run = PipelineRun(config: config, perpInterval: intervalMinutes, from: hours(-1), to: hours(24))
        let everySettlement = Dictionary(uniqueKeysWithValues: stride(from: 0, through: 24, by: interval / 60).map { (Int64($0), ["0.0002"]) })
        run.run(hourlyMarket(fromHour: -1, toHour: 24, funding: everySettlement, intervalMinutes: intervalMinutes, mark: "100"))
        let fills = run.events { if case .orderFilled(let x) = $0 { x } else { nil } }
        #expect(fills.count == 2)
        #expect(fills.allSatisfy { $0.time == hours(1) && $0.value.qty == f("200") })
        // Paid at every settlement from the fills (01:00, which counts for a 1 h interval)
        // through 24:00 inclusive.
        let paid = run.events { if case .fundingPaid(let x) = $0 { x } else { nil } }
        let schedule = FundingMath.settlements(after: hours(0), through: hours(24), intervalMinutes: intervalMinutes)
        #expect(paid.map(\.time) == schedule)
        #expect(schedule.count == expected)
        // Each: −(−200) × 100 × 0.0002 = +4 USDT.
        #expect(paid.allSatisfy { $0.value.amount == f("4") && $0.value.positionQty == f("-200") && $0.value.markPrice == f("100") })
        #expect(run.pipeline.reducer.portfolio.totalFunding == Fixed(Int64(4 * schedule.count)))
    }

    @Test("opened exactly at a settlement: paid; closed exactly at a settlement: not paid — whatever the input order within the instant")
    func boundary() {
        // Trading starts at 07:00 (earlier data is warm-up). The 07:00 tick sees the 00:00 rate
        // (0.0003 ≥ 0.0001) and opens; the fills land on the 08:00 bars — exactly the 08:00
        // settlement. maxHolding 7 h: the 15:00 tick exits; the closing fills land on the 16:00
        // bars — exactly the 16:00 settlement (whose rate is too low to reopen). Run with the
        // settlements listed before the bars of their instant, and after: the same result.
        let config = engineConfig(strategy: strategy(entry: "0.0001", exit: "-0.01", maxHoldingHours: 7), slippage: noSlippage)
        let market = hourlyMarket(fromHour: 0, toHour: 20, funding: [0: ["0.0003"], 8: ["0.0003"], 16: ["0.00005"]], mark: "100")
        // The same instants with each settlement listed after the bars.
        let barsFirst = market.enumerated().sorted { a, b in
            func late(_ e: Event) -> Int { if case .fundingSettled = e { 1 } else { 0 } }
            return (a.element.0, late(a.element.1), a.offset) < (b.element.0, late(b.element.1), b.offset)
        }.map(\.element)
        #expect(barsFirst.map(\.1) != market.map(\.1))
        for inputs in [market, barsFirst] {
            var run = PipelineRun(config: config, from: hours(7), to: hours(20))
            run.run(inputs, tradingFrom: hours(7))
            let fills = run.events { if case .orderFilled(let x) = $0 { x } else { nil } }
            #expect(fills.map(\.time) == [hours(8), hours(8), hours(16), hours(16)])
            let paid = run.events { if case .fundingPaid(let x) = $0 { x } else { nil } }
            #expect(paid.count == 1)
            #expect(paid.first?.time == hours(8))
            // −(−200) × 100 × 0.0003 = +6.
            #expect(paid.first?.value.amount == f("6"))
            #expect(run.pipeline.reducer.portfolio.totalFunding == f("6"))
            #expect(run.pipeline.reducer.pairs[0].phase == .flat)
        }
    }

    @Test("a settlement without a mark price uses the perp's last close at or before it")
    func markFallback() {
        let config = engineConfig(strategy: strategy(entry: "0.0001", exit: "-0.01"), slippage: noSlippage)
        var run = PipelineRun(config: config, from: hours(0), to: hours(8))
        run.run(hourlyMarket(fromHour: 0, toHour: 8, perp: { $0 < 8 ? "100" : "101.5" }, funding: [0: ["0.0003"], 8: ["-0.0001"]]))
        let paid = run.events { if case .fundingPaid(let x) = $0 { x } else { nil } }
        // The 08:00 bar (101.5) is processed before the 08:00 settlement: −(−200) × 101.5 × −0.0001 = −2.03.
        #expect(paid.map(\.value.amount) == [f("-2.03")])
        #expect(paid.first?.value.markPrice == f("101.5"))
    }
}
