// Shared benchmark plumbing: timing, the C LMDB baseline, allocation counts, output, the
// bar workload the append benches write and the scan+decode baseline.

import CMallocCounter
import CarryCore
import CarryEngine
import CarryJournal
import CarryTesting
import Foundation

/// Monotonic seconds.
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Allocations counted by CMallocCounter so far.
func allocations() -> UInt64 { carry_malloc_count() }

/// A memory figure of a process (this one by default) from /proc/PID/status, in MiB: `VmHWM`
/// (peak resident set), `VmRSS` (resident now), `RssAnon` (resident heap, without mapped
/// files); 0 when the process is gone.
func procStatusMiB(_ field: String, pid: String = "self") -> Double {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
        return (line.split(separator: " ").compactMap { Double($0) }.first ?? 0) / 1024
    }
    return 0
}

/// Formats events per second.
func rate(_ v: Double) -> String {
    if v >= 1e6 { return String(format: "%.2fM ev/s", v / 1e6) }
    if v >= 1e3 { return String(format: "%.1fk ev/s", v / 1e3) }
    return String(format: "%.0f ev/s", v)
}

/// The raw LMDB ceiling from ../shared/tools/lmdb-baseline, compiled and run in this
/// invocation so that ratios compare like with like on this machine, now.
struct CBaseline {
    let binary: String
    let scratch: ScratchDirectory

    /// Compiles the baseline with `cc -O2`.
    init(source: String?) throws {
        let src = source ?? (Fixtures.sharedData as NSString).deletingLastPathComponent + "/tools/lmdb-baseline/lmdb_baseline.c"
        guard FileManager.default.fileExists(atPath: src) else {
            throw BenchError("the C baseline source is not at \(src); pass --baseline-source PATH")
        }
        scratch = ScratchDirectory("bench-cbase")
        binary = scratch.sub("lmdb_baseline")
        let r = try runProcess("/usr/bin/cc", ["-O2", "-o", binary, src, "-llmdb"])
        guard r.status == 0 else { throw BenchError("compiling the C baseline failed: \(r.stderr)") }
    }

    /// Appends `events` records of `payload` bytes, `batch` per durable commit, then scans.
    func run(events: Int, payload: Int, batch: Int) throws -> (append: Double, scan: Double) {
        let dir = scratch.sub("db-\(events)-\(batch)")
        try? FileManager.default.removeItem(atPath: dir)
        let r = try runProcess(binary, [dir, String(events), String(payload), String(batch)], timeoutSeconds: 600)
        try? FileManager.default.removeItem(atPath: dir)
        guard r.status == 0 else { throw BenchError("the C baseline failed: \(r.stderr)") }
        func figure(_ phase: String) -> Double {
            for line in r.stdout.split(separator: "\n") where line.hasPrefix(phase) {
                let parts = line.split(separator: " ")
                if let i = parts.firstIndex(of: "ev/s"), i > 0, let v = Double(parts[i - 1]) { return v }
            }
            return 0
        }
        return (figure("append"), figure("scan"))
    }
}

/// A benchmark setup failure.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Left-aligns `s` in `width` columns.
func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
}

/// The append workload of the journal and verify benches: `total` bar.closed events from
/// `EventGenerator(seed: 42)`, instruments 0–19 in turn, one second apart, in batches of
/// `perCommit`. Made one batch at a time, so a large journal can be written without holding
/// every event in memory.
struct BarBatches: Sequence, IteratorProtocol {
    let total: Int
    let perCommit: Int
    private var gen = EventGenerator(seed: 42)
    private var i = 0
    private let base = Timestamp(ms: 1_700_000_000_000)

    init(total: Int, perCommit: Int) {
        self.total = total
        self.perCommit = perCommit
    }

    mutating func next() -> [EventDraft]? {
        guard i < total else { return nil }
        let n = Swift.min(perCommit, total - i)
        let batch = (0..<n).map { k in
            let t = base.adding(ms: Int64(i + k) * 1000)
            return EventDraft(.barClosed(gen.bar(instrument: InstrumentId(UInt32((i + k) % 20)), openTime: t)), eventTime: t, recordTime: t)
        }
        i += n
        return batch
    }
}

/// Pipelined append: enqueues every batch (the next while the previous commits), then waits
/// for each batch's own durable commit.
func appendPipelined<S: Sequence>(_ batches: S, to writer: JournalWriter) throws where S.Element == [EventDraft] {
    var tickets: [CommitTicket] = []
    tickets.reserveCapacity(batches.underestimatedCount)
    for b in batches { tickets.append(try writer.enqueue(b)) }
    for t in tickets { try t.wait() }
}

/// One pass of scan + decode over every record of `journal`, in one snapshot.
struct ScanPass {
    var events = 0
    var seconds = 0.0
    var allocations: UInt64 = 0
    /// Sums the bars' close mantissas, so the decode cannot be optimised away.
    var checksum: Int64 = 0

    var rate: Double { Double(events) / seconds }
}

/// Scans and decodes every record once; the figure of the raw-read baselines.
func scanAndDecode(_ journal: Journal) throws -> ScanPass {
    var pass = ScanPass()
    let a0 = allocations()
    let start = now()
    try journal.withSnapshot { snap in
        try snap.scan { view in
            if case .barClosed(let bar) = try view.decode() {
                pass.checksum &+= bar.close.mantissa
            }
            pass.events += 1
            return true
        }
    }
    pass.seconds = now() - start
    pass.allocations = allocations() - a0
    return pass
}
