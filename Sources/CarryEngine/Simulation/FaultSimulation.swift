// The deterministic fault simulation behind `carry simulate`: per seed, a random market
// (minute bars, hourly funding), the reducer trading it against the simulated exchange behind
// seeded venue faults (`FaultyVenue`), reconciliation every few minutes, and the process
// killed and restarted at random instants — its journal cut at the crash, possibly losing
// the venue's last answers, the engine rebuilt by folding that journal and resolving what
// was in flight. Invariants are checked after every step:
//
//  1. no order is sent twice for one intent (the venue counts the sends);
//  2. no pair stays naked beyond its leg-risk budget (an opening pair has used at most the
//     budget: past it the engine has moved to unwind or complete);
//  3. positions equal the sum of fills (an independent ledger folded from the journal's
//     fills, de-duplicated by execution id, plus reconciliation corrections);
//  4. equity equals the independent ledger: the venue's own cash and positions, whenever no
//     venue fact is in flight, and the accounting identity
//     equity = initial + price P&L + funding − fees − slippage always;
//  5. the state rebuilt from the journal equals the running state (at every crash, every
//     hour and at the end);
//  6. no venue fact the engine could not place (unknown intent, overfill, a refused state
//     transition), and no pair stuck closing with nothing working;
//  7. after a restart, the engine decides what an uninterrupted run with the same seed
//     decides (signals, intents, cancels, pair transitions, breaches — compared without seqs).
//
// Pure apart from the caller's printing: the same seed gives the same run, byte for byte.

public import CarryCore

/// What to simulate.
public struct FaultSimulationOptions: Sendable {
    /// Hours of market per seed.
    public var hours: Int = 6
    /// How often faults fire.
    public var rates: FaultRates = FaultRates()
    /// Kill and restart the engine at random instants (1 to `maxCrashes` per seed, or none).
    public var maxCrashes: Int = 3
    /// Compare the decisions after each restart with an uninterrupted twin run.
    public var compareWithTwin = true
    /// Keep the seed's journal in the report (to print it).
    public var keepJournal = false

    public init() {}
}

/// What one seed showed.
public struct SeedReport: Sendable {
    public var seed: UInt64
    public var violations: [String] = []
    public var faults = FaultCounts()
    public var crashes = 0
    public var records = 0
    public var pairsOpened = 0
    public var policy: LegFailurePolicy = .unwind
    /// The journal, when asked for (`keepJournal`).
    public var journal: [RecordedEvent] = []
}

/// The simulation.
public enum FaultSimulation {
    static let minute = Millis.minute

    /// Runs one seed.
    public static func run(seed: UInt64, options: FaultSimulationOptions = FaultSimulationOptions()) -> SeedReport {
        var rng = SplitMix64(seed: seed ^ 0x5EED_CA22_0000_0001)
        let world = SimWorld.make(&rng, hours: options.hours)
        var crashSteps: Set<Int> = []
        if options.maxCrashes > 0 && rng.chance(0.7) {
            for _ in 0..<(1 + rng.below(options.maxCrashes)) { crashSteps.insert(5 + rng.below(max(1, world.steps.count - 10))) }
        }
        var report = SeedReport(seed: seed)
        report.policy = world.config.execution.legFailure
        var run = SimRun(world: world, rates: options.rates, seed: seed)
        var twin = options.compareWithTwin && !crashSteps.isEmpty ? SimRun(world: world, rates: options.rates, seed: seed) : nil
        var firstCrashTime: Timestamp?
        for (k, step) in world.steps.enumerated() {
            run.step(step, index: k)
            twin?.step(step, index: k)
            run.check(into: &report.violations, deep: k % 60 == 59)
            if crashSteps.contains(k) {
                run.crash(at: step.time, lose: rng.below(4), into: &report.violations)
                report.crashes += 1
                if firstCrashTime == nil { firstCrashTime = step.time }
                run.check(into: &report.violations, deep: true)
            }
            if report.violations.count > 20 { break }
        }
        run.finish(into: &report.violations)
        twin?.finish(into: &report.violations)
        if let twin, let since = firstCrashTime {
            let a = run.fingerprints(after: since), b = twin.fingerprints(after: since)
            if a != b {
                let i = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
                let left = i < a.count ? a[i] : "(end)", right = i < b.count ? b[i] : "(end)"
                report.violations.append("after the restart the engine decided differently from an uninterrupted run: decision \(i) is \(left), uninterrupted \(right)")
            }
        }
        report.faults = run.pipeline.venue.counts
        report.records = run.journal.count
        if options.keepJournal { report.journal = run.journal }
        report.pairsOpened = run.journal.filter { if case .pairTransition(let p) = $0.event { p.cause == .entry } else { false } }.count
        return report
    }
}

