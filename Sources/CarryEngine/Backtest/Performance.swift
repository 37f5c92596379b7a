// Performance statistics of a run, computed online so memory does not grow with the run:
// drawdown and time in market from each equity sample, daily returns into a running
// mean/variance (Welford), and an equity curve decimated to a bounded number of points for
// the charts. Statistics use Double; every amount stays exact (`Fixed`).

public import CarryCore
import Foundation

/// One symbol's share of the result.
public struct SymbolBreakdown: Sendable, Equatable {
    public var symbol: String
    public var pairsOpened: Int
    public var fills: Int
    public var funding: Fixed
    public var pricePnL: Fixed
    public var fees: Fixed
    public var slippage: Fixed
    /// funding + price − fees − slippage.
    public var net: Fixed
}

/// What a trader reads after a run.
public struct BacktestSummary: Sendable {
    public var from: Timestamp
    public var to: Timestamp
    public var days: Double
    public var initialCapital: Fixed
    public var finalEquity: Fixed
    public var netPnL: Fixed
    public var funding: Fixed
    public var pricePnL: Fixed
    public var fees: Fixed
    public var slippage: Fixed
    /// Net P&L over initial capital, annualised by the span (simple, 365-day year).
    public var apr: Double
    /// Annualised Sharpe of daily returns in excess of the collateral cost; nil with fewer
    /// than two full days or no variance.
    public var sharpe: Double?
    /// Annualised Sortino of the same returns (mean over the downside deviation, the root mean
    /// square of the negative ones); nil with fewer than two full days or no losing day.
    public var sortino: Double?
    public var collateralCostApr: Fixed
    /// Largest peak-to-trough fall of equity, as a fraction and in the quote asset.
    public var maxDrawdown: Double
    public var maxDrawdownUsdt: Fixed
    /// The scan ticks of the peak the largest drawdown fell from and of its bottom (nil when
    /// equity never fell).
    public var maxDrawdownPeakAt: Timestamp?
    public var maxDrawdownTroughAt: Timestamp?
    public var pairsOpened: Int
    public var fills: Int
    public var liquidations: Int
    /// Share of scan ticks with at least one pair not flat.
    public var timeInMarket: Double
    /// Σ |quantity × price| of every fill, both legs, in the quote asset.
    public var tradedNotional: Fixed
    /// Gross perp notional (Σ |position| × mark) ÷ `risk.maxTotalNotionalUsdt`, averaged over
    /// the scan ticks and at its largest.
    public var exposureMean: Double
    public var exposureMax: Double
    /// Pairs sent to closing or unwinding, by why (`ExitReason`), in a fixed order; reasons
    /// that never happened are left out.
    public var exitReasons: [(reason: ExitReason, count: Int)]
    public var perSymbol: [SymbolBreakdown]
    public var killSwitchEngaged: Bool
    /// Decimated equity curve (time, equity, drawdown fraction) for charts.
    public var curve: [(Timestamp, Double, Double)]
    /// Every full day's return in excess of the collateral cost, in order — the series the
    /// Sharpe is computed from, and a column of a sweep's return matrix (deflated Sharpe,
    /// PBO) — and the UTC day number (days since 1970-01-01) of the first.
    public var dailyReturns: [Double] = []
    public var dailyReturnsFirstDay: Int64 = 0
    /// Funding received per settlement, all pairs (`RunEventStatistics`).
    public var fundingPerSettlement: [(time: Timestamp, amount: Fixed)] = []
    /// True when the run priced its perps from the spot bars (`zeroBasis: true`): every
    /// report of it says so on its first line.
    public var zeroBasis = false
}

/// Accumulates equity samples.
final class PerformanceTracker {
    let initialCapital: Fixed
    let collateralCostApr: Fixed
    private(set) var peak: Fixed
    private(set) var maxDrawdown = 0.0
    private(set) var maxDrawdownUsdt = Fixed.zero
    private(set) var currentDrawdown = Fixed.zero
    private var peakAt: Timestamp?
    private var maxDrawdownPeakAt: Timestamp?
    private var maxDrawdownTroughAt: Timestamp?
    private var samples = 0
    private var samplesInMarket = 0
    private var exposureSum = 0.0
    private var exposureMax = 0.0
    // Daily returns (Welford).
    private var currentDay: Int64?
    private var dayOpenEquity: Fixed
    private var lastEquity: Fixed
    private var dailyCount = 0
    private var dailyMean = 0.0
    private var dailyM2 = 0.0
    /// Σ min(r, 0)² of the daily excess returns (the Sortino's downside).
    private var dailyDownsideSquares = 0.0
    /// The daily excess returns themselves (one Double a day) and the day of the first.
    private var dailyReturns: [Double] = []
    private var firstReturnDay: Int64?
    // Decimated curve: keep every `stride`-th sample; halve when full.
    private var curve: [(Timestamp, Double, Double)] = []
    private var stride = 1
    private var seen = 0
    private let maxPoints = 2000

