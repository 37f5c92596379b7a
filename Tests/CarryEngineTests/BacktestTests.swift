// `carry backtest` end to end over the bundled real history: byte-identical reruns, the book
// rebuilt from the run journal alone, the P&L identity, funding that matches what the CSVs
// imply, no look-ahead on real data, gaps treated as no data, and bad input refused with the
// key, the value and what is allowed.

import CarryCore
import CarryEngine
import CarryJournal
import CarryTesting
import Foundation
import Testing

func backtestConfig(_ yaml: String) throws -> BacktestConfig {
    try BacktestConfig.parse(yaml: yaml, source: "test.yaml")
}

/// Runs a backtest into a fresh directory under `dir`.
func runBacktest(_ config: BacktestConfig, _ dir: ScratchDirectory, _ name: String, source: String = BundledMarket.path) throws -> BacktestResult {
    try BacktestDriver.run(config: config, sourcePath: source, outDirectory: dir.sub(name))
}

/// Every record of a journal, raw.
func rawRecords(_ path: String) throws -> [[UInt8]] {
    let journal = try Journal.open(path, readOnly: true)
    var out: [[UInt8]] = []
    try journal.withSnapshot { snap in
        _ = try snap.scan { view in
            out.append(Array(view.bytes))
            return true
        }
    }
    return out
}

@Suite("Backtest over the bundled history", .serialized)
struct BacktestTests {
    static let twoMonths = """
    symbols: [BTCUSDT, ETHUSDT, SOLUSDT]
    from: 2025-10-01
    to: 2025-12-01
    strategy: {entryThreshold: 0.00008, exitThreshold: 0.00002}
    """

    @Test("the same backtest twice gives byte-identical run journals; the book rebuilt from the run journal equals the run's")
    func determinismAndRebuild() throws {
        let dir = ScratchDirectory("determinism")
        let config = try backtestConfig(Self.twoMonths)
        let a = try runBacktest(config, dir, "a")
        let b = try runBacktest(config, dir, "b")
        #expect(a.summary.pairsOpened > 5, "the span should trade")
        #expect(a.contentHash == b.contentHash)
        #expect(try rawRecords(a.runJournalPath) == rawRecords(b.runJournalPath))
        #expect(a.stateHash == b.stateHash)
        print("run journal content hash \(a.contentHash), state hash \(a.stateHash), \(a.events.run) events")

        let rebuilt = try RunProjector.rebuild(runPath: a.runJournalPath, sourcePath: BundledMarket.path, equityCSVPath: dir.sub("rebuilt.csv"))
        #expect(rebuilt.stateHash == a.stateHash)
        #expect(rebuilt.projection.portfolio == a.portfolio)
        #expect(rebuilt.runEvents == a.events.run)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.sub("rebuilt.csv"))) == Data(contentsOf: URL(fileURLWithPath: dir.sub("a/equity.csv"))))
        #expect(rebuilt.summary.text(title: "t") == a.summary.text(title: "t"))
        #expect(rebuilt.config.canonicalText == config.canonicalText)
    }

