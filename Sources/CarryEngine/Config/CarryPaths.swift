// Where Carry keeps its journals, read from config/carry.yaml. Every command that reads or
// writes a journal takes --journal DIR and falls back to these paths.

import Foundation

/// The default locations of journals and run output.
public struct CarryPaths: Sendable, Equatable {
    /// The market-data journal that import and fetch write and backtests read.
    public var marketJournal: String
    /// Where backtests and paper runs put their run journals and reports.
    public var runsDirectory: String

    /// The built-in defaults, used when config/carry.yaml does not exist.
    public static let defaults = CarryPaths(marketJournal: "journals/market", runsDirectory: "out")

    /// Reads `carry.yaml` from `configDirectory`; a missing file means the defaults.
    public static func load(configDirectory: String) throws(ConfigError) -> CarryPaths {
        let file = configDirectory + "/carry.yaml"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return .defaults }
        let root = try ConfigReader(yaml: text, source: file)
        root.expect(["paths"])
        let paths = try root.section("paths")
        paths.expect(["marketJournal", "runsDirectory"])
        let result = CarryPaths(
            marketJournal: try paths.string("marketJournal", default: defaults.marketJournal),
            runsDirectory: try paths.string("runsDirectory", default: defaults.runsDirectory))
        try root.finish()
        return result
    }
}

/// Locates the config directory: `--config-dir`, then `CARRY_CONFIG_DIR`, then `./config`.
public func resolveConfigDirectory(_ explicit: String?) -> String {
    if let explicit, !explicit.isEmpty { return explicit }
    if let env = ProcessInfo.processInfo.environment["CARRY_CONFIG_DIR"], !env.isEmpty { return env }
    return "config"
}