/// One instant of the simulated market.
struct SimStep {
    var time: Timestamp
    var events: [Event]
    /// Reconcile after this instant.
    var reconcile: Bool
}

/// A seed's market and engine configuration.
struct SimWorld {
    var config: EngineConfig
    var definitions: [InstrumentDefined]
    var steps: [SimStep]
    var from: Timestamp
    var to: Timestamp
    var cooldownMs: Int64

    static func make(_ rng: inout SplitMix64, hours: Int) -> SimWorld {
        let pairs = 1 + rng.below(3)
        let start = Timestamp(ms: 1_767_225_600_000)   // 2026-01-01T00:00:00Z
        var defs: [InstrumentDefined] = []
        var specs: [PairSpec] = []
        let symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
        var price: [Fixed] = []
        for k in 0..<pairs {
            let s = symbols[k]
            let step = [Fixed("0.001")!, Fixed("0.01")!, Fixed("0.1")!][k]
            defs.append(InstrumentDefined(id: InstrumentId(UInt32(2 * k)), venue: .bybit, kind: .spot, symbol: s, baseAsset: String(s.dropLast(4)), quoteAsset: "USDT",
                                          tickSize: Fixed("0.01")!, qtyStep: step, minQty: step, minNotional: Fixed(5), fundingIntervalMinutes: 0, maxLeverage: Fixed(1)))
            defs.append(InstrumentDefined(id: InstrumentId(UInt32(2 * k + 1)), venue: .bybit, kind: .linearPerpetual, symbol: s, baseAsset: String(s.dropLast(4)),
                                          quoteAsset: "USDT", tickSize: Fixed("0.01")!, qtyStep: step, minQty: step, minNotional: Fixed(5),
                                          fundingIntervalMinutes: 60, maxLeverage: Fixed(50)))
            specs.append(PairSpec(spot: InstrumentId(UInt32(2 * k)), perp: InstrumentId(UInt32(2 * k + 1))))
            price.append([Fixed(60_000), Fixed(3_000), Fixed(150)][k])
        }
        let policy: LegFailurePolicy = rng.chance(0.5) ? .unwind : .complete
        let strategy = ThresholdStrategyConfig(entryThresholdPerInterval8h: Fixed("0.0002")!, exitThresholdPerInterval8h: Fixed("0.00005")!,
                                               maxHoldingMs: Int64(30 + rng.below(90)) * Millis.minute, pairNotionalUsdt: Fixed(Int64(5_000 + 1_000 * rng.below(16))),
                                               maxOpenPairs: 1 + rng.below(2), maxRateAgeMs: 2 * Millis.hour)
        let risk = RiskLimits(maxPairNotionalUsdt: Fixed(25_000), maxTotalNotionalUsdt: Fixed(60_000), maxLeverage: Fixed(3), minMarginBuffer: Fixed("0.30")!,
                              exitMarginBuffer: Fixed("0.10")!, maxDrawdown: Fixed("0.05")!, minFreeCashUsdt: .zero)
        let fees = FeeSchedule(spot: [Venue.bybit.rawValue: FeeRates(taker: Fixed("0.001")!, maker: Fixed("0.001")!)],
                               perp: [Venue.bybit.rawValue: FeeRates(taker: Fixed("0.00055")!, maker: Fixed("0.0002")!)])
        let config = EngineConfig(pairs: specs, barIntervalSeconds: 60, initialCashUsdt: Fixed(100_000), strategy: strategy, risk: risk, fees: fees,
                                  slippage: SlippageModel(halfSpread: Fixed("0.0001")!, impactCoefficient: Fixed("0.1")!, maxParticipation: Fixed("0.1")!),
                                  margin: MarginModel(perpLeverage: Fixed(2), maintenanceMarginRate: Fixed("0.005")!), latencyMs: 250,
                                  execution: ExecutionPolicy(legRiskBudgetMs: policy == .complete ? 120_000 : 30_000, legFailure: policy, deltaBand: Fixed("0.02")!, rebalanceRetryMs: 5 * Millis.minute))
        var steps: [SimStep] = []
        let minutes = hours * 60
        for m in 1...minutes {
            let t = start.adding(ms: Int64(m) * Millis.minute)
            var events: [Event] = []
            if m % 60 == 0 || m == 1 {
                for k in 0..<pairs {
                    // Hourly settlements, mostly positive (entries happen), sometimes negative (exits).
                    let bp = Int64(rng.below(9)) - 2
                    events.append(.fundingSettled(FundingSettled(instrumentId: specs[k].perp, ratePerInterval: Fixed(mantissa: bp * 25, scale: 6),
                                                                 intervalMinutes: 60, markPrice: nil)))
                }
            }
            for k in 0..<pairs {
                // A random walk of ±0.1 % a minute; volume sometimes thin (the participation cap bites).
                let move = Int64(rng.below(21)) - 10
                price[k] = price[k].multiplied(by: Fixed(mantissa: 10_000 + move, scale: 4), scale: 2, .toNearestOrEven)
                let volume = rng.chance(0.1) ? Fixed(Int64(20_000 + rng.below(100_000))) : Fixed(Int64(5_000_000 + rng.below(50_000_000)))
                for (id, p) in [(specs[k].spot, price[k]), (specs[k].perp, price[k].multiplied(by: Fixed("1.0003")!, scale: 2, .toNearestOrEven))] {
                    let high = p.multiplied(by: Fixed("1.002")!, scale: 2, .up), low = p.multiplied(by: Fixed("0.998")!, scale: 2, .down)
                    events.append(.barClosed(BarClosed(instrumentId: id, intervalSeconds: 60, openTime: t.adding(ms: -Millis.minute), open: p, high: high, low: low,
                                                       close: p, volumeBase: Fixed(1), volumeQuote: volume)))
                }
            }
            steps.append(SimStep(time: t, events: events, reconcile: m % 15 == 0))
        }
        return SimWorld(config: config, definitions: defs, steps: steps, from: start, to: start.adding(ms: Int64(minutes) * Millis.minute),
                        cooldownMs: 10 * Millis.minute)
    }
}

