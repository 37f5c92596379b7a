// The benchmarks, in the order `carry-bench --help` lists them.

import ArgumentParser

enum BenchRegistry {
    static let all: [any ParsableCommand.Type] = [
        JournalBench.self,
        ImportBench.self,
        PipelineBench.self,
        SweepBench.self,
        VerifyBench.self,
        KillSwitchBench.self,
        RSSBench.self,
    ]
}
