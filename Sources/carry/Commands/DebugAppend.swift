// `carry debug-append`: a deterministic, endless durable appender for crash tests. It prints
// the last acknowledged seq after every commit, so a test can kill -9 it at any moment and
// then prove that nothing acknowledged was lost. Hidden from --help.

import ArgumentParser
import CarryCore
import CarryJournal
import CarryEngine
import Foundation

struct DebugAppendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "debug-append",
        abstract: "Append deterministic synthetic events forever, printing each acknowledged seq (crash tests).",
        shouldDisplay: false)

    @Option(name: .customLong("journal"), help: "The journal directory (created when missing).")
    var journal: String

    @Option(help: "Events per durable commit.")
    var batch: Int = 100

    @Option(help: "Stop after this many events (0 = never).")
    var limit: Int = 0

    @Option(name: .customLong("map-kib"), help: "Initial map size in KiB (small values exercise map growth).")
    var mapKiB: Int = 256 * 1024

    func run() throws {
        try reportingErrors {
            let j = try Journal.openOrCreate(journal, create: JournalCreateOptions(purpose: .synthetic),
                                             options: JournalOpenOptions(initialMapSizeBytes: mapKiB << 10))
            let w = try j.makeWriter()
            var next = w.nextSeq
            while limit == 0 || Int(next) <= limit {
                let drafts = (0..<batch).map { i in DebugAppendCommand.event(for: next + UInt64(i)) }
                let seqs = try w.append(drafts)
                print("ack \(seqs.upperBound)")
                fflush(nil)
                next = seqs.upperBound + 1
            }
            try w.close()
        }
    }

    /// The event for a seq: derived from the seq alone, so a checker can recompute it.
    static func event(for seq: UInt64) -> EventDraft {
        let p = SyntheticWorkload.crashTestDraft(seq: seq)
        return EventDraft(p.event, eventTime: p.time, recordTime: p.time, causation: p.causation)
    }
}
