// verify against damage: every single-byte flip that changes what a sealed journal holds
// must be reported (exit 1), and the file must be left exactly as it was. The oracle for
// "changes what it holds" is LMDB's own mdb_dump: if its output differs from the pristine
// copy's, or it refuses the file (or dies on it), the flip mattered. Flips in a page's
// unused space change nothing and need no alarm.
//
// Cost: a flip the oracle calls harmless is verified in this process (LMDB just walked
// every reachable page of that file without harm, so it is safe here); a flip that matters
// is verified by the tool as shipped (`carry-journal verify`, a separate, supervised
// process), because LMDB may fault on it. Two workers share the flips.

import CarryCore
import CarryJournal
import CarryTesting
import Foundation
import Testing

@Suite("verify against corruption")
struct CorruptionTests {
    static let mdbDump = "/usr/bin/mdb_dump"
    static let flips = 1_024

    /// Collects results from the worker threads.
    final class Results: @unchecked Sendable {
        let lock = NSLock()
        var changed = 0, unchanged = 0, flaggedUnchanged = 0
        var failures: [String] = []
        func add(_ body: (Results) -> Void) { lock.lock(); body(self); lock.unlock() }
    }

    @Test("1,024 single-byte flips of a sealed journal: every flip that changes its contents is caught, none crashes, the file is never written")
    func singleByteFlips() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.mdbDump), "mdb_dump is missing: install lmdb-utils")
        let dir = ScratchDirectory("flips")
        try ToolFixtures.mixedJournal(dir.sub("orig"))
        let pristine = try Data(contentsOf: URL(fileURLWithPath: dir.sub("orig/data.mdb")))
        // The oracle's baseline, from a copy without a lock file, exactly like the flipped copies.
        try FileManager.default.createDirectory(atPath: dir.sub("base"), withIntermediateDirectories: true)
        try pristine.write(to: URL(fileURLWithPath: dir.sub("base/data.mdb")))
        let base = try runProcess(Self.mdbDump, ["-a", dir.sub("base")])
        try #require(base.status == 0, "mdb_dump refused the pristine journal: \(base.stderr)")
        let baseline = base.stdout
        let clean = try runProcess(Fixtures.executable("carry-journal"), ["verify", dir.sub("base")])
        #expect(clean.status == 0, "\(clean.stdout)\(clean.stderr)")

        // The flips, drawn up front from one seed so the sample never depends on scheduling.
        var rng = SplitMix64(seed: 20_240_101)
        let pageSize = 4096
        let plan: [(offset: Int, xor: UInt8)] = (0..<Self.flips).map { i in
            // One flip in eight lands in LMDB's two meta pages, which are small but critical.
            let offset = i % 8 == 0 ? rng.below(2 * pageSize) : rng.below(pristine.count)
            return (offset, UInt8(1 + rng.below(255)))
        }
        let results = Results()
        let tool = Fixtures.executable("carry-journal")
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            let copy = dir.sub("copy\(worker)")
            try? FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
            for i in stride(from: worker, to: plan.count, by: 2) {
                let (offset, xor) = plan[i]
                var bytes = pristine
                bytes[offset] ^= xor
                let what = "flip #\(i) at offset \(offset) (page \(offset / pageSize), byte \(offset % pageSize)) xor 0x\(String(xor, radix: 16))"
                do {
                    try? FileManager.default.removeItem(atPath: copy + "/lock.mdb")
                    try bytes.write(to: URL(fileURLWithPath: copy + "/data.mdb"))
                    let dump = try runProcess(Self.mdbDump, ["-a", copy], timeoutSeconds: 30)
                    let mattered = dump.status != 0 || dump.signalled || dump.stdout != baseline
                    try? FileManager.default.removeItem(atPath: copy + "/lock.mdb")
                    var problem: String? = nil
                    var status: Int32
                    if mattered {
                        let r = try runProcess(tool, ["verify", copy], timeoutSeconds: 60)
                        status = r.status
                        if r.signalled || !(r.status == 0 || r.status == 1) {
                            problem = "verify ended with status \(r.status)\(r.signalled ? " (signal)" : ""): \(r.stdout)\(r.stderr)"
                        } else if !r.stdout.hasPrefix("verify ") {
                            problem = "no verdict printed: \(r.stdout)\(r.stderr)"
                        } else if r.status != 1 {
                            problem = "mdb_dump differs but verify said: \(r.stdout)\(r.stderr)"
                        }
                    } else {
                        let report = JournalVerifier.verify(path: copy)
                        status = report.isClean ? 0 : 1
                    }
                    let after = try Data(contentsOf: URL(fileURLWithPath: copy + "/data.mdb"))
                    if after != bytes { problem = (problem.map { $0 + "; " } ?? "") + "verify modified the file" }
                    results.add { r in
                        if mattered { r.changed += 1 } else { r.unchanged += 1 }
                        if !mattered && status == 1 { r.flaggedUnchanged += 1 }
                        if let problem { r.failures.append("\(what): \(problem)") }
                    }
                } catch {
                    results.add { $0.failures.append("\(what): the test could not run it: \(error)") }
                }
            }
        }
        #expect(results.failures.isEmpty, "\(results.failures.count) failures; first ones:\n\(results.failures.sorted().prefix(15).joined(separator: "\n"))")
        // The sample must exercise both sides of the oracle.
        #expect(results.changed >= 200)
        #expect(results.unchanged >= 50)
        print("flips: \(results.changed) changed the contents (all caught), \(results.unchanged) did not (\(results.flaggedUnchanged) of those flagged anyway)")
    }
}
