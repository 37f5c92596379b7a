// The feed between the market records and a run: each instant handed over as begin, its bars
// as they come, then end with its interval changes and settlements (typed, in seq order) and
// the gap alerts its records revealed — and a sweep's tape, replayed, makes exactly the calls
// the feed made while recording it (so a swept config and its backtest see the same run).

import CarryCore
@testable import CarryEngine
import Foundation
import Testing

/// Writes down every call a feed makes, as text.
private struct CallLog: InstantSink {
    var calls: [String] = []

    static func hour(_ t: Timestamp) -> Int64 { t.ms / Millis.hour }

    mutating func begin(instant time: Timestamp) { calls.append("begin \(Self.hour(time))") }

    mutating func bar(_ bar: BarClosed, seq: UInt64, at time: Timestamp) {
        calls.append("bar \(bar.instrumentId.rawValue) #\(seq) @\(Self.hour(time))")
    }

    mutating func end(instant time: Timestamp, intervalChanges: [(seq: UInt64, change: FundingIntervalChanged)],
                      settlements: [(seq: UInt64, settlement: FundingSettled)], alerts: [GapAlert]) {
        calls.append("end \(Self.hour(time)) changes \(intervalChanges.map(\.seq)) settlements \(settlements.map(\.seq)) alerts \(alerts.map(\.seq))")
    }
}

/// A `CallLog` that takes the bars of even instruments by their marks (as a config idle on
/// them would), logging them as marks.
private struct MarkingLog: InstantSink {
    var log = CallLog()

    mutating func begin(instant time: Timestamp) { log.begin(instant: time) }

    mutating func bar(_ bar: BarClosed, seq: UInt64, at time: Timestamp) { log.bar(bar, seq: seq, at: time) }

    mutating func applyIdleMarks(_ marks: UnsafeBufferPointer<BarMark>, at time: Timestamp) -> Int {
        var n = 0
        while n < marks.count && marks[n].instrument % 2 == 0 {
            log.calls.append("mark \(marks[n].instrument) @\(CallLog.hour(time))")
            n += 1
        }
        return n
    }

    mutating func end(instant time: Timestamp, intervalChanges: [(seq: UInt64, change: FundingIntervalChanged)],
                      settlements: [(seq: UInt64, settlement: FundingSettled)], alerts: [GapAlert]) {
        log.end(instant: time, intervalChanges: intervalChanges, settlements: settlements, alerts: alerts)
    }
}

@Suite("Replay feed: instants handed over")
struct ReplayFeedTests {
    static let spot = InstrumentDefined(id: InstrumentId(0), venue: .binance, kind: .spot, symbol: "BTCUSDT", baseAsset: "BTC", quoteAsset: "USDT",
                                        tickSize: Fixed("0.01")!, qtyStep: Fixed("0.001")!, minQty: Fixed("0.001")!, minNotional: Fixed(5),
                                        fundingIntervalMinutes: 0, maxLeverage: Fixed(1))
    static var perp: InstrumentDefined {
        var p = spot
        p.id = InstrumentId(1)
        p.kind = .linearPerpetual
        p.fundingIntervalMinutes = 480
        return p
    }

    static func plan() throws -> BacktestPlan {
        let config = try BacktestConfig.parse(yaml: "symbols: [BTCUSDT]\n", source: "feed.yaml")
        return BacktestPlan(config: config, pairs: [ResolvedPair(symbol: "BTCUSDT", spot: spot, perp: perp)],
                            from: Timestamp(ms: 10 * Millis.hour), to: Timestamp(ms: 100 * Millis.hour), warnings: [])
    }

    enum Record {
        case bar(UInt32)
        case settled(minutes: UInt32)
        case intervalChange
    }

    /// (hour, seq, record), in time order: a perp bar missing at hour 13, settlements every
    /// 8 h then every 4 h (after the change at hour 11), none between hours 15 and 27.
    static let records: [(Int64, UInt64, Record)] = [
        (11, 1, .bar(0)), (11, 2, .settled(minutes: 480)), (11, 3, .bar(1)), (11, 4, .intervalChange),
        (12, 5, .bar(0)), (12, 6, .bar(1)),
        (13, 7, .bar(0)),
        (14, 8, .bar(1)), (14, 9, .bar(0)),
        (15, 10, .settled(minutes: 240)),
        (27, 11, .settled(minutes: 240)),
    ]

