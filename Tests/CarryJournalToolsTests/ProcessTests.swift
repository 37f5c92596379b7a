// carry-journal as shipped, in child processes: following a journal another process
// commits to, what it says about a journal being written, and that damaged, truncated or
// foreign files end in a message and a documented exit status, never a crash.

import CarryCore
@testable import CarryJournal
import CarryTesting
import Foundation
import Testing

/// A child process whose stdout is read line by line as it arrives.
final class StreamingChild: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var buffer = ""
    private var errBuffer = ""

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        out.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.lock(); self.buffer += String(decoding: d, as: UTF8.self); self.lock.unlock()
        }
        err.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.lock(); self.errBuffer += String(decoding: d, as: UTF8.self); self.lock.unlock()
        }
        try process.run()
    }

    var stdout: String { lock.lock(); defer { lock.unlock() }; return buffer }
    var stderr: String { lock.lock(); defer { lock.unlock() }; return errBuffer }

    /// Waits up to `seconds` for stdout to satisfy `condition`.
    func wait(seconds: Double, until condition: (String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition(stdout) { return true }
            usleep(5_000)
        }
        return condition(stdout)
    }

    /// Sends SIGTERM (SIGKILL if it lingers) and returns the exit status.
    func stop() -> Int32 {
        if process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

@Suite("carry-journal in child processes")
struct ProcessTests {
    static var tool: String { Fixtures.executable("carry-journal") }

    static func seqs(_ jsonLines: String) -> [UInt64] {
        jsonLines.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("{\"seq\":") else { return nil }
            return UInt64(line.dropFirst(7).prefix { $0.isNumber })
        }
    }

    @Test("tail -f prints each commit another process makes, within one commit, and stops cleanly on SIGTERM")
    func tailFollowsAnotherProcess() throws {
        let dir = ScratchDirectory("tail")
        let journal = try Journal.openOrCreate(dir.sub("j"), create: JournalCreateOptions(purpose: .live, journalId: JournalId(high: 1, low: 1)))
        let writer = try journal.makeWriter()
        var gen = EventGenerator(seed: 3)
        var t = ToolFixtures.base
        func batch(_ n: Int) -> [EventDraft] {
            (0..<n).map { _ in
                t += 1000
                return ToolFixtures.draft(gen.anyEvent(), Timestamp(ms: t))
            }
        }
        try writer.append(batch(3))

        let child = try StreamingChild(Self.tool, ["tail", dir.sub("j"), "-f", "--json", "-n", "2", "--poll-ms", "20"])
        defer { _ = child.stop() }
        #expect(child.wait(seconds: 20) { Self.seqs($0) == [2, 3] }, "initial lines: \(child.stdout) \(child.stderr)")
        // Each commit must show up before the next one is made.
        var expected: [UInt64] = [2, 3]
        for (i, n) in [1, 5, 2].enumerated() {
            let range = try writer.append(batch(n))
            expected += Array(range)
            let seen = child.wait(seconds: 10) { Self.seqs($0) == expected }
            #expect(seen, "commit \(i) (seqs \(range)) not followed: \(child.stdout)")
            if !seen { break }
        }
        #expect(child.stderr.contains("a writer (pid \(getpid())) is appending"), "stderr: \(child.stderr)")
        // The writer was not disturbed: it still commits.
        #expect(try writer.append(batch(1)) == 12...12)
        #expect(child.stop() == 128 + SIGTERM)
        try writer.close()
    }

    @Test("a journal being written: commands read the snapshot and say so; verify refuses without --live (exit 2)")
    func journalBeingWritten() throws {
        let dir = ScratchDirectory("live")
        let journal = try Journal.openOrCreate(dir.sub("j"), create: JournalCreateOptions(purpose: .live, journalId: JournalId(high: 1, low: 2)))
        let writer = try journal.makeWriter()
        var gen = EventGenerator(seed: 4)
        try writer.append((0..<20).map { i in ToolFixtures.draft(gen.anyEvent(), ToolFixtures.at(Int64(i))) })
        defer { try? writer.close() }

        let info = try runProcess(Self.tool, ["info", dir.sub("j")])
        #expect(info.status == 0)
        #expect(info.stdout.contains("events       20 (seqs 1–20)"), "\(info.stdout)")
        #expect(info.stderr.contains("a writer (pid \(getpid())) is appending"), "\(info.stderr)")

        let verify = try runProcess(Self.tool, ["verify", dir.sub("j")])
        #expect(verify.status == 2)
        #expect(verify.stderr.contains("is appending to this journal") && verify.stderr.contains("--live"), "\(verify.stderr)")

        let live = try runProcess(Self.tool, ["verify", "--live", dir.sub("j")])
        #expect(live.status == 0, "\(live.stdout)\(live.stderr)")
        #expect(live.stdout.hasPrefix("verify \(dir.sub("j")): intact (live snapshot)"))
    }

    @Test("exit statuses and messages: not a journal, a missing seq, bad arguments, help")
    func exitStatuses() throws {
        let dir = ScratchDirectory("exit")
        try ToolFixtures.write(dir.sub("j"), id: JournalId(high: 1, low: 3), purpose: .backtest, batches: ToolFixtures.run(market: ToolFixtures.market()))
        let notJournal = try runProcess(Self.tool, ["ls", dir.path])
        #expect(notJournal.status == 2)
        #expect(notJournal.stderr.hasPrefix("carry-journal: error: \(dir.path): not a Carry journal"), "\(notJournal.stderr)")
        let missingDir = try runProcess(Self.tool, ["info", dir.sub("nope")])
        #expect(missingDir.status == 2)
        #expect(missingDir.stderr.contains("no such directory"), "\(missingDir.stderr)")
        let missingSeq = try runProcess(Self.tool, ["show", dir.sub("j"), "16"])
        #expect(missingSeq.status == 2)
        #expect(missingSeq.stderr.contains("seq 16 does not exist; it holds seqs 1–15"), "\(missingSeq.stderr)")
        let badKind = try runProcess(Self.tool, ["ls", dir.sub("j"), "--kind", "bar.open"])
        #expect(badKind.status == 2)
        #expect(badKind.stderr.contains("unknown event kind 'bar.open'"), "\(badKind.stderr)")
        let help = try runProcess(Self.tool, ["explain", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("--source") && help.stdout.contains("Exit status"), "\(help.stdout)")
        let ls = try runProcess(Self.tool, ["ls", dir.sub("j"), "--kind", "order.filled", "--json"])
        #expect(ls.status == 0)
        #expect(Self.seqs(ls.stdout) == [10, 12])
    }

    @Test("a journal of a newer schema: every command refuses with exit 2, says to upgrade, and leaves the file unchanged")
    func newerSchema() throws {
        let dir = ScratchDirectory("schema")
        try ToolFixtures.write(dir.sub("j"), id: JournalId(high: 1, low: 4), purpose: .backtest, batches: ToolFixtures.run(market: ToolFixtures.market()))
        let journal = try Journal.open(dir.sub("j"), readOnly: false)
        let txn = try journal.env.beginWrite()
        try Journal.putMeta(txn, journal.metaDB, MetaKey.schemaVersion, le(UInt32(9)))
        try txn.commit()
        let before = try Data(contentsOf: URL(fileURLWithPath: dir.sub("j/data.mdb")))
        for args in [["info"], ["ls"], ["show", "1"], ["verify"], ["stats"], ["export", "--format", "jsonl"], ["explain", "3"], ["tail"]] {
            let r = try runProcess(Self.tool, [args[0], dir.sub("j")] + args.dropFirst())
            #expect(r.status == 2, "\(args): \(r.stderr)")
            #expect(r.stderr.contains("schema v9") && r.stderr.contains("Upgrade Carry"), "\(args): \(r.stderr)")
        }
        let diff = try runProcess(Self.tool, ["diff", dir.sub("j"), dir.sub("j")])
        #expect(diff.status == 2 && diff.stderr.contains("schema v9") && diff.stderr.contains("Upgrade Carry"), "\(diff.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.sub("j/data.mdb"))) == before)
    }

    @Test("truncated, foreign and burst-damaged files: every command ends 0, 1 or 2 with a message, never a crash or a write; verify exits 1 on each file whose contents the damage changed")
    func damagedFiles() throws {
        let dir = ScratchDirectory("fuzz")
        try ToolFixtures.mixedJournal(dir.sub("orig"), seed: 5)
        let pristine = try Data(contentsOf: URL(fileURLWithPath: dir.sub("orig/data.mdb")))
        // LMDB's own dump of an undamaged copy: the oracle for "the damage changed the contents".
        try FileManager.default.createDirectory(atPath: dir.sub("base"), withIntermediateDirectories: true)
        try pristine.write(to: URL(fileURLWithPath: dir.sub("base/data.mdb")))
        let baseline = try runProcess(CorruptionTests.mdbDump, ["-a", dir.sub("base")])
        try #require(baseline.status == 0, "mdb_dump refused the pristine journal: \(baseline.stderr)")
        var mattered = 0
        var rng = SplitMix64(seed: 77)
        var cases: [(String, Data)] = []
        for length in [0, 1, 100, 4095, 4096, 8191, 8192, 12_288, pristine.count / 2, pristine.count - 4096, pristine.count - 1] {
            cases.append(("truncated to \(length) bytes", pristine.prefix(length)))
        }
        cases.append(("random bytes", Data((0..<pristine.count).map { _ in UInt8(truncatingIfNeeded: rng.next()) })))
        cases.append(("a text file", Data(String(repeating: "not a journal\n", count: 1000).utf8)))
        for i in 0..<24 {
            // Bursts of damage: 1–64 random bytes overwritten in one place.
            var d = pristine
            let at = rng.below(d.count)
            let n = 1 + rng.below(64)
            for j in at..<min(d.count, at + n) { d[j] = UInt8(truncatingIfNeeded: rng.next()) }
            cases.append(("burst #\(i): \(n) bytes at \(at)", d))
        }
        let commands: [[String]] = [["verify"], ["info"], ["ls", "--limit", "1000"], ["stats"], ["show", "!", "3"], ["tail", "-n", "5"]]
        var failures: [String] = []
        var nonzero = 0
        for (what, bytes) in cases {
            let copy = dir.sub("copy")
            try? FileManager.default.removeItem(atPath: copy)
            try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
            try bytes.write(to: URL(fileURLWithPath: copy + "/data.mdb"))
            for command in commands {
                let args = [command[0], copy] + command.dropFirst().filter { $0 != "!" }
                let r = try runProcess(Self.tool, args, timeoutSeconds: 60)
                let label = "\(what): \(args.joined(separator: " "))"
                if r.signalled || ![0, 1, 2].contains(r.status) {
                    failures.append("\(label): status \(r.status)\(r.signalled ? " (signal)" : "")")
                } else if r.status != 0 {
                    nonzero += 1
                    let said = command[0] == "verify" ? r.stdout + r.stderr : r.stderr
                    if !(said.contains("carry-journal: error: ") || said.hasPrefix("verify ")) || said.contains("Fatal error") {
                        failures.append("\(label): status \(r.status) without a clear message: \(r.stdout)\(r.stderr)")
                    }
                }
                if command[0] == "verify", what.hasPrefix("truncated") || what.hasPrefix("random") || what.hasPrefix("a text"), r.status == 0 {
                    failures.append("\(label): verify called a damaged file intact")
                }
            }
            let after = try Data(contentsOf: URL(fileURLWithPath: copy + "/data.mdb"))
            if after != bytes { failures.append("\(what): a command modified data.mdb") }
            if what.hasPrefix("burst") {
                // Dumped from a fresh directory like the baseline (the commands left a lock file
                // whose reader count would show in the dump's header).
                let fresh = dir.sub("dump")
                try? FileManager.default.removeItem(atPath: fresh)
                try FileManager.default.createDirectory(atPath: fresh, withIntermediateDirectories: true)
                try bytes.write(to: URL(fileURLWithPath: fresh + "/data.mdb"))
                let dump = try runProcess(CorruptionTests.mdbDump, ["-a", fresh])
                if dump.signalled || dump.status != 0 || dump.stdout != baseline.stdout {
                    mattered += 1
                    let v = try runProcess(Self.tool, ["verify", copy], timeoutSeconds: 60)
                    if v.status != 1 { failures.append("\(what): the contents changed but verify exited \(v.status)") }
                }
            }
        }
        #expect(failures.isEmpty, "\(failures.count) failures:\n\(failures.prefix(20).joined(separator: "\n"))")
        #expect(nonzero >= cases.count)
        #expect(mattered >= 5, "the bursts should damage the contents of some copies")
    }
}
