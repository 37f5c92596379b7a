import CarryCore
@testable import CarryJournal
import CarryTesting
import Foundation
import Testing

/// The resident pages of a journal's map: what a long-running writer's RSS would grow by.
@Suite("Journal: resident map pages")
struct ResidentMapTests {
    /// KiB of this process's mapping of `file` that are resident (`Rss:` of its smaps entries).
    static func residentKiB(of file: String) throws -> Int {
        guard let real = realpath(file, nil) else { return 0 }
        let target = String(cString: real)
        free(real)
        // Read to the end: String(contentsOfFile:) stops at a /proc file's first 4 KiB.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        defer { try? handle.close() }
        let smaps = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        var total = 0, inside = false
        for line in smaps.split(separator: "\n", omittingEmptySubsequences: false) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), first.first?.isHexDigit == true {
                // The header: start-end perms offset dev inode pathname (which may hold spaces).
                let header = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
                inside = header.count == 6 && header[5].drop(while: { $0 == " " }) == target[...]
            } else if inside, fields.first == "Rss:", fields.count >= 2, let kb = Int(fields[1]) {
                total += kb
            }
        }
        return total
    }

    /// 3,000 records of 4 KiB: a 12 MiB journal.
    static func write(_ writer: JournalWriter) throws {
        let message = String(repeating: "x", count: 4096)
        for batch in 0..<30 {
            try writer.append((0..<100).map { i in
                draft(.alertRaised(AlertRaised(severity: .info, code: "fill", message: message)), at: Int64(batch * 100 + i))
            })
        }
    }

    @Test("dropping the map's resident pages empties it from the RSS and changes no byte read")
    func releaseKeepsContent() throws {
        let dir = ScratchDirectory("resident")
        // A name with spaces: /proc/self/maps ends its lines with the whole path.
        let journal = try newJournal(dir, "my journal")
        let writer = try journal.makeWriter(options: JournalWriterOptions(releaseResidentEveryBytes: 0))
        try Self.write(writer)
        try writer.close()
        #expect(writer.stats.residentReleases == 0)
        let file = URL(fileURLWithPath: dir.sub("my journal") + "/data.mdb").standardizedFileURL.path
        let before = try journal.withSnapshot { try $0.contentHash() }   // reads every page
        let touched = try Self.residentKiB(of: file)
        #expect(touched >= 11 * 1024, "a full read leaves the journal resident: \(touched) KiB")
        #expect(journal.env.releaseResidentPages() >= 12 << 20)
        let released = try Self.residentKiB(of: file)
        #expect(released < 256, "\(released) KiB still resident")
        #expect(try journal.withSnapshot { try $0.contentHash() } == before)
    }

    @Test("the writer drops them every MiB committed, so its RSS does not grow with the journal")
    func writerReleases() throws {
        let dir = ScratchDirectory("resident")
        // The same 60,000 bars written twice: never released, then every MiB.
        var resident: [Int] = []
        for (name, every) in [("kept", 0), ("released", 1 << 20)] {
            let journal = try newJournal(dir, name)
            let writer = try journal.makeWriter(options: JournalWriterOptions(releaseResidentEveryBytes: every))
            // Small records in small commits, as a live session writes them.
            var gen = EventGenerator(seed: 5)
            for i in 0..<600 {
                try writer.append((0..<100).map { j in draft(.barClosed(gen.bar()), at: Int64(i * 100 + j)) })
            }
            try writer.close()
            #expect(writer.stats.residentReleases == (every == 0 ? 0 : writer.stats.bytes >> 20), "\(name): one per MiB of payload committed")
            #expect((writer.stats.residentBytesReleased > 0) == (every > 0), "\(name): the map was found and advised")
            resident.append(try Self.residentKiB(of: URL(fileURLWithPath: dir.sub(name) + "/data.mdb").standardizedFileURL.path))
            let report = JournalVerifier.verify(path: dir.sub(name))
            #expect(report.isClean, "\(report.problems)")
        }
        #expect(resident[0] >= 8 * 1024, "writing alone leaves the journal resident: \(resident[0]) KiB")
        #expect(resident[1] < 2 * 1024, "\(resident[1]) KiB resident with releases")
    }
}
