// `carry fetch`: Bybit perpetuals' rules, settled funding, and perp and spot klines into a
// market journal.
//
// The window is [venue time − days, venue time] in event time (a bar's close, a settlement),
// with the venue's own clock (`/v5/market/time`), so a simulator standing still at the end
// of its data and the real exchange are fetched the same way.
//
// Resumability rests on `MarketJournal`'s extents (a stream never holds two records for one
// time; a record inside [first, last] is taken as present). Every stream is filled in two
// parts, each keeping the stored part of the stream contiguous whatever moment the process
// dies at:
//   1. newer than the stored `last`: all pages are collected first, then appended oldest
//      first in one call, so a partial commit leaves a prefix that joins `last`.
//   2. older than the stored `first` (everything, for a new stream): pages backwards from
//      `first`, each appended newest first as it arrives, so a partial commit leaves a
//      suffix that joins `first`.
// Re-running after a kill -9 therefore resumes from the last stored record of each stream,
// and fetching twice adds nothing.

public import CarryCore
public import CarryVenues
public import Logging

/// What to fetch.
public struct FetchRequest: Sendable {
    /// Bybit linear perpetual symbols (`BTCUSDT`).
    public var symbols: [String]
    /// The window's length, ending at the venue's clock.
    public var days: Int
    /// Bar length (Bybit's kline intervals only).
    public var barSeconds: UInt32 = 3600
    /// Klines per request (Bybit: at most 1000).
    public var klinePageLimit = 1000
    /// Settlements per request (Bybit: at most 200).
    public var fundingPageLimit = 200
    /// Also fetch the spot pair's klines when the venue lists one.
    public var includeSpot = true

    /// A request for `symbols` over the last `days` days.
    public init(symbols: [String], days: Int) {
        self.symbols = symbols
        self.days = days
    }
}

/// Where a fetch is.
public struct FetchProgress: Sendable {
    /// `BTCUSDT linear 1h bars`.
    public var stream: String
    /// Records journaled so far in this run (all streams).
    public var stored: Int
    /// Records expected in this run (estimated from the window and the stored extents).
    public var expected: Int
    /// Requests sent so far (retries included).
    public var requests: Int
}

/// What one stream got.
public struct FetchedStream: Sendable {
    /// `BTCUSDT linear 1h bars`.
    public var name: String
    /// Records journaled in this run.
    public var appended: Int
    /// Records the venue sent that the journal already held.
    public var alreadyPresent: Int
    /// The stored extent after the fetch (nil when the stream is still empty).
    public var extent: StreamExtent?
}

/// What a fetch did.
public struct FetchSummary: Sendable {
    /// The window fetched, in event time.
    public var from: Timestamp
    public var to: Timestamp
    public var streams: [FetchedStream]
    /// Instrument definitions journaled (new, or rules changed).
    public var definitionsJournaled: Int
    /// Symbols with no spot pair on the venue (their spot klines were not fetched).
    public var withoutSpot: [String]
    public var client: BybitClientStats

    /// Records journaled in this run.
    public var appended: Int { streams.reduce(0) { $0 + $1.appended } }
}

/// A fetch failed; the message says what to do. Whatever was journaled before stays.
public struct FetchError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The venue does not list the symbol as a linear perpetual.
        case unknownSymbol
        /// The venue answered with an error or could not be reached.
        case venue
        /// Bad request (days, interval).
        case invalid
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// Fetches Bybit market history into a market journal.
public final class MarketFetcher {
    let client: BybitMarketClient
    let logger: Logger
    private var opened: MarketJournal?
    private var market: MarketJournal { opened! }

