// The loopback control port of a running session (Hummingbird, bound to 127.0.0.1 only):
//
//   GET  /health            JSON: mode, venue time, last step age, kill switch, halted; 200 while
//                           the last step is recent (`session.staleAfter`), 503 when stale or
//                           before the first step
//   GET  /metrics           Prometheus text (`SessionMetrics`)
//   POST /kill              engage the kill switch    → `SessionControl.request`, 202 once queued
//   POST /kill?release=1    release it                   (the session journals and acts at once)
//   GET  /preflight, POST /trade/open, POST /trade/close, GET /pairs, POST /reconcile
//                           the operator's paired trades (`carry trade`): see TradeEndpoints
//
// It only talks to the session through `SessionControl` (commands in, status out), so a paper
// and a live session serve the same endpoints. Started before the session's first step and
// stopped after its last, by `carry run` when `session.controlPort` (or `--control-port`) is set.

public import CarryCore
import CarryVenues
import Foundation
import Hummingbird
public import Logging
import NIOCore
import ServiceLifecycle

/// A control port that could not start.
public struct ControlServerError: Error, CustomStringConvertible {
    public var description: String
}

/// The running control server.
public final class ControlServer: Sendable {
    /// The port it listens on (the real one when asked for 0).
    public let port: Int
    private let task: Task<Void, Never>
    private let finished: DispatchSemaphore
    private let group: GroupBox
    private let executor: DedicatedThreadExecutor