/// One engine process (and the venue it trades on), journaling everything it sees and decides.
struct SimRun {
    let world: SimWorld
    var pipeline: ReplayPipeline<FaultyVenue>
    /// The journal: every input and decision, in seq order.
    var journal: [RecordedEvent] = []
    var driftsAtLastReconciliation = 0
    /// The independent ledger: positions as the sum of the journal's fills (de-duplicated by
    /// execution id) and corrections, folded as records are journaled.
    var ledger: [Fixed] = []
    var executions: Set<String> = []
    /// Breaches no venue behaviour should cause, as found.
    var contradictions: [String] = []

    init(world: SimWorld, rates: FaultRates, seed: UInt64) {
        self.world = world
        let sim = SimulatedExchange(fees: world.config.fees, slippage: world.config.slippage, margin: world.config.margin, latencyMs: world.config.latencyMs,
                                    initialCash: world.config.initialCashUsdt, spotBuyFeeInBase: true)
        var venue = FaultyVenue(base: sim, rates: rates, seed: seed)
        venue.driftable = world.config.pairs.flatMap { [$0.spot, $0.perp] }
        pipeline = ReplayPipeline(reducer: CarryReducer(config: world.config, reentryCooldownMs: world.cooldownMs), venue: venue, firstSeq: 1,
                                  from: world.from, to: world.to, scanIntervalMs: 5 * Millis.minute)
        pipeline.journalsMarketInputs = true
        for d in world.definitions { pipeline.define(d, at: world.from) }
        collect()
    }

    mutating func collect() {
        let out = pipeline.takeOutput()
        var seq = pipeline.nextSeq - UInt64(out.count)
        for o in out {
            let r = RecordedEvent(seq: seq, eventTime: o.time, recordTime: o.time, causation: o.causation, event: o.event)
            journal.append(r)
            post(r)
            seq += 1
        }
    }

