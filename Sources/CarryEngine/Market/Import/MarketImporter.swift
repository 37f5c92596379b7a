// `carry import`: bundled CSV history → market journal.
//
// Two phases, so that a bad file never half-imports:
//   1. read: every file is parsed and validated in full (columns, exact numbers, OHLC
//      envelope, bar close times, strictly increasing times, 8-hourly spacing of files
//      without an interval column, agreement between files that repeat a settlement).
//      Nothing touches the journal; the first problem is thrown as `file:line: reason`.
//   2. write: instrument definitions first (one commit), then every record merged by event
//      time (ties: stream order, then file order, then line) through `MarketJournal.append`,
//      which skips whatever the journal already covers. A second import therefore appends
//      nothing, and an interrupted one completes on the next run.

public import CarryCore
public import Logging

/// Where an import is.
public struct ImportProgress: Sendable {
    public enum Phase: Sendable, Equatable {
        /// Parsing and validating file `index` of `count`.
        case reading(file: String, index: Int, count: Int)
        /// Journaling records.
        case writing
    }
    public var phase: Phase
    /// Units done (rows read, or records written).
    public var done: Int
    /// Units in total (0 when unknown).
    public var total: Int
}

/// What `read` found, validated and ready to journal.
public struct ParsedMarketData: Sendable {
    /// Instruments in order of first appearance, with their rules and the funding interval in
    /// force at their first settlement.
    public var instruments: [InstrumentDefined]
    /// Records in journal order, their instrument ids being indexes into `instruments`.
    public var records: [MarketRecord]
    /// Data rows per file, in read order.
    public var fileRows: [(name: String, rows: Int)]
    /// Settlements or bars present in more than one file (identical; kept once).
    public var duplicatesAcrossFiles: Int
    /// Data quirks the importer resolved and says so: blank `intervalHours` cells and the
    /// interval taken for them, bars the venue closed early (a trading halt).
    public var notes: [String]
    /// The earliest event time of any record: the definitions' event time.
    public var firstTime: Timestamp
}

/// What an import did.
public struct ImportSummary: Sendable {
    public var files: [(name: String, rows: Int)]
    /// Instruments in the data set.
    public var instruments: Int
    /// Definitions journaled (new instruments or changed rules).
    public var definitionsJournaled: Int
    /// Distinct records read.
    public var records: Int
    public var duplicatesAcrossFiles: Int
    public var notes: [String]
    /// Records journaled.
    public var appended: Int
    /// Records the journal already held.
    public var alreadyPresent: Int
    /// `funding.interval` events journaled.
    public var intervalChanges: Int
}

/// Reads bundled CSV history and journals it.
public struct MarketImporter {
    let logger: Logger
    /// Records per `MarketJournal.append` call (a progress step; commits are per 10,000).
    public var chunkSize = 25_000

    /// An importer that logs through `logger`.
    public init(logger: Logger) {
        self.logger = logger
    }

    // MARK: Phase 1: read

    /// A row of a source file, by the time it is merged and de-duplicated on.
    protocol SourceRow {
        var time: Timestamp { get }
        var file: Int { get }
        var line: Int { get }
    }

    struct FundingRow: SourceRow {
        var instrument: Int
        var time: Timestamp
        var rate: Fixed
        var mark: Fixed?
        /// nil: blank `intervalHours`, resolved after reading.
        var minutes: UInt32?
        var file: Int
        var line: Int
    }

    struct BarRow: SourceRow {
        var bar: BarClosed
        var file: Int
        var line: Int
        var time: Timestamp { bar.openTime }
    }

    /// `rows` merged by time (ties: file, then line) with one row kept per time. A repeat
    /// counts in `duplicates` when `conflict(repeat, kept)` finds nothing, else its error is thrown.
    func keptOnce<Row: SourceRow>(_ rows: [Row], duplicates: inout Int, conflict: (Row, Row) -> ImportError?) throws -> [Row] {
        let sorted = rows.sorted { ($0.time, $0.file, $0.line) < ($1.time, $1.file, $1.line) }
        var kept: [Row] = []
        kept.reserveCapacity(sorted.count)
        for r in sorted {
            if let last = kept.last, last.time == r.time {
                if let error = conflict(r, last) { throw error }
                duplicates += 1
                continue
            }
            kept.append(r)
        }
        return kept
    }

