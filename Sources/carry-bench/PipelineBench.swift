// carry-bench pipeline: events/s through the full backtest pipeline (scan by time, decode,
// group, simulated exchange, reducer, decisions written to a run journal, equity sampling)
// on a large market journal built from the real bundled series, beside the journal's raw
// scan+decode of the same journal in the same run; plus memory: anonymous RSS sampled
// through the run (it must stay flat as the run gets longer) and peak RSS.
//
// The large journal: N synthetic symbols × the real hourly history. Symbol k takes the real
// Binance spot 1h bars of BTC, ETH or SOL (2022-01 → 2026-03), a perp leg priced off it with
// a basis that follows funding, and a real 8-hourly funding series (BTC's or ETH's, shifted
// per symbol) laid over the same span — so prices, volumes and rates are real in shape and
// size, at 20× the breadth of the bundled set.

import ArgumentParser
import CarryCore
import CarryEngine
import CarryJournal
import CarryTesting
import Foundation

struct PipelineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Backtest pipeline events/s on a large journal built from the real series, vs raw scan+decode; memory over the run.")

    @Option(help: "Synthetic symbols (each a spot+perp pair built from a real series).")
    var symbols = 20

    @Option(help: "Repetitions; the best throughput is reported.")
    var repeats = 3

    @Option(help: "A market journal holding the bundled history (default: import data/ into a scratch journal).")
    var market: String?

    func run() throws {
        print("carry-bench pipeline — \(ProcessInfo.processInfo.processorCount) cores, best of \(repeats)")
        let scratch = ScratchDirectory("bench-pipeline")
        let source = market ?? BundledMarket.path
        let built = try Self.buildLargeJournal(symbols: symbols, from: source, into: scratch.sub("large"))
        print("large journal: \(built.events) events (\(symbols) symbols × \(built.span)), \(String(format: "%.0f", built.seconds)) s to build")
        print("")

        // Baseline: raw scan+decode of the same journal, warm.
        var bestScan = 0.0
        let journal = try Journal.open(scratch.sub("large"), readOnly: true)
        for _ in 0..<repeats {
            let pass = try scanAndDecode(journal)
            bestScan = max(bestScan, pass.rate)
            if pass.checksum == 42 { print("") }   // keep the decode
        }

        // The pipeline: the real backtest driver, run journal and all.
        var config = try BacktestConfig.parse(yaml: """
        symbols: [\(built.symbols.joined(separator: ", "))]
        strategy: {entryThreshold: 0.0001, exitThreshold: 0, maxOpenPairs: 3}
        """, source: "carry-bench pipeline")
        config.canonicalText = config.canonical()
        var bestPipeline = 0.0
        var events = 0
        var runEvents = 0
        var samples: [(Double, Double)] = []
        for r in 0..<repeats {
            var progressSamples: [(Double, Double)] = []
            let t0 = now()
            let result = try BacktestDriver.run(config: config, sourcePath: scratch.sub("large"), outDirectory: scratch.sub("run-\(r)"),
                                                progress: { f in
                                                    if progressSamples.isEmpty || f - progressSamples.last!.0 >= 0.1 { progressSamples.append((f, procStatusMiB("RssAnon"))) }
                                                })
            let seconds = now() - t0
            events = result.events.source
            runEvents = result.events.run
            let rate = Double(result.events.source) / seconds
            if rate > bestPipeline {
                bestPipeline = rate
                samples = progressSamples
            }
        }
        print(pad("measurement", 40) + pad("events/s", 16) + "ratio to scan+decode")
        print(pad("raw scan+decode (warm)", 40) + pad(rate(bestScan), 16) + "1.00x")
        print(pad("backtest pipeline, \(symbols) pairs", 40) + pad(rate(bestPipeline), 16) + String(format: "%.2fx", bestPipeline / bestScan))
        print("")
        print("\(events) market events in, \(runEvents) run-journal events out per run")
        print("anonymous RSS through the best run (progress → MiB): " + samples.map { String(format: "%.0f%%→%.1f", $0.0 * 100, $0.1) }.joined(separator: "  "))
        if let first = samples.dropFirst().first, let last = samples.last {
            print(String(format: "growth from the 10%% mark to the end: %+.1f MiB", last.1 - first.1))
        }
        print(String(format: "peak RSS of the process (includes the journal's mapped pages and the build): %.0f MiB", procStatusMiB("VmHWM")))
        print("target: ≥ 3M events/s through the pipeline; anonymous memory flat over the run")
    }

    /// Builds the large journal of `symbols` pairs; returns its size and the symbols it defines.
    static func buildLargeJournal(symbols: Int, from sourcePath: String, into path: String) throws -> (events: Int, symbols: [String], span: String, seconds: Double) {
        let t0 = now()
        let source = try MarketJournal(readOnlyPath: sourcePath)
        // The five series (three spot 1h bar series, two funding series), in one scan: a
        // record of another instrument is skipped before it is decoded.
        var spotSeries: [InstrumentId: Int] = [:]
        for (k, s) in ["BTCUSDT", "ETHUSDT", "SOLUSDT"].enumerated() {
            guard let spot = source.instrument(venue: .binance, kind: .spot, symbol: s) else { throw BenchError("no binance \(s) spot in \(sourcePath)") }
            spotSeries[spot.id] = k
        }
        var rateSeries: [InstrumentId: Int] = [:]
        for (k, s) in ["BTCUSDT", "ETHUSDT"].enumerated() {
            guard let perp = source.instrument(venue: .binance, kind: .linearPerpetual, symbol: s) else { throw BenchError("no binance \(s) perp") }
            rateSeries[perp.id] = k
        }
        var spotBars = [[BarClosed]](repeating: [], count: spotSeries.count)
        var rates = [[Fixed]](repeating: [], count: rateSeries.count)
        try source.journal.withSnapshot { snap in
            _ = try snap.scan { v in
                switch v.header.kindCode {
                case EventKind.barClosed.rawValue:
                    guard let id = try v.instrument(), let k = spotSeries[id] else { return true }
                    let b = try v.decodeBar()
                    if b.intervalSeconds == 3600 { spotBars[k].append(b) }
                case EventKind.fundingSettled.rawValue:
                    guard let id = try v.instrument(), let k = rateSeries[id] else { return true }
                    if case .fundingSettled(let f) = try v.decode() { rates[k].append(f.ratePerInterval) }
                default:
                    break
                }
                return true
            }
        }
        let start = spotBars.map { $0.first!.closeTime }.max()!
        let end = spotBars.map { $0.last!.closeTime }.min()!
        let large = try MarketJournal(path: path, purpose: .synthetic, recordClock: { Timestamp(ms: 0) })
        var defs: [InstrumentDefined] = []
        var names: [String] = []
        for k in 0..<symbols {
            let name = String(format: "S%02dUSDT", k)
            names.append(name)
            defs.append(InstrumentDefined(id: InstrumentId(0), venue: .binance, kind: .spot, symbol: name, baseAsset: String(name.dropLast(4)), quoteAsset: "USDT",
                                          tickSize: Fixed("0.01")!, qtyStep: Fixed("0.001")!, minQty: Fixed("0.001")!, minNotional: Fixed(5),
                                          fundingIntervalMinutes: 0, maxLeverage: Fixed(1)))
            defs.append(InstrumentDefined(id: InstrumentId(0), venue: .binance, kind: .linearPerpetual, symbol: name, baseAsset: String(name.dropLast(4)),
                                          quoteAsset: "USDT", tickSize: Fixed("0.01")!, qtyStep: Fixed("0.001")!, minQty: Fixed("0.001")!, minNotional: Fixed(5),
                                          fundingIntervalMinutes: 480, maxLeverage: Fixed(50)))
        }
        let ids = try large.define(defs, at: start.adding(ms: -Millis.day))
        // Records in time order, one hour at a time across all symbols.
        var index = spotBars.map { bars in bars.firstIndex { $0.closeTime >= start }! }
        var lastRate = Array(repeating: Fixed.zero, count: symbols)
        var settlement = Array(repeating: 0, count: symbols)
        var total = 0
        var batch: [MarketRecord] = []
        batch.reserveCapacity(100_000)
        var t = start
        while t <= end {
            for k in 0..<symbols {
                let series = k % 3
                var i = index[series]
                while i < spotBars[series].count && spotBars[series][i].closeTime < t { i += 1 }
                guard i < spotBars[series].count, spotBars[series][i].closeTime == t else { continue }
                let spot = spotBars[series][i]
                if t.ms % (8 * Millis.hour) == 0 {
                    let r = rates[k % 2]
                    let rate = r[(settlement[k] + 97 * k) % r.count]
                    settlement[k] += 1
                    lastRate[k] = rate
                }
                // Perp = spot × (1 + 10 × last rate): a basis that follows funding.
                let factor = Fixed(1) + lastRate[k].multiplied(by: Fixed(10), scale: 10, .toNearestOrEven)
                func scaled(_ v: Fixed) -> Fixed { v.multiplied(by: factor, scale: 2, .toNearestOrEven) }
                var s = spot
                s.instrumentId = ids[2 * k]
                var p = spot
                p.instrumentId = ids[2 * k + 1]
                p.open = scaled(spot.open); p.high = scaled(spot.high); p.low = scaled(spot.low); p.close = scaled(spot.close)
                batch.append(.bar(s))
                batch.append(.bar(p))
                if t.ms % (8 * Millis.hour) == 0 {
                    batch.append(.funding(settlementTime: t, FundingSettled(instrumentId: ids[2 * k + 1], ratePerInterval: lastRate[k], intervalMinutes: 480, markPrice: p.close)))
                }
            }
            for s in 0..<3 {
                while index[s] < spotBars[s].count && spotBars[s][index[s]].closeTime <= t { index[s] += 1 }
            }
            if batch.count >= 90_000 {
                total += try large.append(batch).appended
                batch.removeAll(keepingCapacity: true)
            }
            t = t.adding(ms: Millis.hour)
        }
        total += try large.append(batch).appended
        try large.close()
        let years = Double(end.ms - start.ms) / Double(365 * Millis.day)
        return (total, names, String(format: "%.1f years hourly, %@ → %@", years, start.isoDate, end.isoDate), now() - t0)
    }
}
