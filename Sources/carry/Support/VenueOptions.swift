// The Bybit client options a command uses: config/venues.yaml, with a --base-url named on the
// command line as the only host tried.

import CarryEngine
import CarryVenues

enum VenueOptions {
    /// Options from `<configDirectory>/venues.yaml`, overridden by `baseURL` when given.
    static func bybit(configDirectory: String, baseURL: String?) throws -> BybitClientOptions {
        var options: BybitClientOptions
        do { options = try VenueConfig.bybitOptions(configDirectory: configDirectory) } catch { throw CLIError.badInput(error.description) }
        if let baseURL {
            guard let url = Bybit.normalizedBaseURL(baseURL) else { throw CLIError.badInput("--base-url must start with http:// or https:// (got \(baseURL))") }
            options.baseURL = url
            options.backupBaseURLs = []   // a host named on the command line is the only one tried
        }
        return options
    }
}