    /// Parses and validates every file of `dataSet`; writes nothing.
    public func read(_ dataSet: BundledDataSet, progress: (ImportProgress) -> Void = { _ in }) throws -> ParsedMarketData {
        let table = try InstrumentTable.load(dataSet.instrumentsPath, displayName: "instruments.csv")
        return try read(files: dataSet.files, table: table, progress: progress)
    }

    /// Parses and validates `files` against `table`; writes nothing.
    public func read(files: [MarketSourceFile], table: InstrumentTable, progress: (ImportProgress) -> Void = { _ in }) throws -> ParsedMarketData {
        var keys: [InstrumentKey] = []
        var index: [InstrumentKey: Int] = [:]
        var bars: [MarketStream: [BarRow]] = [:]
        var funding: [MarketStream: [FundingRow]] = [:]
        var fileRows: [(String, Int)] = []
        var notes: [String] = []

        func instrument(_ key: InstrumentKey, _ row: CSVRow) throws -> Int {
            if let i = index[key] { return i }
            guard table.rules(for: key) != nil else {
                throw ImportError(.unknown, file: table.file,
                                  "no rules for \(key) (first seen at \(row.file):\(row.line)); add a row for it, or a *SUFFIX default, to instruments.csv")
            }
            index[key] = keys.count
            keys.append(key)
            return keys.count - 1
        }

        for (fileIndex, file) in files.enumerated() {
            progress(ImportProgress(phase: .reading(file: file.name, index: fileIndex + 1, count: files.count), done: fileIndex, total: files.count))
            let bytes = try CSVFile.load(file.path, displayName: file.name)
            var rows = 0
            var lastTime: [String: (time: Timestamp, line: Int)] = [:]
            func increasing(_ symbol: String, _ t: Timestamp, _ row: CSVRow) throws {
                if let prev = lastTime[symbol], t <= prev.time {
                    throw row.error("time \(t.ms) (\(t.iso8601)) is not after line \(prev.line)'s \(prev.time.ms); rows must be in strictly increasing time order")
                }
                lastTime[symbol] = (t, row.line)
            }
            try CSVFile.forEachRow(in: bytes, file: file.name, header: { row in
                let names = CSVFile.names(row)
                guard names == file.format.header else {
                    throw row.error("expected the \(file.format) columns \(file.format.header.joined(separator: ",")), found \(names.joined(separator: ","))")
                }
            }, body: { row in
                rows += 1
                switch file.format {
                case .binanceSpotKlines, .binancePerpKlines:
                    let bar = try parseBar(row, file, notes: &notes)
                    let inst = try instrument(InstrumentKey(venue: file.venue, kind: file.kind, symbol: file.symbol!), row)
                    var b = bar
                    b.instrumentId = InstrumentId(UInt32(inst))
                    try increasing("", b.openTime, row)
                    bars[.bars(b.instrumentId, intervalSeconds: b.intervalSeconds), default: []].append(BarRow(bar: b, file: fileIndex, line: row.line))
                case .binanceFunding, .bybitFunding:
                    let symbol = file.symbol!
                    guard row.text(0) == symbol else {
                        throw row.error("symbol '\(row.text(0))' in a file of \(symbol)")
                    }
                    let time = try row.epochMs(1, file.format == .binanceFunding ? "fundingTime" : "fundingRateTimestamp")
                    let rate = try fundingRate(row, 2)
                    let mark = file.format == .binanceFunding ? try positive(row, 3, "markPrice", optional: true) : nil
                    let readable = file.format == .binanceFunding ? 4 : 3
                    guard let stated = Timestamp(iso8601: row.text(readable)), stated == time else {
                        throw row.error("datetimeUtc '\(row.text(readable))' disagrees with the timestamp \(time.ms) (\(time.iso8601)); the file's clock is off")
                    }
                    if let prev = lastTime[symbol], time.msSince(prev.time) < 8 * Millis.hour - Millis.minute {
                        throw row.error("settlement \(time.iso8601) is only \(time.msSince(prev.time) / Millis.minute) min after line \(prev.line)'s; this file has no intervalHours column and is read as 8-hourly")
                    }
                    try increasing(symbol, time, row)
                    let inst = try instrument(InstrumentKey(venue: file.venue, kind: file.kind, symbol: symbol), row)
                    funding[.funding(InstrumentId(UInt32(inst))), default: []].append(FundingRow(instrument: inst, time: time, rate: rate, mark: mark, minutes: 480, file: fileIndex, line: row.line))
                case .binanceAllSymbolsFunding, .bybitAllSymbolsFunding:
                    let symbol = row.text(0)
                    guard InstrumentKey.isSymbol(symbol) else {
                        throw row.error("symbol '\(symbol)' is not a venue symbol (upper-case letters and digits)")
                    }
                    let time = try row.epochMs(1, file.format == .binanceAllSymbolsFunding ? "fundingTime" : "fundingRateTimestamp")
                    let rate = try fundingRate(row, 2)
                    let mark = file.format == .binanceAllSymbolsFunding ? try positive(row, 3, "markPrice", optional: true) : nil
                    let hoursColumn = file.format == .binanceAllSymbolsFunding ? 4 : 3
                    var minutes: UInt32? = nil
                    if !row.isEmpty(hoursColumn) {
                        let hours = try row.int64(hoursColumn, "intervalHours")
                        guard (1...24).contains(hours) else { throw row.error("intervalHours \(hours) is not between 1 and 24") }
                        minutes = UInt32(hours * 60)
                    }
                    try increasing(symbol, time, row)
                    let inst = try instrument(InstrumentKey(venue: file.venue, kind: file.kind, symbol: symbol), row)
                    funding[.funding(InstrumentId(UInt32(inst))), default: []].append(FundingRow(instrument: inst, time: time, rate: rate, mark: mark, minutes: minutes, file: fileIndex, line: row.line))
                }
            })
            fileRows.append((file.name, rows))
            logger.debug("read", metadata: ["file": "\(file.name)", "rows": "\(rows)"])
        }

        // Blank intervals: the schedule of the next settlement of the same symbol in the same
        // file (the one the venue switched to), else the previous one.
        var duplicates = 0
        let streamKeys = Array(Set(bars.keys).union(funding.keys)).sorted()
        for key in streamKeys {
            guard case .funding = key, var rows = funding[key] else { continue }
            for i in rows.indices where rows[i].minutes == nil {
                let sameFile = { (j: Int) in rows[j].file == rows[i].file && rows[j].minutes != nil }
                let next = rows[(i + 1)...].indices.first(where: sameFile)
                let prev = rows[..<i].indices.last(where: sameFile)
                guard let source = next ?? prev, let m = rows[source].minutes else {
                    throw ImportError(.malformed, file: files[rows[i].file].name, line: rows[i].line,
                                      "intervalHours is blank and \(keys[rows[i].instrument].symbol) has no other settlement in this file to take it from")
                }
                rows[i].minutes = m
                notes.append("\(files[rows[i].file].name):\(rows[i].line): \(keys[rows[i].instrument].symbol) intervalHours is blank; read as \(m / 60) h (the \(next != nil ? "next" : "previous") settlement's)")
            }
            // Merge the files of this stream by time and keep one of each settlement.
            funding[key] = try keptOnce(rows, duplicates: &duplicates) { r, last in
                last.rate == r.rate && last.mark == r.mark && last.minutes == r.minutes ? nil
                    : ImportError(.conflict, file: files[r.file].name, line: r.line,
                                  "\(keys[r.instrument]) settlement \(r.time.iso8601) says rate \(r.rate), mark \(r.mark?.description ?? "-"), \((r.minutes ?? 0) / 60) h, but \(files[last.file].name):\(last.line) says rate \(last.rate), mark \(last.mark?.description ?? "-"), \((last.minutes ?? 0) / 60) h")
            }
        }
        for key in streamKeys {
            guard case .bars = key, let rows = bars[key] else { continue }
            bars[key] = try keptOnce(rows, duplicates: &duplicates) { r, last in
                last.bar == r.bar ? nil
                    : ImportError(.conflict, file: files[r.file].name, line: r.line,
                                  "\(keys[key.instrument.index]) bar \(r.bar.openTime.iso8601) differs from \(files[last.file].name):\(last.line)")
            }
        }

        // Definitions: rules from the table, the funding interval of the first settlement.
        var instruments: [InstrumentDefined] = []
        for (i, key) in keys.enumerated() {
            let rules = table.rules(for: key)!
            let minutes = funding[.funding(InstrumentId(UInt32(i)))]?.first?.minutes ?? 0
            var d = rules.definition(key, fundingIntervalMinutes: minutes)
            d.id = InstrumentId(UInt32(i))
            instruments.append(d)
        }

        // Journal order: event time, then stream order, then file and line.
        struct Ordered {
            var time: Int64
            var stream: Int
            var file: Int
            var line: Int
            var record: MarketRecord
        }
        var ordered: [Ordered] = []
        ordered.reserveCapacity(bars.values.reduce(0) { $0 + $1.count } + funding.values.reduce(0) { $0 + $1.count })
        for (rank, key) in streamKeys.enumerated() {
            switch key {
            case .bars:
                for r in bars[key] ?? [] {
                    ordered.append(Ordered(time: r.bar.closeTime.ms, stream: rank, file: r.file, line: r.line, record: .bar(r.bar)))
                }
            case .funding(let inst):
                for r in funding[key] ?? [] {
                    let f = FundingSettled(instrumentId: inst, ratePerInterval: r.rate, intervalMinutes: r.minutes!, markPrice: r.mark)
                    ordered.append(Ordered(time: r.time.ms, stream: rank, file: r.file, line: r.line, record: .funding(settlementTime: r.time, f)))
                }
            }
        }
        ordered.sort { ($0.time, $0.stream, $0.file, $0.line) < ($1.time, $1.stream, $1.file, $1.line) }
        progress(ImportProgress(phase: .reading(file: "", index: files.count, count: files.count), done: files.count, total: files.count))
        return ParsedMarketData(instruments: instruments, records: ordered.map(\.record), fileRows: fileRows,
                                duplicatesAcrossFiles: duplicates, notes: notes,
                                firstTime: ordered.first.map { Timestamp(ms: $0.time) } ?? Timestamp(ms: 0))
    }

