// Small, hand-checkable markets for the engine tests: one or more spot+perp pairs with round
// prices, a builder for bars and settlements, and a driver that feeds a ReplayPipeline the
// way the backtest does (grouped by timestamp).

import CarryCore
import Testing

func f(_ text: String) -> Fixed { Fixed(text)! }

let day0 = Timestamp(iso8601: "2025-01-01T00:00:00Z")!

func hours(_ h: Int64) -> Timestamp { day0.adding(ms: h * Millis.hour) }

func spotDef(_ id: UInt32, _ symbol: String = "BTCUSDT") -> InstrumentDefined {
    InstrumentDefined(id: InstrumentId(id), venue: .binance, kind: .spot, symbol: symbol, baseAsset: String(symbol.dropLast(4)), quoteAsset: "USDT",
                      tickSize: f("0.01"), qtyStep: f("0.001"), minQty: f("0.001"), minNotional: f("5"), fundingIntervalMinutes: 0, maxLeverage: Fixed(1))
}

func perpDef(_ id: UInt32, _ symbol: String = "BTCUSDT", intervalMinutes: UInt32 = 480) -> InstrumentDefined {
    InstrumentDefined(id: InstrumentId(id), venue: .binance, kind: .linearPerpetual, symbol: symbol, baseAsset: String(symbol.dropLast(4)),
                      quoteAsset: "USDT", tickSize: f("0.01"), qtyStep: f("0.001"), minQty: f("0.001"), minNotional: f("5"),
                      fundingIntervalMinutes: intervalMinutes, maxLeverage: Fixed(50))
}

/// An hourly bar closing at `close` time with flat OHLC unless high/low are given.
func bar(_ id: UInt32, closingAt time: Timestamp, _ close: String, high: String? = nil, low: String? = nil,
         volumeQuote: String = "100000000") -> BarClosed {
    BarClosed(instrumentId: InstrumentId(id), intervalSeconds: 3600, openTime: time.adding(ms: -Millis.hour), open: f(close),
              high: f(high ?? close), low: f(low ?? close), close: f(close), volumeBase: Fixed(1), volumeQuote: f(volumeQuote))
}

func settlement(_ id: UInt32, _ rate: String, intervalMinutes: UInt32 = 480, mark: String? = nil) -> FundingSettled {
    FundingSettled(instrumentId: InstrumentId(id), ratePerInterval: f(rate), intervalMinutes: intervalMinutes, markPrice: mark.map(f))
}

let testFees = FeeSchedule(spot: [Venue.binance.rawValue: FeeRates(taker: f("0.001"), maker: f("0.001"))],
                           perp: [Venue.binance.rawValue: FeeRates(taker: f("0.0005"), maker: f("0.0002"))])
let testSlippage = SlippageModel(halfSpread: f("0.0001"), impactCoefficient: f("0.1"), maxParticipation: f("0.1"))
let noSlippage = SlippageModel(halfSpread: .zero, impactCoefficient: .zero, maxParticipation: Fixed(1))
let testMargin = MarginModel(perpLeverage: Fixed(2), maintenanceMarginRate: f("0.005"))
let testRisk = RiskLimits(maxPairNotionalUsdt: Fixed(25_000), maxTotalNotionalUsdt: Fixed(75_000), maxLeverage: Fixed(3),
                          minMarginBuffer: f("0.30"), exitMarginBuffer: f("0.10"), maxDrawdown: f("0.05"), minFreeCashUsdt: .zero)

func strategy(entry: String = "0.0001", exit: String = "0.00002", maxHoldingHours: Int64 = 30 * 24, notional: String = "20000",
              maxOpenPairs: Int = 3, maxRateAgeHours: Int64 = 9) -> ThresholdStrategyConfig {
    ThresholdStrategyConfig(entryThresholdPerInterval8h: f(entry), exitThresholdPerInterval8h: f(exit), maxHoldingMs: maxHoldingHours * Millis.hour,
                            pairNotionalUsdt: f(notional), maxOpenPairs: maxOpenPairs, maxRateAgeMs: maxRateAgeHours * Millis.hour)
}

/// Pair k uses spot id 2k and perp id 2k+1.
func engineConfig(pairs: Int = 1, strategy s: ThresholdStrategyConfig = strategy(), risk: RiskLimits = testRisk,
                  slippage: SlippageModel = testSlippage, cash: String = "100000", latencyMs: Int64 = 250) -> EngineConfig {
    EngineConfig(pairs: (0..<pairs).map { PairSpec(spot: InstrumentId(UInt32(2 * $0)), perp: InstrumentId(UInt32(2 * $0 + 1))) },
                 barIntervalSeconds: 3600, initialCashUsdt: f(cash), strategy: s, risk: risk, fees: testFees, slippage: slippage,
                 margin: testMargin, latencyMs: latencyMs)
}