    static func feed<S: InstantSink>(_ feed: inout ReplayFeed, into sink: inout S) throws {
        for (h, seq, record) in records {
            let t = Timestamp(ms: h * Millis.hour)
            switch record {
            case .bar(let id):
                let bar = BarClosed(instrumentId: InstrumentId(id), intervalSeconds: 3600, openTime: Timestamp(ms: t.ms - Millis.hour),
                                    open: Fixed(100), high: Fixed(101), low: Fixed(99), close: Fixed(100), volumeBase: Fixed(1), volumeQuote: Fixed(100))
                try feed.add(seq: seq, time: t, bar: bar, to: &sink)
            case .settled(let minutes):
                let f = FundingSettled(instrumentId: InstrumentId(1), ratePerInterval: Fixed(mantissa: 1, scale: 4), intervalMinutes: minutes, markPrice: Fixed(100))
                try feed.add(seq: seq, time: t, event: .fundingSettled(f), to: &sink)
            case .intervalChange:
                let c = FundingIntervalChanged(instrumentId: InstrumentId(1), previousMinutes: 480, newMinutes: 240)
                try feed.add(seq: seq, time: t, event: .fundingIntervalChanged(c), to: &sink)
            }
        }
        try feed.finish(to: &sink)
    }

    @Test("bars at once, an instant's settlements and interval changes at its end, gap alerts with the instant the stream resumed")
    func handOver() throws {
        var feed = ReplayFeed(plan: try Self.plan(), describe: { stream in
            if case .funding = stream { return "funding" } else { return "bars" }
        })
        var log = CallLog()
        try Self.feed(&feed, into: &log)
        #expect(log.calls == [
            "begin 11", "bar 0 #1 @11", "bar 1 #3 @11", "end 11 changes [4] settlements [2] alerts []",
            "begin 12", "bar 0 #5 @12", "bar 1 #6 @12", "end 12 changes [] settlements [] alerts []",
            "begin 13", "bar 0 #7 @13", "end 13 changes [] settlements [] alerts []",
            "begin 14", "bar 1 #8 @14", "bar 0 #9 @14", "end 14 changes [] settlements [] alerts [8]",
            "begin 15", "end 15 changes [] settlements [10] alerts []",
            "begin 27", "end 27 changes [] settlements [11] alerts [11]",
        ])
        #expect(feed.events == Self.records.count)
        #expect(feed.warnings.count == 2)
        #expect(feed.warnings[0].hasPrefix("bars: gap") && feed.warnings[0].hasSuffix("treated as no data"))
        #expect(feed.warnings[1].hasPrefix("funding: gap"))
        // Finishing again hands nothing over.
        let calls = log.calls.count
        try feed.finish(to: &log)
        #expect(log.calls.count == calls)
    }

    @Test("a tape replays every instant with exactly the calls the feed made")
    func tapeReplays() throws {
        var direct = CallLog()
        var first = ReplayFeed(plan: try Self.plan(), describe: { _ in "s" })
        try Self.feed(&first, into: &direct)
        var recorder = TapeRecorder()
        var second = ReplayFeed(plan: try Self.plan(), describe: { _ in "s" })
        try Self.feed(&second, into: &recorder)
        let tape = recorder.tape
        #expect(tape.instants.count == 6)
        #expect(tape.instants.indices.reduce(0) { $0 + tape.count(ofInstant: $1) } == Self.records.count)
        #expect(tape.marks.allSatisfy { tape.bar(of: $0).close == $0.close && tape.bar(of: $0).instrumentId.rawValue == $0.instrument })
        var replayed = CallLog()
        for k in tape.instants.indices { try tape.replay(instant: k, to: &replayed) }
        #expect(replayed.calls == direct.calls)
        // A sink that takes some bars by mark gets those as marks, in their places, and every
        // other bar whole: the direct calls with instrument 0's bars as marks.
        var marking = MarkingLog()
        for k in tape.instants.indices { try tape.replay(instant: k, to: &marking) }
        let expected = direct.calls.map { call in
            call.hasPrefix("bar 0 ") ? "mark 0 @" + call.split(separator: "@").last! : call
        }
        #expect(marking.log.calls == expected)
        #expect(marking.log.calls.contains { $0.hasPrefix("mark 0") } && marking.log.calls.contains { $0.hasPrefix("bar 1") })
    }
}
