// Exit statuses and errors of carry-journal.
//
// Invariant: every failure a person can meet ends in one line on stderr that says what is
// wrong and what to do, and one of the three documented exit statuses; never a stack trace.

public import CarryJournal

/// The documented exit statuses (`carry-journal --help`, ARCHITECTURE.md "journal-tools").
public enum ExitStatus: Int32, Sendable {
    /// The command did what was asked: `verify` found the journal intact, `diff` found the
    /// journals identical.
    case success = 0
    /// Corruption found, the journals differ, or the operation failed (I/O, damaged records).
    case failed = 1
    /// Cannot open: not a journal, a newer schema, a journal being written (`verify`), a seq
    /// that does not exist, bad arguments.
    case cannotOpen = 2
}

/// A failure a command reports: a one-line message and the exit status it maps to.
public struct ToolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The exit status.
    public var status: ExitStatus
    /// What is wrong and what to do.
    public var message: String
    /// The reader of our output went away (a closed pipe): stop quietly, no message.
    public var outputClosed: Bool = false

    /// Builds an error.
    public init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    /// The consumer closed the output (`carry-journal ls … | head`).
    public static var closedOutput: ToolError {
        var e = ToolError(.success, "")
        e.outputClosed = true
        return e
    }

    /// Bad arguments or input that names nothing real (exit 2).
    public static func badInput(_ message: String) -> ToolError { ToolError(.cannotOpen, message) }

    public var description: String { message }

    /// Maps any error to a tool error: journal errors keep their message and get the status
    /// of their category; anything else is an operation failure.
    public static func from(_ error: any Error) -> ToolError {
        switch error {
        case let e as ToolError: return e
        case let e as JournalError: return ToolError(status(for: e.code), e.description)
        default: return ToolError(.failed, "\(error)")
        }
    }

    /// The exit status of a journal error category.
    public static func status(for code: JournalError.Code) -> ExitStatus {
        switch code {
        case .notAJournal, .notEmpty, .newerSchema, .invalidArgument, .notFound, .permissionDenied, .busy, .readersFull:
            return .cannotOpen
        case .corrupt, .diskFull, .ioError, .mapFull, .writerHalted, .closed, .storage:
            return .failed
        }
    }
}
