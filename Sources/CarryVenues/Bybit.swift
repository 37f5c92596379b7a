// Bybit v5 constants: hosts and the public market endpoints Carry reads.

/// Bybit v5 REST endpoints and hosts.
public enum Bybit {
    /// Production REST host.
    public static let mainnetBaseURL = "https://api.bybit.com"
    /// Testnet REST host.
    public static let testnetBaseURL = "https://api-testnet.bybit.com"

    /// `url` without a trailing slash, or nil unless it starts with http:// or https://
    /// (the one check of a configured or `--base-url` host).
    public static func normalizedBaseURL(_ url: String) -> String? {
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else { return nil }
        return url.hasSuffix("/") ? String(url.dropLast()) : url
    }

    /// Public market endpoints (no signature).
    public enum Path {
        public static let fundingHistory = "/v5/market/funding/history"
        public static let kline = "/v5/market/kline"
        public static let instrumentsInfo = "/v5/market/instruments-info"
        public static let tickers = "/v5/market/tickers"
        public static let serverTime = "/v5/market/time"
    }

    /// Bybit's `category` parameter.
    public enum Category: String, Sendable, CaseIterable {
        case spot
        case linear
        case inverse
    }
}