    @Test("the summary equals an independent fold of the run journal valued at the source's closes: final equity = initial + funding + price P&L − fees − slippage to the unit; symbols sum to the total")
    func identity() throws {
        let dir = ScratchDirectory("identity")
        let r = try runBacktest(try backtestConfig(Self.twoMonths), dir, "run")
        // The summary's figures against an independent fold of the run journal's fills and
        // payments, valued at the last source bar of each leg at or before `to`.
        var cash = r.portfolio.initialCash, fees = Fixed.zero, funding = Fixed.zero, slippage = Fixed.zero
        var qty: [InstrumentId: Fixed] = [:], refCost: [InstrumentId: Fixed] = [:]
        let run = try Journal.open(r.runJournalPath, readOnly: true)
        try run.withSnapshot { snap in
            _ = try snap.scan { v in
                switch try v.decode() {
                case .orderFilled(let x):
                    let dq = x.side == .buy ? x.qty : -x.qty
                    let paid = dq.multiplied(by: x.price, scale: 8, .toNearestOrEven), atRef = dq.multiplied(by: x.referencePrice, scale: 8, .toNearestOrEven)
                    cash = cash - paid - x.fee
                    qty[x.instrumentId, default: .zero] += dq
                    refCost[x.instrumentId, default: .zero] += atRef
                    fees += x.fee
                    slippage += paid - atRef
                case .fundingPaid(let x):
                    cash += x.amount
                    funding += x.amount
                default:
                    break
                }
                return true
            }
        }
        var marks: [InstrumentId: Fixed] = [:]
        let source = try Journal.open(BundledMarket.path, readOnly: true)
        try source.withSnapshot { snap in
            _ = try snap.scanByTime(from: r.to.adding(ms: -Millis.day), through: r.to) { v in
                if let id = try v.instrument(), qty[id] != nil, case .barClosed(let b) = try v.decode(), b.intervalSeconds == 3600 { marks[id] = b.close }
                return true
            }
        }
        var equity = cash, pricePnL = Fixed.zero
        for (id, q) in qty {
            let value = q.isZero ? Fixed.zero : q.multiplied(by: marks[id]!, scale: 8, .toNearestOrEven)
            equity += value
            pricePnL += value - refCost[id]!
        }
        #expect(r.summary.fees == fees && r.summary.funding == funding && r.summary.slippage == slippage && r.summary.pricePnL == pricePnL)
        #expect(r.summary.finalEquity == equity)
        #expect(equity == r.portfolio.initialCash + pricePnL + funding - fees - slippage)
        #expect(r.summary.netPnL == equity - r.portfolio.initialCash)
        #expect(r.summary.perSymbol.reduce(Fixed.zero) { $0 + $1.net } == r.summary.netPnL)
        #expect(r.summary.perSymbol.reduce(Fixed.zero) { $0 + $1.funding } == funding)
        #expect(fees.isPositive && slippage.isPositive && !funding.isZero && qty.count == 6)
    }

