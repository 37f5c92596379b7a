import CarryCore
import CarryEngine
import CarryTesting
import CarryVenues
import Foundation
import Testing

@Suite("venues.yaml")
struct VenueConfigTests {
    func options(_ yaml: String) throws(ConfigError) -> BybitClientOptions {
        let dir = ScratchDirectory("venues")
        try? FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        try? yaml.write(toFile: dir.path + "/venues.yaml", atomically: true, encoding: .utf8)
        return try VenueConfig.bybitOptions(configDirectory: dir.path)
    }

    @Test("the shipped file: api.bybit.com first, api.bytick.com as its backup, private groups paced")
    func shipped() throws {
        let o = try VenueConfig.bybitOptions(configDirectory: Fixtures.repoRoot + "/config")
        #expect(o.allBaseURLs == ["https://api.bybit.com", "https://api.bytick.com"])
        #expect(o.recvWindowMs == 5000)
        #expect(o.rateLimits[.order] == RateLimitConfig(requestsPerSecond: 8, burst: 4))
        #expect(o.rateLimits[.account] == RateLimitConfig(requestsPerSecond: 5, burst: 3))
    }

    @Test("backup hosts and recv window are read strictly")
    func strict() throws {
        let o = try options("bybit:\n  baseUrl: http://127.0.0.1:9/\n  backupBaseUrls: [http://127.0.0.1:10]\n  recvWindow: 3s\n")
        #expect(o.allBaseURLs == ["http://127.0.0.1:9", "http://127.0.0.1:10"] && o.recvWindowMs == 3000)
        #expect(throws: ConfigError.self) { try options("bybit:\n  backupBaseUrls: [ftp://x]\n") }
        #expect(throws: ConfigError.self) { try options("bybit:\n  recvWindow: 10m\n") }
        #expect(throws: ConfigError.self) { try options("bybit:\n  rateLimits:\n    private.orders: {requestsPerSecond: 1, burst: 1}\n") }
    }
}