    /// Folds one journaled record into the independent ledger.
    mutating func post(_ e: RecordedEvent) {
        switch e.event {
        case .orderFilled(let f):
            guard f.isLiquidation || executions.insert("\(f.intentSeq)/\(f.executionId)").inserted else { return }
            add(f.instrumentId, f.positionDelta)
        case .reconciled(let c) where c.status == .corrected && c.localCash == nil:
            add(c.instrumentId, c.venueQty - c.localQty)
        case .riskBreached(let b) where [.unknownIntent, .overfill, .orderStateRefused, .invalidFill].contains(b.rule):
            contradictions.append("seq \(e.seq): breach \(b.rule) (\(b.observed))")
        default:
            break
        }
    }

    private mutating func add(_ id: InstrumentId, _ dq: Fixed) {
        while ledger.count <= id.index { ledger.append(.zero) }
        ledger[id.index] += dq
    }

    mutating func step(_ s: SimStep, index: Int) {
        var group = MarketGroup()
        for (i, e) in s.events.enumerated() { group.append(seq: UInt64(index * 100 + i + 1), e) }
        pipeline.process(group: &group, at: s.time, trading: true, afterTick: { _, _ in })
        if s.reconcile {
            pipeline.settleVenue(through: s.time)
            driftsAtLastReconciliation = pipeline.venue.counts.drifts
            pipeline.inject(.venue(.snapshot(pipeline.venue.snapshot())), at: s.time)
        }
        collect()
    }

    /// Ends the run: the ticks still due, the venue's last facts, a last reconciliation.
    mutating func finish(into violations: inout [String]) {
        pipeline.finish(afterTick: { _, _ in })
        // Past the reducer's late-fill grace, so a difference left by a recent cancel or expiry
        // is corrected rather than waited on.
        let end = world.to.adding(ms: 3 * Millis.minute)
        pipeline.settleVenue(through: end)
        // The last reconciliation: a pair waiting on the venue's word (a close it refused as
        // nothing to reduce) is settled by it, as it would be by the next periodic one.
        driftsAtLastReconciliation = pipeline.venue.counts.drifts
        pipeline.inject(.venue(.snapshot(pipeline.venue.snapshot())), at: end)
        collect()
        check(into: &violations, deep: true)
        for (i, p) in pipeline.reducer.pairs.enumerated() where (p.phase == .closing || p.phase == .unwinding) && p.openIntents.isEmpty {
            let spec = world.config.pairs[i]
            let held = [spec.spot, spec.perp].map { pipeline.reducer.portfolio.position($0) }
            if held.contains(where: { q in
                guard let step = pipeline.reducer.instruments[Int(spec.spot.index)]?.qtyStep else { return false }
                return q.magnitude >= step
            }) {
                violations.append("pair \(i) stuck \(p.phase) with nothing working and positions \(held)")
            }
        }
    }

    /// A crash after the last instant: the journal loses up to `lose` of the venue's last
    /// answers (never a decision or a submission: those are journaled before anything is
    /// sent), the engine is rebuilt from what is left and resolves what was in flight.
    mutating func crash(at time: Timestamp, lose: Int, into violations: inout [String]) {
        // The running state must be what the journal folds to.
        if let rebuilt = rebuild(journal, into: &violations), rebuilt != pipeline.reducer {
            violations.append("at \(time.iso8601): the state rebuilt from the journal differs from the running state")
        }
        var cut = journal.count
        var lost = 0
        while lost < lose, cut > 0, Self.isLosableAnswer(journal[cut - 1].event) {
            cut -= 1
            lost += 1
        }
        journal.removeLast(journal.count - cut)
        ledger = []
        executions = []
        contradictions = []
        for r in journal { post(r) }
        guard let restarted = rebuild(journal, into: &violations) else { return }
        pipeline.restart(with: restarted, nextSeq: UInt64(journal.count) + 1)
        pipeline.resolveInFlight(at: time)
        collect()
    }

    /// Answers a crash can lose: venue facts about orders (funding is reconciled otherwise).
    static func isLosableAnswer(_ e: Event) -> Bool {
        switch e.kind {
        case .orderAccepted, .orderFilled, .orderCancelled, .orderExpired, .orderRejected, .orderUnknown, .orderStatus: return true
        default: return false
        }
    }

