// Where test data lives, and scratch directories that clean up after themselves.

import Foundation

/// Paths to the repository, its bundled data and the shared market data.
public enum Fixtures {
    /// The repository root (the directory holding Package.swift).
    public static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        }
        fatalError("cannot find Package.swift above \(#filePath)")
    }()

    /// The data bundled in this repository (`data/`).
    public static var bundledData: String { repoRoot + "/data" }

    /// Bybit's published API samples, copied into the repository (`Tests/Fixtures/api-samples/bybit`).
    public static var bybitSamples: String { repoRoot + "/Tests/Fixtures/api-samples/bybit" }

    /// `../shared/data` (or `CARRY_SHARED_DATA`): the real history recorded by others.
    /// Tests that need files not bundled in the repository read them here.
    public static let sharedData: String = {
        if let env = ProcessInfo.processInfo.environment["CARRY_SHARED_DATA"], !env.isEmpty { return env }
        var url = URL(fileURLWithPath: repoRoot)
        for _ in 0..<4 {
            let candidate = url.deletingLastPathComponent().appendingPathComponent("shared/data")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("SOURCES.md").path) { return candidate.path }
            url.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: repoRoot).deletingLastPathComponent().appendingPathComponent("shared/data").path
    }()

    /// The directory holding the built executables (`carry`, `carry-journal`) of this build.
    public static let binDirectory: String = {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        // The test runner lives at .build/<triple>/debug/CarryPackageTests.xctest.
        while dir.path != "/" {
            if FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("carry").path) { return dir.path }
            dir.deleteLastPathComponent()
        }
        return exe.deletingLastPathComponent().path
    }()

    /// The path of a built executable.
    public static func executable(_ name: String) -> String { binDirectory + "/" + name }
}

/// A fresh directory under the system temp directory, removed when released.
public final class ScratchDirectory: @unchecked Sendable {
    /// The directory path.
    public let path: String

    /// Creates `/tmp/carry-<label>-<random>`.
    public init(_ label: String = "test") {
        let base = FileManager.default.temporaryDirectory.path
        path = base + "/carry-\(label)-\(UInt64.random(in: 0...UInt64.max))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A path inside the directory.
    public func sub(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs a process to completion and captures its output.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// True when killed by a signal.
    public var signalled: Bool
}

/// Runs `executable` with `arguments`, waiting at most `timeoutSeconds`.
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                       timeoutSeconds: Double = 120, stdin: String? = nil) throws -> ProcessResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    if let environment {
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    }
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    let input = Pipe()
    p.standardInput = input
    try p.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try? input.fileHandleForWriting.close()
    // Drain both pipes concurrently so a chatty child cannot block.
    nonisolated(unsafe) var outData = Data()
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        outData = out.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while p.isRunning && Date() < deadline { usleep(10_000) }
    if p.isRunning {
        p.terminate()
        usleep(200_000)
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
    }
    p.waitUntilExit()
    group.wait()
    return ProcessResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self), signalled: p.terminationReason == .uncaughtSignal)
}

/// A child process whose stdout can be read line by line while it runs (crash tests,
/// followers), and killed at will.
public final class ChildProcess: @unchecked Sendable {
    private let process = Process()
    private let out = Pipe()
    private let err = Pipe()
    private let lock = NSCondition()
    private var buffer = Data()
    private var lines: [String] = []
    private var eof = false

    /// Starts `executable` with `arguments`.
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        out.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let chunk = handle.availableData
            guard let self else { return }
            self.lock.lock()
            if chunk.isEmpty {
                self.eof = true
            } else {
                self.buffer.append(chunk)
                while let nl = self.buffer.firstIndex(of: 0x0A) {
                    self.lines.append(String(decoding: self.buffer[self.buffer.startIndex..<nl], as: UTF8.self))
                    self.buffer.removeSubrange(self.buffer.startIndex...nl)
                }
            }
            self.lock.broadcast()
            self.lock.unlock()
        }
        try process.run()
    }

    /// The process id.
    public var pid: Int32 { process.processIdentifier }

    /// The next stdout line, or nil at end of output or after `timeoutSeconds`.
    public func readLine(timeoutSeconds: Double = 10) -> String? {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        lock.lock()
        defer { lock.unlock() }
        while lines.isEmpty && !eof {
            if !lock.wait(until: deadline) { return nil }
        }
        return lines.isEmpty ? nil : lines.removeFirst()
    }

    /// Sends a signal.
    public func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for exit (at most `timeoutSeconds`, then SIGKILL) and returns the status.
    @discardableResult
    public func wait(timeoutSeconds: Double = 30) -> Int32 {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        out.fileHandleForReading.readabilityHandler = nil
        return process.terminationStatus
    }

    /// Everything the process wrote to stderr (after it exited).
    public var stderrText: String {
        String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }
}
