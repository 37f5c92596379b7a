// Deterministic journals for the carry-journal tests: a small market journal and a backtest
// run journal that replays it (the golden journals), and a larger mixed journal for the
// corruption tests. Fixed ids and creation times, so every byte — and every line the tool
// prints — is the same on every run.

import CarryCore
import CarryJournal
import CarryTesting
import Foundation

enum ToolFixtures {
    static let marketId = JournalId(high: 0x00c0_ffee_0000_0001, low: 1)
    static let runId = JournalId(high: 0x00c0_ffee_0000_0002, low: 2)
    /// 2024-01-01T00:00:00Z.
    static let base: Int64 = 1_704_067_200_000
    static let hour: Int64 = 3_600_000

    static func at(_ hours: Int64, ms: Int64 = 0) -> Timestamp { Timestamp(ms: base + hours * hour + ms) }

    static func draft(_ e: Event, _ t: Timestamp, cause: CausationRef = .none, recordTime: Timestamp? = nil) -> EventDraft {
        EventDraft(e, eventTime: t, recordTime: recordTime ?? t, causation: cause)
    }

    static let btcSpot = InstrumentDefined(id: InstrumentId(0), venue: .bybit, kind: .spot, symbol: "BTCUSDT", baseAsset: "BTC", quoteAsset: "USDT",
                                           tickSize: Fixed("0.01")!, qtyStep: Fixed("0.000001")!, minQty: Fixed("0.000048")!, minNotional: Fixed("1")!,
                                           fundingIntervalMinutes: 0, maxLeverage: Fixed("1")!)
    static let btcPerp = InstrumentDefined(id: InstrumentId(1), venue: .bybit, kind: .linearPerpetual, symbol: "BTCUSDT", baseAsset: "BTC", quoteAsset: "USDT",
                                           tickSize: Fixed("0.10")!, qtyStep: Fixed("0.001")!, minQty: Fixed("0.001")!, minNotional: Fixed("5")!,
                                           fundingIntervalMinutes: 480, maxLeverage: Fixed("100")!)
    static let ethPerp = InstrumentDefined(id: InstrumentId(2), venue: .bybit, kind: .linearPerpetual, symbol: "ETHUSDT", baseAsset: "ETH", quoteAsset: "USDT",
                                           tickSize: Fixed("0.01")!, qtyStep: Fixed("0.01")!, minQty: Fixed("0.01")!, minNotional: Fixed("5")!,
                                           fundingIntervalMinutes: 480, maxLeverage: Fixed("50")!)

    static func bar(_ id: UInt32, closeHour h: Int64) -> BarClosed {
        let p = 42_000_00 + Int64(id) * 25_00 + h * 10_00
        return BarClosed(instrumentId: InstrumentId(id), intervalSeconds: 3600, openTime: at(h - 1),
                         open: Fixed(mantissa: p, scale: 2), high: Fixed(mantissa: p + 55_00, scale: 2), low: Fixed(mantissa: p - 40_00, scale: 2),
                         close: Fixed(mantissa: p + 8_50, scale: 2), volumeBase: Fixed(mantissa: 1_250_000 + h * 1000, scale: 6),
                         volumeQuote: Fixed(mantissa: 52_500_000 + h * 4200, scale: 2), tradeCount: UInt64(800 + h))
    }

    /// The market journal's events, one inner array per commit, and the seqs tests refer to.
    struct Market {
        var batches: [[EventDraft]] = []
        var btcFunding: [Int64: UInt64] = [:]   // settlement hour → seq
        var perpBar: [Int64: UInt64] = [:]      // close hour → seq of the BTCUSDT.linear bar
        var spotBar: [Int64: UInt64] = [:]
        var count: UInt64 { UInt64(batches.reduce(0) { $0 + $1.count }) }
    }

