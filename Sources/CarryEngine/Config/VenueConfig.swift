// config/venues.yaml: where venues are and how fast Carry may talk to them. Strict like
// every Carry config: an unknown key or an impossible value is refused with its path.

import CarryCore
public import CarryVenues
import Foundation

/// The `bybit` section of venues.yaml, as client options.
public enum VenueConfig {
    /// Reads `venues.yaml` from `configDirectory`; a missing file means the defaults.
    public static func bybitOptions(configDirectory: String) throws(ConfigError) -> BybitClientOptions {
        let file = configDirectory + "/venues.yaml"
        var o = BybitClientOptions(baseURL: Bybit.mainnetBaseURL)
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return o }
        let root = try ConfigReader(yaml: text, source: file)
        root.expect(["bybit"])
        let b = try root.section("bybit")
        b.expect(["baseUrl", "backupBaseUrls", "recvWindow", "requestTimeout", "connectTimeout", "maxAttempts", "backoffBase", "backoffMax", "safety", "rateLimits"])
        let base = try b.string("baseUrl", default: Bybit.mainnetBaseURL)
        guard let url = Bybit.normalizedBaseURL(base) else {
            throw ConfigError(source: file, key: "bybit.baseUrl", value: base, message: "must start with http:// or https://")
        }
        o = BybitClientOptions(baseURL: url)
        for backup in try b.stringList("backupBaseUrls", default: []) {
            guard let u = Bybit.normalizedBaseURL(backup) else {
                throw ConfigError(source: file, key: "bybit.backupBaseUrls", value: backup, message: "must start with http:// or https://")
            }
            o.backupBaseURLs.append(u)
        }
        o.recvWindowMs = try b.durationMs("recvWindow", default: 5_000, min: 100, max: 60_000)
        o.requestTimeoutMs = Int(try b.durationMs("requestTimeout", default: 10_000, min: 100, max: 300_000))
        o.connectTimeoutMs = Int(try b.durationMs("connectTimeout", default: 5_000, min: 100, max: 120_000))
        o.maxAttempts = try b.int("maxAttempts", default: 6, range: 1...50)
        o.backoffBaseMs = try b.durationMs("backoffBase", default: 250, min: 1, max: 60_000)
        o.backoffMaxMs = try b.durationMs("backoffMax", default: 30_000, min: o.backoffBaseMs, max: 3_600_000)
        o.safety = try b.fixed("safety", default: Fixed(mantissa: 8, scale: 1), min: Fixed(mantissa: 1, scale: 1), max: Fixed(1)).doubleValue
        let limits = try b.section("rateLimits")
        limits.expect(["default"] + EndpointGroup.allCases.map(\.rawValue))
        /// The pace of one group, when the file sets it.
        func rateLimit(_ key: String) throws(ConfigError) -> RateLimitConfig? {
            guard limits.has(key) else { return nil }
            let s = try limits.section(key)
            s.expect(["requestsPerSecond", "burst"])
            return RateLimitConfig(
                requestsPerSecond: try s.fixed("requestsPerSecond", default: Fixed(10), min: Fixed(mantissa: 1, scale: 1), max: Fixed(1000)).doubleValue,
                burst: Double(try s.int("burst", default: 5, range: 1...1000)))
        }
        if let config = try rateLimit("default") { o.defaultRateLimit = config }
        for group in EndpointGroup.allCases {
            if let config = try rateLimit(group.rawValue) { o.rateLimits[group] = config }
        }
        try root.finish()
        return o
    }
}