    func parseBar(_ row: CSVRow, _ file: MarketSourceFile, notes: inout [String]) throws -> BarClosed {
        let interval = file.intervalSeconds!
        let intervalMs = Int64(interval) * 1000
        let spot = file.format == .binanceSpotKlines
        let open = try row.epochMs(0, "open_time")
        let closeTime = try row.epochMs(spot ? 6 : 8, "close_time")
        guard open.ms % intervalMs == 0 || intervalMs > Millis.day else {
            throw row.error("open_time \(open.ms) (\(open.iso8601)) is not on a \(MarketStream.intervalName(interval)) boundary")
        }
        // Binance's close_time is open + interval − 1 ms. A bar cut short by a trading halt
        // (spot, 2023-03-24 12:39:41) reports the halt instead: accepted, and noted. Later
        // than the interval means the file is not of this interval.
        guard closeTime.ms <= open.ms + intervalMs - 1 && closeTime > open else {
            throw row.error("close_time \(closeTime.ms) is not within open_time + \(MarketStream.intervalName(interval)) − 1 ms; is this really a \(MarketStream.intervalName(interval)) file?")
        }
        if closeTime.ms != open.ms + intervalMs - 1 {
            notes.append("\(row.file):\(row.line): \(file.symbol ?? "") \(MarketStream.intervalName(interval)) bar \(open.iso8601) was closed early by the venue at \(Timestamp(ms: closeTime.ms + 1).iso8601) (a trading halt); journaled as the \(MarketStream.intervalName(interval)) bar it is, at its regular close")
        }
        let o = try positive(row, 1, "open")!
        let h = try positive(row, 2, "high")!
        let l = try positive(row, 3, "low")!
        let c = try positive(row, 4, "close")!
        guard h >= Fixed.max(o, c), h >= l, l <= Fixed.min(o, c) else {
            throw row.error("OHLC outside its envelope: open \(o), high \(h), low \(l), close \(c) (need high ≥ open, close, low and low ≤ open, close)")
        }
        let volume = try nonNegative(row, 5, "volume")
        let quote = try nonNegative(row, spot ? 7 : 6, "quote_volume")
        let trades = try row.int64(spot ? 8 : 7, "trades")
        var takerBase: Fixed? = nil
        var takerQuote: Fixed? = nil
        if spot {
            takerBase = try nonNegative(row, 9, "taker_buy_base_volume")
            takerQuote = try nonNegative(row, 10, "taker_buy_quote_volume")
        }
        return BarClosed(instrumentId: InstrumentId(0), intervalSeconds: interval, openTime: open, open: o, high: h, low: l, close: c,
                         volumeBase: volume, volumeQuote: quote, takerBuyVolumeBase: takerBase, takerBuyVolumeQuote: takerQuote,
                         tradeCount: UInt64(trades))
    }

