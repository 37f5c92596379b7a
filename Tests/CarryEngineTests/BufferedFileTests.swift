// The buffered file behind equity.csv: what it writes arrives whole, and a write the disk
// refuses fails the run at its end with the file named, instead of trapping mid-run.

@testable import CarryEngine
import Foundation
import Testing

@Suite("Buffered file")
struct BufferedFileTests {
    @Test("lines past many buffer flushes arrive whole and in order")
    func writesWhole() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("carry-bf-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("out.csv").path
        let file = try BufferedFile(path: path)
        var expected = ""
        for i in 0..<20_000 {
            let line = "\(i),\(String(repeating: "x", count: i % 37))\n"
            expected += line
            file.write(Array(line.utf8))
        }
        try file.close()
        #expect(expected.utf8.count > 4 << 16)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == expected)
    }

    @Test("a full disk (/dev/full) is reported at close, naming the file and the reason",
          .enabled(if: FileManager.default.isWritableFile(atPath: "/dev/full")))
    func fullDisk() throws {
        // Opened for writing as it is (creating the path would replace the device).
        let handle = try #require(FileHandle(forWritingAtPath: "/dev/full"))
        let file = BufferedFile(handle: handle, path: "/dev/full")
        for _ in 0..<3 { file.write(Array(repeating: UInt8(ascii: "a"), count: 40_000)) }
        #expect {
            try file.close()
        } throws: { error in
            let text = "\(error)"
            return text.contains("cannot write /dev/full: ") && text.contains("(is the disk full?)")
        }
    }
}
