// Where commands write. Commands produce text through an `OutputSink`; the executable gives
// them stdout and stderr, tests give them strings (golden tests compare those exactly).

#if canImport(Glibc)
import Glibc
#endif

/// A destination for a command's text.
public protocol OutputSink: AnyObject {
    /// Appends text (buffered).
    func write(_ text: String) throws
    /// Makes everything written so far visible (`tail -f` flushes after every poll).
    func flush() throws
}

extension OutputSink {
    /// Appends a line.
    public func line(_ text: String = "") throws { try write(text + "\n") }
}

/// Collects output in memory.
public final class StringOutput: OutputSink {
    /// Everything written.
    public private(set) var text = ""
    /// An empty buffer.
    public init() {}
    public func write(_ text: String) throws { self.text += text }
    public func flush() throws {}
}

/// Writes to a file descriptor through a buffer, so a million-line `ls` costs few syscalls.
public final class FileOutput: OutputSink {
    let fd: Int32
    var buffer: [UInt8] = []

    /// Output to `fd` (1 for stdout, 2 for stderr). Writing to a closed pipe throws
    /// `ToolError.closedOutput`, so call `signal(SIGPIPE, SIG_IGN)` first.
    public init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(1 << 16)
    }

    public func write(_ text: String) throws {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { try flush() }
    }

    public func flush() throws {
        var offset = 0
        defer { buffer.removeAll(keepingCapacity: true) }
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE { throw ToolError.closedOutput }
                throw ToolError(.failed, "writing the output failed: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }
}

/// The two streams a command writes: results on `out`, notices and errors on `err`.
public struct ToolIO {
    /// Results.
    public let out: any OutputSink
    /// Notices (a live writer, skipped checks) that must not mix with results.
    public let err: any OutputSink

    /// Builds the pair.
    public init(out: any OutputSink, err: any OutputSink) {
        self.out = out
        self.err = err
    }

    /// stdout and stderr.
    public static func standard() -> ToolIO { ToolIO(out: FileOutput(fd: 1), err: FileOutput(fd: 2)) }

    /// Prints a notice on `err` at once.
    public func notice(_ text: String) throws {
        try err.line(text)
        try err.flush()
    }
}