    init(initialCapital: Fixed, collateralCostApr: Fixed) {
        self.initialCapital = initialCapital
        self.collateralCostApr = collateralCostApr
        peak = initialCapital
        dayOpenEquity = initialCapital
        lastEquity = initialCapital
    }

    func observe(time: Timestamp, equity: Fixed, openPairs: Int, exposure: Double) {
        samples += 1
        if openPairs > 0 { samplesInMarket += 1 }
        exposureSum += exposure
        exposureMax = max(exposureMax, exposure)
        if equity > peak || peakAt == nil {
            if equity > peak { peak = equity }
            peakAt = time
        }
        currentDrawdown = RiskChecks.drawdown(equity: equity, peak: peak)
        let dd = currentDrawdown.doubleValue
        if dd > maxDrawdown {
            maxDrawdown = dd
            maxDrawdownUsdt = peak - equity
            maxDrawdownPeakAt = peakAt
            maxDrawdownTroughAt = time
        }
        let day = time.ms / Millis.day
        if let d = currentDay, day != d {
            closeDay(d)
            dayOpenEquity = lastEquity
        }
        currentDay = day
        lastEquity = equity
        if seen % stride == 0 {
            curve.append((time, equity.doubleValue, dd))
            if curve.count >= 2 * maxPoints {
                curve = curve.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
                stride *= 2
            }
        }
        seen += 1
    }

    private func closeDay(_ day: Int64) {
        guard dayOpenEquity.isPositive else { return }
        let r = lastEquity.doubleValue / dayOpenEquity.doubleValue - 1 - collateralCostApr.doubleValue / 365
        if firstReturnDay == nil { firstReturnDay = day }
        dailyReturns.append(r)
        dailyCount += 1
        let delta = r - dailyMean
        dailyMean += delta / Double(dailyCount)
        dailyM2 += delta * (r - dailyMean)
        if r < 0 { dailyDownsideSquares += r * r }
    }

    func summary(portfolio p: Portfolio, marks: [InstrumentId: Fixed], pairs: [ResolvedPair], from: Timestamp, to: Timestamp,
                 events: RunEventStatistics, killSwitch: Bool) -> BacktestSummary {
        let pairsOpened = events.opened
        let markOf: (InstrumentId) -> Fixed? = { marks[$0] }
        let equity = p.equity(marks: markOf)
        let days = Double(to.ms - from.ms) / Double(Millis.day)
        let net = equity - p.initialCash
        var sharpe: Double? = nil
        if dailyCount >= 2 {
            let variance = dailyM2 / Double(dailyCount - 1)
            if variance > 0 { sharpe = dailyMean / variance.squareRoot() * (365.0).squareRoot() }
        }
        var sortino: Double? = nil
        if dailyCount >= 2 && dailyDownsideSquares > 0 {
            sortino = dailyMean / (dailyDownsideSquares / Double(dailyCount)).squareRoot() * (365.0).squareRoot()
        }
        var rows: [SymbolBreakdown] = []
        for (k, pair) in pairs.enumerated() {
            var row = SymbolBreakdown(symbol: pair.symbol, pairsOpened: pairsOpened[k], fills: 0, funding: .zero, pricePnL: .zero, fees: .zero, slippage: .zero, net: .zero)
            for d in [pair.spot, pair.perp] where d.id.index < p.qty.count {
                row.fills += p.fills[d.id.index]
                row.funding += p.funding[d.id.index]
                row.fees += p.fees[d.id.index]
                row.slippage += p.slippage[d.id.index]
                row.pricePnL += p.pricePnL(d.id, mark: marks[d.id])
            }
            row.net = row.funding + row.pricePnL - row.fees - row.slippage
            rows.append(row)
        }
        return BacktestSummary(
            from: from, to: to, days: days, initialCapital: p.initialCash, finalEquity: equity, netPnL: net,
            funding: p.totalFunding, pricePnL: p.totalPricePnL(marks: markOf), fees: p.totalFees, slippage: p.totalSlippage,
            apr: days > 0 ? net.doubleValue / p.initialCash.doubleValue * 365 / days : 0,
            sharpe: sharpe, sortino: sortino, collateralCostApr: collateralCostApr, maxDrawdown: maxDrawdown, maxDrawdownUsdt: maxDrawdownUsdt,
            maxDrawdownPeakAt: maxDrawdownPeakAt, maxDrawdownTroughAt: maxDrawdownTroughAt,
            pairsOpened: pairsOpened.reduce(0, +), fills: p.totalFills, liquidations: p.liquidations,
            timeInMarket: samples > 0 ? Double(samplesInMarket) / Double(samples) : 0,
            tradedNotional: events.tradedNotional, exposureMean: samples > 0 ? exposureSum / Double(samples) : 0, exposureMax: exposureMax,
            exitReasons: events.exitReasonCounts, perSymbol: rows,
            killSwitchEngaged: killSwitch, curve: curve, dailyReturns: dailyReturns, dailyReturnsFirstDay: firstReturnDay ?? 0,
            fundingPerSettlement: events.fundingPerSettlement)
    }
}

