// `carry-bench`: benchmarks, never tests. Each prints its figures beside a baseline measured
// in the same invocation, as a ratio, because these machines are shared and noisy.

import ArgumentParser

@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "carry-bench",
        abstract: "Carry's benchmarks: each figure is printed beside a baseline measured in the same run, as a ratio.",
        subcommands: BenchRegistry.all)
}
