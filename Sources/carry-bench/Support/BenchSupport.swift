// Shared benchmark plumbing: timing, the C LMDB baseline, allocation counts, output.

import CMallocCounter
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

/// A memory figure of this process from /proc/self/status, in MiB: `VmHWM` (peak resident
/// set), `VmRSS` (resident now), `RssAnon` (resident heap, without mapped files).
func procStatusMiB(_ field: String) -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
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
