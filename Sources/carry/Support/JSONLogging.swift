// Structured logs: one JSON object per line on stderr, for `carry run` under a supervisor
// (systemd's journal, a log shipper). Keys: ts (ISO-8601 UTC, ms), level, label, msg, then the
// metadata in sorted order (a key that collides with those four is written as `meta.KEY`).
// Values are strings, escaped (`jsonString`); the line never spans two lines.

import CarryCore
import CarryEngine
import CarryJournal
import CarryVenues
import Foundation
import Logging

/// A swift-log handler writing one line per event to stderr: logfmt
/// (`ts=… level=info label=carry.fetch msg=page symbol=BTCUSDT …`) or a JSON object.
struct LineLogHandler: LogHandler {
    let label: String
    let format: CLILogging.Format
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    init(label: String, format: CLILogging.Format) {
        self.label = label
        self.format = format
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        let message = event.message.description
        let text = format == .json ? Self.line(level: event.level, label: label, message: message, metadata: all)
                                   : Self.logfmtLine(level: event.level, label: label, message: message, metadata: all)
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// One logfmt line (with its newline); metadata in sorted order, so output is deterministic.
    static func logfmtLine(level: Logger.Level, label: String, message: String, metadata: Logger.Metadata, ms: Int64 = wallClockMs()) -> String {
        func quote(_ s: String) -> String {
            if !s.isEmpty && !s.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) { return s }
            return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        var line = "ts=\(Timestamp(ms: ms).iso8601) level=\(level) label=\(label) msg=\(quote(message))"
        for key in metadata.keys.sorted() { line += " \(key)=\(quote(metadata[key]!.description))" }
        return line + "\n"
    }

    /// One line (with its newline) at wall time `ms`.
    static func line(level: Logger.Level, label: String, message: String, metadata: Logger.Metadata, ms: Int64 = wallClockMs()) -> String {
        var line = "{\"ts\":\(jsonString(Timestamp(ms: ms).iso8601)),\"level\":\(jsonString(level.rawValue)),"
            + "\"label\":\(jsonString(label)),\"msg\":\(jsonString(message))"
        for key in metadata.keys.sorted() {
            let name = ["ts", "level", "label", "msg"].contains(key) ? "meta." + key : key
            line += ",\(jsonString(name)):\(jsonString(metadata[key]!.description))"
        }
        return line + "}\n"
    }
}

/// The chosen log format, readable from any thread.
final class LockedFormat: @unchecked Sendable {
    private let lock = NSLock()
    private var value: CLILogging.Format = .logfmt

    func set(_ f: CLILogging.Format) {
        lock.lock()
        value = f
        lock.unlock()
    }

    func get() -> CLILogging.Format {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}
