// Options shared by every command, and the mapping of errors to exit codes and messages.

import ArgumentParser
import CarryEngine
import CarryJournal
import Foundation

/// `--config-dir`: where carry.yaml, backtest.yaml and friends live.
struct ConfigOptions: ParsableArguments {
    @Option(name: .customLong("config-dir"), help: ArgumentHelp("Directory of Carry's YAML config (default: $CARRY_CONFIG_DIR or ./config).", valueName: "DIR"))
    var configDirectory: String?

    /// The resolved directory.
    var directory: String { resolveConfigDirectory(configDirectory) }

    /// Paths from carry.yaml (defaults when it is missing).
    func paths() throws -> CarryPaths {
        do {
            return try CarryPaths.load(configDirectory: directory)
        } catch {
            throw CLIError.badInput(error.description)
        }
    }
}

/// `--journal DIR`, defaulting to the market journal of config/carry.yaml.
struct JournalOptions: ParsableArguments {
    @Option(name: .customLong("journal"), help: ArgumentHelp("The journal directory (default: paths.marketJournal in config/carry.yaml).", valueName: "DIR"))
    var journal: String?

    func resolve(_ config: ConfigOptions) throws -> String {
        if let journal { return journal }
        return try config.paths().marketJournal
    }
}

/// An error a command reports to the operator; the message says what to do.
enum CLIError: Error, CustomStringConvertible {
    /// Bad arguments, config or input data (exit 2).
    case badInput(String)
    /// The operation failed (exit 1).
    case failed(String)

    var description: String {
        switch self {
        case .badInput(let m), .failed(let m): return m
        }
    }

    var exitCode: Int32 {
        switch self {
        case .badInput: return 2
        case .failed: return 1
        }
    }
}

/// The exit status for a journal error: 2 when the input is wrong, 1 when the operation failed.
func exitStatus(for error: JournalError) -> Int32 {
    switch error.code {
    case .notAJournal, .notEmpty, .newerSchema, .invalidArgument, .notFound, .permissionDenied, .busy:
        return 2
    default:
        return 1
    }
}

/// Turns Carry's errors into a one-line message on stderr and the documented exit status
/// (never a stack trace); other errors pass through unchanged.
func reportable(_ error: any Error) -> any Error {
    switch error {
    case let e as CLIError:
        printError(e.description)
        return ExitCode(e.exitCode)
    case let e as JournalError:
        printError(e.description)
        return ExitCode(exitStatus(for: e))
    case let e as ConfigError:
        printError(e.description)
        return ExitCode(2)
    case let e as BacktestError:
        printError(e.message)
        return ExitCode(e.isBadInput ? 2 : 1)
    default:
        return error
    }
}

/// Runs a command body with `reportable` error handling.
func reportingErrors(_ body: () throws -> Void) throws {
    do { try body() } catch { throw reportable(error) }
}

/// Async variant of `reportingErrors`.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do { try await body() } catch { throw reportable(error) }
}

/// Prints `carry: error: …` to stderr (a JSON line when the command logs JSON).
func printError(_ message: String) {
    if CLILogging.format == .json {
        FileHandle.standardError.write(Data(LineLogHandler.line(level: .error, label: "carry", message: message, metadata: [:]).utf8))
        return
    }
    FileHandle.standardError.write(Data("carry: error: \(message)\n".utf8))
}

/// Prints to stderr (progress and notices; stdout carries results; a JSON line when the
/// command logs JSON).
func printNotice(_ message: String) {
    if CLILogging.format == .json {
        FileHandle.standardError.write(Data(LineLogHandler.line(level: .notice, label: "carry", message: message, metadata: [:]).utf8))
        return
    }
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// True when stderr is a terminal (progress lines redraw; otherwise structured logs).
var stderrIsTerminal: Bool { isatty(2) == 1 }
