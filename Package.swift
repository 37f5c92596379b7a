// swift-tools-version: 6.0
// Carry: a funding-rate arbitrage engine. See ARCHITECTURE.md for what each target is and
// the rules between them (CarryCore is pure; every mdb_* call lives in one file; …).
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let wsClient = Target.Dependency.product(name: "WSClient", package: "swift-websocket")

let package = Package(
    name: "Carry",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "carry", targets: ["carry"]),
        .executable(name: "carry-journal", targets: ["carry-journal"]),
        .executable(name: "carry-bench", targets: ["carry-bench"]),
        .library(name: "CarryCore", targets: ["CarryCore"]),
        .library(name: "CarryJournal", targets: ["CarryJournal"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket", from: "1.6.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // Pure core: fixed-point, events and codec, reducer, strategies, risk, projections,
        // simulated exchange. Standard library only: no Foundation, no clock, no IO.
        .target(name: "CarryCore", swiftSettings: strict),

        // C: CRC-32C and SHA-256 with hardware paths (record checksums, the hash chain).
        .target(name: "CCarrySupport"),
        // C: counts allocations; linked only into the benchmark executable.
        .target(name: "CMallocCounter"),
        // System libraries, found through pkg-config.
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),

        // The LMDB event journal: writer thread, readers, verification.
        .target(name: "CarryJournal", dependencies: ["CarryCore", "CLMDB", "CCarrySupport"], swiftSettings: strict),

        // Venue adapters: Bybit v5 over libcurl (REST), rate limits, retries; the v5 WebSocket
        // streams over swift-websocket's client.
        .target(name: "CarryVenues", dependencies: ["CarryCore", "CCurl", "CCarrySupport", logging, wsClient], swiftSettings: strict),

        // Runtime: config, market journals (import, fetch), backtest driver, reports; sessions
        // (paper) and their loopback control port (Hummingbird, Prometheus text).
        .target(
            name: "CarryEngine",
            dependencies: [
                "CarryCore", "CarryJournal", "CarryVenues", "CCarrySupport", "Yams", logging, .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),

        // The Bybit-compatible exchange on loopback (Hummingbird).
        .target(
            name: "CarryExchangeSim",
            dependencies: [
                "CarryCore", "CarryJournal", "CarryVenues", "CarryEngine", logging, .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            ],
            swiftSettings: strict),

        // The read-only monitoring dashboard (Hummingbird): a journal tail, server-sent events, one page.
        .target(
            name: "CarryDashboard",
            dependencies: ["CarryCore", "CarryJournal", "CarryEngine", "CarryVenues", logging, .product(name: "Hummingbird", package: "hummingbird")],
            swiftSettings: strict),

        // Shared test support: seeded generators, fixtures, paths, child processes.
        .target(name: "CarryTesting", dependencies: ["CarryCore", "CarryJournal", "CarryEngine", logging], swiftSettings: strict),

        // The operator CLI.
        .executableTarget(
            name: "carry",
            dependencies: ["CarryCore", "CarryJournal", "CarryVenues", "CarryEngine", "CarryExchangeSim", "CarryDashboard", argumentParser, logging],
            swiftSettings: strict),

        // The read-only audit tool (journal-tools/).
        .target(
            name: "CarryJournalTools",
            dependencies: ["CarryCore", "CarryJournal"],
            path: "journal-tools/Sources/CarryJournalTools",
            swiftSettings: strict),
        .executableTarget(
            name: "carry-journal",
            dependencies: ["CarryJournalTools", argumentParser],
            path: "journal-tools/Sources/carry-journal",
            swiftSettings: strict),

        // Benchmarks (never run as tests): ratios against baselines measured in the same run.
        .executableTarget(
            name: "carry-bench",
            dependencies: ["CarryCore", "CarryJournal", "CarryEngine", "CarryVenues", "CarryExchangeSim", "CarryJournalTools", "CMallocCounter",
                           "CarryTesting", argumentParser, logging],
            swiftSettings: strict),

        .testTarget(name: "CarryCoreTests", dependencies: ["CarryCore", "CarryTesting"], swiftSettings: strict),
        .testTarget(name: "CarrySupportTests", dependencies: ["CCarrySupport"], swiftSettings: strict),
        .testTarget(name: "CarryJournalTests", dependencies: ["CarryJournal", "CarryTesting", "carry"], swiftSettings: strict),
        .testTarget(
            name: "CarryJournalToolsTests", dependencies: ["CarryJournalTools", "CarryTesting", "carry-journal", "carry"],
            exclude: ["Golden"],  // expected outputs, read from the source tree by path
            swiftSettings: strict),
        .testTarget(name: "CarryEngineTests", dependencies: ["CarryEngine", "CarryTesting", "carry"], swiftSettings: strict),
        .testTarget(name: "CarryVenuesTests", dependencies: ["CarryVenues", "CarryTesting", logging, wsClient], swiftSettings: strict),
        .testTarget(
            name: "CarryExchangeSimTests",
            dependencies: [
                "CarryExchangeSim", "CarryVenues", "CarryTesting", "carry", logging, wsClient,
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            ],
            swiftSettings: strict),
    ]
)
