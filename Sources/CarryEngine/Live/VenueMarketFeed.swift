// The market side of a paper or live session: instrument rules, closed bars of both legs and
// settled funding, read from a Bybit v5 venue (the real one, or `carry exchange-sim` replaying
// history) over its public REST endpoints, on the venue's clock.
//
// A poll returns every event with time in (cursor, cutoff], where the cutoff is the venue's
// time less the configured market lag (the delay after which a venue's kline and funding
// history are complete for an instant). Events come sorted by time, and within one time in a
// fixed order (pairs in config order; spot bars, perp bars, then settlements), so the session
// processes each instant once, whole — what a backtest over the same events does.

public import CarryCore
public import CarryVenues

/// A session could not start or continue; the message says what to do.
public struct SessionError: Error, CustomStringConvertible, Equatable {
    public var message: String
    /// True for problems with the request (bad symbol, config, journal); false for failures.
    public var isBadInput: Bool
    public init(_ message: String, badInput: Bool = true) {
        self.message = message
        isBadInput = badInput
    }
    public var description: String { message }
}

/// Polls a venue for the market events a session trades on.
public final class VenueMarketFeed {
    public let client: BybitMarketClient
    /// The traded pairs, their instruments numbered by the session (pair i: spot 2i, perp 2i+1).
    public let pairs: [ResolvedPair]
    public let barSeconds: UInt32
    /// Per instrument index: the close time of the last bar delivered.
    public private(set) var lastBar: [Timestamp]
    /// Per instrument index (perps): the time of the last settlement delivered.
    public private(set) var lastFunding: [Timestamp]
    /// The last settled rate per interval each pair's perp delivered, by symbol (for status and metrics).
    public private(set) var lastRates: [String: Fixed] = [:]
    /// Requests sent by polls (for progress lines).
    public var requests: Int { client.stats.requests }

    static let klinePageLimit = 1000
    static let fundingPageLimit = 200

    /// Resolves `symbols` on the venue (each needs a linear perpetual and a spot pair) and
    /// starts every stream after `cursor`.
    public init(client: BybitMarketClient, symbols: [String], barSeconds: UInt32, cursor: Timestamp) throws {
        guard Bybit.klineInterval(seconds: barSeconds) != nil else {
            throw SessionError("Bybit has no \(barSeconds) s kline interval: choose barInterval 1m, 5m, 15m, 30m, 1h, 2h, 4h or 1d")
        }
        self.client = client
        self.barSeconds = barSeconds
        var pairs: [ResolvedPair] = []
        for (i, symbol) in symbols.enumerated() {
            let linear = try client.instrumentsPage(category: .linear, symbol: symbol).list.first { $0.symbol == symbol }
            guard let linear, linear.isPerpetual else {
                throw SessionError(try MarketFetcher.unknownSymbolMessage(symbol, listedAsFuture: linear != nil, client: client))
            }
            guard let spot = try client.instrumentsPage(category: .spot, symbol: symbol).list.first(where: { $0.symbol == symbol }) else {
                throw SessionError("\(symbol) has no spot pair on the venue: a carry pair needs both legs. Remove it from symbols.")
            }
            var s = spot.definition
            s.id = InstrumentId(UInt32(2 * i))
            var p = linear.definition
            p.id = InstrumentId(UInt32(2 * i + 1))
            if p.fundingIntervalMinutes == 0 { p.fundingIntervalMinutes = 480 }
            pairs.append(ResolvedPair(symbol: symbol, spot: s, perp: p))
        }
        self.pairs = pairs
        lastBar = Array(repeating: cursor, count: 2 * pairs.count)
        lastFunding = Array(repeating: cursor, count: 2 * pairs.count)
    }

    /// Moves a stream's cursor (after a restart, to the last event the journal holds).
    public func resume(bars id: InstrumentId, after time: Timestamp) { lastBar[id.index] = max(lastBar[id.index], time) }
    public func resume(funding id: InstrumentId, after time: Timestamp) { lastFunding[id.index] = max(lastFunding[id.index], time) }

    /// The venue's clock.
    public func venueTime() throws -> Timestamp { try client.serverTime().time }