    func rebuild(_ records: [RecordedEvent], into violations: inout [String]) -> CarryReducer? {
        do {
            return try Recovery.rebuild(CarryReducer(config: world.config, reentryCooldownMs: world.cooldownMs), from: records).reducer
        } catch {
            violations.append("the journal does not fold: \(error)")
            return nil
        }
    }

    /// The invariants that hold after every step.
    mutating func check(into violations: inout [String], deep: Bool) {
        let r = pipeline.reducer
        let venue = pipeline.venue
        let at = journal.last?.eventTime.iso8601 ?? "start"
        // 1. One send per intent.
        if let (seq, n) = venue.sends.filter({ $0.value > 1 }).min(by: { $0.key < $1.key }) { violations.append("at \(at): intent \(seq) was sent \(n) times") }
        // 2. Leg risk.
        for (i, p) in r.pairs.enumerated() where p.phase == .opening && p.legRiskUsedMs > r.config.execution.legRiskBudgetMs {
            violations.append("at \(at): pair \(i) is still opening with \(p.legRiskUsedMs) ms of naked notional (budget \(r.config.execution.legRiskBudgetMs))")
        }
        // 2b. A flat pair holds nothing a venue would trade (a raced fill or a correction is unwound).
        for (i, p) in r.pairs.enumerated() where p.phase == .flat {
            let spec = r.config.pairs[i]
            for id in [spec.spot, spec.perp] {
                if let step = r.instruments[id.index]?.qtyStep, r.portfolio.position(id).magnitude >= step {
                    violations.append("at \(at): pair \(i) is flat but holds \(r.portfolio.position(id)) of instrument \(id.index)")
                }
            }
        }
        // 3. Positions = the sum of fills.
        for i in r.portfolio.qty.indices {
            let summed = i < ledger.count ? ledger[i] : .zero
            if summed != r.portfolio.qty[i] { violations.append("at \(at): instrument \(i) holds \(r.portfolio.qty[i]) but its fills sum to \(summed)") }
        }
        // 4. The accounting identity, and the venue's books when nothing is in flight.
        let marks: (InstrumentId) -> Fixed? = { r.mark($0) }
        let identity = r.portfolio.initialCash + r.portfolio.totalPricePnL(marks: marks) + r.portfolio.totalFunding - r.portfolio.totalFees - r.portfolio.totalSlippage
        if identity != r.equity { violations.append("at \(at): equity \(r.equity) ≠ initial + price P&L + funding − fees − slippage = \(identity)") }
        let quiet = venue.heldCount == 0 && r.unknownCount == 0 && venue.counts.drifts == driftsAtLastReconciliation && !r.reconciliationHold
        if quiet {
            if venue.base.cash != r.portfolio.cash { violations.append("at \(at): cash \(r.portfolio.cash) ≠ the venue's \(venue.base.cash)") }
            for i in r.portfolio.qty.indices where i < venue.base.positions.count && venue.base.positions[i] != r.portfolio.qty[i] {
                violations.append("at \(at): instrument \(i) holds \(r.portfolio.qty[i]), the venue \(venue.base.positions[i])")
            }
        }
        // 6. Facts the engine could not place.
        violations += contradictions
        contradictions = []
        // 5. The fold.
        if deep, let rebuilt = rebuild(journal, into: &violations), rebuilt != r {
            violations.append("at \(at): the state rebuilt from the journal differs from the running state")
        }
    }

    /// Decisions after `time`, without seqs (which a restart shifts), for comparing runs.
    func fingerprints(after time: Timestamp) -> [String] {
        journal.filter { $0.eventTime > time }.compactMap { e in
            switch e.event {
            case .signalComputed(let s): return "\(e.eventTime.ms) signal \(s.perp) \(s.action) \(s.score)"
            case .orderIntended(let i): return "\(e.eventTime.ms) intent \(i.instrumentId) \(i.side) \(i.qty) \(i.reduceOnly) \(i.reason)"
            case .cancelIntended(let c): return "\(e.eventTime.ms) cancel \(c.reason)"
            case .pairTransition(let p): return "\(e.eventTime.ms) pair \(p.perp) \(p.from)→\(p.to) \(p.cause)"
            case .riskBreached(let b): return "\(e.eventTime.ms) breach \(b.rule) \(b.action)"
            case .killSwitchChanged(let k): return "\(e.eventTime.ms) kill \(k.engaged)"
            default: return nil
            }
        }
    }
}
