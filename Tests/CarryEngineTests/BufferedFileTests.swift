// The buffered file behind equity.csv: what it writes arrives whole, and a write the disk
// refuses fails the run at its end with the file named, instead of trapping mid-run.

@testable import CarryEngine
import CarryTesting
import Foundation
import Testing

@Suite("Buffered file")
struct BufferedFileTests {
    @Test("lines past many buffer flushes arrive whole and in order")
    func writesWhole() throws {
        let scratch = ScratchDirectory("bf")
        defer { withExtendedLifetime(scratch) {} }
        let path = scratch.sub("out.csv")
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

    @Test("megabytes in uneven pieces arrive byte for byte: whole blocks uncached, the last partial one at close")
    func uncachedBlocks() throws {
        let scratch = ScratchDirectory("bf")
        defer { withExtendedLifetime(scratch) {} }
        let path = scratch.sub("curve.csv")
        let file = try BufferedFile(path: path)
        let openedUncached = file.writesUncached
        var expected: [UInt8] = []
        var rng = SystemRandomNumberGenerator()
        // 3.5 MB in pieces of 1 byte to 300 kB: flushes land at every offset modulo the block.
        while expected.count < 3_500_000 {
            let n = Int.random(in: 1...300_000, using: &rng)
            let piece = (0..<n).map { UInt8(truncatingIfNeeded: expected.count &+ $0 &* 7) }
            expected += piece
            file.write(piece)
        }
        // Still uncached after several aligned blocks, if the file system took it at all.
        #expect(file.writesUncached == openedUncached)
        try file.close()
        let back = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(back.count == expected.count)
        #expect(back == expected)
    }

    @Test("a device path is written as it is, never replaced by a file")
    func devicePath() throws {
        let file = try BufferedFile(path: "/dev/null")
        file.write(Array(repeating: UInt8(ascii: "a"), count: 3 << 20))
        try file.close()
        let type = try FileManager.default.attributesOfItem(atPath: "/dev/null")[.type] as? FileAttributeType
        #expect(type == .typeCharacterSpecial)
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
