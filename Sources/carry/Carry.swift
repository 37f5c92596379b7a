// `carry`: the operator CLI. Each subcommand lives in Commands/<Name>.swift.

import ArgumentParser
import CarryJournal

@main
struct Carry: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "carry",
        abstract: "Carry: a delta-neutral funding-rate carry engine (spot long, perp short) with an event-sourced journal.",
        discussion: """
        Every command that reads or writes a journal takes --journal DIR; without it, the
        paths in config/carry.yaml apply (override the config directory with --config-dir or
        CARRY_CONFIG_DIR). Exit status: 0 success, 1 the operation failed (I/O, venue,
        corruption), 2 bad input (arguments, config, not a journal).
        """,
        version: CarryVersion.current,
        subcommands: CommandRegistry.all)
}