    /// Every event with time in (cursor, cutoff], sorted by time and, within a time, in the
    /// fixed order above. Cursors move past what was returned. `beforeRequest` runs before each
    /// request to the venue (a session takes operator commands there, so a kill never waits
    /// for a whole poll).
    public func poll(through cutoff: Timestamp, beforeRequest: () throws -> Void = {}) throws -> [(time: Timestamp, event: Event)] {
        var out: [(time: Timestamp, event: Event, rank: Int)] = []
        let barMs = Int64(barSeconds) * 1000
        for (i, p) in pairs.enumerated() {
            for (leg, d, category) in [(0, p.spot, Bybit.Category.spot), (1, p.perp, Bybit.Category.linear)] {
                let lo = lastBar[d.id.index].adding(ms: 1)
                guard lo <= cutoff else { continue }
                let bars = try pagedKlines(category: category, symbol: d.symbol, id: d.id, from: lo, through: cutoff, barMs: barMs, beforeRequest: beforeRequest)
                for b in bars { out.append((b.closeTime, .barClosed(b), i * 3 + leg)) }
                if let last = bars.last?.closeTime { lastBar[d.id.index] = last }
            }
            let lo = lastFunding[p.perp.id.index].adding(ms: 1)
            guard lo <= cutoff else { continue }
            let settled = try pagedFunding(symbol: p.perp.symbol, id: p.perp.id, current: p.perp.fundingIntervalMinutes, from: lo, through: cutoff,
                                           beforeRequest: beforeRequest)
            for (t, f) in settled { out.append((t, .fundingSettled(f), i * 3 + 2)) }
            if let last = settled.last {
                lastFunding[p.perp.id.index] = last.0
                lastRates[p.symbol] = last.1.ratePerInterval
            }
        }
        out.sort { $0.time != $1.time ? $0.time < $1.time : $0.rank < $1.rank }
        return out.map { ($0.time, $0.event) }
    }

    /// Closed bars with close time in [from, through], oldest first (pages walked backwards).
    private func pagedKlines(category: Bybit.Category, symbol: String, id: InstrumentId, from: Timestamp, through: Timestamp,
                             barMs: Int64, beforeRequest: () throws -> Void) throws -> [BarClosed] {
        var collected: [BarClosed] = []
        var hi = through
        while hi >= from {
            try beforeRequest()
            let page = try client.klines(category: category, symbol: symbol, intervalSeconds: barSeconds, start: from.adding(ms: -barMs),
                                         end: hi.adding(ms: -barMs), limit: Self.klinePageLimit)
            let bars = page.map { $0.bar(id, intervalSeconds: barSeconds) }.filter { $0.closeTime >= from && $0.closeTime <= through }
            collected += bars
            guard page.count >= Self.klinePageLimit, let oldest = page.map(\.start).min(), oldest.adding(ms: barMs) > from else { break }
            hi = oldest.adding(ms: barMs - 1)
        }
        collected.sort { $0.closeTime < $1.closeTime }
        var distinct: [BarClosed] = []
        for b in collected where distinct.last?.closeTime != b.closeTime { distinct.append(b) }
        return distinct
    }

    /// Settlements in [from, through], oldest first, each with the interval it settled under
    /// (inferred from the spacing, as `carry fetch` does).
    private func pagedFunding(symbol: String, id: InstrumentId, current: UInt32, from: Timestamp, through: Timestamp,
                              beforeRequest: () throws -> Void) throws -> [(Timestamp, FundingSettled)] {
        var newestFirst: [BybitFundingRate] = []
        var hi = through
        while hi >= from {
            try beforeRequest()
            let page = try client.fundingHistory(symbol: symbol, startTime: from, endTime: hi, limit: Self.fundingPageLimit)
            let kept = page.filter { $0.time >= from && $0.time <= through }
            newestFirst += kept
            guard page.count >= Self.fundingPageLimit, let oldest = page.map(\.time).min(), oldest > from else { break }
            hi = oldest.adding(ms: -1)
        }
        newestFirst.sort { $0.time > $1.time }
        let intervals = MarketFetcher.inferIntervals(newestFirst.map(\.time), current: current)
        return zip(newestFirst, intervals).reversed().map { f, interval in
            (f.time, FundingSettled(instrumentId: id, ratePerInterval: f.rate, intervalMinutes: interval, markPrice: nil))
        }
    }
}
