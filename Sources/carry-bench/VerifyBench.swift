// carry-bench verify: `carry-journal verify` throughput on a cold multi-million-event
// journal, beside a raw scan of the same file measured in the same invocation.
//
// What "cold" means here: the journal is written, closed and fsynced by this process; then,
// before each measurement, its pages are evicted from the page cache (fsync, then
// posix_fadvise(POSIX_FADV_DONTNEED) on data.mdb, which drops clean cached pages without
// root; /proc/sys/vm/drop_caches is not writable in these containers), and the measurement
// runs in a new process that opens the journal afresh. The figure reports how much of the
// file was still resident after eviction (mincore), so a failed eviction is visible.
//
// Raw scan: an LMDB cursor walk over every record touching each record's first byte: no
// CRC, no decode, no hash (`JournalSnapshot.rawScan`). Both get the same read-ahead advice
// the tool gives (`VerifyCommand.prefetch`). Verify is the tool's own `VerifyCommand`
// (everything but the supervising parent process): meta pages, meta checksums, every CRC,
// every payload decoded, the SHA-256 chain recomputed, the time index.

import ArgumentParser
import CarryCore
import CarryJournal
import CarryJournalTools
import CarryTesting
import Foundation

struct VerifyBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "carry-journal verify on a cold multi-million-event journal vs a raw LMDB scan of the same file (target ≥ 5M ev/s).")

    @Option(help: "Events in the journal.")
    var events = 5_000_000

    @Option(help: "Repetitions of each measurement; the best is reported.")
    var repeats = 3

    @Option(help: "Measure this journal; when it does not exist, write it there (and keep it) first.")
    var journal: String?

    @Option(help: .hidden)
    var child: String?

    func run() throws {
        if let child, let journal {
            try measureInThisProcess(child, journal)
            return
        }
        let scratch = ScratchDirectory("bench-verify")
        let path = journal ?? scratch.sub("j")
        if journal == nil || !Journal.exists(at: path) {
            let t0 = now()
            try write(path)
            print(String(format: "wrote %d bar.closed events (10,000 per durable commit) in %.1fs", events, now() - t0))
        }
        let usage = try Journal.open(path).storageUsage()
        print("carry-bench verify — \(ProcessInfo.processInfo.processorCount) cores, best of \(repeats), data.mdb \(usage.fileBytes >> 20) MiB")
        print("cold = pages evicted (fsync + POSIX_FADV_DONTNEED) before each run, then a new process opens the journal")
        print("")
        print(pad("measurement", 28) + pad("carry verify", 16) + pad("raw scan", 16) + pad("ratio", 8) + "resident before (verify/raw)")
        for cold in [true, false] {
            var best = (verify: 0.0, raw: 0.0)
            var resident = (verify: 0.0, raw: 0.0)
            for _ in 0..<repeats {
                for mode in ["raw", "verify"] {
                    let before = cold ? evict(path + "/data.mdb") : residentFraction(path + "/data.mdb")
                    let rate = try measureInChild(mode, path)
                    if mode == "raw", rate > best.raw { best.raw = rate; resident.raw = before }
                    if mode == "verify", rate > best.verify { best.verify = rate; resident.verify = before }
                }
            }
            print(pad(cold ? "cold, new process" : "warm, new process", 28) + pad(rate(best.verify), 16) + pad(rate(best.raw), 16)
                  + pad(String(format: "%.2fx", best.verify / best.raw), 8) + String(format: "%.0f%% / %.0f%%", resident.verify * 100, resident.raw * 100))
        }
        print("")
        print("target: verify ≥ 5M ev/s cold")
    }

    /// Writes `events` bars, 10,000 per commit, and closes the journal.
    func write(_ path: String) throws {
        let journal = try Journal.openOrCreate(path, create: JournalCreateOptions(purpose: .synthetic),
                                               options: JournalOpenOptions(initialMapSizeBytes: 4 << 30))
        let writer = try journal.makeWriter(options: JournalWriterOptions(maxBatchEvents: 10_000))
        try appendPipelined(BarBatches(total: events, perCommit: 10_000), to: writer)
        try writer.close()
    }

    /// Runs this executable in `--child` mode and reads its events/s.
    func measureInChild(_ mode: String, _ path: String) throws -> Double {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let r = try runProcess(exe, ["verify", "--child", mode, "--journal", path], timeoutSeconds: 600)
        guard r.status == 0, let v = Double(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw BenchError("the \(mode) measurement failed (status \(r.status)): \(r.stdout)\(r.stderr)")
        }
        return v
    }

    /// The measurement itself, in a fresh process: prints events/s.
    func measureInThisProcess(_ mode: String, _ path: String) throws {
        // Verify's event count, taken before the clock starts (the raw scan counts as it goes).
        var count = mode == "raw" ? 0 : try Journal.open(path).withSnapshot { $0.count() }
        let start = now()
        VerifyCommand.prefetch(path + "/data.mdb")
        if mode == "raw" {
            let journal = try Journal.open(path)
            var touched: UInt64 = 0
            try journal.withSnapshot { snap in
                count = try snap.rawScan { key, bytes in touched &+= key &+ UInt64(bytes[0]) }
            }
            precondition(touched != 0)
        } else {
            let out = StringOutput()
            let status = try VerifyCommand(path: path).run(ToolIO(out: out, err: StringOutput()))
            guard status == .success else { throw BenchError("verify did not find the journal intact: \(out.text)") }
        }
        let elapsed = now() - start
        print(Double(count) / elapsed)
    }

    /// Drops the file's pages from the page cache; returns the fraction still resident.
    func evict(_ file: String) -> Double {
        let fd = open(file, O_RDONLY)
        guard fd >= 0 else { return 1 }
        fsync(fd)
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        close(fd)
        return residentFraction(file)
    }

    /// The fraction of `file`'s pages in the page cache (mincore over a read-only mapping).
    func residentFraction(_ file: String) -> Double {
        let fd = open(file, O_RDONLY)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size > 0 else { return 0 }
        let length = Int(st.st_size)
        guard let map = mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else { return 0 }
        defer { munmap(map, length) }
        let pages = (length + 4095) / 4096
        var vec = [UInt8](repeating: 0, count: pages)
        guard mincore(map, length, &vec) == 0 else { return 0 }
        return Double(vec.reduce(0) { $0 + Int($1 & 1) }) / Double(pages)
    }
}
