// The live executor seam: commands are queued, never answered; the venue's facts wait for the
// engine's clock and come out in one time order with the market's — an order's answer before
// its fills, a settlement's payment right before the settlement, a snapshot after every other
// fact of its instant.

import CarryCore
import CarryEngine
import Testing

@Suite("LiveOutbox")
struct LiveOutboxTests {
    let t0 = Timestamp(ms: 1_765_000_000_000)

    func at(_ s: Int64) -> Timestamp { t0.adding(ms: s * 1000) }

    func fill(_ seq: UInt64, at s: Int64, id: String) -> VenueFact {
        VenueFact(event: .orderFilled(OrderFilled(intentSeq: seq, instrumentId: InstrumentId(1), side: .sell, price: Fixed(100), qty: Fixed(1), fee: .zero,
                                                  liquidity: .taker, referencePrice: Fixed(100), leavesQty: .zero, isLiquidation: false, executionId: id)),
                  time: at(s), causation: .local(seq))
    }

    func paid(at s: Int64) -> VenueFact {
        VenueFact(event: .fundingPaid(FundingPaid(instrumentId: InstrumentId(1), settlementTime: at(s), positionQty: Fixed(-1), markPrice: Fixed(100),
                                                  ratePerInterval: Fixed("0.0001")!, amount: Fixed("0.01")!)), time: at(s), causation: .none)
    }

    @Test("commands are queued and answered by nothing; bars and settlements make no facts")
    func queues() {
        var o = LiveOutbox()
        let intent = OrderIntended(pairId: 1, leg: .perp, instrumentId: InstrumentId(1), side: .sell, type: .market, timeInForce: .immediateOrCancel,
                                   qty: Fixed(1), limitPrice: nil, reduceOnly: false, reason: .open)
        #expect(o.execute(.submit(intent), commandSeq: 7, at: at(0)).isEmpty)
        #expect(o.queuedIntents == [7] && o.hasCommands)
        #expect(o.onBar(BarClosed(instrumentId: InstrumentId(1), intervalSeconds: 3600, openTime: at(0), open: Fixed(1), high: Fixed(1), low: Fixed(1),
                                  close: Fixed(1), volumeBase: Fixed(1), volumeQuote: Fixed(1)), barRef: .none).isEmpty)
        #expect(o.takeCommands().map(\.seq) == [7])
        #expect(!o.hasCommands && o.takeCommands().isEmpty)
    }

    @Test("facts wait for the clock and come out in time order; an answer stamped after its order's fill is pulled ahead of it")
    func timeOrder() {
        var o = LiveOutbox()
        let ack = VenueFact(event: .orderAccepted(OrderAccepted(intentSeq: 5, venueOrderId: "v5")), time: at(20), causation: .local(5))
        o.receive([fill(5, at: 10, id: "e1"), ack, fill(6, at: 30, id: "e2")])
        #expect(o.due(through: at(5)).isEmpty)
        let first = o.due(through: at(10))
        #expect(first.map(\.event.kind) == [.orderAccepted, .orderFilled])
        #expect(first.map(\.time) == [at(10), at(10)])
        #expect(o.due(through: at(29)).isEmpty)
        #expect(o.due(through: at(40)).map(\.event.kind) == [.orderFilled])
        #expect(!o.holdsFacts)
    }

    @Test("a settlement's payment waits for the settlement itself (or the next instant); a book read at the payment's time waits for the payment; a snapshot comes after every other fact of its instant")
    func fundingAndSnapshot() {
        var o = LiveOutbox()
        let snapshot = VenueFact(event: .venueSnapshot(VenueSnapshot(positions: [], cash: nil, openOrders: [])), time: at(100), causation: .none)
        o.receive([snapshot, paid(at: 100), fill(5, at: 100, id: "e1")])
        // The book read at 100 holds the payment at 100 in its wallet: it is not handed over before it.
        #expect(o.due(through: at(100)).map(\.event.kind) == [.orderFilled])
        #expect(o.snapshotsReleased == 0)
        #expect(o.onFundingSettled(FundingSettled(instrumentId: InstrumentId(3), ratePerInterval: .zero, intervalMinutes: 480, markPrice: nil),
                                   at: at(100), cause: .none).isEmpty)
        #expect(o.onFundingSettled(FundingSettled(instrumentId: InstrumentId(1), ratePerInterval: .zero, intervalMinutes: 480, markPrice: nil),
                                   at: at(100), cause: .none).map(\.event.kind) == [.fundingPaid])
        // The payment handed over, the book follows at the next release.
        #expect(o.due(through: at(100)).map(\.event.kind) == [.venueSnapshot])
        #expect(o.snapshotsReleased == 1)
        // A book and a payment at 150 whose settlement never comes: both at the next instant, payment first.
        o.receive([VenueFact(event: .venueSnapshot(VenueSnapshot(positions: [], cash: nil, openOrders: [])), time: at(150), causation: .none), paid(at: 150)])
        #expect(o.due(through: at(150)).isEmpty)
        #expect(o.due(through: at(151)).map(\.event.kind) == [.fundingPaid, .venueSnapshot])
        // Without its settlement, the next instant releases it.
        o.receive([paid(at: 200)])
        #expect(o.due(through: at(200)).isEmpty)
        #expect(o.due(through: at(201)).map(\.event.kind) == [.fundingPaid])
    }

    @Test("what waits: intents whose end is on its way, and the fills not yet handed over, per instrument")
    func waiting() {
        var o = LiveOutbox()
        o.receive([fill(5, at: 10, id: "e1"), VenueFact(event: .orderRejected(OrderRejected(intentSeq: 6, code: 110007, reason: "x")), time: at(10), causation: .local(6)),
                   VenueFact(event: .orderStatus(OrderStatusReported(intentSeq: 7, status: .filled, cumQty: Fixed(1), venueOrderId: "v")), time: at(10), causation: .local(7)),
                   VenueFact(event: .orderStatus(OrderStatusReported(intentSeq: 8, status: .new, cumQty: .zero, venueOrderId: "v")), time: at(10), causation: .local(8))])
        #expect(o.intentsEnding == [6, 7])
        #expect(o.pendingPositionChange == [InstrumentId(1): Fixed(-1)])
        #expect(o.waiting == 4)
    }
}