    /// 3 instruments; 1h bars of BTCUSDT spot (the 04:00–05:00 bar missing) and perp for
    /// 01:00–16:00; BTCUSDT funding at 00:00, 08:00, 16:00; ETHUSDT funding at 00:00 and
    /// 08:00 (8h), an interval change to 4h at 08:00, the 12:00 settlement missing, 16:00.
    static func market() -> Market {
        var m = Market()
        var seq: UInt64 = 0
        var batch: [EventDraft] = []
        func add(_ d: EventDraft) { batch.append(d); seq += 1 }
        func commit() { if !batch.isEmpty { m.batches.append(batch); batch = [] } }
        for d in [btcSpot, btcPerp, ethPerp] { add(draft(.instrumentDefined(d), at(0))) }
        let btcRates: [Int64: (String, String)] = [0: ("0.0001", "42010.5"), 8: ("0.00012", "42090.1"), 16: ("0.00008", "42150.0")]
        let ethRates: [Int64: (String, UInt32)] = [0: ("0.00011", 480), 8: ("0.0001", 480), 16: ("0.00005", 240)]
        for h: Int64 in 0...16 {
            if h > 0 {
                add(draft(.barClosed(bar(1, closeHour: h)), at(h)))
                m.perpBar[h] = seq
                if h != 5 {
                    add(draft(.barClosed(bar(0, closeHour: h)), at(h)))
                    m.spotBar[h] = seq
                }
            }
            if let (rate, mark) = btcRates[h] {
                add(draft(.fundingSettled(FundingSettled(instrumentId: InstrumentId(1), ratePerInterval: Fixed(rate)!, intervalMinutes: 480, markPrice: Fixed(mark)!)), at(h)))
                m.btcFunding[h] = seq
            }
            if let (rate, interval) = ethRates[h] {
                add(draft(.fundingSettled(FundingSettled(instrumentId: InstrumentId(2), ratePerInterval: Fixed(rate)!, intervalMinutes: interval, markPrice: nil)), at(h)))
            }
            if h == 8 {
                add(draft(.fundingIntervalChanged(FundingIntervalChanged(instrumentId: InstrumentId(2), previousMinutes: 480, newMinutes: 240)), at(h)))
            }
            if h % 4 == 0 { commit() }
        }
        commit()
        return m
    }

    static let configText = """
    strategy: composite
    entryThresholdPerInterval: 0.0001
    exitThresholdPerInterval: 0.00002
    notionalUsdtMax: 1000
    weights: fundingLevel=0.6 basis=0.3 persistence=0.1
    """

    /// The run journal of a backtest over the market journal (see the file comment), one
    /// inner array per commit. `recordShiftMs` moves every record time (a live journal
    /// against its replay); `fillPrice` changes one fill (a divergence).
    static func run(market m: Market, recordShiftMs: Int64 = 0, fillPrice: String = "42100.0") -> [[EventDraft]] {
        func d(_ e: Event, _ t: Timestamp, cause: CausationRef = .none) -> EventDraft {
            draft(e, t, cause: cause, recordTime: t.adding(ms: recordShiftMs))
        }
        let src = { (seq: UInt64?) in CausationRef.source(seq!) }
        let start = RunStarted(mode: .backtest, sourceJournal: marketId, sourceFirstSeq: 1, sourceLastSeq: m.count, from: at(0), to: at(17), seed: 7, carryVersion: "0.1.0")
        let signal = SignalComputed(strategy: .composite, perp: InstrumentId(1), spot: InstrumentId(0), action: .enter, direction: .longSpotShortPerp,
                                    score: Fixed("1.35")!, components: [
                                        SignalComponent(factor: .fundingLevel, value: Fixed("0.00012")!, weight: Fixed("0.6")!, sourceSeq: src(m.btcFunding[8]).raw),
                                        SignalComponent(factor: .basis, value: Fixed("0.0004")!, weight: Fixed("0.3")!, sourceSeq: src(m.perpBar[8]).raw),
                                        SignalComponent(factor: .persistence, value: Fixed("1")!, weight: Fixed("0.1")!, sourceSeq: 0),
                                        SignalComponent(factor: .threshold, value: Fixed("0.0001")!, weight: Fixed("0")!, sourceSeq: 0),
                                    ])
        func intent(_ leg: Leg, _ id: UInt32, _ side: Side) -> Event {
            .orderIntended(OrderIntended(pairId: 6, leg: leg, instrumentId: InstrumentId(id), side: side, type: .market, timeInForce: .immediateOrCancel,
                                         qty: Fixed("0.010")!, limitPrice: nil, reduceOnly: false, reason: .open))
        }
        return [
            [d(.runStarted(start), at(0)),
             d(.configApplied(ConfigApplied(source: "config/backtest.yaml", text: configText)), at(0)),
             d(.instrumentDefined(btcSpot), at(0)),
             d(.instrumentDefined(btcPerp), at(0))],
            [d(.alertRaised(AlertRaised(severity: .warning, code: "data.gap", message: "BTCUSDT.spot 1h bar 04:00-05:00 missing")), at(6), cause: src(m.spotBar[6]))],
            [d(.signalComputed(signal), at(8), cause: src(m.btcFunding[8])),                       // 6
             d(intent(.spot, 0, .buy), at(8), cause: .local(6)),                                     // 7
             d(intent(.perp, 1, .sell), at(8), cause: .local(6))],                                   // 8
            [d(.orderSubmitted(OrderSubmitted(intentSeq: 7)), at(8, ms: 50), cause: .local(7)),      // 9
             d(.orderFilled(OrderFilled(intentSeq: 7, instrumentId: InstrumentId(0), side: .buy, price: Fixed("42080.50")!, qty: Fixed("0.010")!,
                                        fee: Fixed("0.4208050")!, liquidity: .taker, referencePrice: Fixed("42080.00")!, leavesQty: Fixed("0.000")!,
                                        isLiquidation: false, executionId: "sim-7-1")), at(8, ms: 250), cause: .local(9)),   // 10
             d(.orderSubmitted(OrderSubmitted(intentSeq: 8)), at(8, ms: 50), cause: .local(8)),      // 11
             d(.orderFilled(OrderFilled(intentSeq: 8, instrumentId: InstrumentId(1), side: .sell, price: Fixed(fillPrice)!, qty: Fixed("0.010")!,
                                        fee: Fixed("0.231550")!, liquidity: .taker, referencePrice: Fixed("42101.0")!, leavesQty: Fixed("0.000")!,
                                        isLiquidation: false, executionId: "sim-8-1")), at(8, ms: 250), cause: .local(11))], // 12
            [d(.fundingPaid(FundingPaid(instrumentId: InstrumentId(1), settlementTime: at(16), positionQty: Fixed("-0.010")!, markPrice: Fixed("42150.0")!,
                                        ratePerInterval: Fixed("0.00008")!, amount: Fixed("0.0337200")!)), at(16), cause: src(m.btcFunding[16])), // 13
             d(.riskBreached(RiskBreached(rule: .drawdown, action: .warned, instrumentId: nil, limit: Fixed("50")!, observed: Fixed("12.5")!)), at(16)), // 14
             d(.runEnded(RunEnded(outcome: .completed, inputEvents: m.count, message: "backtest completed")), at(17))], // 15
        ]
    }

