// Bybit v5 request signing (HMAC keys): sign = hex(HMAC-SHA256(secret,
// timestamp + apiKey + recvWindow + payload)), where payload is the query string exactly as
// sent (GET) or the JSON body exactly as sent (POST). The headers carry the rest.
//
// Invariant: the signer never logs and never puts the secret in anything it returns; the
// signature goes only into the X-BAPI-SIGN header.

/// Signs requests with one credential pair.
public struct BybitSigner: Sendable {
    public let credentials: BybitCredentials
    /// `X-BAPI-RECV-WINDOW`: how long after its timestamp the venue accepts a request.
    public var recvWindowMs: Int64

    /// A signer; Bybit's default window is 5000 ms.
    public init(credentials: BybitCredentials, recvWindowMs: Int64 = 5000) {
        self.credentials = credentials
        self.recvWindowMs = recvWindowMs
    }

    /// The hex signature of `payload` (query string or body bytes) at `timestampMs`.
    public func signature(timestampMs: Int64, payload: some Collection<UInt8>) -> String {
        Self.signature(secret: credentials.secret, apiKey: credentials.apiKey, timestampMs: timestampMs, recvWindowMs: recvWindowMs, payload: payload)
    }

    /// The signature for any key pair (the loopback venue verifies with it).
    public static func signature(secret: String, apiKey: String, timestampMs: Int64, recvWindowMs: Int64, payload: some Collection<UInt8>) -> String {
        let message = Array("\(timestampMs)\(apiKey)\(recvWindowMs)".utf8) + Array(payload)
        return HMACSHA256.hex(key: secret, message: message)
    }

    /// The five authentication headers of a request.
    public func headers(timestampMs: Int64, payload: some Collection<UInt8>) -> [(name: String, value: String)] {
        [("X-BAPI-API-KEY", credentials.apiKey), ("X-BAPI-TIMESTAMP", String(timestampMs)),
         ("X-BAPI-SIGN", signature(timestampMs: timestampMs, payload: payload)), ("X-BAPI-RECV-WINDOW", String(recvWindowMs)),
         ("X-BAPI-SIGN-TYPE", "2")]
    }
}
