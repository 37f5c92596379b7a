// `carry gaps`: the per-stream report of a market journal, read-only.

import ArgumentParser
import CarryEngine
import CarryJournal

struct GapsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gaps",
        abstract: "Print each stream of a market journal: count, first/last time and its gaps.",
        discussion: """
        A stream is one instrument's bars of one interval, or one perpetual's funding. A gap is
        a spacing of more than 1.5× the stream's cadence (the bar interval, or the funding
        interval in force at that settlement); it is reported with the number of records the
        cadence expected, never filled. Opens the journal read-only: safe while import or
        fetch is writing it.
        """)

    @OptionGroup var config: ConfigOptions
    @OptionGroup var journalOptions: JournalOptions

    @Flag(help: "Print only the streams that have gaps.")
    var gapsOnly = false

    func run() throws {
        try reportingErrors {
            let path = try journalOptions.resolve(config)
            let market = try MarketJournal(readOnlyPath: path)
            print(MarketReportText.render(try market.streamReports(), gapsOnly: gapsOnly), terminator: "")
        }
    }
}
