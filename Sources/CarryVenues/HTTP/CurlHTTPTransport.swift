// HTTP over libcurl: one easy handle per transport, reused so that keep-alive connections
// survive between requests (a bulk fetch makes thousands). Every libcurl call is in this
// file and CurlSMTP.swift; the variadic setopt/getinfo go through the typed wrappers in CCurl/shim.h.
//
// Invariants: a transport is used by one thread at a time; it never retries or sleeps.

import CCurl
import Foundation

/// Collects a response's body and headers from libcurl's callbacks.
private final class ResponseSink {
    var body: [UInt8] = []
    var headers: [(name: String, value: String)] = []
}

private let curlReady: Bool = {
    curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
}()

/// A libcurl-backed `HTTPTransport`.
public final class CurlHTTPTransport: HTTPTransport {
    private let handle: UnsafeMutableRawPointer
    private let userAgent: String

    /// Creates a transport; fails only when libcurl cannot initialise.
    public init(userAgent: String = "carry/0.1") throws {
        guard curlReady, let h = curl_easy_init() else {
            throw TransportError(.other, url: "", detail: "libcurl failed to initialise")
        }
        handle = h
        self.userAgent = userAgent
    }

    deinit { curl_easy_cleanup(handle) }

    public func get(_ request: HTTPRequest) throws -> HTTPResponse {
        var r = request
        r.method = "GET"
        r.body = nil
        return try send(r)
    }

    public func send(_ request: HTTPRequest) throws -> HTTPResponse {
        curl_easy_reset(handle)
        let sink = ResponseSink()
        let box = Unmanaged.passRetained(sink)
        defer { box.release() }
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for h in request.headers { list = curl_slist_append(list, "\(h.name): \(h.value)") }
        if request.method == "POST" { list = curl_slist_append(list, "Expect:") }   // no 100-continue round trip
        defer { if let list { curl_slist_free_all(list) } }

        var ok = carry_curl_setopt_string(handle, CURLOPT_URL, request.url) == CURLE_OK
        ok = ok && setMethod(request)
        ok = ok && carry_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, request.timeoutMs) == CURLE_OK
        ok = ok && carry_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, request.connectTimeoutMs) == CURLE_OK
        ok = ok && carry_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1) == CURLE_OK
        ok = ok && carry_curl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1) == CURLE_OK
        ok = ok && carry_curl_setopt_string(handle, CURLOPT_USERAGENT, userAgent) == CURLE_OK
        ok = ok && carry_curl_setopt_string(handle, CURLOPT_ACCEPT_ENCODING, "") == CURLE_OK
        // Loopback never goes through a proxy (an http_proxy in the environment would otherwise
        // receive the signed requests meant for the local venue).
        ok = ok && carry_curl_setopt_string(handle, CURLOPT_NOPROXY, "127.0.0.1,localhost,::1") == CURLE_OK
        if let list { ok = ok && carry_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, list) == CURLE_OK }
        ok = ok && carry_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, box.toOpaque()) == CURLE_OK
        ok = ok && carry_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, box.toOpaque()) == CURLE_OK
        ok = ok && carry_curl_setopt_write_function(handle, { data, size, count, user in
            let n = size * count
            guard let data, let user else { return n }
            let sink = Unmanaged<ResponseSink>.fromOpaque(user).takeUnretainedValue()
            data.withMemoryRebound(to: UInt8.self, capacity: n) { sink.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: n)) }
            return n
        }) == CURLE_OK
        ok = ok && carry_curl_setopt_header_function(handle, { data, size, count, user in
            let n = size * count
            guard let data, let user else { return n }
            let sink = Unmanaged<ResponseSink>.fromOpaque(user).takeUnretainedValue()
            let line = data.withMemoryRebound(to: UInt8.self, capacity: n) { String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self) }
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.hasPrefix("HTTP/") {
                sink.headers.removeAll()   // a new response (after 100-continue or a redirect)
            } else if let colon = trimmed.firstIndex(of: ":") {
                let name = String(trimmed[..<colon])
                let value = String(trimmed[trimmed.index(after: colon)...].drop(while: { $0 == " " || $0 == "\t" }))
                sink.headers.append((name, value))
            }
            return n
        }) == CURLE_OK
        guard ok else { throw TransportError(.other, url: request.url, detail: "libcurl refused an option") }

        let code = curl_easy_perform(handle)
        guard code == CURLE_OK else {
            let text = String(cString: curl_easy_strerror(code))
            let kind: TransportError.Kind
            switch code {
            case CURLE_COULDNT_CONNECT: kind = .connectionRefused
            case CURLE_COULDNT_RESOLVE_HOST: kind = .unresolvedHost
            case CURLE_OPERATION_TIMEDOUT: kind = .timeout
            case CURLE_GOT_NOTHING, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE: kind = .dropped
            default: kind = .other
            }
            throw TransportError(kind, url: request.url, detail: "\(text) (libcurl \(code.rawValue))")
        }
        var status = 0
        _ = carry_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: sink.headers, body: sink.body)
    }

    /// GET, or POST of the body's exact bytes (libcurl copies them before returning).
    private func setMethod(_ request: HTTPRequest) -> Bool {
        guard request.method == "POST" else { return carry_curl_setopt_long(handle, CURLOPT_HTTPGET, 1) == CURLE_OK }
        var body = request.body ?? []
        let size = body.count
        body.append(0)
        var ok = carry_curl_setopt_long(handle, CURLOPT_POST, 1) == CURLE_OK
        ok = ok && carry_curl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, size) == CURLE_OK
        ok = ok && body.withUnsafeMutableBytes { carry_curl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, $0.baseAddress) } == CURLE_OK
        return ok
    }
}
