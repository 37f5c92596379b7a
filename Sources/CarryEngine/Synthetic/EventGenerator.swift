// Synthetic events of every kind, deterministic from a seed: the crash-test appender, the
// benchmarks and the codec property tests all draw from here.

public import CarryCore

/// Generates arbitrary but valid events of every kind, for codec property tests and
/// benchmark workloads.
public struct EventGenerator {
    /// The generator's random source.
    public var rng: SplitMix64

    /// A generator for one seed.
    public init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    public mutating func fixed(maxScale: Int = 12) -> Fixed {
        let scale = UInt8(rng.below(maxScale + 1))
        let magnitude = Int64(bitPattern: rng.next() >> UInt64(1 + rng.below(60)))
        return Fixed(mantissa: rng.chance(0.3) ? -magnitude : magnitude, scale: scale)
    }

    public mutating func optionalFixed() -> Fixed? { rng.chance(0.25) ? nil : fixed() }

    public mutating func text(maxLength: Int = 40) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij0123456789 _-.:/é€😀")
        return String((0..<rng.below(maxLength + 1)).map { _ in alphabet[rng.below(alphabet.count)] })
    }

    public mutating func time() -> Timestamp { Timestamp(ms: Int64(rng.below(2_000_000_000)) * 1000 + 1_500_000_000_000) }
    public mutating func instrument() -> InstrumentId { InstrumentId(UInt32(rng.below(64))) }
    public mutating func seq() -> UInt64 { rng.next() >> UInt64(rng.below(63)) }

    public mutating func pick<E: CaseIterable>(_: E.Type) -> E {
        let all = Array(E.allCases)
        return all[rng.below(all.count)]
    }

    /// An event of the given kind with random fields.
    public mutating func event(_ kind: EventKind) -> Event {
        switch kind {
        case .instrumentDefined:
            return .instrumentDefined(InstrumentDefined(id: instrument(), venue: pick(Venue.self), kind: pick(InstrumentKind.self), symbol: text(maxLength: 15),
                                                        baseAsset: text(maxLength: 6), quoteAsset: text(maxLength: 6), tickSize: fixed(), qtyStep: fixed(),
                                                        minQty: fixed(), minNotional: fixed(), fundingIntervalMinutes: UInt32(rng.below(1000)), maxLeverage: fixed()))
        case .barClosed:
            return .barClosed(bar())
        case .quoteObserved:
            return .quoteObserved(QuoteObserved(instrumentId: instrument(), bid: optionalFixed(), ask: optionalFixed(), last: optionalFixed(),
                                                mark: optionalFixed(), index: optionalFixed()))
        case .fundingSettled:
            return .fundingSettled(FundingSettled(instrumentId: instrument(), ratePerInterval: fixed(), intervalMinutes: [60, 240, 480][rng.below(3)], markPrice: optionalFixed()))
        case .fundingPredicted:
            return .fundingPredicted(FundingPredicted(instrumentId: instrument(), nextSettlementTime: time(), predictedRatePerInterval: fixed(), intervalMinutes: 480))
        case .fundingIntervalChanged:
            return .fundingIntervalChanged(FundingIntervalChanged(instrumentId: instrument(), previousMinutes: 480, newMinutes: UInt32(rng.below(1000))))
        case .signalComputed:
            let n = rng.below(8)
            return .signalComputed(SignalComputed(strategy: pick(StrategyKind.self), perp: instrument(), spot: instrument(), action: pick(SignalAction.self),
                                                  direction: pick(CarryDirection.self), score: fixed(),
                                                  components: (0..<n).map { _ in SignalComponent(factor: pick(SignalFactor.self), value: fixed(), weight: fixed(), sourceSeq: seq()) }))
        case .orderIntended:
            return .orderIntended(OrderIntended(pairId: seq(), leg: pick(Leg.self), instrumentId: instrument(), side: pick(Side.self), type: pick(OrderType.self),
                                                timeInForce: pick(TimeInForce.self), qty: fixed(), limitPrice: optionalFixed(), reduceOnly: rng.chance(0.5), reason: pick(IntentReason.self)))
        case .riskBreached:
            return .riskBreached(RiskBreached(rule: pick(RiskRule.self), action: pick(RiskAction.self), instrumentId: rng.chance(0.5) ? instrument() : nil,
                                              limit: fixed(), observed: fixed()))
        case .killSwitchChanged:
            return .killSwitchChanged(KillSwitchChanged(engaged: rng.chance(0.5), source: pick(KillSwitchSource.self), reason: text()))
        case .alertRaised:
            return .alertRaised(AlertRaised(severity: pick(AlertSeverity.self), code: text(maxLength: 12), message: text()))
        case .pairTransition:
            return .pairTransition(PairTransition(pairId: seq(), spot: instrument(), perp: instrument(), from: pick(PairPhase.self), to: pick(PairPhase.self),
                                                  cause: pick(PairCause.self), observed: fixed()))
        case .cancelIntended:
            return .cancelIntended(CancelIntended(intentSeq: seq(), reason: pick(CancelReason.self)))
        case .entrySkipped:
            return .entrySkipped(EntrySkipped(spot: instrument(), perp: instrument(), reason: pick(SkipReason.self),
                                              factor: rng.chance(0.5) ? pick(SignalFactor.self) : nil, limit: fixed(), observed: fixed()))
        case .orderSubmitted:
            return .orderSubmitted(OrderSubmitted(intentSeq: seq()))
        case .orderAccepted:
            return .orderAccepted(OrderAccepted(intentSeq: seq(), venueOrderId: text(maxLength: 36)))
        case .orderRejected:
            return .orderRejected(OrderRejected(intentSeq: seq(), code: Int32(truncatingIfNeeded: rng.next()), reason: text()))
        case .orderCancelled:
            return .orderCancelled(OrderCancelled(intentSeq: seq(), remainingQty: fixed(), reason: text()))
        case .orderFilled:
            return .orderFilled(OrderFilled(intentSeq: seq(), instrumentId: instrument(), side: pick(Side.self), price: fixed(), qty: fixed(), fee: fixed(),
                                            liquidity: pick(Liquidity.self), referencePrice: fixed(), leavesQty: fixed(), isLiquidation: rng.chance(0.1), executionId: text(maxLength: 36),
                                            feeAsset: rng.chance(0.3) ? .base : .quote))
        case .fundingPaid:
            return .fundingPaid(FundingPaid(instrumentId: instrument(), settlementTime: time(), positionQty: fixed(), markPrice: fixed(), ratePerInterval: fixed(), amount: fixed()))
        case .reconciled:
            return .reconciled(Reconciled(instrumentId: instrument(), status: pick(ReconcileStatus.self), localQty: fixed(), venueQty: fixed(),
                                          localCash: optionalFixed(), venueCash: optionalFixed()))
        case .orderUnknown:
            return .orderUnknown(OrderUnknown(intentSeq: seq(), reason: text()))
        case .orderExpired:
            return .orderExpired(OrderExpired(intentSeq: seq(), remainingQty: fixed()))
        case .orderStatus:
            return .orderStatus(OrderStatusReported(intentSeq: seq(), status: pick(VenueOrderStatus.self), cumQty: fixed(), venueOrderId: text(maxLength: 36)))
        case .venueSnapshot:
            let n = rng.below(6), m = rng.below(6)
            return .venueSnapshot(VenueSnapshot(positions: (0..<n).map { _ in VenuePosition(instrumentId: instrument(), qty: fixed()) },
                                                cash: optionalFixed(), openOrders: (0..<m).map { _ in seq() }))
        case .configApplied:
            return .configApplied(ConfigApplied(source: text(maxLength: 30), text: text(maxLength: 400)))
        case .clockTicked:
            return .clockTicked(ClockTicked(purpose: pick(TickPurpose.self)))
        case .runStarted:
            return .runStarted(RunStarted(mode: pick(RunMode.self), sourceJournal: JournalId(high: rng.next(), low: rng.next()), sourceFirstSeq: seq(),
                                          sourceLastSeq: seq(), from: time(), to: time(), seed: rng.next(), carryVersion: text(maxLength: 10)))
        case .runEnded:
            return .runEnded(RunEnded(outcome: pick(RunOutcome.self), inputEvents: seq(), message: text()))
        case .sessionStats:
            return .sessionStats(SessionStats(intervalMs: seq(), steps: seq(), requests: seq(), failedRequests: seq(), streamUpMs: seq(),
                                              streamDownMs: seq(), reconnects: seq()))
        case .operatorTrade:
            return .operatorTrade(OperatorTrade(action: pick(OperatorTradeAction.self), spot: instrument(), perp: instrument(), notionalUsdt: fixed(),
                                                reason: text()))
        }
    }

    /// An event of a random kind.
    public mutating func anyEvent() -> Event {
        event(pick(EventKind.self))
    }

    /// A realistic bar (the benchmark's 96-byte payload).
    public mutating func bar(instrument: InstrumentId? = nil, openTime: Timestamp? = nil) -> BarClosed {
        let base = Int64(2_000_000 + rng.below(8_000_000))
        let o = Fixed(mantissa: base, scale: 2)
        let h = Fixed(mantissa: base + Int64(rng.below(50_000)), scale: 2)
        let l = Fixed(mantissa: base - Int64(rng.below(50_000)), scale: 2)
        let c = Fixed(mantissa: base + Int64(rng.below(100_000)) - 50_000, scale: 2)
        return BarClosed(instrumentId: instrument ?? self.instrument(), intervalSeconds: 3600, openTime: openTime ?? time(),
                         open: o, high: h, low: l, close: c,
                         volumeBase: Fixed(mantissa: Int64(rng.below(1 << 40)), scale: 8), volumeQuote: Fixed(mantissa: Int64(rng.below(1 << 50)), scale: 8),
                         takerBuyVolumeBase: Fixed(mantissa: Int64(rng.below(1 << 39)), scale: 8), takerBuyVolumeQuote: Fixed(mantissa: Int64(rng.below(1 << 49)), scale: 8),
                         tradeCount: UInt64(rng.below(1_000_000)))
    }
}

/// Synthetic workloads whose content is a pure function of the seq, so a checker can
/// recompute every record after a crash.
public enum SyntheticWorkload {
    /// The event `carry debug-append` writes at `seq`.
    public static func crashTestDraft(seq: UInt64) -> EventDraftParts {
        var gen = EventGenerator(seed: seq)
        let e = gen.anyEvent()
        let t = Timestamp(ms: 1_700_000_000_000 + Int64(seq) * 1000)
        return EventDraftParts(event: e, time: t, causation: seq > 1 ? .local(seq - 1) : .none)
    }
}

/// The parts of a journal draft (CarryEngine's synthetic module does not depend on the
/// journal's types).
public struct EventDraftParts: Sendable, Equatable {
    public var event: Event
    public var time: Timestamp
    public var causation: CausationRef
}
