// The HTTP boundary of the venue clients: a protocol with two implementations, libcurl for
// real (CurlHTTPTransport) and a scripted in-memory twin for deterministic tests of rate
// limiting and retries. Time goes through `VenueClock` for the same reason.
//
// Invariant: a transport never retries and never sleeps; policy lives in the client.

/// One request: a GET (the public endpoints) or a POST with a JSON body (signed private ones).
public struct HTTPRequest: Sendable {
    /// `GET` or `POST`.
    public var method: String
    /// The full URL, query included.
    public var url: String
    /// The body of a POST, sent byte for byte as given (it is what was signed).
    public var body: [UInt8]?
    /// Extra request headers.
    public var headers: [(name: String, value: String)]
    /// The whole exchange must finish within this many milliseconds.
    public var timeoutMs: Int
    /// Connecting must finish within this many milliseconds.
    public var connectTimeoutMs: Int

    /// Builds a request.
    public init(url: String, method: String = "GET", body: [UInt8]? = nil, headers: [(name: String, value: String)] = [],
                timeoutMs: Int = 10_000, connectTimeoutMs: Int = 5_000) {
        self.method = method
        self.url = url
        self.body = body
        self.headers = headers
        self.timeoutMs = timeoutMs
        self.connectTimeoutMs = connectTimeoutMs
    }
}

/// A response: status, headers in arrival order, body bytes.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    /// Builds a response.
    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first header with this name, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name.lowercased() == lower }?.value
    }
}

/// A request that got no HTTP response.
public struct TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// Nothing listens at the address (ECONNREFUSED).
        case connectionRefused
        /// The host name does not resolve.
        case unresolvedHost
        /// No complete response within the timeout.
        case timeout
        /// The connection closed or reset before a complete response.
        case dropped
        /// Anything else libcurl reports (TLS, malformed URL, …).
        case other
    }

    public var kind: Kind
    /// The URL requested (public endpoints only: no secrets in it).
    public var url: String
    /// The transport's own words.
    public var detail: String

    /// Builds an error.
    public init(_ kind: Kind, url: String, detail: String) {
        self.kind = kind
        self.url = url
        self.detail = detail
    }

    public var description: String { "GET \(url): \(detail)" }
}

/// Sends requests. Implementations are used from one thread at a time.
public protocol HTTPTransport: AnyObject {
    /// Performs one GET; throws `TransportError` when no HTTP response arrived.
    func get(_ request: HTTPRequest) throws -> HTTPResponse
    /// Performs one request of any method (GET or POST); throws `TransportError` when no
    /// HTTP response arrived. The default serves GETs through `get` and refuses the rest, so a
    /// transport written for the public endpoints alone need not change.
    func send(_ request: HTTPRequest) throws -> HTTPResponse
}

extension HTTPTransport {
    public func send(_ request: HTTPRequest) throws -> HTTPResponse {
        guard request.method == "GET" else { throw TransportError(.other, url: request.url, detail: "this transport sends GET only") }
        return try get(request)
    }
}

/// Wall-clock time and sleeping, injectable so tests run on virtual time.
public protocol VenueClock: AnyObject {
    /// Milliseconds since the epoch (or any fixed origin).
    var nowMs: Int64 { get }
    /// Blocks for `ms` milliseconds (virtual clocks advance instead).
    func sleep(ms: Int64)
}

#if canImport(Glibc)
import Glibc
#endif

/// The real clock: CLOCK_REALTIME and nanosleep.
public final class SystemVenueClock: VenueClock {
    /// The process-wide clock.
    public init() {}

    public var nowMs: Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    public func sleep(ms: Int64) {
        guard ms > 0 else { return }
        var req = timespec(tv_sec: Int(ms / 1000), tv_nsec: Int((ms % 1000) * 1_000_000))
        var rem = timespec()
        while nanosleep(&req, &rem) != 0 && errno == EINTR { req = rem }
    }
}
