import CarryCore
import CarryExchangeSim
import CarryTesting
import CarryVenues
import Foundation
import Logging
import Synchronization
import Testing

/// A venue clock a test moves by hand.
final class ManualVenueClock: Sendable {
    private let time: Mutex<Timestamp>
    init(_ t: Timestamp) { time = Mutex(t) }
    var now: Timestamp { time.withLock { $0 } }
    func set(_ t: Timestamp) { time.withLock { $0 = t } }
}

struct StreamTestTimeout: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

/// `ExchangeSimServer.run` in this process on a free port; stopped by cancelling its task.
final class InProcessSim: Sendable {
    let port: Int
    private let task: Task<String, any Error>

    private init(port: Int, task: Task<String, any Error>) {
        self.port = port
        self.task = task
    }

    static func start(_ options: ExchangeSimOptions) async throws -> InProcessSim {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let account = try defaultAccountConfig()
        let task = Task {
            try await ExchangeSimServer.run(options: options, defaultAccount: account, logger: Logger(label: "sim", factory: { _ in SwiftLogNoOpLogHandler() })) { _, port in
                continuation.yield(port)
                continuation.finish()
            }
        }
        let port = try await withDeadline(seconds: 120, "the simulator's port") {
            var it = ports.makeAsyncIterator()
            return await it.next()
        }
        return InProcessSim(port: port, task: task)
    }

    func url(_ path: SimStreamPath) -> String { "ws://127.0.0.1:\(port)\(path.rawValue)" }
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// `GET /sim/stats` → the `ws` counters.
    func wsStats() async throws -> [String: Int] {
        let url = baseURL + "/sim/stats"
        let body = try await offPool { try CurlHTTPTransport().get(HTTPRequest(url: url)).body }
        let json = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        return json?["ws"] as? [String: Int] ?? [:]
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}

/// Runs a blocking call (curl, a child process) on a thread of its own. Swift's cooperative
/// pool has one thread per core: blocking it starves every task of the process, the
/// in-process venue's request handlers and the stream clients included.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// `runProcess` off the cooperative pool (a test waiting minutes for a child inside the pool
/// holds one of its few threads — two cores, two threads — and can starve every async test
/// running beside it: a stream test timed out waiting for its subscription that way).
func runProcessOffPool(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                       timeoutSeconds: Double = 120) async throws -> ProcessResult {
    try await offPool { try runProcess(executable, arguments, environment: environment, timeoutSeconds: timeoutSeconds) }
}

/// Runs `body`; fails with a timeout after `seconds` (so no test waits forever).
func withDeadline<T: Sendable>(seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T?) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw StreamTestTimeout(what: what) }
        return value
    }
}

/// Everything a stream client emits, kept for assertions.
final class StreamRecorder: Sendable {
    let client: BybitStreamClient
    private let received = Box<[BybitStreamMessage]>([])
    private let runTask: Task<Void, Never>
    private let readTask: Task<Void, Never>

    private let done = Box(false)

    init(_ configuration: BybitStreamConfiguration, logger: Logger = Logger(label: "stream", factory: { _ in SwiftLogNoOpLogHandler() })) {
        let client = BybitStreamClient(configuration: configuration, logger: logger)
        self.client = client
        let done = self.done
        runTask = Task {
            await client.run()
            done.set(true)
        }
        let sink = received
        readTask = Task {
            for await m in client.messages { sink.update { $0.append(m) } }
        }
    }

    var messages: [BybitStreamMessage] { received.value }

    /// Waits (polling every 10 ms, at most `seconds`) until `done` holds for the messages so far.
    @discardableResult
    func wait(seconds: Double = 120, _ what: String, _ done: @escaping @Sendable ([BybitStreamMessage]) async -> Bool) async throws -> [BybitStreamMessage] {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            let now = messages
            if await done(now) { return now }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw StreamTestTimeout(what: what)
    }

    /// Waits (at most `seconds`) for the client to stop by itself (`maxConnections`, an auth refusal).
    func finished(seconds: Double = 120) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while !done.value {
            guard ContinuousClock.now < deadline else {
                await stop()
                throw StreamTestTimeout(what: "the client to stop by itself")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        await readTask.value
    }

    /// Stops the client and waits for its stream to finish.
    func stop() async {
        runTask.cancel()
        await runTask.value
        await readTask.value
    }
}

extension BybitStreamMessage {
    var ticker: BybitStreamTicker? { if case .ticker(let t) = self { t } else { nil } }
    var book: BybitOrderbookTop? { if case .orderbookTop(let b) = self { b } else { nil } }
    var trade: BybitPublicTrade? { if case .trade(let t) = self { t } else { nil } }
    var kline: BybitStreamKline? { if case .kline(let k) = self { k } else { nil } }
    var isResync: Bool { if case .resyncRequired = self { true } else { false } }
    var isSubscribed: Bool { if case .subscribed = self { true } else { false } }
    var isDisconnect: Bool { if case .disconnected = self { true } else { false } }
    /// A disconnect of the client's own: no frame from the venue for two pings.
    var isSilenceDisconnect: Bool { if case .disconnected(_, let reason) = self { reason.contains("no frame from the venue") } else { false } }
    var streamError: BybitStreamError? { if case .error(let e) = self { e } else { nil } }
}

/// A swift-log handler that keeps every line (message and metadata) it is given.
struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        capture.lines.withLock { $0.append("\(event.level) \(event.message) \(all) \(event.source) \(event.error.map { "\($0)" } ?? "")") }
    }
}

final class LogCapture: Sendable {
    let lines = Mutex<[String]>([])
    var text: String { lines.withLock { $0.joined(separator: "\n") } }
    var logger: Logger {
        var l = Logger(label: "capture", factory: { _ in CapturingLogHandler(capture: self) })
        l.logLevel = .trace
        return l
    }
}