    @Test("an always-hedged BTC pair earns exactly the funding the CSVs imply: Σ round8(size × mark × rate) over the settlements it held")
    func hedgedBTCMatchesCSV() throws {
        let dir = ScratchDirectory("hedged")
        let config = try backtestConfig("""
        symbols: [BTCUSDT]
        strategy: {entryThreshold: -0.01, exitThreshold: -0.01, maxHolding: 3650d, maxRateAge: 7d}
        """)
        let r = try runBacktest(config, dir, "run")
        let perp = r.pairs[0].perp.id
        let size = -r.portfolio.position(perp)
        #expect(size.isPositive && r.portfolio.position(r.pairs[0].spot.id) == size)
        #expect(r.summary.pairsOpened == 1 && r.portfolio.totalFills == 2)

        // When the legs filled, from the run journal.
        var filledAt: Timestamp?
        let run = try Journal.open(r.runJournalPath, readOnly: true)
        try run.withSnapshot { snap in
            _ = try snap.scan { v in
                if case .orderFilled = try v.decode() { filledAt = filledAt ?? v.header.eventTime }
                return true
            }
        }
        let opened = try #require(filledAt)

        // The CSVs, read as text: rate and mark per settlement (the all-symbols file and the
        // per-symbol file agree where both have a row), perp closes for rows without a mark.
        var rows: [Int64: (rate: Fixed, mark: Fixed?)] = [:]
        for file in ["BTCUSDT.csv", "all_symbols_2025-08-21_to_2026-08-21.csv"] {
            for row in try csvRows(Fixtures.bundledData + "/funding/binance/" + file) where row[0] == "BTCUSDT" {
                let t = Int64(row[1])!
                let rate = Fixed(row[2])!, mark = row[3].isEmpty ? nil : Fixed(row[3])!
                if let seen = rows[t] { #expect(seen.rate == rate, "two files disagree at \(t)") }
                rows[t] = (rate, mark ?? rows[t]?.mark)
            }
        }
        var closes: [Int64: Fixed] = [:]
        for row in try csvRows(Fixtures.bundledData + "/klines/binance-usdm-perp/BTCUSDT_1h.csv") {
            closes[Int64(row[0])! + 3_600_000] = Fixed(row[4])!
        }
        var expected = Fixed.zero
        var settlements = 0
        for (t, row) in rows where t >= opened.ms && t <= r.to.ms {
            let mark = try #require(row.mark ?? closes.filter { $0.key <= t }.max { $0.key < $1.key }?.value)
            expected += size.multiplied(by: mark, row.rate, scale: 8, .toNearestOrEven)
            settlements += 1
        }
        #expect(settlements > 500)
        #expect(r.portfolio.funding[perp.index] == expected)
        #expect(r.summary.funding == expected)
        // Net of what it paid: everything else the pair made or lost is price/basis P&L.
        #expect(r.summary.netPnL == expected + r.summary.pricePnL - r.summary.fees - r.summary.slippage)
        print("hedged BTC: size \(size), \(settlements) settlements, funding \(expected), fees \(r.summary.fees), slippage \(r.summary.slippage), net \(r.summary.netPnL)")
    }

    @Test("equity.csv's last column, exposure_usdt, is |perp position| × the perp's last close at every sample, exact; 0 when flat; its maximum over the cap is the summary's")
    func exposureColumn() throws {
        let dir = ScratchDirectory("exposure")
        // One BTC pair opened at the first scan and closed after 49 h: samples before, during and after.
        let config = try backtestConfig("""
        symbols: [BTCUSDT]
        from: 2025-10-01
        to: 2025-10-05
        strategy: {entryThreshold: -0.01, exitThreshold: -0.01, maxHolding: 49h, reentryCooldown: 30d, maxRateAge: 2d}
        """)
        let r = try runBacktest(config, dir, "run")
        let perp = r.pairs[0].perp.id
        // The perp's fills (signed), from the run journal; its closes, from the source CSV.
        var fills: [(time: Timestamp, qty: Fixed)] = []
        let run = try Journal.open(r.runJournalPath, readOnly: true)
        try run.withSnapshot { snap in
            _ = try snap.scan { v in
                if case .orderFilled(let x) = try v.decode(), x.instrumentId == perp { fills.append((v.header.eventTime, x.side == .buy ? x.qty : -x.qty)) }
                return true
            }
        }
        #expect(fills.count == 2)
        var closes: [Int64: Fixed] = [:]
        for row in try csvRows(Fixtures.bundledData + "/klines/binance-usdm-perp/BTCUSDT_1h.csv") {
            closes[Int64(row[0])! + 3_600_000] = Fixed(row[4])!
        }
        let csv = try String(contentsOfFile: dir.sub("run/equity.csv"), encoding: .utf8)
        #expect(csv.prefix { $0 != "\n" } == "time,equity_usdt,cash_usdt,funding_usdt,fees_usdt,slippage_usdt,price_pnl_usdt,drawdown,open_pairs,exposure_usdt")
        var open = 0, flat = 0, max = Fixed.zero
        for row in try csvRows(dir.sub("run/equity.csv")) {
            let t = try #require(Timestamp(iso8601: String(row[0])))
            let q = fills.filter { $0.time <= t }.reduce(Fixed.zero) { $0 + $1.qty }
            var expected = Fixed.zero
            if q.isZero {
                flat += 1
            } else {
                let mark = try #require(closes.filter { $0.key <= t.ms }.max { $0.key < $1.key }?.value)
                expected = q.magnitude.multiplied(by: mark, scale: 8, .toNearestOrEven)
                open += 1
            }
            #expect(row.count == 10 && row[9] == expected.description, "\(row[0]): \(row[9]) vs \(expected)")
            if expected > max { max = expected }
        }
        #expect(open >= 48 && flat >= 40, "open \(open), flat \(flat)")
        #expect(abs(r.summary.exposureMax - max.doubleValue / config.risk.maxTotalNotionalUsdt.doubleValue) < 1e-12)
        // The report's reader takes the column by its name.
        let parsed = ReportSeries.parseEquity(csv)
        #expect(parsed.count == open + flat && parsed.map { $0.exposure ?? -1 }.max() == max.doubleValue)
    }

    @Test("no look-ahead on real data: a market journal perturbed after T gives the same run journal before T, record for record")
    func noLookAheadRealData() throws {
        let dir = ScratchDirectory("lookahead")
        let from = Timestamp(iso8601: "2025-10-01")!, to = Timestamp(iso8601: "2025-11-15")!
        let cut = Timestamp(iso8601: "2025-10-25T13:30:00Z")!
        let window = try RealWindow(symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT"], from: from.adding(ms: -2 * Millis.day), to: to)
        var rng = SplitMix64(seed: 42)
        let perturbed: [MarketRecord] = window.records.map { r in
            guard r.time > cut else { return r }
            switch r {
            case .bar(var b):
                let k = Fixed(mantissa: Int64(50 + rng.below(100)), scale: 2)   // × 0.50 … 1.49
                for path in [\BarClosed.open, \.high, \.low, \.close] { b[keyPath: path] = b[keyPath: path].multiplied(by: k, scale: 8, .toNearestOrEven) }
                return .bar(b)
            case .funding(let t, var f):
                f.ratePerInterval = Fixed(mantissa: Int64(rng.below(200)) - 50, scale: 5)
                return .funding(settlementTime: t, f)
            }
        }
        let a = try window.journal(dir.sub("market-a"), window.records)
        let b = try window.journal(dir.sub("market-b"), perturbed)
        let config = try backtestConfig("""
        from: 2025-10-01
        to: 2025-11-15
        strategy: {entryThreshold: 0.00005, exitThreshold: 0.00001, maxHolding: 5d, reentryCooldown: 1h}
        """)
        let ra = try runBacktest(config, dir, "run-a", source: a)
        let rb = try runBacktest(config, dir, "run-b", source: b)
        // run.started names the source journal (each market journal has its own id); every other
        // record must match byte for byte up to T — and the fills after T must differ.
        func records(_ path: String, _ keep: (Timestamp) -> Bool) throws -> [(UInt16, [UInt8])] {
            let j = try Journal.open(path, readOnly: true)
            var out: [(UInt16, [UInt8])] = []
            try j.withSnapshot { snap in
                _ = try snap.scan { v in
                    if keep(v.header.eventTime) && v.header.kindCode != EventKind.runStarted.rawValue { out.append((v.header.kindCode, Array(v.bytes))) }
                    return true
                }
            }
            return out
        }
        let before = try records(ra.runJournalPath) { $0 <= cut }
        #expect(before.count > 200)
        #expect(before.contains { $0.0 == EventKind.orderFilled.rawValue })
        #expect(before.map(\.1) == (try records(rb.runJournalPath) { $0 <= cut }).map(\.1))
        let fillsAfter = { (path: String) in try records(path) { $0 > cut }.filter { $0.0 == EventKind.orderFilled.rawValue }.map(\.1) }
        #expect(try !fillsAfter(ra.runJournalPath).isEmpty)
        #expect(try fillsAfter(ra.runJournalPath) != fillsAfter(rb.runJournalPath), "the perturbation must reach the run after T")
    }

    @Test("a gap is warned about (stream and span) and treated as no data: no fill, mark or funding comes from inside it")
    func gaps() throws {
        let dir = ScratchDirectory("gaps")
        let window = try RealWindow(symbols: ["BTCUSDT"], from: Timestamp(iso8601: "2025-09-29")!, to: Timestamp(iso8601: "2025-10-06")!)
        let perp = window.pairs[0].perp.id
        // Cut the perp's bars closing 01:00–06:00 on Oct 3 and the 08:00 settlement.
        let holeFrom = Timestamp(iso8601: "2025-10-03T01:00:00Z")!, holeTo = Timestamp(iso8601: "2025-10-03T06:00:00Z")!
        let missing = Timestamp(iso8601: "2025-10-03T08:00:00Z")!   // the venue stamps a few ms late at times
        let holed = window.records.filter { r in
            switch r {
            case .bar(let b): return !(b.instrumentId == perp && b.closeTime >= holeFrom && b.closeTime <= holeTo)
            case .funding(let t, let f): return !(f.instrumentId == perp && t >= missing && t.msSince(missing) < Millis.minute)
            }
        }
        #expect(window.records.count - holed.count == 7)
        let source = try window.journal(dir.sub("market"), holed)
        // Hold from the first scan; the max holding time makes the exit decision fall inside the hole.
        let config = try backtestConfig("""
        symbols: [BTCUSDT]
        from: 2025-10-01
        to: 2025-10-05
        strategy: {entryThreshold: -0.01, exitThreshold: -0.01, maxHolding: 49h, reentryCooldown: 30d, maxRateAge: 2d}
        """)
        let r = try runBacktest(config, dir, "run", source: source)
        #expect(r.warnings.contains { $0.contains("BTCUSDT perp 1h bars") && $0.contains("2025-10-03T00:00:00Z") && $0.contains("treated as no data") })
        #expect(r.warnings.contains { $0.contains("BTCUSDT funding") && $0.contains("treated as no data") })
        var fills: [(Timestamp, OrderFilled)] = []
        var paid: [Timestamp] = []
        let run = try Journal.open(r.runJournalPath, readOnly: true)
        try run.withSnapshot { snap in
            _ = try snap.scan { v in
                switch try v.decode() {
                case .orderFilled(let x): fills.append((v.header.eventTime, x))
                case .fundingPaid: paid.append(v.header.eventTime)
                case .alertRaised(let a): #expect(a.code == "data")
                default: break
                }
                return true
            }
        }
        // Opened at 01:00 Oct 1; the 02:00 Oct 3 exit sells spot at 03:00 but buys the perp back only
        // at 07:00, on the first perp bar after the hole, at that bar's close.
        let closes = fills.filter { $0.1.intentSeq != 0 }.suffix(2)
        #expect(closes.map(\.0.iso8601).sorted() == ["2025-10-03T03:00:00Z", "2025-10-03T07:00:00Z"])
        let perpClose = try #require(closes.first { $0.1.instrumentId == r.pairs[0].perp.id })   // renumbered in the copy
        let bar07 = holed.compactMap { r -> BarClosed? in if case .bar(let b) = r, b.instrumentId == perp, b.closeTime == perpClose.0 { b } else { nil } }
        #expect(perpClose.1.referencePrice == bar07.first?.close)
        #expect(!paid.contains { $0 >= missing && $0.msSince(missing) < Millis.minute })
        #expect(paid.count == 6)   // Oct 1 08:00, 16:00; Oct 2 00:00, 08:00, 16:00; Oct 3 00:00
    }
}

/// Real records of some symbols over a window of the bundled history, to cut, perturb and
/// journal again.
struct RealWindow {
    var pairs: [ResolvedPair]
    var records: [MarketRecord] = []

    init(symbols: [String], from: Timestamp, to: Timestamp) throws {
        let source = try MarketJournal(readOnlyPath: BundledMarket.path)
        var config = try backtestConfig("symbols: [BTCUSDT]")
        config.symbols = symbols
        pairs = try BacktestDriver.resolvePairs(config, market: source)
        let ids = Set(pairs.flatMap { [$0.spot.id, $0.perp.id] })
        var out: [MarketRecord] = []
        try source.journal.withSnapshot { snap in
            _ = try snap.scanByTime(from: from, through: to) { v in
                switch try v.decode() {
                case .barClosed(let b) where ids.contains(b.instrumentId) && b.intervalSeconds == 3600: out.append(.bar(b))
                case .fundingSettled(let f) where ids.contains(f.instrumentId): out.append(.funding(settlementTime: v.header.eventTime, f))
                default: break
                }
                return true
            }
        }
        records = out
    }

    /// A market journal holding the pairs' definitions and `records` (ids renumbered densely).
    func journal(_ path: String, _ records: [MarketRecord]) throws -> String {
        let m = try MarketJournal(path: path, purpose: .importer, recordClock: { Timestamp(ms: 1_800_000_000_000) })
        let defs = pairs.flatMap { [$0.spot, $0.perp] }
        let ids = try m.define(defs, at: Timestamp(ms: 0))
        let map = Dictionary(uniqueKeysWithValues: zip(defs.map(\.id), ids))
        _ = try m.append(records.map { r in
            switch r {
            case .bar(var b):
                b.instrumentId = map[b.instrumentId]!
                return .bar(b)
            case .funding(let t, var f):
                f.instrumentId = map[f.instrumentId]!
                return .funding(settlementTime: t, f)
            }
        })
        try m.close()
        return path
    }
}

@Suite("Backtest bad input")
struct BacktestBadInputTests {
    @Test("unknown keys, negative fees, percent strings and impossible values are refused with the key, the value and what is allowed")
    func badConfig() {
        func message(_ yaml: String) -> String {
            do {
                _ = try backtestConfig(yaml)
                return "accepted"
            } catch {
                return String(describing: error)
            }
        }
        let unknown = message("strategy: {entryTreshold: 0.0001}")
        #expect(unknown.contains("strategy.entryTreshold") && unknown.contains("entryThreshold"))
        let fee = message("fees: {binance: {perpTaker: -0.0002}}")
        #expect(fee.contains("fees.binance.perpTaker") && fee.contains("-0.0002") && fee.contains("cannot be negative"))
        let percent = message("strategy: {entryThreshold: 0.01%}")
        #expect(percent.contains("strategy.entryThreshold") && percent.contains("0.01%") && percent.contains("0.0001 is 0.01 %"))
        let dd = message("risk: {maxDrawdown: 2}")
        #expect(dd.contains("risk.maxDrawdown") && dd.contains("2"))
        let order = message("strategy: {entryThreshold: 0.0001, exitThreshold: 0.0002}")
        #expect(order.contains("exitThreshold") && order.contains("must not exceed entryThreshold"))
        #expect(message("venue: kraken").contains("venue"))
        #expect(message("symbols: []").contains("at least one symbol"))
        #expect(message("from: 2025-02-01\nto: 2025-01-01").contains("must be after from"))
    }

    @Test("the canonical config a run journals reads back to the same config")
    func canonicalRoundTrip() throws {
        let c = try backtestConfig("""
        symbols: [BTCUSDT, ETHUSDT]
        from: 2025-10-01T08:00:00Z
        latency: 1s
        fees: {overrides: {"binance:linear:BTCUSDT": {taker: 0.0004, maker: 0.0001}}}
        """.replacingOccurrences(of: "latency: 1s\n", with: "execution: {latency: 1s}\n"))
        let back = try BacktestConfig.parse(canonical: c.canonicalText, source: "journal")
        #expect(back.canonicalText == c.canonicalText)
        #expect(back.latencyMs == 1000 && back.fees.overrides["binance:linear:BTCUSDT"]?.taker == Fixed("0.0004")!)
        #expect(back.to == nil && back.from == Timestamp(iso8601: "2025-10-01T08:00:00Z"))
    }

    @Test("a symbol not in the journal names the close matches; a date range outside the data says what range exists")
    func badSymbolsAndDates() throws {
        let dir = ScratchDirectory("bad")
        do {
            _ = try runBacktest(try backtestConfig("symbols: [BTCUSDX]"), dir, "sym")
            Issue.record("accepted an unknown symbol")
        } catch let e as BacktestError {
            #expect(e.isBadInput && e.message.contains("BTCUSDX") && e.message.contains("Close matches: BTCUSDT"))
        }
        do {
            _ = try runBacktest(try backtestConfig("from: 2019-01-01\nto: 2019-02-01"), dir, "dates")
            Issue.record("accepted a range without data")
        } catch let e as BacktestError {
            #expect(e.isBadInput && e.message.contains("2025-09-13") && e.message.contains("Choose --from/--to inside that range"))
        }
    }

    @Test("carry backtest exits 2 with the message on bad input, and 0 with a summary on the bundled data")
    func cli() throws {
        let dir = ScratchDirectory("cli")
        let bad = dir.sub("bad.yaml")
        try "strategy:\n  entryThreshold: 1%\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let carry = Fixtures.executable("carry")
        let r = try runProcess(carry, ["backtest", "--config", bad, "--journal", BundledMarket.path, "--out", dir.sub("out1")])
        #expect(r.status == 2)
        #expect(r.stderr.contains("strategy.entryThreshold") && r.stderr.contains("1%"))
        let good = dir.sub("good.yaml")
        try "symbols: [BTCUSDT]\nfrom: 2025-10-01\nto: 2025-10-15\n".write(toFile: good, atomically: true, encoding: .utf8)
        let ok = try runProcess(carry, ["backtest", "--config", good, "--journal", BundledMarket.path, "--out", dir.sub("out2"), "--quiet"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("net P&L") && ok.stdout.contains("rebuilt from the run journal: identical"))
        #expect(ok.stdout.contains("Book at the end (rebuilt from the run journal)") && ok.stdout.contains("posted perp margin"))
        for file in ["summary.txt", "report.html", "equity.csv"] {
            #expect(FileManager.default.fileExists(atPath: dir.sub("out2/" + file)), "\(file)")
        }
        let again = try runProcess(carry, ["backtest", "--config", good, "--journal", BundledMarket.path, "--out", dir.sub("out2"), "--quiet"])
        #expect(again.status == 2 && again.stderr.contains("already holds a run journal"))
        let dates = try runProcess(carry, ["backtest", "--config", good, "--journal", BundledMarket.path, "--from", "2030-01-01", "--to", "2030-02-01"])
        #expect(dates.status == 2 && dates.stderr.contains("the journal has all legs and funding for"))
    }

    @Test("carry series prints the funding series the CSV holds, and the basis where both legs have a bar")
    func series() throws {
        let carry = Fixtures.executable("carry")
        let r = try runProcess(carry, ["series", "--symbol", "BTCUSDT", "--journal", BundledMarket.path, "--from", "2025-10-01", "--to", "2025-10-03"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.first == "time,rate_per_interval,interval_minutes,rate_per_8h")
        let from = Timestamp(iso8601: "2025-10-01")!.ms, to = Timestamp(iso8601: "2025-10-03")!.ms
        let expected = try csvRows(Fixtures.bundledData + "/funding/binance/BTCUSDT.csv")
            .filter { Int64($0[1])! >= from && Int64($0[1])! <= to }.map { "\(Timestamp(ms: Int64($0[1])!).iso8601),\($0[2]),480" }
        #expect(lines.dropFirst().map { $0.split(separator: ",").prefix(3).joined(separator: ",") } == expected)
        #expect(expected.count == 6)   // Oct 1 and 2 at 00, 08, 16 (the Oct 3 settlement is stamped a few ms after midnight)
        let basis = try runProcess(carry, ["series", "--symbol", "BTCUSDT", "--kind", "basis", "--journal", BundledMarket.path,
                                           "--from", "2025-10-01", "--to", "2025-10-01T03:00:00Z"])
        #expect(basis.stdout.split(separator: "\n").count == 5)
        #expect(basis.stdout.contains("2025-10-01T00:00:00Z,114048.93000000,113988.80,-0.00052723"))
        let bad = try runProcess(carry, ["series", "--symbol", "BTCUSDX", "--journal", BundledMarket.path])
        #expect(bad.status == 2 && bad.stderr.contains("Close matches: BTCUSDT"))
    }
}

@Suite("Report series")
struct ReportSeriesTests {
    @Test("a thinned chart keeps each bucket's largest exposure, so a short approach to the cap still shows")
    func decimationKeepsExposurePeaks() {
        // 5,000 hourly rows at 10,000 USDT, one hour at 74,000 between two kept rows.
        let rows = (0..<5_000).map { i in
            EquityRow(time: Timestamp(ms: Int64(i) * Millis.hour), equity: 100_000, funding: 0, fees: 0, slippage: 0, pricePnL: 0, openPairs: 1,
                      exposure: i == 2_002 ? 74_000 : 10_000)
        }
        let thinned = ReportSeries.decimate(rows, 2_000)
        #expect(thinned.count == 1_668)   // every 3rd row (1,667), then the last
        #expect(thinned.compactMap(\.exposure).max() == 74_000)
        #expect(thinned.filter { $0.exposure == 74_000 }.map(\.time) == [rows[2_001].time])   // the row standing for 2,001…2,003
        #expect(thinned.map(\.equity) == Swift.stride(from: 0, to: 5_000, by: 3).map { rows[$0].equity } + [100_000])
    }
}