/// Drives a ReplayPipeline over a list of (time, event) inputs, grouped by time in the given
/// order (so a test can put a settlement before the bar of the same instant), the way the
/// backtest driver does. Source seqs are the inputs' positions, from 1. Generic over the venue
/// so a test can put a scripted venue in front of the simulated exchange; `PipelineRun` is the
/// backtest's form.
struct VenueRun<V: ExecutionVenue> {
    var pipeline: ReplayPipeline<V>
    /// Everything journaled, with seqs.
    var journal: [(seq: UInt64, out: PipelineOutput)] = []
    /// Equity at each tick.
    var equity: [(Timestamp, Fixed)] = []

    init(config: EngineConfig, venue: V, symbols: [String] = ["BTCUSDT", "ETHUSDT", "SOLUSDT"], perpInterval: UInt32 = 480,
         from: Timestamp, to: Timestamp, scanIntervalMs: Int64 = Millis.hour, cooldownMs: Int64 = 0, journalsMarketInputs: Bool = false,
         matchesFunding: Bool = false) {
        pipeline = ReplayPipeline(reducer: CarryReducer(config: config, reentryCooldownMs: cooldownMs, matchesFunding: matchesFunding), venue: venue, firstSeq: 1,
                                  from: from, to: to, scanIntervalMs: scanIntervalMs)
        pipeline.journalsMarketInputs = journalsMarketInputs
        for k in config.pairs.indices {
            pipeline.define(spotDef(UInt32(2 * k), symbols[k]), at: from)
            pipeline.define(perpDef(UInt32(2 * k + 1), symbols[k], intervalMinutes: perpInterval), at: from)
        }
        collect()
    }

    mutating func collect() {
        let out = pipeline.takeOutput()
        var seq = pipeline.nextSeq - UInt64(out.count)
        for o in out {
            journal.append((seq, o))
            seq += 1
        }
    }

    /// Feeds inputs (time-ordered; within a time, in the given order). `inject` lists inputs
    /// from outside the market stream (operator commands, snapshots, venue facts), each fed
    /// right after the market events of its instant.
    mutating func run(_ inputs: [(Timestamp, Event)], tradingFrom: Timestamp = .distantPast, inject: [(Timestamp, EngineInput)] = []) {
        var group = MarketGroup()
        var groupTime = Timestamp.distantPast
        var samples: [(Timestamp, Fixed)] = []
        let sample: (Timestamp, borrowing CarryReducer) -> Void = { t, r in samples.append((t, r.equity)) }
        let flush: (inout ReplayPipeline<V>, inout MarketGroup, Timestamp) -> Void = { p, g, t in
            p.process(group: &g, at: t, trading: t >= tradingFrom, afterTick: sample)
            for (at, input) in inject where at == t { p.inject(input, at: t) }
        }
        for (i, (t, e)) in inputs.enumerated() {
            if t != groupTime && !group.isEmpty { flush(&pipeline, &group, groupTime) }
            groupTime = t
            group.append(seq: UInt64(i + 1), e)
        }
        if !group.isEmpty { flush(&pipeline, &group, groupTime) }
        pipeline.finish(afterTick: sample)
        equity += samples
        collect()
    }

    /// Feeds market inputs as the backtest driver does: each instant opened with `begin`, its
    /// bars handed to `bar` as they come, its interval changes and settlements (typed; nothing
    /// else may appear) to `end`.
    mutating func stream(_ inputs: [(Timestamp, Event)], tradingFrom: Timestamp = .distantPast) {
        var changes: [(seq: UInt64, change: FundingIntervalChanged)] = []
        var settlements: [(seq: UInt64, settlement: FundingSettled)] = []
        var instant: Timestamp?
        var samples: [(Timestamp, Fixed)] = []
        let sample: (Timestamp, borrowing CarryReducer) -> Void = { t, r in samples.append((t, r.equity)) }
        for (i, (t, e)) in inputs.enumerated() {
            if t != instant {
                if let open = instant {
                    pipeline.end(instant: open, intervalChanges: changes, settlements: settlements, trading: open >= tradingFrom, afterTick: sample)
                    changes.removeAll()
                    settlements.removeAll()
                }
                pipeline.begin(instant: t, trading: t >= tradingFrom, afterTick: sample)
                instant = t
            }
            switch e {
            case .barClosed(let bar): pipeline.bar(bar, seq: UInt64(i + 1), at: t)
            case .fundingSettled(let f): settlements.append((UInt64(i + 1), f))
            case .fundingIntervalChanged(let c): changes.append((UInt64(i + 1), c))
            default: Issue.record("stream() takes bars, settlements and interval changes only, not \(e)")
            }
        }
        if let open = instant {
            pipeline.end(instant: open, intervalChanges: changes, settlements: settlements, trading: open >= tradingFrom, afterTick: sample)
        }
        pipeline.finish(afterTick: sample)
        equity += samples
        collect()
    }