    /// Binds 127.0.0.1:`port` (0: any free port) and serves until `stop()`. Returns once bound;
    /// throws (nothing left running) when the port cannot be bound within `timeoutSeconds`.
    /// `predictedFunding` reads the venue's predicted rate of a perpetual for the pre-flight
    /// (nil: the engine's own `funding.predicted` inputs only).
    public static func start(port: Int, control: SessionControl, metrics: SessionMetrics, staleAfterMs: Int64, logger: Logger,
                             predictedFunding: (@Sendable (String) -> Fixed?)? = nil,
                             timeoutSeconds: Double = 10) throws -> ControlServer {
        let bound = BindResult()
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        let finished = DispatchSemaphore(value: 0)
        // Its own thread: the session loop blocks the thread it runs on, which may be one of
        // the few of Swift's shared pool (and a test's may block the rest).
        let executor = DedicatedThreadExecutor(name: "carry-control-port")
        let groupBox = GroupBox()
        let task = Task(executorPreference: executor) { [quiet] in
            let app = Application(
                router: Self.router(control: control, metrics: metrics, staleAfterMs: staleAfterMs, logger: logger, predictedFunding: predictedFunding),
                configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: port), serverName: nil),
                onServerRunning: { channel in bound.set(.success(channel.localAddress?.port ?? port)) },
                logger: quiet)
            // No signals: the session owns SIGINT/SIGTERM; `stop()` shuts the group down.
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [app], logger: quiet))
            groupBox.set(group)
            do {
                try await group.run()
                bound.set(.failure(ControlServerError(description: "the control port on 127.0.0.1:\(port) stopped before it was listening")))
            } catch {
                bound.set(.failure(ControlServerError(description: "cannot listen on 127.0.0.1:\(port): \(error)")))
            }
            executor.shutdown()
            finished.signal()
        }
        switch bound.wait(timeoutSeconds: timeoutSeconds) {
        case .success(let actual)?:
            return ControlServer(port: actual, task: task, finished: finished, group: groupBox, executor: executor)
        case .failure(let e)?:
            task.cancel()
            _ = finished.wait(timeout: .now() + 5)
            throw e
        case nil:
            task.cancel()
            _ = finished.wait(timeout: .now() + 5)
            throw ControlServerError(description: "the control port on 127.0.0.1:\(port) did not start within \(Int(timeoutSeconds)) s")
        }
    }

    /// The endpoints.
    static func router(control: SessionControl, metrics: SessionMetrics, staleAfterMs: Int64, logger: Logger,
                       predictedFunding: TradeEndpoints.PredictedFunding? = nil) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/health") { _, _ -> Response in
            let health = SessionHealth(status: control.status, now: Self.wallNow(), staleAfterMs: staleAfterMs)
            return Self.response(health.httpStatus, health.json, type: "application/json")
        }
        router.get("/metrics") { _, _ -> Response in
            Self.response(200, metrics.render(status: control.status, now: Self.wallNow()), type: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.post("/kill") { request, _ -> Response in
            let params = request.uri.queryParameters
            let release = params["release"].map { $0 == "1" || $0 == "true" } ?? false
            let reason = Self.reason(params["reason"].map(String.init), release: release)
            control.request(.killSwitch(engaged: !release, reason: reason))
            metrics.commandReceived(engage: !release)
            logger.notice("control port: kill switch \(release ? "release" : "engage") queued", metadata: ["reason": "\(reason)"])
            return Self.response(202, "{\"queued\":\(jsonString(release ? "release" : "engage")),\"reason\":\(jsonString(reason))}\n",
                                 type: "application/json")
        }
        router.get("/preflight") { request, _ -> Response in
            let a = TradeEndpoints.preflight(Self.params(request), status: control.status, predicted: predictedFunding)
            return Self.response(a.status, a.body, type: "application/json")
        }
        let trade: @Sendable (OperatorTradeAction, Request) -> Response = { action, request in
            let a = TradeEndpoints.trade(action, Self.params(request), status: control.status, control: control)
            if a.status == 202 { logger.notice("control port: trade \(action) queued", metadata: ["answer": "\(a.body.trimmingCharacters(in: .whitespacesAndNewlines))"]) }
            return Self.response(a.status, a.body, type: "application/json")
        }
        router.post("/trade/open") { request, _ -> Response in trade(.open, request) }
        router.post("/trade/close") { request, _ -> Response in trade(.close, request) }
        router.get("/pairs") { _, _ -> Response in
            let a = TradeEndpoints.pairs(status: control.status)
            return Self.response(a.status, a.body, type: "application/json")
        }
        router.post("/reconcile") { _, _ -> Response in
            control.requestReconciliation()
            let s = control.status
            return Self.response(202, "{\"queued\":\"reconcile\",\"reconciliations\":\(s.reconciliations),\"steps\":\(s.steps)}\n", type: "application/json")
        }
        return router
    }

    /// A request's query parameters (the last of a repeated name).
    static func params(_ request: Request) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in request.uri.queryParameters { out[String(k)] = String(v) }
        return out
    }

    private init(port: Int, task: Task<Void, Never>, finished: DispatchSemaphore, group: GroupBox, executor: DedicatedThreadExecutor) {
        self.port = port
        self.task = task
        self.finished = finished
        self.group = group
        self.executor = executor
    }

    /// Stops serving: a graceful shutdown (requests in flight are answered), cancelled after
    /// five seconds.
    public func stop() {
        if let g = group.get() {
            Task(executorPreference: executor) { await g.triggerGracefulShutdown() }
            if finished.wait(timeout: .now() + 5) == .success { return }
        }
        task.cancel()
        _ = finished.wait(timeout: .now() + 5)
    }

    /// A journaled reason: what the caller said (printable ASCII, at most 80 characters) or
    /// where the command came from.
    static func reason(_ given: String?, release: Bool, fallback: String? = nil) -> String {
        let cleaned = String((given ?? "").unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7F }.map(Character.init).prefix(80))
        if !cleaned.isEmpty { return cleaned }
        return fallback ?? (release ? "control port: release" : "control port: kill")
    }

    static func wallNow() -> Timestamp { Timestamp(ms: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))) }

    static func response(_ status: Int, _ body: String, type: String) -> Response {
        Response(status: HTTPResponse.Status(code: status), headers: [.contentType: type, .cacheControl: "no-store"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}

/// The outcome of binding, handed from the server task to the starting thread.
private final class BindResult: @unchecked Sendable {
    private let condition = NSCondition()
    private var result: Result<Int, ControlServerError>?

    func set(_ r: Result<Int, ControlServerError>) {
        condition.lock()
        if result == nil { result = r }
        condition.broadcast()
        condition.unlock()
    }

    func wait(timeoutSeconds: Double) -> Result<Int, ControlServerError>? {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        condition.lock()
        defer { condition.unlock() }
        while result == nil {
            if !condition.wait(until: deadline) { break }
        }
        return result
    }
}

/// A task executor with one thread of its own, ending once `shutdown()` is called and its
/// queue is empty.
final class DedicatedThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopping = false

    init(name: String) {
        let thread = Thread { [self] in loop() }
        thread.name = name
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        jobs.append(unowned)
        condition.signal()
        condition.unlock()
    }

    func shutdown() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// The running service group, handed from the server task to `stop()`.
private final class GroupBox: @unchecked Sendable {
    private let lock = NSLock()
    private var group: ServiceGroup?

    func set(_ g: ServiceGroup) {
        lock.lock()
        group = g
        lock.unlock()
    }

    func get() -> ServiceGroup? {
        lock.lock()
        defer { lock.unlock() }
        return group
    }
}
