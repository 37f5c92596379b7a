// The market-data journal: instrument definitions, bars stamped at their close and funding
// settled at its settlement time, written by `carry import` and `carry fetch` and read by
// every backtest.
//
// Invariants:
// - Instrument ids are dense and stable: the n-th distinct (venue, kind, symbol) defined in
//   this journal gets id n. A change of rules re-journals the definition under the same id.
// - A stream (an instrument's bars of one interval, or its funding) never holds two records
//   for the same time: a record inside the stream's stored extent [first, last] is taken as
//   already present and skipped. That makes imports idempotent and fetches resumable
//   (backwards pages extend `first`, forward pages extend `last`). Holes inside the extent
//   are real gaps: reported, never filled.

public import CarryCore
public import CarryJournal

/// One series in a market journal.
public enum MarketStream: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Bars of one instrument at one interval.
    case bars(InstrumentId, intervalSeconds: UInt32)
    /// Settled funding of one perpetual.
    case funding(InstrumentId)

    /// The instrument of the stream.
    public var instrument: InstrumentId {
        switch self {
        case .bars(let i, _), .funding(let i): return i
        }
    }

    public var description: String {
        switch self {
        case .bars(let i, let s): return "bars \(MarketStream.intervalName(s)) \(i)"
        case .funding(let i): return "funding \(i)"
        }
    }

    /// `1h`, `8h`, `1d` for an interval in seconds.
    public static func intervalName(_ seconds: UInt32) -> String {
        if seconds % 86_400 == 0 { return "\(seconds / 86_400)d" }
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }

    public static func < (a: MarketStream, b: MarketStream) -> Bool {
        func key(_ s: MarketStream) -> (UInt32, Int, UInt32) {
            switch s {
            case .bars(let i, let sec): return (i.rawValue, 0, sec)
            case .funding(let i): return (i.rawValue, 1, 0)
            }
        }
        return key(a) < key(b)
    }
}

/// The stored span of a stream.
public struct StreamExtent: Sendable, Equatable {
    public var first: Timestamp
    public var last: Timestamp
    public var count: Int
}

/// A market fact to journal.
public enum MarketRecord: Sendable, Equatable {
    /// A bar; journaled at its close.
    case bar(BarClosed)
    /// A settled funding rate; journaled at `settlementTime`.
    case funding(settlementTime: Timestamp, FundingSettled)

    /// The event time: the bar's close or the settlement time.
    public var time: Timestamp {
        switch self {
        case .bar(let b): return b.closeTime
        case .funding(let t, _): return t
        }
    }

    /// The stream the record belongs to.
    public var stream: MarketStream {
        switch self {
        case .bar(let b): return .bars(b.instrumentId, intervalSeconds: b.intervalSeconds)
        case .funding(_, let f): return .funding(f.instrumentId)
        }
    }
}

/// What an append did.
public struct MarketAppendOutcome: Sendable, Equatable {
    /// Records journaled.
    public var appended = 0
    /// Records skipped because their stream already covers their time.
    public var alreadyPresent = 0
    /// The seqs written (nil when nothing was).
    public var seqs: ClosedRange<UInt64>?
}

/// A market journal open for reading its catalogue and appending market data.
public final class MarketJournal {
    /// The underlying journal.
    public let journal: Journal
    /// Definitions by dense id (the latest rules of each instrument).
    public private(set) var instruments: [InstrumentDefined] = []
    /// Stored extent of every stream.
    public private(set) var extents: [MarketStream: StreamExtent] = [:]
    /// The funding interval last journaled per perpetual, in minutes.
    public private(set) var fundingIntervals: [InstrumentId: UInt32] = [:]
    private var writer: JournalWriter?
    private let recordClock: () -> Timestamp

    /// Opens (creating when missing) the market journal at `path` and reads its catalogue.
    /// `recordClock` stamps record times (the wall clock for imports and fetches).
    public init(path: String, purpose: RunMode, recordClock: @escaping () -> Timestamp) throws {
        journal = try Journal.openOrCreate(path, create: JournalCreateOptions(purpose: purpose))
        self.recordClock = recordClock
        try loadCatalogue()
    }

    /// Opens an existing market journal read-only (no appends).
    public init(readOnlyPath path: String) throws {
        journal = try Journal.open(path, readOnly: true)
        recordClock = { Timestamp(ms: 0) }
        try loadCatalogue()
    }

