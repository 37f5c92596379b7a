// The deterministic fault simulation, bounded for CI: no invariant is broken over a fixed set
// of seeds, and the seeds really injected every kind of fault and at least one crash (a run
// that injected nothing would pass vacuously).

import CarryCore
import CarryEngine
import Testing

@Suite("Fault simulation")
struct FaultSimulationTests {
    @Test("30 seeds: zero invariant violations; every fault kind and a crash were injected")
    func boundedSeeds() {
        var faults = FaultCounts()
        var crashes = 0
        var violations: [String] = []
        var opened = 0
        for seed in UInt64(1)...30 {
            let report = FaultSimulation.run(seed: seed)
            violations += report.violations.map { "seed \(seed): \($0)" }
            faults += report.faults
            crashes += report.crashes
            opened += report.pairsOpened
        }
        #expect(violations.isEmpty, "\(violations.prefix(5))")
        #expect(faults.rejected > 0 && faults.lostAcks > 0 && faults.partials > 0)
        #expect(faults.duplicateFills > 0 && faults.fillsAfterCancel > 0 && faults.drifts > 0)
        #expect(crashes > 0)
        #expect(opened > 0)
    }

    @Test("a seed replays: the same seed gives the same journal")
    func seedReplays() {
        var options = FaultSimulationOptions()
        options.keepJournal = true
        let a = FaultSimulation.run(seed: 7, options: options)
        let b = FaultSimulation.run(seed: 7, options: options)
        #expect(!a.journal.isEmpty)
        #expect(a.journal == b.journal && a.faults == b.faults && a.crashes == b.crashes)
    }
}
