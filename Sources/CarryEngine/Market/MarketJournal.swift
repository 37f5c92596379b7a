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
import Foundation

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
    public static func intervalName(_ seconds: UInt32) -> String { Millis.intervalName(seconds: seconds) }

    /// The interval a name such as `1h`, `4h`, `15m`, `1d` spells, in seconds: a positive
    /// whole number of minutes, or nil.
    public static func intervalSeconds(named name: String) -> UInt32? {
        guard let ms = ConfigReader.parseDuration(name), ms > 0, ms % 60_000 == 0 else { return nil }
        return UInt32(exactly: ms / 1000)
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
    /// `funding.interval` events journaled before the settlements that changed the interval.
    public var intervalChanges = 0
}

/// What `define` did: the dense ids of the definitions in the order given (indexable like
/// an array of ids), and how many it journaled.
public struct MarketDefinitions: RandomAccessCollection, Sendable, Equatable {
    /// Dense ids, one per definition given.
    public var ids: [InstrumentId]
    /// Definitions journaled (new instruments or changed rules); the others were current.
    public var journaled: Int

    public var startIndex: Int { ids.startIndex }
    public var endIndex: Int { ids.endIndex }
    public subscript(position: Int) -> InstrumentId { ids[position] }
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
    /// The catalogue reflects every record through this seq.
    private var cataloguedThrough: UInt64 = 0
    /// Records read to build the catalogue on open: 0 when the saved catalogue was current.
    public private(set) var recordsScannedOnOpen = 0

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
        // Start from the cached catalogue when it is this journal's, then read only the tail.
        var from: UInt64 = 1
        let last = try journal.withSnapshot { try $0.lastSeq() }
        if let cached = CatalogueCache.load(path: journal.path, journalId: journal.meta.journalId), cached.lastSeq <= last {
            instruments = cached.instruments
            extents = cached.extents
            fundingIntervals = cached.fundingIntervals
            from = cached.lastSeq + 1
        }
        cataloguedThrough = last
        guard from <= last else { return }
        recordsScannedOnOpen = Int(last - from + 1)
        try journal.withSnapshot { snap in
            try snap.scan(from: from) { view in
                switch view.header.kindCode {
                case EventKind.barClosed.rawValue:
                    // Bars are most of the journal: their stream without decoding them.
                    if let id = try view.instrument(), let seconds = try view.barIntervalSeconds() {
                        extend(.bars(id, intervalSeconds: seconds), view.header.eventTime)
                    }
                case EventKind.instrumentDefined.rawValue, EventKind.fundingSettled.rawValue, EventKind.fundingIntervalChanged.rawValue:
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

    /// Journals definitions in one commit, skipping those identical to the current ones;
    /// returns their dense ids in order and how many were journaled. `id` fields are
    /// ignored: the journal assigns them.
    @discardableResult
    public func define(_ definitions: [InstrumentDefined], at time: Timestamp) throws -> MarketDefinitions {
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
        return MarketDefinitions(ids: ids, journaled: drafts.count)
    }

    // MARK: Market data

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
        func flush() throws {
            guard !pending.isEmpty else { return }
            tickets.append(try w.enqueue(pending))
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
                    outcome.intervalChanges += 1
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
        return outcome
    }

    /// Flushes and releases the writer, and saves the catalogue for the next open.
    public func close() throws {
        if let w = writer {
            writer = nil
            try w.close()
            // The catalogue now covers everything this process appended.
            let last = try journal.withSnapshot { try $0.lastSeq() }
            CatalogueCache(lastSeq: last, instruments: instruments, extents: extents, fundingIntervals: fundingIntervals)
                .save(path: journal.path, journalId: journal.meta.journalId)
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
                switch view.header.kindCode {
                case EventKind.barClosed.rawValue:
                    guard let id = try view.instrument(), let seconds = try view.barIntervalSeconds() else { break }
                    census[.bars(id, intervalSeconds: seconds), default: GapCensus(cadenceMs: Int64(seconds) * 1000)].observe(view.header.eventTime)
                case EventKind.fundingSettled.rawValue:
                    guard case .fundingSettled(let f) = try view.decode() else { break }
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

/// The market catalogue (definitions, stream extents, funding intervals) as of a seq, saved
/// beside the journal so opening a large market journal does not rescan it. It is a cache of
/// a projection, never a source of truth: it names the journal id and the last seq it covers,
/// carries a CRC, and is ignored (the journal is scanned) when anything does not match. A
/// journal that grew since is caught up by scanning only the new records.
struct CatalogueCache {
    static let fileName = "catalogue.cache"
    static let magic: UInt64 = 0x4341_5259_4341_5431   // "CARYCAT1"

    var lastSeq: UInt64
    var instruments: [InstrumentDefined]
    var extents: [MarketStream: StreamExtent]
    var fundingIntervals: [InstrumentId: UInt32]

    func save(path: String, journalId: JournalId) {
        var w = ByteWriter(capacity: 4096)
        w.write(Self.magic)
        w.write(journalId.high)
        w.write(journalId.low)
        w.write(lastSeq)
        w.write(UInt32(instruments.count))
        for d in instruments {
            var e = ByteWriter()
            d.encode(to: &e)
            w.write(UInt8(InstrumentDefined.layoutVersion))
            w.write(UInt32(e.count))
            w.writeRaw(e.bytes)
        }
        w.write(UInt32(extents.count))
        for (stream, e) in extents.sorted(by: { $0.key < $1.key }) {
            switch stream {
            case .bars(let id, let interval):
                w.write(UInt8(0)); w.write(id); w.write(interval)
            case .funding(let id):
                w.write(UInt8(1)); w.write(id); w.write(UInt32(0))
            }
            w.write(e.first); w.write(e.last); w.write(Int64(e.count))
        }
        w.write(UInt32(fundingIntervals.count))
        for (id, minutes) in fundingIntervals.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            w.write(id); w.write(minutes)
        }
        var bytes = w.bytes
        let crc = bytes.withUnsafeBytes { crc32c($0) }
        withUnsafeBytes(of: crc.littleEndian) { bytes.append(contentsOf: $0) }
        // Write-then-rename: a reader sees the old cache or the new one, never half of one.
        let file = path + "/" + Self.fileName
        let tmp = file + ".tmp"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(bytes)) else { return }
        _ = rename(tmp, file)
    }

    static func load(path: String, journalId: JournalId) -> CatalogueCache? {
        guard let data = FileManager.default.contents(atPath: path + "/" + fileName), data.count > 4 else { return nil }
        let bytes = [UInt8](data)
        return bytes.withUnsafeBytes { raw -> CatalogueCache? in
            let body = UnsafeRawBufferPointer(rebasing: raw[0..<(raw.count - 4)])
            let stored = raw.loadUnaligned(fromByteOffset: raw.count - 4, as: UInt32.self).littleEndian
            guard crc32c(body) == stored else { return nil }
            var r = ByteReader(body)
            do {
                guard try r.read(UInt64.self, "magic") == magic, try r.read(UInt64.self, "id.high") == journalId.high,
                      try r.read(UInt64.self, "id.low") == journalId.low else { return nil }
                let lastSeq = try r.read(UInt64.self, "lastSeq")
                var instruments: [InstrumentDefined] = []
                for _ in 0..<(try r.read(UInt32.self, "instruments")) {
                    let version = try r.read(UInt8.self, "layout")
                    let n = Int(try r.read(UInt32.self, "length"))
                    let payload = try r.readBytes(n, "definition")
                    let d = try payload.withUnsafeBytes { p throws(CodecError) -> InstrumentDefined in
                        var pr = ByteReader(p)
                        return try InstrumentDefined(from: &pr, version: version)
                    }
                    guard d.id.index == instruments.count else { return nil }
                    instruments.append(d)
                }
                var extents: [MarketStream: StreamExtent] = [:]
                for _ in 0..<(try r.read(UInt32.self, "extents")) {
                    let kind = try r.read(UInt8.self, "stream")
                    let id = try r.readInstrument("instrument")
                    let interval = try r.read(UInt32.self, "interval")
                    let e = StreamExtent(first: try r.readTimestamp("first"), last: try r.readTimestamp("last"), count: Int(try r.read(Int64.self, "count")))
                    extents[kind == 0 ? .bars(id, intervalSeconds: interval) : .funding(id)] = e
                }
                var intervals: [InstrumentId: UInt32] = [:]
                for _ in 0..<(try r.read(UInt32.self, "intervals")) {
                    let id = try r.readInstrument("instrument")
                    intervals[id] = try r.read(UInt32.self, "minutes")
                }
                return CatalogueCache(lastSeq: lastSeq, instruments: instruments, extents: extents, fundingIntervals: intervals)
            } catch {
                return nil
            }
        }
    }
}
