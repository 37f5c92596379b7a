// `carry import`: the bundled history (data/) into the market journal.

import ArgumentParser
import CarryCore
import CarryEngine
import CarryJournal
import Foundation

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import the bundled market history (data/) into the market journal.",
        discussion: """
        Reads every CSV of the data directory (see data/SOURCES.md for each file's provenance):
        Binance spot and USDⓈ-M perpetual klines, Binance and Bybit funding, and the one-year
        all-symbols funding files; the trading rules come from data/instruments.csv.

        Every file is parsed and validated before anything is written: a malformed line stops
        the import with file:line and the reason, and the journal is left as it was. Then the
        instrument definitions are journaled, followed by every bar (stamped at its close) and
        every funding settlement (at its settlement time, with the interval in force), in time
        order. Records the journal already holds are skipped, so importing twice adds nothing
        and an interrupted import completes when run again.

        Prints per stream: count, first and last event time, and the gaps (reported, never
        filled). `carry gaps` prints that report again without importing.

        Exit status: 0 imported (or nothing new), 1 the journal could not be written,
        2 bad input (missing or malformed data, not a journal).
        """)

    @OptionGroup var config: ConfigOptions
    @OptionGroup var journalOptions: JournalOptions

    @Option(name: .customLong("data"), help: ArgumentHelp("The data directory (default: data, the bundled history in the repository).", valueName: "DIR"))
    var dataDirectory = "data"

    @Flag(help: "Print only the streams that have gaps.")
    var gapsOnly = false

    @Flag(help: "Validate the data directory and print what would be imported; write nothing.")
    var dryRun = false

    func run() throws {
        try reportingErrors {
            let logger = CLILogging.logger("carry.import")
            let progress = ProgressLine("import", logger: logger)
            defer { progress.finish() }
            let importer = MarketImporter(logger: logger)
            let parsed: ParsedMarketData
            do {
                let dataSet = try BundledDataSet.discover(dataDirectory)
                parsed = try importer.read(dataSet) { p in
                    if case .reading(let file, let index, let count) = p.phase {
                        progress.update("reading \(file)", done: index, total: count, unit: "files")
                    }
                }
            } catch let e as ImportError {
                throw CLIError.badInput(e.description + (e.code == .malformed || e.code == .conflict ? " (nothing was imported)" : ""))
            }
            if dryRun {
                progress.finish()
                print("valid: \(parsed.fileRows.count) files, \(parsed.instruments.count) instruments, \(parsed.records.count) records (\(parsed.duplicatesAcrossFiles) repeated across files); nothing written")
                for note in parsed.notes { print("note: \(note)") }
                return
            }
            let path = try journalOptions.resolve(config)
            let market = try MarketJournal(path: path, purpose: .importer, recordClock: { Timestamp(ms: wallClockMs()) })
            let summary = try importer.write(parsed, into: market) { p in
                progress.update("writing \(path)", done: p.done, total: p.total, unit: "records")
            }
            try market.close()
            let elapsed = progress.elapsedSeconds
            progress.finish()
            print("imported \(summary.appended) records and \(summary.definitionsJournaled) instrument definitions into \(path) in \(String(format: "%.1f", elapsed)) s"
                  + " (\(summary.alreadyPresent) already present, \(summary.intervalChanges) funding interval changes)")
            print("read \(summary.files.count) files: \(summary.instruments) instruments, \(summary.records) distinct records (\(summary.duplicatesAcrossFiles) repeated across files, kept once)")
            for note in summary.notes { print("note: \(note)") }
            print("")
            print(MarketReportText.render(try market.streamReports(), gapsOnly: gapsOnly), terminator: "")
        }
    }
}
