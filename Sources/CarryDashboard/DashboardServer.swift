// `carry dashboard`: a read-only web page over a journal, updated live as the journal grows.
//
// A tail task reads only the records appended since the last look (every `pollMs`), folds them
// into `DashboardModel`, and publishes the state's JSON with a version number; each page holds
// one server-sent-events stream that is written whenever the version moves. Nothing on the page
// can place an order.
//
// Access: bound to 127.0.0.1 by default. Any other address needs a token (refused at start
// without one), checked in constant time on every request and stream — `Authorization: Bearer`
// or `?token=` (EventSource cannot set headers) — and never logged; without it every route
// answers 401 with nothing else.

import CarryCore
public import CarryJournal
import Foundation
import Hummingbird
public import Logging

/// What `carry dashboard` serves.
public struct DashboardOptions: Sendable {
    public var journalPath: String
    public var host: String = "127.0.0.1"
    public var port: Int = 8787
    /// Required when `host` is not a loopback address.
    public var token: String?
    /// How often the journal is looked at for new records.
    public var pollMs: Int = 250

    public init(journalPath: String) { self.journalPath = journalPath }

    /// True for addresses only this machine can reach.
    public var isLoopback: Bool { ["127.0.0.1", "localhost", "::1"].contains(host) }
}

/// A dashboard that cannot start; the message says what to do.
public struct DashboardError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The latest state, shared by the tail task and the request handlers.
actor DashboardState {
    private(set) var version = 0
    private(set) var json = "{}"
    private(set) var error: String?

    func publish(_ json: String) {
        self.json = json
        version += 1
    }

    func fail(_ message: String) {
        error = message
        version += 1
    }

    func current() -> (Int, String) { (version, json) }
}

public enum DashboardServer {
    /// Checks the options and the journal (a clear error before anything listens).
    public static func validate(_ options: DashboardOptions) throws(DashboardError) {
        if !options.isLoopback && (options.token ?? "").count < 16 {
            throw DashboardError(message: "binding \(options.host) exposes the dashboard beyond this machine: set CARRY_DASHBOARD_TOKEN to a secret of at least 16 characters (it is then required on every request), or bind 127.0.0.1")
        }
        guard Journal.exists(at: options.journalPath) else {
            throw DashboardError(message: "no journal at \(options.journalPath). Pass --journal with a session's or a backtest run's journal directory.")
        }
    }

    /// Folds the whole journal once (the page's first state); throws on a damaged record.
    public static func initialModel(_ journal: Journal) throws -> DashboardModel {
        var model = DashboardModel()
        try fold(journal, into: &model)
        return model
    }

    /// Folds the records after `model.lastSeq`.
    static func fold(_ journal: Journal, into model: inout DashboardModel) throws {
        try journal.withSnapshot { snap in
            _ = try snap.scan(from: model.lastSeq + 1) { view in
                model.apply(try view.decodeRecorded())
                return true
            }
        }
    }

    /// Serves until cancelled; `onListening` gets the bound port.
    public static func run(options: DashboardOptions, logger: Logger, onListening: @escaping @Sendable (Int) -> Void) async throws {
        try validate(options)
        let journal = try Journal.open(options.journalPath)
        let first = try initialModel(journal)
        let state = DashboardState()
        await state.publish(first.json())
        let token = options.isLoopback ? nil : options.token
        let router = Router()
        router.get("/") { request, _ -> Response in
            guard authorized(request, token) else { return unauthorized() }
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: DashboardPage.html)))
        }
        router.get("/api/state") { request, _ -> Response in
            guard authorized(request, token) else { return unauthorized() }
            let (_, json) = await state.current()
            return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: ResponseBody(byteBuffer: ByteBuffer(string: json)))
        }
        router.get("/api/stream") { request, _ -> Response in
            guard authorized(request, token) else { return unauthorized() }
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: ResponseBody { writer in
                var seen = -1
                var idle = 0
                while !Task.isCancelled {
                    let (version, json) = await state.current()
                    if version != seen {
                        seen = version
                        idle = 0
                        try await writer.write(ByteBuffer(string: "event: state\ndata: \(json)\n\n"))
                    } else {
                        idle += 1
                        // A comment every ~15 s keeps proxies and the browser from timing out.
                        if idle * options.pollMs >= 15_000 {
                            idle = 0
                            try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                        }
                    }
                    try await Task.sleep(for: .milliseconds(options.pollMs))
                }
                try await writer.finish(nil)
            })
        }
        // Every other method on the three paths, and every other path: the token first, then
        // nothing (the dashboard is read-only).
        for method in [HTTPRequest.Method.post, .put, .delete, .patch] {
            for path in ["/", "/api/state", "/api/stream"] {
                router.on(RouterPath(path), method: method) { request, _ -> Response in
                    guard authorized(request, token) else { return unauthorized() }
                    return Response(status: .methodNotAllowed, headers: [.contentType: "text/plain", .allow: "GET"],
                                    body: ResponseBody(byteBuffer: ByteBuffer(string: "the dashboard is read-only\n")))
                }
            }
        }
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch, .head] {
            router.on("**", method: method) { request, _ -> Response in
                guard authorized(request, token) else { return unauthorized() }
                return Response(status: .notFound, headers: [.contentType: "text/plain"], body: ResponseBody(byteBuffer: ByteBuffer(string: "not found (the dashboard is read-only)\n")))
            }
        }
        var hbLogger = logger
        hbLogger.logLevel = max(logger.logLevel, .warning)
        let app = Application(router: router, configuration: ApplicationConfiguration(address: .hostname(options.host, port: options.port), serverName: nil),
                              onServerRunning: { channel in onListening(channel.localAddress?.port ?? options.port) }, logger: hbLogger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var model = first
                while !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(options.pollMs))
                    let before = model.lastSeq
                    do {
                        try fold(journal, into: &model)
                    } catch {
                        logger.error("the journal cannot be read further", metadata: ["error": "\(error)"])
                        await state.fail("\(error)")
                        return
                    }
                    if model.lastSeq != before { await state.publish(model.json()) }
                }
            }
            try await app.runService()
            group.cancelAll()
        }
    }

    /// True when no token is required, or the request carries it (compared in constant time).
    static func authorized(_ request: Request, _ token: String?) -> Bool {
        guard let token else { return true }
        var offered = ""
        if let header = request.headers[.authorization], header.hasPrefix("Bearer ") { offered = String(header.dropFirst(7)) }
        if offered.isEmpty, let q = request.uri.queryParameters.get("token") { offered = q }
        return constantTimeEqual(Array(offered.utf8), Array(token.utf8))
    }

    /// Compares without an early exit, so timing says nothing about how much matched.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(a.count == b.count ? 0 : 1)
        let n = max(a.count, b.count)
        for i in 0..<n { diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0) }
        return diff == 0
    }

    static func unauthorized() -> Response {
        Response(status: .unauthorized, headers: [.contentType: "text/plain", .wwwAuthenticate: "Bearer"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: "unauthorized\n")))
    }
}