extension BacktestSummary {
    /// Traded notional ÷ initial capital: how many times the capital went through the market.
    public var turnover: Double { initialCapital.isPositive ? tradedNotional.doubleValue / initialCapital.doubleValue : 0 }

    /// APR ÷ max drawdown; nil when equity never fell.
    public var calmar: Double? { maxDrawdown > 0 ? apr / maxDrawdown : nil }

    /// `2025-10-02 → 2025-11-14` (peak → bottom of the largest drawdown), nil when none.
    public var drawdownDates: String? {
        guard let peak = maxDrawdownPeakAt, let trough = maxDrawdownTroughAt else { return nil }
        return "\(peak.isoDate) → \(trough.isoDate)"
    }
}

/// `1.23`, or `n/a` for a ratio that could not be computed.
public func ratio(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "n/a" }

// MARK: - Formatting

/// `12,345.67` (two decimals, rounded half-even, thousands separated).
public func money(_ v: Fixed, signed: Bool = false) -> String {
    let r = v.rounded(scale: 2, .toNearestOrEven)
    let negative = r.isNegative
    let digits = r.magnitude.description
    let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
    var whole = String(parts[0])
    var grouped = ""
    while whole.count > 3 {
        grouped = "," + whole.suffix(3) + grouped
        whole = String(whole.dropLast(3))
    }
    let sign = negative ? "−" : (signed && r.isPositive ? "+" : "")
    return sign + whole + grouped + "." + (parts.count > 1 ? String(parts[1]) : "00")
}

/// `12.34 %`.
public func percent(_ v: Double, digits: Int = 2) -> String {
    String(format: "%.\(digits)f %%", v * 100)
}

extension BacktestSummary {
    /// The summary as text for a terminal.
    public func text(title: String) -> String {
        var s = zeroBasis ? ZeroBasis.banner + "\n" : ""
        s += "\(title)\n"
        s += "\(from.iso8601) → \(to.iso8601) (\(String(format: "%.1f", days)) days)\n\n"
        s += "Capital \(money(initialCapital)) USDT → final equity \(money(finalEquity)) USDT\n"
        func line(_ label: String, _ value: String, _ extra: String = "") -> String {
            label.padding(toLength: 28, withPad: " ", startingAt: 0) + value.leftPadded(16) + (extra.isEmpty ? "" : "   " + extra) + "\n"
        }
        s += line("  net P&L", money(netPnL, signed: true), "APR \(percent(apr))")
        s += line("  funding income", money(funding, signed: true))
        s += line("  price / basis P&L", money(pricePnL, signed: true))
        s += line("  fees", money(-fees, signed: true))
        s += line("  slippage", money(-slippage, signed: true))
        s += line("  Sharpe", ratio(sharpe), "after \(percent(collateralCostApr.doubleValue)) collateral cost; Sortino \(ratio(sortino))")
        s += line("  max drawdown", percent(-maxDrawdown), "\(money(-maxDrawdownUsdt, signed: true)) USDT\(drawdownDates.map { ", \($0)" } ?? "")")
        s += line("  pairs opened", String(pairsOpened), "\(fills) fills, \(liquidations) liquidations")
        s += line("  turnover", String(format: "%.2fx", turnover), "\(money(tradedNotional)) USDT traded")
        s += line("  time in market", percent(timeInMarket, digits: 1))
        s += line("  exposure vs cap", percent(exposureMean, digits: 1), "mean; max \(percent(exposureMax, digits: 1))")
        if !exitReasons.isEmpty {
            s += line("  exits", exitReasons.map { "\($0.reason) \($0.count)" }.joined(separator: ", "))
        }
        if killSwitchEngaged { s += "  KILL SWITCH ENGAGED (drawdown limit): positions were flattened\n" }
        s += "\nPer symbol (USDT):\n"
        s += "  " + ["symbol", "pairs", "funding", "price P&L", "fees", "slippage", "net"].enumerated().map { i, h in i == 0 ? h.padding(toLength: 10, withPad: " ", startingAt: 0) : h.leftPadded(13) }.joined() + "\n"
        for r in perSymbol {
            s += "  " + r.symbol.padding(toLength: 10, withPad: " ", startingAt: 0) + String(r.pairsOpened).leftPadded(13)
            s += [r.funding, r.pricePnL, -r.fees, -r.slippage, r.net].map { money($0, signed: true).leftPadded(13) }.joined() + "\n"
        }
        return s
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
