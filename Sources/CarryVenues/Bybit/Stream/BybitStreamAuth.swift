// The v5 WebSocket auth handshake and the client's `op` requests, as text. Pure.
//
// Auth: `{"op":"auth","args":[apiKey, expires, signature]}` where `expires` is a time in
// epoch milliseconds after which the venue refuses the request, and `signature` is the
// lower-case hex HMAC-SHA256 of `"GET/realtime" + expires` under the API secret.
//
// Invariant: the key and the secret never appear in a description, a log line or an error
// message (`BybitCredentials` prints neither); only `auth` puts the key (and a signature,
// never the secret) on the wire.

import Foundation

/// The text of the client's requests.
public enum BybitStreamRequest {
    /// The hex signature of a WebSocket auth expiring at `expiresMs`.
    public static func authSignature(secret: String, expiresMs: Int64) -> String {
        HMACSHA256.hex(key: secret, message: Array("GET/realtime\(expiresMs)".utf8))
    }

    /// `{"req_id":…,"op":"auth","args":[key, expires, signature]}`.
    public static func auth(_ credentials: BybitCredentials, expiresMs: Int64, reqId: String) -> String {
        let signature = authSignature(secret: credentials.secret, expiresMs: expiresMs)
        return "{\"req_id\":\(quoted(reqId)),\"op\":\"auth\",\"args\":[\(quoted(credentials.apiKey)),\(expiresMs),\(quoted(signature))]}"
    }

    /// `{"req_id":…,"op":"subscribe","args":[topics…]}` (or `unsubscribe`).
    public static func subscribe(_ topics: [BybitStreamTopic], reqId: String, op: String = "subscribe") -> String {
        "{\"req_id\":\(quoted(reqId)),\"op\":\(quoted(op)),\"args\":[\(topics.map { quoted($0.description) }.joined(separator: ","))]}"
    }

    /// `{"req_id":…,"op":"ping"}`.
    public static func ping(reqId: String) -> String { "{\"req_id\":\(quoted(reqId)),\"op\":\"ping\"}" }

    /// A JSON string literal (the values here are ASCII identifiers; quotes and backslashes are escaped anyway).
    static func quoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
