// Strict configuration reading. A config with an unknown key, a value of the wrong kind or
// an impossible value is refused with the file, the key path, the value and what is
// allowed: a typo in a risk limit must never silently fall back to a default.

public import CarryCore
import Foundation
import Yams

/// A configuration value was refused.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file (or `--flag`) the value came from.
    public var source: String
    /// Dotted key path (`strategy.entryThreshold`).
    public var key: String
    /// The offending value as written, if any.
    public var value: String?
    /// What is wrong and what is allowed.
    public var message: String

    /// Builds an error.
    public init(source: String, key: String, value: String?, message: String) {
        self.source = source
        self.key = key
        self.value = value
        self.message = message
    }

    public var description: String {
        let v = value.map { " = \($0)" } ?? ""
        return key.isEmpty ? "\(source): \(message)" : "\(source): \(key)\(v): \(message)"
    }
}

/// Reads one mapping of a YAML document, tracking which keys were read so that `finish()`
/// can refuse the ones nobody asked for.
public final class ConfigReader {
    let source: String
    let path: String
    private let mapping: [(key: String, node: Node)]
    private var used: Set<String> = []
    private var children: [ConfigReader] = []

    /// Parses YAML text. An empty document is an empty mapping.
    public convenience init(yaml: String, source: String) throws(ConfigError) {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError(source: source, key: "", value: nil, message: "not valid YAML: \(error)")
        }
        guard let node else {
            self.init(source: source, path: "", mapping: [])
            return
        }
        guard let map = node.mapping else {
            throw ConfigError(source: source, key: "", value: nil, message: "the document must be a mapping of keys to values")
        }
        try self.init(source: source, path: "", node: map)
    }

    convenience init(source: String, path: String, node map: Node.Mapping) throws(ConfigError) {
        var entries: [(String, Node)] = []
        for (k, v) in map {
            guard let key = k.scalar?.string else {
                throw ConfigError(source: source, key: path, value: nil, message: "keys must be plain words")
            }
            if entries.contains(where: { $0.0 == key }) {
                throw ConfigError(source: source, key: ConfigReader.join(path, key), value: nil, message: "appears twice")
            }
            entries.append((key, v))
        }
        self.init(source: source, path: path, mapping: entries)
    }

    init(source: String, path: String, mapping: [(key: String, node: Node)]) {
        self.source = source
        self.path = path
        self.mapping = mapping
    }

    static func join(_ a: String, _ b: String) -> String { a.isEmpty ? b : a + "." + b }

    /// Every key present at this level, in document order.
    public var keys: [String] { mapping.map(\.key) }

    /// True when the key is present.
    public func has(_ key: String) -> Bool { mapping.contains { $0.key == key } }

    func node(_ key: String) -> Node? {
        guard let n = mapping.first(where: { $0.key == key })?.node else { return nil }
        used.insert(key)
        if case .scalar(let s) = n, s.tag.description == Tag.Name.null.rawValue || s.string == "~" || (s.string.isEmpty && s.style == .plain) {
            return nil
        }
        return n
    }

    public func error(_ key: String, _ value: String?, _ message: String) -> ConfigError {
        ConfigError(source: source, key: ConfigReader.join(path, key), value: value, message: message)
    }

    func scalar(_ key: String) throws(ConfigError) -> String? {
        guard let n = node(key) else { return nil }
        guard let s = n.scalar?.string else {
            throw error(key, nil, "expected a single value, found a \(n.mapping != nil ? "mapping" : "list")")
        }
        return s
    }

    /// A nested mapping; an empty one when absent.
    public func section(_ key: String) throws(ConfigError) -> ConfigReader {
        let child: ConfigReader
        if let n = node(key) {
            guard let m = n.mapping else { throw error(key, n.scalar?.string, "expected a mapping of keys to values") }
            child = try ConfigReader(source: source, path: ConfigReader.join(path, key), node: m)
        } else {
            child = ConfigReader(source: source, path: ConfigReader.join(path, key), mapping: [])
        }
        children.append(child)
        return child
    }

    /// An exact decimal within `range`. Percent signs and units are refused with a hint.
    public func fixed(_ key: String, default value: Fixed, min: Fixed? = nil, max: Fixed? = nil, hint: String = "") throws(ConfigError) -> Fixed {
        guard let s = try scalar(key) else { return value }
        let parsed: Fixed
        do {
            parsed = try Fixed.parse(s)
        } catch {
            let extra = s.contains("%") ? " Write a decimal fraction, not a percent: 0.01 % is 0.0001." : ""
            throw self.error(key, s, "not a decimal number (\(error)).\(extra)\(hint.isEmpty ? "" : " " + hint)")
        }
        if let min, parsed < min { throw self.error(key, s, "must be at least \(min).\(hint.isEmpty ? "" : " " + hint)") }
        if let max, parsed > max { throw self.error(key, s, "must be at most \(max).\(hint.isEmpty ? "" : " " + hint)") }
        return parsed
    }

    /// An integer within `range`.
    public func int(_ key: String, default value: Int, range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard let s = try scalar(key) else { return value }
        guard let v = Int(s) else { throw error(key, s, "expected a whole number in \(range.lowerBound)…\(range.upperBound)") }
        guard range.contains(v) else { throw error(key, s, "must be in \(range.lowerBound)…\(range.upperBound)") }
        return v
    }

    /// true / false.
    public func bool(_ key: String, default value: Bool) throws(ConfigError) -> Bool {
        guard let s = try scalar(key) else { return value }
        switch s.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error(key, s, "expected true or false")
        }
    }

    /// A string, optionally from a fixed set.
    public func string(_ key: String, default value: String, allowed: [String]? = nil) throws(ConfigError) -> String {
        guard let s = try scalar(key) else { return value }
        if let allowed, !allowed.contains(s) {
            throw error(key, s, "must be one of: \(allowed.joined(separator: ", "))")
        }
        return s
    }

    /// A duration such as `8h`, `30m`, `45s`, `250ms`, `90d`, in milliseconds.
    public func durationMs(_ key: String, default value: Int64, min: Int64 = 0, max: Int64 = Int64.max) throws(ConfigError) -> Int64 {
        guard let s = try scalar(key) else { return value }
        guard let ms = ConfigReader.parseDuration(s) else {
            throw error(key, s, "expected a duration like 250ms, 30s, 15m, 8h or 90d")
        }
        guard ms >= min && ms <= max else { throw error(key, s, "must be between \(ConfigReader.formatDuration(min)) and \(ConfigReader.formatDuration(max))") }
        return ms
    }

    /// A UTC date or date-time (`2025-09-13`, `2025-09-13T08:00:00Z`).
    public func timestamp(_ key: String) throws(ConfigError) -> Timestamp? {
        guard let s = try scalar(key) else { return nil }
        guard let t = Timestamp(iso8601: s) else { throw error(key, s, "expected a UTC date like 2025-09-13 or 2025-09-13T08:00:00Z") }
        return t
    }

    /// A list of strings (YAML list or comma-separated).
    public func stringList(_ key: String, default value: [String]) throws(ConfigError) -> [String] {
        guard let n = node(key) else { return value }
        if let seq = n.sequence {
            var out: [String] = []
            for item in seq {
                guard let s = item.scalar?.string else { throw error(key, nil, "expected a list of plain values") }
                out.append(s)
            }
            return out
        }
        guard let s = n.scalar?.string else { throw error(key, nil, "expected a list") }
        return s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Refuses every key at this level and below that nobody read.
    public func finish() throws(ConfigError) {
        for (key, _) in mapping where !used.contains(key) {
            let known = (mapping.map(\.key).filter { used.contains($0) } + expectedKeys).uniqued()
            let suggestion = ConfigReader.closest(key, in: known).map { " Did you mean `\($0)`?" } ?? ""
            let allowed = known.isEmpty ? "" : " Allowed here: \(known.sorted().joined(separator: ", "))."
            throw error(key, nil, "unknown key.\(suggestion)\(allowed)")
        }
        for child in children { try child.finish() }
    }

    /// Keys the caller reads (for suggestions even when absent from the file).
    public var expectedKeys: [String] = []

    /// Declares the keys this level understands, for suggestions in `finish()`.
    public func expect(_ keys: [String]) { expectedKeys = keys }

    // MARK: Helpers

    /// Parses `8h`, `30m`, `1d`, `250ms`, `45s` to milliseconds.
    public static func parseDuration(_ text: String) -> Int64? {
        let s = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000), ("w", 604_800_000)]
        for (suffix, factor) in units where s.hasSuffix(suffix) {
            let number = s.dropLast(suffix.count)
            guard let n = Int64(number), n >= 0 else { return nil }
            let (ms, overflow) = n.multipliedReportingOverflow(by: factor)
            return overflow ? nil : ms
        }
        return nil
    }

    /// The shortest exact spelling of a duration.
    public static func formatDuration(_ ms: Int64) -> String { Millis.formatDuration(ms) }

    static func closest(_ key: String, in candidates: [String]) -> String? {
        var best: (String, Int)? = nil
        for c in candidates {
            let d = editDistance(key.lowercased(), c.lowercased())
            if d <= max(2, key.count / 3), best == nil || d < best!.1 { best = (c, d) }
        }
        return best?.0
    }

    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        for i in 1...a.count {
            var cur = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                cur[j] = Swift.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return prev[b.count]
    }
}

extension Array where Element: Hashable {
    func uniqued() -> [Element] {
        var seen: Set<Element> = []
        return filter { seen.insert($0).inserted }
    }
}