    /// Journaled events of one kind.
    func events<T>(_ pick: (Event) -> T?) -> [(seq: UInt64, time: Timestamp, value: T)] {
        journal.compactMap { e in pick(e.out.event).map { (e.seq, e.out.time, $0) } }
    }
}

extension VenueRun where V == SimulatedExchange {
    /// `stream`, with each instant's bars offered by their marks first, as a sweep replays
    /// them (`applyIdleMarks`, the rest whole); returns how many bars went by mark.
    @discardableResult
    mutating func streamByMarks(_ inputs: [(Timestamp, Event)], tradingFrom: Timestamp = .distantPast) -> Int {
        var samples: [(Timestamp, Fixed)] = []
        let sample: (Timestamp, borrowing CarryReducer) -> Void = { t, r in samples.append((t, r.equity)) }
        var byMark = 0
        var k = 0
        while k < inputs.count {
            let t = inputs[k].0
            var bars: [(seq: UInt64, bar: BarClosed)] = []
            var changes: [(seq: UInt64, change: FundingIntervalChanged)] = []
            var settlements: [(seq: UInt64, settlement: FundingSettled)] = []
            while k < inputs.count && inputs[k].0 == t {
                switch inputs[k].1 {
                case .barClosed(let b): bars.append((UInt64(k + 1), b))
                case .fundingSettled(let f): settlements.append((UInt64(k + 1), f))
                case .fundingIntervalChanged(let c): changes.append((UInt64(k + 1), c))
                default: Issue.record("streamByMarks() takes bars, settlements and interval changes only")
                }
                k += 1
            }
            pipeline.begin(instant: t, trading: t >= tradingFrom, afterTick: sample)
            let marks = bars.enumerated().map { BarMark($0.element.bar, row: $0.offset) }
            var i = 0
            while i < bars.count {
                let n = marks.withUnsafeBufferPointer { pipeline.applyIdleMarks(UnsafeBufferPointer(rebasing: $0[i...]), at: t) }
                byMark += n
                i += n
                guard i < bars.count else { break }
                pipeline.bar(bars[i].bar, seq: bars[i].seq, at: t)
                i += 1
            }
            pipeline.end(instant: t, intervalChanges: changes, settlements: settlements, trading: t >= tradingFrom, afterTick: sample)
        }
        pipeline.finish(afterTick: sample)
        equity += samples
        collect()
        return byMark
    }
}

typealias PipelineRun = VenueRun<SimulatedExchange>

extension VenueRun where V == SimulatedExchange {
    init(config: EngineConfig, symbols: [String] = ["BTCUSDT", "ETHUSDT", "SOLUSDT"], perpInterval: UInt32 = 480,
         from: Timestamp, to: Timestamp, scanIntervalMs: Int64 = Millis.hour, cooldownMs: Int64 = 0, journalsMarketInputs: Bool = false,
         spotBuyFeeInBase: Bool = false, matchesFunding: Bool = false) {
        let sim = SimulatedExchange(fees: config.fees, slippage: config.slippage, margin: config.margin, latencyMs: config.latencyMs,
                                    initialCash: config.initialCashUsdt, spotBuyFeeInBase: spotBuyFeeInBase)
        self.init(config: config, venue: sim, symbols: symbols, perpInterval: perpInterval, from: from, to: to, scanIntervalMs: scanIntervalMs,
                  cooldownMs: cooldownMs, journalsMarketInputs: journalsMarketInputs, matchesFunding: matchesFunding)
    }
}

/// Hourly flat bars for every pair from `fromHour` through `toHour`, plus settlements at the
/// given hours (listed before the bars of their instant), for a one-pair market.
func hourlyMarket(pairs: Int = 1, fromHour: Int64, toHour: Int64, spot: (Int64) -> String = { _ in "100" },
                  perp: (Int64) -> String = { _ in "100" }, funding: [Int64: [String]] = [:], intervalMinutes: UInt32 = 480,
                  mark: String? = nil) -> [(Timestamp, Event)] {
    var out: [(Timestamp, Event)] = []
    for h in fromHour...toHour {
        let t = hours(h)
        if let rates = funding[h] {
            for (k, r) in rates.enumerated() where k < pairs {
                out.append((t, .fundingSettled(settlement(UInt32(2 * k + 1), r, intervalMinutes: intervalMinutes, mark: mark))))
            }
        }
        for k in 0..<pairs {
            out.append((t, .barClosed(bar(UInt32(2 * k), closingAt: t, spot(h)))))
            out.append((t, .barClosed(bar(UInt32(2 * k + 1), closingAt: t, perp(h)))))
        }
    }
    return out
}
