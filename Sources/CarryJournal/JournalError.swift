// Errors a person can act on. Every journal failure says what is wrong, where, and what to
// do; the CLIs map the code to an exit status.

/// A journal operation failed.
public struct JournalError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The category, stable for exit codes and tests.
    public enum Code: String, Sendable {
        /// The directory does not exist or holds no journal.
        case notAJournal
        /// The directory holds other files; Carry will not create a journal there.
        case notEmpty
        /// The journal was written by a newer Carry.
        case newerSchema
        /// A record, the chain or LMDB's structure is damaged.
        case corrupt
        /// The disk is full (ENOSPC).
        case diskFull
        /// The operating system reported an I/O error (EIO).
        case ioError
        /// The map is full and cannot grow further.
        case mapFull
        /// Too many concurrent readers.
        case readersFull
        /// Another process is writing this journal.
        case busy
        /// Permission denied.
        case permissionDenied
        /// A requested seq or range does not exist.
        case notFound
        /// The writer stopped after a failed commit; nothing more is accepted.
        case writerHalted
        /// The journal was closed.
        case closed
        /// A caller passed something impossible.
        case invalidArgument
        /// Any other LMDB failure.
        case storage
    }

    /// The category.
    public var code: Code
    /// What happened and what to do, in one or two sentences.
    public var message: String
    /// The journal directory concerned.
    public var path: String

    /// Builds an error.
    public init(_ code: Code, _ message: String, path: String) {
        self.code = code
        self.message = message
        self.path = path
    }

    public var description: String { "\(path): \(message)" }

    /// Turns an LMDB status into an actionable error.
    static func from(_ status: LMDBStatus, path: String, doing: String) -> JournalError {
        let c = status.code
        if c == LMDBFault.enospc {
            return JournalError(.diskFull, "\(doing) failed: the disk is full (ENOSPC). Free space on this volume; events acknowledged so far are safe.", path: path)
        }
        if c == LMDBFault.eio {
            return JournalError(.ioError, "\(doing) failed: the operating system reported an I/O error (EIO). Check the disk (dmesg); events acknowledged so far are safe.", path: path)
        }
        if c == LMDBStatus.mapFull {
            return JournalError(.mapFull, "\(doing) failed: the journal map is full and could not grow. Free disk space or raise the journal's maximum map size.", path: path)
        }
        if c == LMDBStatus.readersFull {
            return JournalError(.readersFull, "\(doing) failed: too many processes are reading this journal at once. Close idle readers and retry.", path: path)
        }
        if c == 13 /* EACCES */ || c == 1 /* EPERM */ || c == 30 /* EROFS */ {
            return JournalError(.permissionDenied, "\(doing) failed: permission denied (\(status.message)). Check the directory's owner and mode.", path: path)
        }
        if c == 2 /* ENOENT */ {
            return JournalError(.notAJournal, "no journal here (\(doing): \(status.message)). Create one with a command that writes (carry import, carry backtest) or pass the right --journal.", path: path)
        }
        if status.isCorruption {
            return JournalError(.corrupt, "\(doing) failed: LMDB reports a damaged file (\(status.message)). Run `carry-journal verify \(path)`; restore from a copy.", path: path)
        }
        return JournalError(.storage, "\(doing) failed: \(status.message) (LMDB code \(c) in \(status.operation.rawValue)).", path: path)
    }
}
