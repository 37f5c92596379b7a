// A minimal, strict CSV reader for the bundled market files: comma-separated, no quoting,
// one header line, `\n` or `\r\n` endings, `#` comment lines allowed (instruments.csv).
// Fields are handed out as borrowed byte slices so that numbers go straight into
// `Fixed.parse(utf8:)` without a String per cell.
//
// Invariant: every error names the file and the 1-based line it is about.

public import CarryCore
import Foundation

/// A problem with an input file: which file, which line, what is wrong.
public struct ImportError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The category, stable for exit codes and tests.
    public enum Code: String, Sendable {
        /// The data directory or a file is missing or unreadable.
        case missing
        /// A line cannot be read as the file's format (columns, numbers, times).
        case malformed
        /// Two files disagree about the same fact.
        case conflict
        /// A file or instrument the importer does not know how to read.
        case unknown
    }

    public var code: Code
    /// The file concerned (as given on the command line or under the data directory).
    public var file: String
    /// 1-based line number; 0 when the problem concerns the whole file.
    public var line: Int
    /// What is wrong, in words a person can act on.
    public var reason: String

    /// Builds an error.
    public init(_ code: Code, file: String, line: Int = 0, _ reason: String) {
        self.code = code
        self.file = file
        self.line = line
        self.reason = reason
    }

    public var description: String { line > 0 ? "\(file):\(line): \(reason)" : "\(file): \(reason)" }
}

/// One line of a CSV file, borrowed for the duration of a callback.
public struct CSVRow {
    /// The 1-based line number in the file.
    public let line: Int
    /// The fields, each a slice of the file's bytes (valid only inside the callback).
    public let fields: [UnsafeRawBufferPointer]
    /// The file, for error messages.
    public let file: String

    /// The field as a String.
    public func text(_ i: Int) -> String { String(decoding: fields[i], as: UTF8.self) }

    /// True when field `i` is empty.
    public func isEmpty(_ i: Int) -> Bool { fields[i].isEmpty }

    /// An error about this line.
    public func error(_ reason: String, code: ImportError.Code = .malformed) -> ImportError {
        ImportError(code, file: file, line: line, reason)
    }

    /// Field `i` as an exact decimal; `column` names it in the error.
    public func fixed(_ i: Int, _ column: String) throws -> Fixed {
        do {
            return try Fixed.parse(utf8: fields[i])
        } catch {
            throw self.error("\(column) \(quoted(i)) is not a decimal number (\(error))")
        }
    }

    /// Field `i` as an exact decimal, nil when empty.
    public func optionalFixed(_ i: Int, _ column: String) throws -> Fixed? {
        fields[i].isEmpty ? nil : try fixed(i, column)
    }

    /// Field `i` as a non-negative integer (epoch milliseconds, counts).
    public func int64(_ i: Int, _ column: String) throws -> Int64 {
        let f = fields[i]
        guard !f.isEmpty, f.count <= 18 else { throw error("\(column) \(quoted(i)) is not a whole number") }
        var v: Int64 = 0
        for b in f {
            guard b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") else {
                throw error("\(column) \(quoted(i)) is not a whole number")
            }
            v = v * 10 + Int64(b &- UInt8(ascii: "0"))
        }
        return v
    }

    /// Field `i` as epoch milliseconds, refusing values outside 2009…2100 (a seconds value
    /// or a garbled cell would otherwise become a plausible-looking date).
    public func epochMs(_ i: Int, _ column: String) throws -> Timestamp {
        let v = try int64(i, column)
        guard v >= 1_230_768_000_000 && v < 4_102_444_800_000 else {
            throw error("\(column) \(quoted(i)) is not epoch milliseconds between 2009 and 2100")
        }
        return Timestamp(ms: v)
    }

    private func quoted(_ i: Int) -> String { "'\(text(i))'" }
}

/// Reads a CSV file.
public enum CSVFile {
    /// Reads the whole file; a missing or unreadable file is an `ImportError`.
    public static func load(_ path: String, displayName: String? = nil) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ImportError(.missing, file: displayName ?? path, "cannot read the file (missing or no permission)")
        }
        return [UInt8](data)
    }

    /// Calls `header` with the first non-comment line, then `body` with every following
    /// non-empty, non-comment line. Every line must have the header's column count.
    public static func forEachRow(in bytes: [UInt8], file: String,
                                  header: (CSVRow) throws -> Void,
                                  body: (CSVRow) throws -> Void) throws {
        try bytes.withUnsafeBytes { (all: UnsafeRawBufferPointer) throws in
            var lineNo = 0
            var start = 0
            var columns = -1
            var fields: [UnsafeRawBufferPointer] = []
            fields.reserveCapacity(16)
            let n = all.count
            while start < n {
                lineNo += 1
                var end = start
                while end < n && all[end] != UInt8(ascii: "\n") { end += 1 }
                let next = end + 1
                var lineEnd = end
                if lineEnd > start && all[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
                defer { start = next }
                if lineEnd == start || all[start] == UInt8(ascii: "#") { continue }
                fields.removeAll(keepingCapacity: true)
                var f = start
                for i in start...lineEnd {
                    if i == lineEnd || all[i] == UInt8(ascii: ",") {
                        fields.append(UnsafeRawBufferPointer(rebasing: all[f..<i]))
                        f = i + 1
                    } else if all[i] == UInt8(ascii: "\"") {
                        throw ImportError(.malformed, file: file, line: lineNo, "quoted fields are not supported in Carry's market CSVs")
                    }
                }
                let row = CSVRow(line: lineNo, fields: fields, file: file)
                if columns < 0 {
                    columns = fields.count
                    try header(row)
                } else {
                    guard fields.count == columns else {
                        throw row.error("\(fields.count) columns, but the header has \(columns)")
                    }
                    try body(row)
                }
            }
            if columns < 0 { throw ImportError(.malformed, file: file, "the file is empty (no header line)") }
        }
    }

    /// The header's column names.
    public static func names(_ row: CSVRow) -> [String] { (0..<row.fields.count).map { row.text($0) } }
}
