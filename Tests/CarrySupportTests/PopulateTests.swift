// Tests for carry_populate_write: it makes memory resident and changes none of its bytes,
// even over memory already written (a sweep's decode writes while another thread prefaults).
import CCarrySupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Prefault")
struct PopulateTests {
    /// The kernel and C library can (Linux 5.14+, glibc 2.35+): elsewhere the call is a
    /// no-op hint returning -1, and there is nothing to check.
    static let supported: Bool = {
        let p = UnsafeMutableRawPointer.allocate(byteCount: 8192, alignment: 4096)
        defer { p.deallocate() }
        return carry_populate_write(p, 8192) == 0
    }()

    @Test("populating written and unwritten memory keeps every byte and makes it resident",
          .enabled(if: PopulateTests.supported))
    func keepsBytes() {
        let bytes = 8 << 20
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        defer { p.deallocate() }
        var rng = SplitMix64(seed: 7)
        // The first half written before the call, an unaligned start and length given.
        let written = rng.bytes(bytes / 2)
        p.copyMemory(from: written, byteCount: written.count)
        #expect(carry_populate_write(p + 123, bytes - 123 - 4321) == 0)
        #expect(Array(UnsafeRawBufferPointer(start: p, count: written.count)) == written)
        #if os(Linux)
        // The second half, never written, is resident now (whole pages inside the span).
        let pages = (bytes / 2 - 8192) / 4096
        var resident = [UInt8](repeating: 0, count: pages)
        #expect(mincore(p + bytes / 2, pages * 4096, &resident) == 0)
        #expect(resident.allSatisfy { $0 & 1 == 1 })
        #endif
        // A span within one page is nothing to do.
        #expect(carry_populate_write(p + 10, 100) == 0)
    }
}
