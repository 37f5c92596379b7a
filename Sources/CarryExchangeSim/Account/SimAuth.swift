// Verification of Bybit's signed requests on the loopback venue, over the bytes exactly as
// the client sent them: the raw query string of a GET, the raw body of a POST, and the
// timestamp and recv-window headers as written (clients differ in parameter order, JSON
// spacing and number formatting; nothing is re-serialised).
//
// Time: a request is on time when its timestamp t satisfies Bybit's rule
// now − recvWindow ≤ t < now + 1000 against either the wall clock (a third-party client
// signing with its own clock) or the venue's market clock (a client that synced from
// `/v5/market/time`). While the market clock replays history at X×, a wall millisecond is X
// venue milliseconds, so the market-clock window is X times wider, and it stretches by the
// wall time since the market clock last moved (a standing clock does not age a client's
// synced offset). The clock-skew fault shifts both references.

import CarryVenues

/// The venue's test key pair.
public struct SimCredentials: Sendable, Equatable {
    /// Documented defaults: `carry exchange-sim` accepts these unless told otherwise.
    public static let defaultAPIKey = "carry-sim-key"
    public static let defaultSecret = "carry-sim-secret"

    public var apiKey: String
    public var secret: String

    public init(apiKey: String = SimCredentials.defaultAPIKey, secret: String = SimCredentials.defaultSecret) {
        self.apiKey = apiKey
        self.secret = secret
    }
}

/// The clocks a timestamp is checked against, in ms.
public struct SimAuthClocks: Sendable, Equatable {
    public var wallNowMs: Int64
    public var marketNowMs: Int64
    /// Replay speed (venue ms per wall ms; 0 for a standing clock).
    public var speed: Double
    /// Wall ms since the market clock last moved.
    public var sinceMarketMovedMs: Int64
    public var skewMs: Int64

    public init(wallNowMs: Int64, marketNowMs: Int64, speed: Double, sinceMarketMovedMs: Int64, skewMs: Int64) {
        self.wallNowMs = wallNowMs
        self.marketNowMs = marketNowMs
        self.speed = speed
        self.sinceMarketMovedMs = sinceMarketMovedMs
        self.skewMs = skewMs
    }
}

/// Checks a signed request.
public enum SimAuth {
    /// Nil when the request is authentic and on time; else Bybit's refusal (10003 bad key,
    /// 10002 timestamp, 10004 bad signature — whose message, like Bybit's, echoes the string
    /// that should have been signed).
    public static func verify(header: (String) -> String?, payload: [UInt8], credentials: SimCredentials, clocks: SimAuthClocks) -> SimReject? {
        guard let key = header("X-BAPI-API-KEY"), !key.isEmpty else { return SimReject(10003, "API key is invalid.") }
        guard HMACSHA256.constantTimeEquals(Array(key.utf8), Array(credentials.apiKey.utf8)) else { return SimReject(10003, "API key is invalid.") }
        guard let tsText = header("X-BAPI-TIMESTAMP"), let ts = Int64(tsText) else {
            return SimReject(10002, "invalid request, please check your server timestamp or recv_window param")
        }
        let recvText = header("X-BAPI-RECV-WINDOW")
        let recv = recvText.flatMap { Int64($0) } ?? 5000
        // Bybit bounds recv_window; a huge one must be refused, not overflow the arithmetic below.
        guard (1...60_000).contains(recv), onTime(ts, recvWindowMs: recv, clocks) else {
            let server = clocks.wallNowMs + clocks.skewMs
            return SimReject(10002, "invalid request, please check your server timestamp or recv_window param. req_timestamp[\(ts)],server_timestamp[\(server)],recv_window[\(recv)]")
        }
        let signed = Array((tsText + key + (recvText ?? "")).utf8) + payload
        let expected = HMACSHA256.hex(key: credentials.secret, message: signed)
        guard let sign = header("X-BAPI-SIGN"), HMACSHA256.constantTimeEquals(Array(sign.lowercased().utf8), Array(expected.utf8)) else {
            return SimReject(10004, "error sign! origin_string[\(String(decoding: signed, as: UTF8.self))]")
        }
        return nil
    }

    /// Bybit's rule against either clock (see the file comment).
    public static func onTime(_ ts: Int64, recvWindowMs: Int64, _ c: SimAuthClocks) -> Bool {
        // Saturating throughout: a skew or a clock set to an absurd value answers 10002, never traps.
        let wall = c.wallNowMs.addingReportingOverflow(c.skewMs)
        if !wall.overflow, ts >= wall.partialValue &- recvWindowMs && ts < wall.partialValue &+ 1000 { return true }
        let k = min(max(1, c.speed), 1e9)
        let market = c.marketNowMs.addingReportingOverflow(c.skewMs)
        guard !market.overflow else { return false }
        let window = Double(recvWindowMs) * k, ahead = 1000 * k
        guard window < 1e15, ahead < 1e15 else { return false }
        let lower = market.partialValue &- Int64(window)
        let upper = market.partialValue &+ Int64(ahead) &+ min(c.sinceMarketMovedMs, Int64(1e15))
        return ts >= lower && ts < upper
    }
}
