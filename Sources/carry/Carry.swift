// `carry`: the operator CLI. Each subcommand lives in Commands/<Name>.swift.

import ArgumentParser
import CarryJournal

@main
struct CarryMain {
    static func main() async {
        LMDBFaultInjection.armFromEnvironment()
        await Carry.main()
    }
}

struct Carry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "carry",
        abstract: "Carry: a delta-neutral funding-rate carry engine (spot long, perp short) with an event-sourced journal.",
        discussion: """
        Every command that reads or writes a journal takes --journal DIR; without it, the paths in config/carry.yaml apply (override the config directory with --config-dir or CARRY_CONFIG_DIR).

        Exit status: 0 success; 1 the operation failed (I/O error, full disk, venue error, corruption); 2 bad input (arguments, config, data files, not a journal, newer schema).
        """,
        version: CarryVersion.current,
        subcommands: CommandRegistry.all)
}
