// What a run and its rebuild share: the equity sampler behind equity.csv and the summary's
// statistics, the digest of the final book, and a buffered output file. The backtest driver
// feeds them from the reducer; `RunProjector` feeds them from the journal — so a rebuilt
// projection can be compared with the run byte for byte.

public import CarryCore
public import CarryJournal
import Foundation
#if canImport(Glibc)
import Glibc
#endif

private let comma = UInt8(ascii: ",")

/// Samples equity and its parts at every scan tick into the performance statistics and the
/// equity-curve CSV. `exposure_usdt` comes last so readers that index the older columns keep
/// working.
final class EquitySampler {
    let tracker: PerformanceTracker
    private let csv: BufferedFile?
    /// The perp legs, whose gross notional is the exposure measured against the cap.
    private let perps: [InstrumentId]
    private let exposureCap: Double
    /// The columns cash … slippage as last written (with their values): they move only with
    /// fills and funding, so most samples repeat the previous text.
    private var book: (cash: Fixed, funding: Fixed, fees: Fixed, slippage: Fixed) = (.zero, .zero, .zero, .zero)
    private var bookText: [UInt8] = []
    /// The last row's values after its time, and their text.
    private var last: (equity: Fixed, pricePnL: Fixed, drawdown: Fixed, openPairs: Int, gross: Fixed) = (.zero, .zero, .zero, 0, .zero)
    private var rowTail: [UInt8] = []

    init(config: BacktestConfig, pairs: [ResolvedPair], csvPath: String?) throws {
        tracker = PerformanceTracker(initialCapital: config.initialCapitalUsdt, collateralCostApr: config.collateralCostApr)
        perps = pairs.map(\.perp.id)
        exposureCap = config.risk.maxTotalNotionalUsdt.doubleValue
        csv = try csvPath.map { try BufferedFile(path: $0) }
        csv?.write(Array("time,equity_usdt,cash_usdt,funding_usdt,fees_usdt,slippage_usdt,price_pnl_usdt,drawdown,open_pairs,exposure_usdt\n".utf8))
    }

    func sample(at time: Timestamp, portfolio p: Portfolio, marks: (InstrumentId) -> Fixed?, openPairs: Int) {
        var gross = Fixed.zero
        for id in perps {
            let q = p.position(id)
            if !q.isZero, let m = marks(id) { gross += q.magnitude.multiplied(by: m, scale: 8, .toNearestOrEven) }
        }
        sample(at: time, portfolio: p, valuation: p.valuation(marks: marks), gross: gross, openPairs: openPairs)
    }

    /// `sample(at:portfolio:marks:openPairs:)` with the marks as an array by instrument index,
    /// as the reducer keeps them (no closure call per position), and the positions' value at
    /// them when already known (`CarryReducer.scanPositionsValue`).
    func sample(at time: Timestamp, portfolio p: Portfolio, marks: [Fixed?], openPairs: Int, positionsValue known: Fixed? = nil) {
        var gross = Fixed.zero
        for id in perps {
            let q = p.position(id)
            if !q.isZero, id.index < marks.count, let m = marks[id.index] { gross += q.magnitude.multiplied(by: m, scale: 8, .toNearestOrEven) }
        }
        let value = known ?? p.positionsValue(marks: marks)
        sample(at: time, portfolio: p, valuation: (p.cash + value, value - p.totalReferenceCost), gross: gross, openPairs: openPairs)
    }

