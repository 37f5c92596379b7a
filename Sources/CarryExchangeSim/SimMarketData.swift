// The market data the loopback exchange serves: one venue's instruments of a market journal,
// loaded once into sorted arrays. Read-only after loading, so every request reads it without
// a lock. Knows nothing of HTTP or Bybit's JSON (that is `BybitPublicAPI`).
//
// Invariants: bars of one interval and settlements are sorted by time, one per time (the
// journal's streams guarantee it); `now` is the simulator's clock: it stands still unless the
// replay clock (`SimReplay`) moves it, and it only moves forward.

public import CarryCore
import CarryJournal
import Synchronization

/// One instrument's data.
public struct SimInstrument: Sendable {
    public var definition: InstrumentDefined
    /// Bars by interval in seconds, ascending by open time. (Looked up by key only.)
    public var bars: [UInt32: [BarClosed]]
    /// Settlements, ascending by time.
    public var funding: [(time: Timestamp, settled: FundingSettled)]
}

/// A venue's instruments and their history, from a market journal.
public final class SimMarketData: Sendable {
    /// The venue whose instruments are served.
    public let venue: Venue
    /// Instruments sorted by (kind, symbol).
    public let instruments: [SimInstrument]
    /// The simulator's clock: `/v5/market/time`, the `time` of every envelope.
    public var now: Timestamp { clock.withLock { $0 } }
    /// The time of the last event of the data (the default `now`).
    public let lastEventTime: Timestamp
    private let clock: Mutex<Timestamp>
    private let bySymbol: [String: Int]

    /// Builds the data set directly (tests, the future private endpoints).
    public init(venue: Venue, instruments: [SimInstrument], now: Timestamp? = nil) {
        self.venue = venue
        let sorted = instruments.sorted { ($0.definition.kind.rawValue, $0.definition.symbol) < ($1.definition.kind.rawValue, $1.definition.symbol) }
        self.instruments = sorted
        var index: [String: Int] = [:]
        for (i, inst) in sorted.enumerated() { index["\(inst.definition.kind.rawValue)/\(inst.definition.symbol)"] = i }
        bySymbol = index
        var latest = Timestamp(ms: 0)
        for inst in sorted {
            for bars in inst.bars.values { if let b = bars.last { latest = max(latest, b.closeTime) } }
            if let f = inst.funding.last { latest = max(latest, f.time) }
        }
        lastEventTime = latest
        clock = Mutex(now ?? latest)
    }

    /// Sets the clock before serving starts (a replay from the first event).
    public func resetClock(to time: Timestamp) {
        clock.withLock { $0 = time }
    }

    /// Moves the clock forward to `time` (never back).
    public func advance(to time: Timestamp) {
        clock.withLock { $0 = max($0, time) }
    }

    /// Loads `venue`'s instruments (nil: the venue of the first instrument that has bars)
    /// from the market journal at `path`, opened read-only.
    public static func load(journalPath path: String, venue: Venue?, now: Timestamp?) throws -> SimMarketData {
        let journal = try Journal.open(path, readOnly: true)
        var definitions: [InstrumentDefined] = []
        var bars: [[UInt32: [BarClosed]]] = []
        var funding: [[(time: Timestamp, settled: FundingSettled)]] = []
        try journal.withSnapshot { snap in
            _ = try snap.scan { view in
                switch view.header.kindCode {
                case EventKind.barClosed.rawValue:
                    let b = try view.decodeBar()
                    bars[b.instrumentId.index][b.intervalSeconds, default: []].append(b)
                case EventKind.instrumentDefined.rawValue, EventKind.fundingSettled.rawValue:
                    switch try view.decode() {
                    case .instrumentDefined(let d):
                        if d.id.index < definitions.count {
                            definitions[d.id.index] = d
                        } else {
                            precondition(d.id.index == definitions.count, "instrument ids of \(path) are not dense")
                            definitions.append(d)
                            bars.append([:])
                            funding.append([])
                        }
                    case .fundingSettled(let f):
                        funding[f.instrumentId.index].append((view.header.eventTime, f))
                    default:
                        break
                    }
                default:
                    break
                }
                return true
            }
        }
        let chosen = venue ?? definitions.indices.first { !bars[$0].isEmpty }.map { definitions[$0].venue } ?? definitions.first?.venue ?? .bybit
        var instruments: [SimInstrument] = []
        for i in definitions.indices where definitions[i].venue == chosen {
            var b = bars[i]
            for key in Array(b.keys) { b[key]!.sort { $0.openTime < $1.openTime } }
            instruments.append(SimInstrument(definition: definitions[i], bars: b, funding: funding[i].sorted { $0.time < $1.time }))
        }
        return SimMarketData(venue: chosen, instruments: instruments, now: now)
    }

    /// The instrument of a kind and symbol.
    public func instrument(_ kind: InstrumentKind, _ symbol: String) -> SimInstrument? {
        bySymbol["\(kind.rawValue)/\(symbol)"].map { instruments[$0] }
    }

    /// Instruments of a kind, by symbol.
    public func instruments(_ kind: InstrumentKind) -> [SimInstrument] {
        instruments.filter { $0.definition.kind == kind }
    }

    /// Bars with open time in [start, end] and close ≤ now, newest first, at most `limit`.
    public func bars(_ inst: SimInstrument, intervalSeconds: UInt32, start: Timestamp, end: Timestamp, limit: Int) -> [BarClosed] {
        guard let all = inst.bars[intervalSeconds], limit > 0 else { return [] }
        let endOpen = min(end, now.adding(ms: -Int64(intervalSeconds) * 1000))
        var hi = upperBound(all.count) { all[$0].openTime <= endOpen }
        var out: [BarClosed] = []
        while hi > 0 && out.count < limit {
            hi -= 1
            guard all[hi].openTime >= start else { break }
            out.append(all[hi])
        }
        return out
    }

    /// Settlements with time in [start, end] and ≤ now, newest first, at most `limit`.
    public func funding(_ inst: SimInstrument, start: Timestamp, end: Timestamp, limit: Int) -> [(time: Timestamp, settled: FundingSettled)] {
        let all = inst.funding
        let last = min(end, now)
        var hi = upperBound(all.count) { all[$0].time <= last }
        var out: [(time: Timestamp, settled: FundingSettled)] = []
        while hi > 0 && out.count < limit {
            hi -= 1
            guard all[hi].time >= start else { break }
            out.append(all[hi])
        }
        return out
    }

    /// The latest bar of an interval that closed at or before `now`.
    public func lastBar(_ inst: SimInstrument, intervalSeconds: UInt32, before time: Timestamp? = nil) -> BarClosed? {
        bars(inst, intervalSeconds: intervalSeconds, start: .distantPast, end: (time ?? now).adding(ms: -Int64(intervalSeconds) * 1000), limit: 1).first
    }

    /// The smallest bar interval an instrument has.
    public func finestInterval(_ inst: SimInstrument) -> UInt32? { inst.bars.keys.min() }

    /// The number of leading indexes in 0..<count for which `isBefore` holds (a partition point).
    private func upperBound(_ count: Int, _ isBefore: (Int) -> Bool) -> Int {
        var lo = 0
        var hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if isBefore(mid) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
