// `carry-journal`: the read-only audit tool. This file is the thin command line: parsing,
// supervision and exit statuses. Every command's logic lives in CarryJournalTools.
//
// Exit statuses: 0 success; 1 corruption found, journals differ, or the operation failed;
// 2 cannot open (not a journal, a newer schema, a journal being written for verify, a seq
// that does not exist, bad arguments).

import ArgumentParser
import CarryJournalTools

#if canImport(Glibc)
import Glibc
#endif

@main
struct CarryJournalCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "carry-journal",
        abstract: "Inspect, verify and compare Carry journals. Read-only: it never writes to a journal.",
        discussion: """
        Every command takes the journal directory as its first argument (diff takes two).
        Times are ISO-8601 UTC; numbers print exactly as journaled. A journal a writer is
        appending to can be read: commands say so on stderr and show the snapshot
        committed when they started (tail -f keeps following it).

        Exit status:
          0  success (verify: intact; diff: identical)
          1  corruption found, the journals differ, or the operation failed
          2  cannot open: not a journal, a newer schema, a journal being written (verify
             without --live), a seq that does not exist, or bad arguments
        """,
        subcommands: [InfoCLI.self, ListCLI.self, ShowCLI.self, TailCLI.self, VerifyCLI.self, StatsCLI.self, ExportCLI.self, ExplainCLI.self, DiffCLI.self])

    /// Parses, then runs the command in a supervised worker process (see `Supervisor`), so
    /// a journal damaged badly enough to fault LMDB still ends in a message and status 1.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if Supervisor.isWorker {
            Glibc.exit(runHere(arguments))
        }
        // Parse first in this process, so help and argument errors need no worker.
        do {
            _ = try parseAsRoot(arguments)
        } catch {
            Glibc.exit(report(error))
        }
        switch Supervisor.run(arguments: arguments) {
        case .exited(let status):
            Glibc.exit(status)
        case .interrupted(let status):
            Glibc.exit(status)
        case .notStarted(let why):
            // No isolation available: run here rather than not at all.
            printError("could not start the worker process (\(why)); running unsupervised")
            Glibc.exit(runHere(arguments))
        case .crashed(let sig, let trace):
            let journal = arguments.dropFirst().first(where: { !$0.hasPrefix("-") }) ?? "the journal"
            let how = "\(Supervisor.signalName(sig)) \(Supervisor.whereItDied(trace))"
            if arguments.first == "verify" {
                print("verify \(journal): CORRUPT — reading the journal killed the verifier (\(how)): LMDB's page structure is damaged")
                if trace.seq > 0 { print("  first bad seq  \(trace.seq) (or its neighbour on the same LMDB page)") }
            } else {
                printError("\(journal): reading the journal killed the reader (\(how)): the file's structure is damaged. Run `carry-journal verify \(journal)`; restore the journal from a copy.")
            }
            Glibc.exit(ExitStatus.failed.rawValue)
        }
    }

    /// Parses and runs a command in this process; returns the exit status.
    static func runHere(_ arguments: [String]) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot(arguments)
            if var tool = command as? any ToolCommand {
                let io = ToolIO.standard()
                let status: ExitStatus
                do {
                    status = try tool.execute(io)
                    try io.out.flush()
                } catch {
                    let e = ToolError.from(error)
                    if e.outputClosed { return 0 }
                    try? io.out.flush()
                    printError(e.message)
                    return e.status.rawValue
                }
                _ = tool
                return status.rawValue
            }
            try command.run()
            return 0
        } catch {
            return report(error)
        }
    }

    /// Prints a parse error or help and returns its status (help 0, bad arguments 2).
    static func report(_ error: any Error) -> Int32 {
        let code = exitCode(for: error)
        let message = fullMessage(for: error)
        if code == .success {
            if !message.isEmpty { print(message) }
            return 0
        }
        if !message.isEmpty { FileOutputLine.stderr(message) }
        return ExitStatus.cannotOpen.rawValue
    }
}

/// A subcommand whose logic lives in CarryJournalTools.
protocol ToolCommand: ParsableCommand {
    /// Runs the command with the given output streams.
    mutating func execute(_ io: ToolIO) throws -> ExitStatus
}

extension ToolCommand {
    /// Unused: `CarryJournalCLI.runHere` calls `execute`.
    func run() throws {}
}

/// Prints `carry-journal: error: …` on stderr.
func printError(_ message: String) {
    FileOutputLine.stderr("carry-journal: error: \(message)")
}

enum FileOutputLine {
    static func stderr(_ line: String) {
        let out = FileOutput(fd: 2)
        try? out.line(line)
        try? out.flush()
    }
}

struct VerifyCLI: ToolCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that a journal is intact: checksums, seq continuity, the hash chain, the time index, the schema and LMDB's own structure.",
        discussion: """
        Reads every record (CRC-32C, header seq = key, contiguous seqs from 1, payload decodes
        exactly), recomputes every batch of the SHA-256 hash chain, checks the time index,
        the metadata checksums, and LMDB's two meta pages (transaction ids, file length, map
        size). A journal damaged badly enough to crash a reader is reported as corrupt.

        Exit status: 0 intact; 1 corruption found (the first bad seq and why are printed);
        2 cannot open (not a journal, a newer schema, or a writer is appending and --live
        was not given).
        """)

    @Argument(help: "The journal directory.")
    var journal: String

    @Flag(help: "A writer is appending: check the snapshot committed so far (skips LMDB's meta-page checks, which would race the writer).")
    var live = false

    mutating func execute(_ io: ToolIO) throws -> ExitStatus {
        try VerifyCommand(path: journal, live: live, trace: Supervisor.workerTrace).run(io)
    }
}