    func positive(_ row: CSVRow, _ i: Int, _ name: String, optional: Bool = false) throws -> Fixed? {
        if optional && row.isEmpty(i) { return nil }
        let v = try row.fixed(i, name)
        guard v.isPositive else { throw row.error("\(name) \(v) must be positive") }
        return v
    }

    func nonNegative(_ row: CSVRow, _ i: Int, _ name: String) throws -> Fixed {
        let v = try row.fixed(i, name)
        guard !v.isNegative else { throw row.error("\(name) \(v) must not be negative") }
        return v
    }

    func fundingRate(_ row: CSVRow, _ i: Int) throws -> Fixed {
        let v = try row.fixed(i, "fundingRate")
        guard v.magnitude < Fixed(1) else {
            throw row.error("fundingRate \(v) is 100 % or more per interval; rates are decimal fractions (0.0001 = 1 bp), not percents")
        }
        return v
    }

    // MARK: Phase 2: write

    /// Journals `parsed` into `market`: definitions first, then the records the journal does
    /// not hold yet.
    public func write(_ parsed: ParsedMarketData, into market: MarketJournal, progress: (ImportProgress) -> Void = { _ in }) throws -> ImportSummary {
        let ids = try market.define(parsed.instruments, at: parsed.firstTime)
        var outcome = MarketAppendOutcome()
        var start = 0
        let total = parsed.records.count
        progress(ImportProgress(phase: .writing, done: 0, total: total))
        while start < total {
            let end = min(start + chunkSize, total)
            var chunk = Array(parsed.records[start..<end])
            for i in chunk.indices {
                switch chunk[i] {
                case .bar(var b):
                    b.instrumentId = ids[b.instrumentId.index]
                    chunk[i] = .bar(b)
                case .funding(let t, var f):
                    f.instrumentId = ids[f.instrumentId.index]
                    chunk[i] = .funding(settlementTime: t, f)
                }
            }
            let o = try market.append(chunk)
            outcome.appended += o.appended
            outcome.alreadyPresent += o.alreadyPresent
            outcome.intervalChanges += o.intervalChanges
            start = end
            progress(ImportProgress(phase: .writing, done: end, total: total))
        }
        logger.info("imported", metadata: ["appended": "\(outcome.appended)", "alreadyPresent": "\(outcome.alreadyPresent)",
                                           "definitions": "\(ids.journaled)", "intervalChanges": "\(outcome.intervalChanges)"])
        return ImportSummary(files: parsed.fileRows, instruments: parsed.instruments.count, definitionsJournaled: ids.journaled,
                             records: parsed.records.count, duplicatesAcrossFiles: parsed.duplicatesAcrossFiles,
                             notes: parsed.notes, appended: outcome.appended, alreadyPresent: outcome.alreadyPresent,
                             intervalChanges: outcome.intervalChanges)
    }
}