    /// Writes `batches` to a new journal at `path` with a fixed identity; one commit per batch.
    @discardableResult
    static func write(_ path: String, id: JournalId, purpose: RunMode, batches: [[EventDraft]]) throws -> Journal {
        let journal = try Journal.openOrCreate(path, create: JournalCreateOptions(purpose: purpose, journalId: id, createdAt: Timestamp(ms: base + 48 * hour)))
        let writer = try journal.makeWriter()
        for b in batches { try writer.append(b) }
        try writer.close()
        return journal
    }

    /// The golden pair: `dir/market` and `dir/run`.
    static func goldenPair(in dir: ScratchDirectory) throws -> Market {
        let m = market()
        try write(dir.sub("market"), id: marketId, purpose: .importer, batches: m.batches)
        try write(dir.sub("run"), id: runId, purpose: .backtest, batches: run(market: m))
        return m
    }

    /// A few hundred events of every kind over 14 commits, with long texts (a config larger
    /// than an LMDB page, so an overflow page exists), signals with components, and event
    /// times that go backwards mid-way (so the time index is populated): every structure a
    /// byte flip can hit.
    static func mixedJournal(_ path: String, seed: UInt64 = 11) throws {
        var gen = EventGenerator(seed: seed)
        var batches: [[EventDraft]] = []
        var t = base
        for b in 0..<14 {
            var batch: [EventDraft] = []
            let n = 5 + gen.rng.below(40)
            for i in 0..<n {
                let e: Event
                if b == 3 && i == 0 {
                    e = .configApplied(ConfigApplied(source: "config/backtest.yaml", text: String(repeating: "key: value with some words\n", count: 200)))
                } else {
                    e = gen.anyEvent()
                }
                // Batch 8 goes back in time (a backwards fetch page).
                t += b == 8 ? -Int64(gen.rng.below(3_000_000)) : Int64(gen.rng.below(600_000))
                batch.append(draft(e, Timestamp(ms: t), cause: i > 0 && gen.rng.chance(0.5) ? .local(UInt64(gen.rng.below(50) + 1)) : .none))
            }
            batches.append(batch)
        }
        try write(path, id: JournalId(high: 0x00c0_ffee_0000_0003, low: seed), purpose: .synthetic, batches: batches)
    }
}
