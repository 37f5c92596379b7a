// carry-bench import: `carry import` of the bundled data set (parse + validate, then journal
// through MarketJournal) beside the journal's own bulk append of the very same events,
// measured in the same run. The ratio is what parsing, validation, dedupe against stream
// extents and the importer's bookkeeping cost over writing the events raw.

import ArgumentParser
import CarryCore
import CarryJournal
import CarryTesting
import Foundation
import Logging

struct ImportBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import throughput of the bundled data set vs the journal's bulk append of the same events.")

    @Option(help: "Repetitions of each measurement; the best is reported.")
    var repeats = 3

    @Option(help: "The data directory (default: the repository's data/).")
    var data: String?

    func run() throws {
        var logger = Logger(label: "carry-bench.import")
        logger.logLevel = .error
        let importer = MarketImporter(logger: logger)
        let dataSet = try BundledDataSet.discover(data ?? Fixtures.bundledData)
        var best = (read: 0.0, write: 0.0, total: 0.0, bulk: 0.0)
        var events = 0
        var records = 0
        for _ in 0..<repeats {
            // carry import, end to end, into a fresh journal.
            sync()
            let dir = ScratchDirectory("bench-import")
            let t0 = now()
            let parsed = try importer.read(dataSet)
            let t1 = now()
            let market = try MarketJournal(path: dir.sub("j"), purpose: .importer, recordClock: { Timestamp(ms: 1_700_000_000_000) })
            let summary = try importer.write(parsed, into: market)
            try market.close()
            let t2 = now()
            events = summary.instruments + summary.appended + summary.intervalChanges
            records = parsed.records.count
            precondition(summary.appended == parsed.records.count, "the fresh journal skipped records")
            let imported = try Journal.open(dir.sub("j"))
            let written = try imported.withSnapshot { $0.count() }
            precondition(written == events, "journal holds \(written) events, expected \(events)")
            best.read = max(best.read, Double(events) / (t1 - t0))
            best.write = max(best.write, Double(events) / (t2 - t1))
            best.total = max(best.total, Double(events) / (t2 - t0))

            // Baseline: the same events, straight through the journal writer, 10,000 per
            // commit, pipelined (the journal's bulk-append configuration).
            sync()
            let drafts = try imported.withSnapshot { snap in
                var out: [EventDraft] = []
                out.reserveCapacity(events)
                _ = try snap.scan { view in
                    out.append(EventDraft(try view.decode(), eventTime: view.header.eventTime, recordTime: view.header.recordTime))
                    return true
                }
                return out
            }
            let raw = ScratchDirectory("bench-import-raw")
            let journal = try Journal.openOrCreate(raw.sub("j"), create: JournalCreateOptions(purpose: .synthetic),
                                                   options: JournalOpenOptions(initialMapSizeBytes: 1 << 30))
            let writer = try journal.makeWriter(options: JournalWriterOptions(maxBatchEvents: 10_000))
            let b0 = now()
            try appendPipelined(stride(from: 0, to: drafts.count, by: 10_000).lazy.map { Array(drafts[$0..<min($0 + 10_000, drafts.count)]) }, to: writer)
            let b1 = now()
            try writer.close()
            best.bulk = max(best.bulk, Double(drafts.count) / (b1 - b0))
        }
        print("carry-bench import — \(ProcessInfo.processInfo.processorCount) cores, best of \(repeats), \(records) records + \(events - records) definitions/interval events from \(dataSet.files.count) files")
        print("")
        print(pad("measurement", 40) + pad("ev/s", 16) + "vs bulk append")
        print(pad("read (parse + validate)", 40) + pad(rate(best.read), 16) + String(format: "%.2fx", best.read / best.bulk))
        print(pad("write (MarketJournal, dedupe, commit)", 40) + pad(rate(best.write), 16) + String(format: "%.2fx", best.write / best.bulk))
        print(pad("carry import, end to end", 40) + pad(rate(best.total), 16) + String(format: "%.2fx", best.total / best.bulk))
        print(pad("journal bulk append, same events", 40) + pad(rate(best.bulk), 16) + "1.00x")
    }
}
