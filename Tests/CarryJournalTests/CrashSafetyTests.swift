import CarryCore
import CarryJournal
import CarryTesting
import Foundation
import Testing

@Suite("Crash safety")
struct CrashSafetyTests {
    /// A child appends durable batches and prints every acknowledged seq; it is SIGKILLed at
    /// a random moment, again and again. After every kill the journal must hold every
    /// acknowledged event, byte for byte, with contiguous seqs, valid checksums and chain.
    @Test("kill -9 at random moments loses no acknowledged event (60 rounds)")
    func killNine() throws {
        let dir = ScratchDirectory("crash")
        let path = dir.sub("j")
        var rng = SplitMix64(seed: 0xDEAD_BEEF)
        var acknowledged: UInt64 = 0
        var smallMapRounds = 0
        let rounds = 60
        for round in 0..<rounds {
            let batch = [1, 7, 50, 200, 1000][rng.below(5)]
            // A small initial map on some rounds, so kills also land during map growth.
            let mapKiB = rng.chance(0.3) ? 256 : 65_536
            if mapKiB == 256 { smallMapRounds += 1 }
            let child = try ChildProcess(Fixtures.executable("carry"),
                                         ["debug-append", "--journal", path, "--batch", String(batch), "--map-kib", String(mapKiB)])
            // Let it acknowledge a few batches, then kill it at a random moment.
            let acksBeforeKill = 1 + rng.below(6)
            var seen = 0
            while seen < acksBeforeKill, let line = child.readLine(timeoutSeconds: 30) {
                if line.hasPrefix("ack "), let seq = UInt64(line.dropFirst(4)) {
                    #expect(seq > acknowledged || seq == acknowledged, "acks go forward")
                    acknowledged = max(acknowledged, seq)
                    seen += 1
                }
            }
            #expect(seen == acksBeforeKill, "round \(round): the appender stopped acknowledging: \(child.stderrText)")
            usleep(UInt32(rng.below(20_000)))
            child.signal(SIGKILL)
            child.wait()
            // Acks printed between our last read and the kill count too.
            while let line = child.readLine(timeoutSeconds: 0.2) {
                if line.hasPrefix("ack "), let seq = UInt64(line.dropFirst(4)) { acknowledged = max(acknowledged, seq) }
            }

            let journal = try Journal.open(path)
            let last = try journal.lastSeq()
            #expect(last >= acknowledged, "round \(round): journal ends at \(last) but \(acknowledged) was acknowledged")
        }
        // Some rounds started on a map too small for their writes, so they grew it while killable.
        #expect(smallMapRounds >= 5)

        // Everything is intact: checksums, contiguity, chain, time index.
        let report = JournalVerifier.verify(path: path)
        #expect(report.isClean, "\(report.problems)")
        #expect(report.lastSeq >= acknowledged)
        // And every record is exactly the one the appender wrote for that seq.
        let journal = try Journal.open(path)
        var checked: UInt64 = 0
        try journal.withSnapshot { snap in
            try snap.scan { view in
                let seq = view.header.seq
                let expected = SyntheticWorkload.crashTestDraft(seq: seq)
                let bytes = RecordCodec.encode(EventDraft(expected.event, eventTime: expected.time, recordTime: expected.time, causation: expected.causation), seq: seq)
                #expect(Array(view.bytes) == bytes, "seq \(seq) differs from what was appended")
                checked += 1
                return true
            }
        }
        #expect(checked == report.lastSeq)
        #expect(checked >= acknowledged)
    }
}
