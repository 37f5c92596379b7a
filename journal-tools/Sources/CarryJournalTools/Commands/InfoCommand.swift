// `carry-journal info DIR`: what a journal is and what it holds, from one header scan.
//
// Counts and the time range come from the record headers only (no payload is decoded), so
// info on a multi-million-event journal costs one sequential read of the file.

import CarryCore
import CarryJournal

/// Prints a journal's identity, ranges, counts per kind and storage use.
public struct InfoCommand {
    /// The journal directory.
    public var path: String

    /// Info about `path`.
    public init(path: String) { self.path = path }

    /// Prints the summary.
    public func run(_ io: ToolIO) throws -> ExitStatus {
        let tj = try ToolJournal.open(path)
        try tj.noteWriter(io)
        let meta = tj.meta
        var counts = [Int](repeating: 0, count: Int(UInt16.max) + 1)
        var first: UInt64 = 0, last: UInt64 = 0
        var minTime = Timestamp(ms: Int64.max), maxTime = Timestamp(ms: Int64.min)
        var disorder: UInt64 = 0
        var head: (lastSeq: UInt64, digest: Digest)? = nil
        try tj.read { snap in
            disorder = try snap.disorderFromSeq()
            head = try snap.chainHead()
            try snap.scan { view in
                let h = view.header
                if first == 0 { first = h.seq }
                last = h.seq
                counts[Int(h.kindCode)] += 1
                if h.eventTime < minTime { minTime = h.eventTime }
                if h.eventTime > maxTime { maxTime = h.eventTime }
                return true
            }
        }
        let usage = tj.journal.storageUsage()
        let run = try tj.run()
        var lines: [String] = []
        lines.append("journal      \(path)")
        lines.append("id           \(meta.journalId)")
        lines.append("purpose      \(meta.purpose)")
        lines.append("schema       v\(meta.schemaVersion) (this tool reads up to v\(JournalSchema.current)), written by Carry \(meta.writerVersion)")
        lines.append("created      \(Text.time(meta.createdAt))")
        switch tj.writer {
        case .none: lines.append("writer       none (sealed)")
        case .active(let pid): lines.append("writer       pid \(pid) is appending: figures are a snapshot")
        case .unknown: lines.append("writer       unknown (no /proc/locks)")
        }
        let total = counts.reduce(0, +)
        if total == 0 {
            lines.append("events       none")
        } else {
            lines.append("events       \(total) (seqs \(first)–\(last))")
            lines.append("event time   \(Text.time(minTime)) – \(Text.time(maxTime))")
            lines.append("time order   " + (disorder == 0 ? "seq order is time order" : "goes backwards at seq \(disorder); later records are time-indexed"))
        }
        if let head { lines.append("chain head   seq \(head.lastSeq)  \(head.digest)") }
        if let run {
            let s = run.started
            lines.append("run          \(s.mode) (run.started at seq \(run.seq)), source journal \(s.sourceJournal) seqs \(s.sourceFirstSeq)–\(s.sourceLastSeq), seed \(s.seed)")
        }
        lines.append("disk         \(Text.bytes(usage.fileBytes)) data.mdb; \(Text.bytes(Int64(usage.usedBytes))) used of a \(Text.bytes(Int64(usage.mapBytes))) map (\(Text.percent(Int64(usage.usedBytes), of: Int64(usage.mapBytes))))")
        if total > 0 {
            lines.append("")
            lines.append("KIND                COUNT")
            for kind in EventKind.allCases where counts[Int(kind.rawValue)] > 0 {
                lines.append(Text.pad(kind.name, 18) + "  " + Text.padLeft(String(counts[Int(kind.rawValue)]), 5))
            }
            let known = Set(EventKind.allCases.map { Int($0.rawValue) })
            for (code, n) in counts.enumerated() where n > 0 && !known.contains(code) {
                lines.append(Text.pad("unknown(\(code))", 18) + "  " + Text.padLeft(String(n), 5))
            }
        }
        for l in lines { try io.out.line(l) }
        return .success
    }
}