    /// A fetcher reading through `client`.
    public init(client: BybitMarketClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Runs the fetch; `progress` is called after every page. The journal is opened (and
    /// created when missing) through `openJournal` only once the venue has confirmed every
    /// symbol, so an unknown symbol or an unreachable venue leaves no trace.
    public func run(_ request: FetchRequest, openJournal: () throws -> MarketJournal, progress: (FetchProgress) -> Void = { _ in }) throws -> FetchSummary {
        guard request.days > 0 && request.days <= 3650 else { throw FetchError(.invalid, "--days must be between 1 and 3650 (got \(request.days))") }
        guard Bybit.klineInterval(seconds: request.barSeconds) != nil else {
            throw FetchError(.invalid, "Bybit has no \(request.barSeconds) s kline interval")
        }
        let symbols = request.symbols
        guard !symbols.isEmpty else { throw FetchError(.invalid, "no symbols given") }

        // 1. Rules first: an unknown symbol stops the fetch before anything is written.
        var perps: [BybitInstrument] = []
        var spots: [BybitInstrument?] = []
        for symbol in symbols {
            let linear = try venue { try client.instrumentsPage(category: .linear, symbol: symbol) }.list.first { $0.symbol == symbol }
            guard let linear, linear.isPerpetual else {
                throw FetchError(.unknownSymbol, try unknownSymbolMessage(symbol, listedAsFuture: linear != nil))
            }
            perps.append(linear)
            spots.append(request.includeSpot ? try venue { try client.instrumentsPage(category: .spot, symbol: symbol) }.list.first { $0.symbol == symbol } : nil)
        }
        let venueNow = try venue { try client.serverTime() }.time
        let to = venueNow
        let from = to.adding(ms: -Int64(request.days) * Millis.day)

        opened = try openJournal()
        var definitions: [InstrumentDefined] = []
        for (perp, spot) in zip(perps, spots) {
            definitions.append(perp.definition)
            if let spot { definitions.append(spot.definition) }
        }
        let ids = try market.define(definitions, at: from)

        // 2. The streams, in a fixed order.
        struct Plan {
            var name: String
            var stream: MarketStream
            var kind: StreamKind
        }
        enum StreamKind {
            case funding(symbol: String, intervalMinutes: UInt32)
            case bars(Bybit.Category, symbol: String)
        }
        var plans: [Plan] = []
        var idIndex = 0
        var withoutSpot: [String] = []
        for (perp, spot) in zip(perps, spots) {
            let perpId = ids[idIndex]; idIndex += 1
            let interval = MarketStream.intervalName(request.barSeconds)
            plans.append(Plan(name: "\(perp.symbol) funding", stream: .funding(perpId),
                              kind: .funding(symbol: perp.symbol, intervalMinutes: perp.fundingIntervalMinutes > 0 ? perp.fundingIntervalMinutes : 480)))
            plans.append(Plan(name: "\(perp.symbol) linear \(interval) bars", stream: .bars(perpId, intervalSeconds: request.barSeconds),
                              kind: .bars(.linear, symbol: perp.symbol)))
            if let spot {
                let spotId = ids[idIndex]; idIndex += 1
                plans.append(Plan(name: "\(spot.symbol) spot \(interval) bars", stream: .bars(spotId, intervalSeconds: request.barSeconds),
                                  kind: .bars(.spot, symbol: spot.symbol)))
            } else if request.includeSpot {
                withoutSpot.append(perp.symbol)
            }
        }

        var expected = 0
        for plan in plans {
            let cadence: Int64
            switch plan.kind {
            case .funding(_, let minutes): cadence = Int64(minutes) * Millis.minute
            case .bars: cadence = Int64(request.barSeconds) * 1000
            }
            expected += missingEstimate(market.extents[plan.stream], from: from, to: to, cadenceMs: cadence)
        }

        var stored = 0
        var results: [FetchedStream] = []
        for plan in plans {
            var result = FetchedStream(name: plan.name, appended: 0, alreadyPresent: 0, extent: nil)
            let report: (Int) -> Void = { n in
                stored += n
                progress(FetchProgress(stream: plan.name, stored: stored, expected: max(expected, stored), requests: self.client.stats.requests))
            }
            switch plan.kind {
            case .funding(let symbol, let minutes):
                let id = plan.stream.instrument
                try fill(plan.stream, from: from, to: to, into: &result, report: report) { lo, hi in
                    let page = try self.venue { try self.client.fundingHistory(symbol: symbol, startTime: lo, endTime: hi, limit: request.fundingPageLimit) }
                    // Bybit's history does not say the interval: infer it from the spacing.
                    let kept = page.filter { $0.time >= lo && $0.time <= hi }
                    let intervals = Self.inferIntervals(kept.map(\.time), current: minutes)
                    let records = zip(kept, intervals).map { f, interval in
                        MarketRecord.funding(settlementTime: f.time, FundingSettled(instrumentId: id, ratePerInterval: f.rate, intervalMinutes: interval, markPrice: nil))
                    }
                    return (records, page.count >= request.fundingPageLimit)
                }
            case .bars(let category, let symbol):
                let id = plan.stream.instrument
                let barMs = Int64(request.barSeconds) * 1000
                try fill(plan.stream, from: from, to: to, into: &result, report: report) { lo, hi in
                    // Bars are asked for by open time; the journal keys them by close.
                    let page = try self.venue {
                        try self.client.klines(category: category, symbol: symbol, intervalSeconds: request.barSeconds,
                                               start: lo.adding(ms: -barMs), end: hi.adding(ms: -barMs), limit: request.klinePageLimit)
                    }
                    let records = page.map { MarketRecord.bar($0.bar(id, intervalSeconds: request.barSeconds)) }
                        .filter { $0.time >= lo && $0.time <= hi }   // drops the bar still open on a live venue
                    return (records, page.count >= request.klinePageLimit)
                }
            }
            result.extent = market.extents[plan.stream]
            logger.info("stream fetched", metadata: ["stream": "\(plan.name)", "appended": "\(result.appended)", "alreadyPresent": "\(result.alreadyPresent)"])
            results.append(result)
        }
        return FetchSummary(from: from, to: to, streams: results, definitionsJournaled: ids.journaled, withoutSpot: withoutSpot, client: client.stats)
    }

    /// Fills `stream` over [from, to] with pages from `page(lo, hi)`, which returns the
    /// records with time in [lo, hi], newest first, and whether more may be older than the
    /// oldest of them.
    private func fill(_ stream: MarketStream, from: Timestamp, to: Timestamp, into result: inout FetchedStream, report: (Int) -> Void,
                      page: (Timestamp, Timestamp) throws -> ([MarketRecord], Bool)) throws {
        // Part 1: newer than what is stored. Collected in full, appended oldest first.
        if let e = market.extents[stream], e.last < to {
            let lo = max(from, e.last.adding(ms: 1))
            var collected: [MarketRecord] = []
            var hi = to
            while hi >= lo {
                let (records, more) = try page(lo, hi)
                collected += records
                guard more, let oldest = records.last?.time, oldest > lo else { break }
                hi = oldest.adding(ms: -1)
            }
            collected.sort { $0.time < $1.time }
            let outcome = try market.append(Self.distinctTimes(collected))
            result.appended += outcome.appended
            result.alreadyPresent += outcome.alreadyPresent
            report(outcome.appended)
        }
        // Part 2: older than what is stored (everything for a new stream). Newest first,
        // page by page, each joining the stored part.
        var hi = market.extents[stream].map { $0.first.adding(ms: -1) } ?? to
        while hi >= from {
            let (records, more) = try page(from, hi)
            let outcome = try market.append(Self.distinctTimes(records))
            result.appended += outcome.appended
            result.alreadyPresent += outcome.alreadyPresent
            report(outcome.appended)
            guard more, let oldest = records.last?.time, oldest > from else { break }
            hi = oldest.adding(ms: -1)
        }
    }

    /// Funding intervals Bybit uses, in minutes.
    static let knownIntervals: Set<UInt32> = [60, 120, 240, 480]

    /// The interval each settlement of a newest-first page was made for: the spacing to the
    /// next older settlement, rounded to the minute (the venue stamps a few ms late), when it
    /// is an interval Bybit uses; otherwise (the oldest of the page, or a missed settlement
    /// making the spacing 16 h) the interval of the next newer one; the newest falls back to
    /// the instrument's current interval.
    public static func inferIntervals(_ newestFirst: [Timestamp], current: UInt32) -> [UInt32] {
        var spacing: [UInt32?] = newestFirst.indices.map { i in
            guard i + 1 < newestFirst.count else { return nil }
            let minutes = (newestFirst[i].msSince(newestFirst[i + 1]) + Millis.minute / 2) / Millis.minute
            return minutes > 0 && minutes <= 480 && knownIntervals.contains(UInt32(minutes)) ? UInt32(minutes) : nil
        }
        var newer = current
        for i in spacing.indices {
            if let m = spacing[i] { newer = m } else { spacing[i] = newer }
        }
        return spacing.map { $0! }
    }

    /// `records` (one stream, sorted either way) with one record per time: a venue that
    /// repeats a row within a page must not break the journal's one-record-per-time rule.
    static func distinctTimes(_ records: [MarketRecord]) -> [MarketRecord] {
        var out: [MarketRecord] = []
        out.reserveCapacity(records.count)
        for r in records where out.last?.time != r.time { out.append(r) }
        return out
    }

    /// Records missing from a stream in [from, to] at a cadence (an estimate for the ETA).
    private func missingEstimate(_ extent: StreamExtent?, from: Timestamp, to: Timestamp, cadenceMs: Int64) -> Int {
        let all = Int(max(0, to.msSince(from)) / cadenceMs)
        guard let e = extent else { return all }
        let older = e.first > from ? Int(e.first.msSince(from) / cadenceMs) : 0
        let newer = e.last < to ? Int(to.msSince(max(e.last, from)) / cadenceMs) : 0
        return min(all, older + newer)
    }

    /// Runs a venue call, turning its error into a `FetchError`.
    private func venue<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as BybitError {
            throw FetchError(.venue, e.message)
        }
    }

    /// "BTCUSDX is not a Bybit linear perpetual. Close ones: BTCUSDT, …".
    private func unknownSymbolMessage(_ symbol: String, listedAsFuture: Bool) throws -> String {
        try venue { try Self.unknownSymbolMessage(symbol, listedAsFuture: listedAsFuture, client: client) }
    }

    /// Why `symbol` is not a Bybit linear perpetual, with the close ones the venue lists.
    static func unknownSymbolMessage(_ symbol: String, listedAsFuture: Bool, client: BybitMarketClient) throws -> String {
        if listedAsFuture { return "\(symbol) is a Bybit linear contract but not a perpetual (it expires); carry reads perpetuals only." }
        let all = try client.allInstruments(category: .linear).filter(\.isPerpetual).map(\.symbol)
        let close = SymbolSuggestions.closest(to: symbol, in: all, limit: 5)
        if close.isEmpty {
            return "\(symbol) is not a Bybit linear perpetual (the venue lists \(all.count) perpetuals, none close to it). Check the spelling: symbols look like BTCUSDT."
        }
        return "\(symbol) is not a Bybit linear perpetual. Close ones the venue lists: \(close.joined(separator: ", "))."
    }
}
