// carry-bench journal: durable append at 1, 100 and 10,000 events per commit, and warm
// scan+decode, each beside the raw C LMDB baseline run in the same invocation.
//
// Pipelined means the producer enqueues batch n+1 while batch n commits — how the importer
// and the backtest write; each batch is still acknowledged only after its own commit.
//
// The payload is a real bar.closed event: 96 bytes, the size the C baseline writes. Carry's
// record adds its 40-byte header and 4-byte CRC (140 bytes) and a SHA-256 hash chain; the C
// baseline writes 96 opaque bytes. The ratio is what all of that costs.

import ArgumentParser
import CarryCore
import CarryJournal
import CarryTesting
import Foundation

struct JournalBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal",
        abstract: "Durable append (1 / 100 / 10,000 per commit) and scan+decode vs the raw C LMDB baseline.")

    @Option(help: "Repetitions of each measurement; the best is reported.")
    var repeats = 3

    @Option(help: "Events for the 10,000-per-commit and scan measurements.")
    var events = 1_000_000

    @Option(help: "Path of lmdb_baseline.c (default: ../shared/tools/lmdb-baseline).")
    var baselineSource: String?

    @Option(help: "Comma-separated events-per-commit values to measure.")
    var perCommit = "1,100,10000"

    func run() throws {
        let baseline = try CBaseline(source: baselineSource)
        print("carry-bench journal — \(ProcessInfo.processInfo.processorCount) cores, best of \(repeats), payload 96 B (record 140 B)")
        print("")
        print(pad("measurement", 34) + pad("carry", 16) + pad("C baseline", 16) + "ratio")
        var tenKScan: (carry: Double, c: Double, allocsPerEvent: Double) = (0, 0, 0)
        let wanted = Set(perCommit.split(separator: ",").compactMap { Int($0) })
        for (perCommit, total) in [(1, 2_000), (100, 100_000), (10_000, events)] where wanted.contains(perCommit) {
            var bestPipelined = 0.0
            var bestWaiting = 0.0
            var bestC = 0.0
            var cScan = 0.0
            for _ in 0..<repeats {
                // Flush earlier runs' writeback first, so no measurement pays for another's.
                sync()
                let c = try baseline.run(events: total, payload: 96, batch: perCommit)
                sync()
                bestC = max(bestC, c.append)
                cScan = max(cScan, c.scan)
                let (pipelined, dir) = try carryAppend(total: total, perCommit: perCommit, pipelined: true)
                bestPipelined = max(bestPipelined, pipelined)
                sync()
                bestWaiting = max(bestWaiting, try carryAppend(total: total, perCommit: perCommit, pipelined: false).0)
                if perCommit == 10_000 {
                    let s = try carryScan(dir.sub("j"), expected: total)
                    if s.rate > tenKScan.carry { tenKScan = (s.rate, cScan, s.allocsPerEvent) }
                }
            }
            print(pad("durable append, \(perCommit)/commit", 34) + pad(rate(bestPipelined), 16) + pad(rate(bestC), 16) + String(format: "%.2fx", bestPipelined / bestC))
            print(pad("  same, waiting for each ack", 34) + pad(rate(bestWaiting), 16) + pad(rate(bestC), 16) + String(format: "%.2fx", bestWaiting / bestC))
        }
        print(pad("scan+decode (warm)", 34) + pad(rate(tenKScan.carry), 16) + pad(rate(tenKScan.c), 16) + String(format: "%.2fx", tenKScan.carry / tenKScan.c))
        print("")
        print(String(format: "allocations per decoded event on the scan path: %.4f", tenKScan.allocsPerEvent))
        print("targets: append at 10,000/commit ≥ 0.60x; scan+decode ≥ 10M ev/s and ≥ 0.25x; 0 allocations per event")
    }

    /// Appends `total` bars, `perCommit` per durable commit; returns events/s. Pipelined:
    /// the producer enqueues the next batch while the previous one commits (every batch is
    /// still acknowledged only after its commit); otherwise it waits for each ack.
    func carryAppend(total: Int, perCommit: Int, pipelined: Bool) throws -> (Double, ScratchDirectory) {
        let dir = ScratchDirectory("bench-journal")
        let journal = try Journal.openOrCreate(dir.sub("j"), create: JournalCreateOptions(purpose: .synthetic),
                                               options: JournalOpenOptions(initialMapSizeBytes: 4 << 30))
        let batches = Array(BarBatches(total: total, perCommit: perCommit))
        let writer = try journal.makeWriter(options: JournalWriterOptions(maxBatchEvents: perCommit))
        let start = now()
        if pipelined {
            try appendPipelined(batches, to: writer)
        } else {
            for b in batches { try writer.append(b) }
        }
        let elapsed = now() - start
        precondition(writer.stats.commits == batches.count, "expected one commit per batch")
        if ProcessInfo.processInfo.environment["CARRY_BENCH_DEBUG"] != nil {
            let st = writer.stats
            print(String(format: "  [debug] %d/commit pipelined=%d: total %.3fs, writer in commit %.3fs (max %.1fms)", perCommit, pipelined ? 1 : 0, elapsed, Double(st.totalCommitMicros) / 1e6, Double(st.maxCommitMicros) / 1e3))
        }
        try writer.close()
        return (Double(total) / elapsed, dir)
    }

    /// Scans and decodes every record twice (the second pass is the warm figure).
    func carryScan(_ path: String, expected: Int) throws -> (rate: Double, allocsPerEvent: Double) {
        let journal = try Journal.open(path)
        var best = 0.0
        var allocs = 0.0
        for _ in 0..<2 {
            let pass = try scanAndDecode(journal)
            precondition(pass.events == expected && pass.checksum != 0, "scan saw \(pass.events) of \(expected) events")
            if pass.rate > best {
                best = pass.rate
                allocs = Double(pass.allocations) / Double(pass.events)
            }
        }
        return (best, allocs)
    }
}
