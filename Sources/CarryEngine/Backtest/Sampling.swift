// What a run and its rebuild share: the equity sampler behind equity.csv and the summary's
// statistics, the digest of the final book, and a buffered output file. The backtest driver
// feeds them from the reducer; `RunProjector` feeds them from the journal — so a rebuilt
// projection can be compared with the run byte for byte.

public import CarryCore
public import CarryJournal
import Foundation

/// Samples equity and its parts at every scan tick into the performance statistics and the
/// equity-curve CSV.
final class EquitySampler {
    let tracker: PerformanceTracker
    private let csv: BufferedFile?
    /// The perp legs, whose gross notional is the exposure measured against the cap.
    private let perps: [InstrumentId]
    private let exposureCap: Double

    init(config: BacktestConfig, pairs: [ResolvedPair], csvPath: String?) throws {
        tracker = PerformanceTracker(initialCapital: config.initialCapitalUsdt, collateralCostApr: config.collateralCostApr)
        perps = pairs.map(\.perp.id)
        exposureCap = config.risk.maxTotalNotionalUsdt.doubleValue
        csv = try csvPath.map { try BufferedFile(path: $0) }
        csv?.write("time,equity_usdt,cash_usdt,funding_usdt,fees_usdt,slippage_usdt,price_pnl_usdt,drawdown,open_pairs\n")
    }

    func sample(at time: Timestamp, portfolio p: Portfolio, marks: (InstrumentId) -> Fixed?, openPairs: Int) {
        let equity = p.equity(marks: marks)
        var gross = Fixed.zero
        for id in perps {
            let q = p.position(id)
            if !q.isZero, let m = marks(id) { gross += q.magnitude.multiplied(by: m, scale: 8, .toNearestOrEven) }
        }
        tracker.observe(time: time, equity: equity, openPairs: openPairs, exposure: gross.doubleValue / exposureCap)
        guard let csv else { return }
        // One line per scan tick of every run: written field by field, no temporary array.
        var line = time.iso8601
        line.reserveCapacity(192)
        func field(_ v: Fixed) {
            line += ","
            v.write(to: &line)
        }
        field(equity)
        field(p.cash)
        field(p.totalFunding)
        field(p.totalFees)
        field(p.totalSlippage)
        field(p.totalPricePnL(marks: marks))
        line += ","
        line += tracker.currentDrawdown.formatted(fractionDigits: 6)
        line += ","
        line += String(openPairs)
        line += "\n"
        csv.write(line)
    }

    func close() throws { try csv?.close() }
}

/// A digest of the final book: equal exactly when positions, cash and every P&L component
/// are equal.
public enum StateDigest {
    /// SHA-256 over a canonical text of the portfolio and the marks it is valued at.
    public static func of(_ p: Portfolio, marks: [InstrumentId: Fixed]) -> Digest {
        var text = "initial=\(p.initialCash.normalized) cash=\(p.cash.normalized) liquidations=\(p.liquidations)\n"
        for i in p.qty.indices {
            let id = InstrumentId(UInt32(i))
            text += "\(i): qty=\(p.qty[i].normalized) ref=\(p.referenceCost[i].normalized) fees=\(p.fees[i].normalized) slip=\(p.slippage[i].normalized) funding=\(p.funding[i].normalized) fills=\(p.fills[i]) mark=\(marks[id]?.normalized.description ?? "-")\n"
        }
        var h = SHA256Hasher()
        h.update(Array(text.utf8))
        return h.finish()
    }
}

/// A file written through a buffer.
final class BufferedFile {
    private let handle: FileHandle
    private var buffer = ""

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw BacktestError("cannot create \(path): check the --out directory is writable", badInput: false)
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    }

    func write(_ s: String) {
        buffer += s
        if buffer.utf8.count >= 1 << 16 { flush() }
    }

    func flush() {
        guard !buffer.isEmpty else { return }
        handle.write(Data(buffer.utf8))
        buffer = ""
    }

    func close() throws {
        flush()
        try handle.close()
    }
}
