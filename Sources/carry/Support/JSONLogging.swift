// Structured logs: one JSON object per line on stderr, for `carry run` under a supervisor
// (systemd's journal, a log shipper). Keys: ts (ISO-8601 UTC, ms), level, label, msg, then the
// metadata in sorted order (a key that collides with those four is written as `meta.KEY`).
// Values are strings, escaped (`JSONText.quote`); the line never spans two lines.

import CarryCore
import CarryEngine
import CarryJournal
import Foundation
import Logging

/// A swift-log handler writing JSON lines to stderr.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    init(label: String) { self.label = label }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        FileHandle.standardError.write(Data(Self.line(level: event.level, label: label, message: event.message.description, metadata: all).utf8))
    }

    /// One line (with its newline) at wall time `ms`.
    static func line(level: Logger.Level, label: String, message: String, metadata: Logger.Metadata, ms: Int64 = wallClockMs()) -> String {
        var line = "{\"ts\":\(JSONText.quote(Timestamp(ms: ms).iso8601)),\"level\":\(JSONText.quote(level.rawValue)),"
            + "\"label\":\(JSONText.quote(label)),\"msg\":\(JSONText.quote(message))"
        for key in metadata.keys.sorted() {
            let name = ["ts", "level", "label", "msg"].contains(key) ? "meta." + key : key
            line += ",\(JSONText.quote(name)):\(JSONText.quote(metadata[key]!.description))"
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
