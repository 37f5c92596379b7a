// `carry-journal verify DIR`: is the record intact?
//
// Exit 0 intact; 1 corruption found (the first bad seq and why); 2 cannot open (not a
// journal, a newer schema, a journal a writer is appending to without --live). The checks
// themselves are CarryJournal's `JournalVerifier`; this command decides what may be checked,
// warms the page cache for a cold file, and prints the verdict.

import CarryCore
public import CarryJournal

#if canImport(Glibc)
import Glibc
#endif

/// Verifies a journal.
public struct VerifyCommand {
    /// The journal directory.
    public var path: String
    /// Check the snapshot a live writer has committed so far instead of refusing.
    public var live = false
    /// Where to record progress for a supervising process (see `Supervisor`).
    public var trace: UnsafeMutablePointer<VerifyTrace>?

    /// A verification of `path`.
    public init(path: String, live: Bool = false, trace: UnsafeMutablePointer<VerifyTrace>? = nil) {
        self.path = path
        self.live = live
        self.trace = trace
    }

    /// Verifies and prints the verdict; returns 0 intact, 1 corrupt.
    public func run(_ io: ToolIO) throws -> ExitStatus {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw ToolError.badInput("\(path): no such directory. Pass the directory of a Carry journal.")
        }
        guard Journal.exists(at: path) else {
            throw ToolError.badInput("\(path): not a Carry journal (no data.mdb in this directory). Pass the directory of a journal, e.g. journals/market.")
        }
        let writer = Journal.writerActivity(path: path)
        if case .active(let pid) = writer {
            guard live else {
                throw ToolError.badInput("\(path): a writer (pid \(pid)) is appending to this journal, and verify checks a sealed journal. Stop the writer and run verify again, or pass --live to check the snapshot committed so far.")
            }
            try io.notice("note: a writer (pid \(pid)) is appending; checking the snapshot committed so far (LMDB meta-page checks skipped).")
        }
        Self.prefetch(path + "/data.mdb")
        let report = JournalVerifier.verify(path: path, options: VerifyOptions(live: live, trace: trace))
        if let error = report.openError { throw ToolError.from(error) }
        for line in Self.render(report, live: live) { try io.out.line(line) }
        return report.isClean ? .success : .failed
    }

    /// Asks the kernel to read the whole file ahead: the verifier walks it nearly in file
    /// order, and on a cold cache a page fault per 4 KiB page would otherwise set the pace.
    public static func prefetch(_ file: String) {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED)
    }

    /// The verdict as text.
    public static func render(_ r: VerifyReport, live: Bool) -> [String] {
        var lines: [String] = []
        if r.isClean {
            lines.append("verify \(r.path): intact" + (live ? " (live snapshot)" : ""))
        } else {
            let first = r.problems.first.map(\.description) ?? "unknown problem"
            lines.append("verify \(r.path): CORRUPT — \(first)")
            if let bad = r.problems.first(where: { $0.seq != nil })?.seq {
                lines.append("  first bad seq  \(bad)")
            } else {
                lines.append("  first bad seq  none identified: the damage is outside the event records")
            }
            lines.append("  problems       \(r.problems.count + r.problemsNotListed)")
            for p in r.problems { lines.append("    \(p)") }
            if r.problemsNotListed > 0 { lines.append("    … and \(r.problemsNotListed) more") }
        }
        if let m = r.meta {
            lines.append("  journal        \(m.journalId)  schema v\(m.schemaVersion)  \(m.purpose)  created \(Text.time(m.createdAt))")
        }
        if r.events > 0 || r.isClean {
            let span = r.events == 0 ? "none" : "1–\(r.lastSeq)"
            lines.append("  records        \(r.events) (seqs \(span))" + (r.isClean ? ": contiguous, every CRC-32C and payload checks out" : " read"))
            lines.append("  hash chain     \(r.batches) batches" + (r.isClean ? (r.chainHead.map { ", head \($0)" } ?? "") : ""))
            lines.append("  time index     \(r.indexedEvents) out-of-order records indexed")
        }
        if r.isClean {
            lines.append(live ? "  lmdb           meta pages not checked (a writer is live)" : "  lmdb           both meta pages consistent, file complete, map size as recorded")
        }
        return lines
    }
}