    private func loadCatalogue() throws {
        try journal.withSnapshot { snap in
            try snap.scan { view in
                switch view.header.kindCode {
                case EventKind.instrumentDefined.rawValue, EventKind.barClosed.rawValue,
                     EventKind.fundingSettled.rawValue, EventKind.fundingIntervalChanged.rawValue:
                    let event = try view.decode()
                    absorb(event, at: view.header.eventTime)
                default:
                    break
                }
                return true
            }
        }
    }

    private func absorb(_ event: Event, at time: Timestamp) {
        switch event {
        case .instrumentDefined(let d):
            if d.id.index == instruments.count {
                instruments.append(d)
            } else if d.id.index < instruments.count {
                instruments[d.id.index] = d
            } else {
                preconditionFailure("instrument id \(d.id) defined out of order in \(journal.path)")
            }
            if d.kind.isPerpetual, fundingIntervals[d.id] == nil, d.fundingIntervalMinutes > 0 {
                fundingIntervals[d.id] = d.fundingIntervalMinutes
            }
        case .barClosed(let b):
            extend(.bars(b.instrumentId, intervalSeconds: b.intervalSeconds), time)
        case .fundingSettled(let f):
            extend(.funding(f.instrumentId), time)
            fundingIntervals[f.instrumentId] = f.intervalMinutes
        case .fundingIntervalChanged(let c):
            fundingIntervals[c.instrumentId] = c.newMinutes
        default:
            break
        }
    }

    private func extend(_ stream: MarketStream, _ time: Timestamp) {
        if var e = extents[stream] {
            e.first = min(e.first, time)
            e.last = max(e.last, time)
            e.count += 1
            extents[stream] = e
        } else {
            extents[stream] = StreamExtent(first: time, last: time, count: 1)
        }
    }

    // MARK: Instruments

    /// The definition of (venue, kind, symbol), if journaled.
    public func instrument(venue: Venue, kind: InstrumentKind, symbol: String) -> InstrumentDefined? {
        instruments.first { $0.venue == venue && $0.kind == kind && $0.symbol == symbol }
    }

    /// The definition for an id.
    public func instrument(_ id: InstrumentId) -> InstrumentDefined? {
        id.index < instruments.count ? instruments[id.index] : nil
    }

    /// Symbols known for a venue and kind, for "did you mean" messages.
    public func symbols(venue: Venue? = nil, kind: InstrumentKind? = nil) -> [String] {
        instruments.filter { (venue == nil || $0.venue == venue) && (kind == nil || $0.kind == kind) }.map(\.symbol)
    }

    /// Journals a definition unless an identical one is current; returns the dense id.
    /// `definition.id` is ignored: the journal assigns it.
    @discardableResult
    public func define(_ definition: InstrumentDefined, at time: Timestamp) throws -> InstrumentId {
        var d = definition
        if let existing = instrument(venue: d.venue, kind: d.kind, symbol: d.symbol) {
            d.id = existing.id
            if existing == d { return existing.id }
        } else {
            d.id = InstrumentId(UInt32(instruments.count))
        }
        let w = try ensureWriter()
        try w.append(EventDraft(.instrumentDefined(d), eventTime: time, recordTime: recordClock()))
        absorb(.instrumentDefined(d), at: time)
        return d.id
    }

    /// Journals several definitions in one commit, skipping those identical to the current
    /// ones; returns their dense ids in order. `id` fields are ignored, as in `define`.
    @discardableResult
    public func define(_ definitions: [InstrumentDefined], at time: Timestamp) throws -> [InstrumentId] {
        var ids: [InstrumentId] = []
        var drafts: [EventDraft] = []
        var staged: [InstrumentDefined] = []
        let now = recordClock()
        for definition in definitions {
            var d = definition
            if let existing = instrument(venue: d.venue, kind: d.kind, symbol: d.symbol) {
                d.id = existing.id
                if existing == d {
                    ids.append(existing.id)
                    continue
                }
            } else if let pending = staged.first(where: { $0.venue == d.venue && $0.kind == d.kind && $0.symbol == d.symbol }) {
                preconditionFailure("\(d.venue) \(d.kind) \(d.symbol) defined twice in one batch (as \(pending.id))")
            } else {
                d.id = InstrumentId(UInt32(instruments.count + staged.filter { $0.id.index >= instruments.count }.count))
            }
            staged.append(d)
            drafts.append(EventDraft(.instrumentDefined(d), eventTime: time, recordTime: now))
            ids.append(d.id)
        }
        if !drafts.isEmpty {
            try ensureWriter().append(drafts)
            for d in staged { absorb(.instrumentDefined(d), at: time) }
        }
        return ids
    }

    // MARK: Market data

