// Bybit API credentials: read from the environment or an untracked `.env` file (the
// environment wins), never from a command line or a config file, and never printed.
//
// Invariant: no description, debug description or mirror of a credential contains the
// secret, and none contains the key either (a key names an account; logs must not).

/// An API key and its secret. Printing one shows neither.
public struct BybitCredentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The environment variable holding the key.
    public static let apiKeyVariable = "BYBIT_API_KEY"
    /// The environment variable holding the secret.
    public static let secretVariable = "BYBIT_API_SECRET"

    /// `X-BAPI-API-KEY`.
    public let apiKey: String
    /// The HMAC key. Internal: only the signer reads it.
    let secret: String

    /// Credentials from values; nil when either is unusable (empty, whitespace or control
    /// characters, non-ASCII): such a key can only produce 10003/10004 at the venue.
    public init?(apiKey: String, secret: String) {
        guard Self.plausible(apiKey), Self.plausible(secret) else { return nil }
        self.apiKey = apiKey
        self.secret = secret
    }

    static func plausible(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 256 && s.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    public var description: String { "BybitCredentials(key: <\(apiKey.utf8.count) chars>, secret: <redacted>)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }

    /// The one message for missing or unusable keys (the CLI exits 2 with it).
    public static let missingMessage = """
        Bybit API credentials are missing or malformed: set \(apiKeyVariable) and \(secretVariable) in the environment \
        (or in an untracked .env file in the working directory, one NAME=value per line). Nothing was sent.
        """

    /// Reads `BYBIT_API_KEY` and `BYBIT_API_SECRET` from `environment`, else from the `.env`
    /// text (each variable separately: the environment wins; an empty variable counts as
    /// unset). Nil when either is missing or unusable.
    public static func load(environment: [String: String], dotEnv: String?) -> BybitCredentials? {
        let file = dotEnv.map(DotEnv.parse) ?? [:]
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } ?? file[name] }
        guard let key = value(apiKeyVariable), let secret = value(secretVariable) else { return nil }
        return BybitCredentials(apiKey: key, secret: secret)
    }
}

/// The `.env` format: `NAME=value` lines, optional `export `, `#` comments, values optionally
/// in single or double quotes. Later lines win.
public enum DotEnv {
    /// The variables a `.env` text sets.
    public static func parse(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            var line = raw.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingWhitespace() }
            guard let eq = line.firstIndex(of: "=") else { continue }
            let name = String(line[..<eq]).trimmingWhitespace()
            var value = String(line[line.index(after: eq)...]).trimmingWhitespace()
            if value.count >= 2, let q = value.first, q == "\"" || q == "'", value.last == q {
                value = String(value.dropFirst().dropLast())
            }
            if !name.isEmpty { out[name] = value }
        }
        return out
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        String(self.drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" }).reversed().drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" }).reversed())
    }
}
