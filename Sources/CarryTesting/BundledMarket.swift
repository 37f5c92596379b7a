// The bundled history (data/), imported once per test process into a scratch market journal
// that every test of the process reads (read-only).

import CarryCore
import CarryEngine
import Logging

public enum BundledMarket {
    /// The market journal's path; the first use imports it.
    public static let path: String = {
        let dir = ScratchDirectory("bundled-market")
        // Kept for the life of the process: tests share it read-only.
        keep.append(dir)
        var logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        let importer = MarketImporter(logger: logger)
        let market = try! MarketJournal(path: dir.sub("market"), purpose: .importer, recordClock: { Timestamp(ms: 1_800_000_000_000) })
        _ = try! importer.write(try! importer.read(try! BundledDataSet.discover(Fixtures.bundledData)), into: market)
        try! market.close()
        return dir.sub("market")
    }()
    nonisolated(unsafe) static var keep: [ScratchDirectory] = []
}