    /// True when the stream already covers `time`.
    public func covers(_ stream: MarketStream, _ time: Timestamp) -> Bool {
        guard let e = extents[stream] else { return false }
        return time >= e.first && time <= e.last
    }

    /// Journals the records not yet covered by their streams, in the order given, committing
    /// every `commitEvery` events; returns once everything written is durable. A funding
    /// record whose interval differs from the last one journaled for that perpetual is
    /// preceded by a `funding.interval` event at the same time.
    @discardableResult
    public func append(_ records: [MarketRecord], commitEvery: Int = 10_000) throws -> MarketAppendOutcome {
        var outcome = MarketAppendOutcome()
        var pending: [EventDraft] = []
        var tickets: [CommitTicket] = []
        let w = try ensureWriter()
        let now = recordClock()
        var firstSeq: UInt64? = nil
        func flush() throws {
            guard !pending.isEmpty else { return }
            let t = try w.enqueue(pending)
            if firstSeq == nil { firstSeq = t.seqs.lowerBound }
            tickets.append(t)
            pending.removeAll(keepingCapacity: true)
        }
        // Streams are checked against the extent as it was before this call, so a batch
        // may itself hold a stream's whole history in any order.
        let before = extents
        for record in records {
            let stream = record.stream
            let t = record.time
            if let e = before[stream], t >= e.first && t <= e.last {
                outcome.alreadyPresent += 1
                continue
            }
            switch record {
            case .bar(let b):
                pending.append(EventDraft(.barClosed(b), eventTime: t, recordTime: now))
            case .funding(_, let f):
                if let current = fundingIntervals[f.instrumentId], current != f.intervalMinutes, t > (extents[stream]?.last ?? .distantPast) {
                    pending.append(EventDraft(.fundingIntervalChanged(FundingIntervalChanged(instrumentId: f.instrumentId, previousMinutes: current, newMinutes: f.intervalMinutes)),
                                              eventTime: t, recordTime: now))
                }
                if t > (extents[stream]?.last ?? .distantPast) { fundingIntervals[f.instrumentId] = f.intervalMinutes }
                pending.append(EventDraft(.fundingSettled(f), eventTime: t, recordTime: now))
            }
            extend(stream, t)
            outcome.appended += 1
            if pending.count >= commitEvery { try flush() }
        }
        try flush()
        for t in tickets { try t.wait() }
        if let firstSeq, let last = tickets.last?.seqs.upperBound { outcome.seqs = firstSeq...last }
        return outcome
    }

    /// Flushes and releases the writer.
    public func close() throws {
        if let w = writer {
            writer = nil
            try w.close()
        }
    }

    private func ensureWriter() throws -> JournalWriter {
        if let writer { return writer }
        let w = try journal.makeWriter()
        writer = w
        return w
    }

    deinit {
        try? writer?.close()
    }

    // MARK: Gaps

    /// A gap census of every stream, in stream order. Bars use their interval; funding uses
    /// the interval in force at each settlement.
    public func gapReport() throws -> [(stream: MarketStream, census: GapCensus)] {
        var census: [MarketStream: GapCensus] = [:]
        try journal.withSnapshot { snap in
            try snap.scanByTime { view in
                let kind = view.header.kindCode
                guard kind == EventKind.barClosed.rawValue || kind == EventKind.fundingSettled.rawValue else { return true }
                switch try view.decode() {
                case .barClosed(let b):
                    let s = MarketStream.bars(b.instrumentId, intervalSeconds: b.intervalSeconds)
                    census[s, default: GapCensus(cadenceMs: Int64(b.intervalSeconds) * 1000)].observe(view.header.eventTime)
                case .fundingSettled(let f):
                    let s = MarketStream.funding(f.instrumentId)
                    let cadence = Int64(max(f.intervalMinutes, 1)) * Millis.minute
                    census[s, default: GapCensus(cadenceMs: cadence)].setCadence(cadence)
                    census[s]!.observe(view.header.eventTime)
                default:
                    break
                }
                return true
            }
        }
        return census.keys.sorted().map { ($0, census[$0]!) }
    }

    /// A readable name for a stream: `binance BTCUSDT perp 1h bars`.
    public func describe(_ stream: MarketStream) -> String {
        guard let d = instrument(stream.instrument) else { return stream.description }
        let kind = d.kind == .spot ? "spot" : "perp"
        switch stream {
        case .bars(_, let s): return "\(d.venue) \(d.symbol) \(kind) \(MarketStream.intervalName(s)) bars"
        case .funding: return "\(d.venue) \(d.symbol) funding"
        }
    }
}