    /// A sample with the positions already valued (`Portfolio.valuation`) and the perp legs'
    /// gross notional summed.
    private func sample(at time: Timestamp, portfolio p: Portfolio, valuation: (equity: Fixed, pricePnL: Fixed), gross: Fixed, openPairs: Int) {
        // Positions valued once for equity and price P&L; the totals are the portfolio's
        // running sums. The line goes straight into the file's byte buffer (this runs at every
        // scan tick: formatting through Strings was a sixth of a backtest's time).
        let (equity, pricePnL) = valuation
        tracker.observe(time: time, equity: equity, openPairs: openPairs, exposure: gross.doubleValue / exposureCap)
        guard let csv else { return }
        let drawdown = tracker.currentDrawdown.rounded(scale: 6, .toNearestOrEven)
        let unchanged = bookText.count > 0 && book.cash.isIdentical(to: p.cash) && book.funding.isIdentical(to: p.totalFunding)
            && book.fees.isIdentical(to: p.totalFees) && book.slippage.isIdentical(to: p.totalSlippage)
        if !unchanged {
            book = (p.cash, p.totalFunding, p.totalFees, p.totalSlippage)
            bookText.removeAll(keepingCapacity: true)
            bookText.append(comma); p.cash.write(to: &bookText)
            bookText.append(comma); p.totalFunding.write(to: &bookText)
            bookText.append(comma); p.totalFees.write(to: &bookText)
            bookText.append(comma); p.totalSlippage.write(to: &bookText)
        }
        // The row after its time repeats while nothing in it moved (a flat book between
        // trades): then it is copied, not formatted again.
        let repeated = unchanged && !rowTail.isEmpty && last.equity.isIdentical(to: equity) && last.pricePnL.isIdentical(to: pricePnL)
            && last.drawdown.isIdentical(to: drawdown) && last.openPairs == openPairs && last.gross.isIdentical(to: gross)
        if !repeated {
            last = (equity, pricePnL, drawdown, openPairs, gross)
            rowTail.removeAll(keepingCapacity: true)
            rowTail.append(comma); equity.write(to: &rowTail)
            rowTail.append(contentsOf: bookText)
            rowTail.append(comma); pricePnL.write(to: &rowTail)
            rowTail.append(comma); drawdown.write(to: &rowTail)
            rowTail.append(comma); Fixed(Int64(openPairs)).write(to: &rowTail)
            rowTail.append(comma); gross.write(to: &rowTail)
            rowTail.append(UInt8(ascii: "\n"))
        }
        csv.write { line in
            time.writeISO8601(to: &line)
            line.append(contentsOf: rowTail)
        }
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

/// A file written through a byte buffer.
final class BufferedFile {
    private let handle: FileHandle
    private let path: String
    /// Why a write failed (then nothing more is written).
    private var failure: String?
    private var buffer: [UInt8] = []
    private static let flushBytes = 1 << 16

    convenience init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw BacktestError("cannot create \(path): check the --out directory is writable", badInput: false)
        }
        self.init(handle: try FileHandle(forWritingTo: URL(fileURLWithPath: path)), path: path)
    }

    /// Writes to an open file (`path` names it in errors).
    init(handle: FileHandle, path: String) {
        self.handle = handle
        self.path = path
        buffer.reserveCapacity(Self.flushBytes + 1024)
    }

    func write(_ bytes: [UInt8]) {
        write { $0.append(contentsOf: bytes) }
    }

    /// Lets `body` append to the buffer in place; flushes past 64 KiB.
    func write(_ body: (inout [UInt8]) -> Void) {
        body(&buffer)
        if buffer.count >= Self.flushBytes { flush() }
    }

    /// Writes the buffer out with `write(2)` from the buffer itself (through `Data` it was
    /// copied first: a sweep writes every config's curve, 4.5 MB for four years of hourly
    /// ticks). A failed write (disk full) is kept and thrown by `close`, and nothing more is
    /// written: the run goes on, and fails at its end naming the file, instead of trapping
    /// as `FileHandle.write` did.
    func flush() {
        guard !buffer.isEmpty else { return }
        if failure == nil {
            let fd = handle.fileDescriptor
            buffer.withUnsafeBytes { bytes in
                var done = 0
                while done < bytes.count {
                    let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
                    if n > 0 {
                        done += n
                    } else if n < 0 && errno == EINTR {
                        continue
                    } else {
                        let code = n < 0 ? errno : 0
                        failure = code == 0 ? "nothing written"
                            : String(cString: strerror(code)) + (code == ENOSPC || code == EDQUOT ? " (is the disk full?)" : "")
                        return
                    }
                }
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    func close() throws {
        flush()
        try handle.close()
        if let failure { throw BacktestError("cannot write \(path): \(failure)", badInput: false) }
    }
}
