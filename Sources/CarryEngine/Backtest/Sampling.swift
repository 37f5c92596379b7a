// What a run and its rebuild share: the equity sampler behind equity.csv and the summary's
// statistics, the digest of the final book, and a buffered output file. The backtest driver
// feeds them from the reducer; `RunProjector` feeds them from the journal — so a rebuilt
// projection can be compared with the run byte for byte.

public import CarryCore
public import CarryJournal
import CCarrySupport
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
///
/// Opened by path, it is written uncached where the file system allows (O_DIRECT, in aligned
/// 1 MiB blocks, the last partial block written the ordinary way at close): an equity curve is
/// written once and read later, if ever, and a sweep writes one per config (4.5 MB each over
/// four years of hourly ticks). Through the page cache every such page was fresh memory for
/// the kernel to fill — on a virtual machine a fault of microseconds each, 15 % of a swept
/// config's CPU in perf — and the curves pushed the market journal's pages out of the cache.
/// The bytes on disk are the same either way.
final class BufferedFile {
    private let fd: Int32
    /// Set when the file was opened from a handle (closed through it).
    private let handle: FileHandle?
    private let path: String
    /// Why a write failed (then nothing more is written).
    private var failure: String?
    private var buffer: [UInt8] = []
    /// Writes bypass the page cache (until a write is refused so: then they go through it).
    private var uncached: Bool
    /// The aligned block uncached writes are made from (nil when cached).
    private var block: UnsafeMutableRawPointer?
    private static let blockBytes = 1 << 20
    private static let alignment = 4096
    private var flushBytes: Int { uncached ? Self.blockBytes : 1 << 16 }
    private var closed = false

    /// Creates or truncates `path` (a device such as /dev/null is opened as it is, never
    /// replaced).
    convenience init(path: String) throws {
        var fd = carry_open_uncached(path)
        var uncached = fd >= 0
        if fd < 0 && errno == EINVAL {
            fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            uncached = false
        }
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw BacktestError("cannot create \(path): \(reason); check the --out directory is writable", badInput: false)
        }
        self.init(fd: fd, handle: nil, path: path, uncached: uncached)
    }

    /// Writes to an open file (`path` names it in errors), through the page cache.
    convenience init(handle: FileHandle, path: String) {
        self.init(fd: handle.fileDescriptor, handle: handle, path: path, uncached: false)
    }

    private init(fd: Int32, handle: FileHandle?, path: String, uncached: Bool) {
        self.fd = fd
        self.handle = handle
        self.path = path
        self.uncached = uncached
        if uncached { block = UnsafeMutableRawPointer.allocate(byteCount: Self.blockBytes, alignment: Self.alignment) }
        buffer.reserveCapacity((uncached ? Self.blockBytes : 1 << 16) + 1024)
    }

    deinit {
        block?.deallocate()
        // A file opened here and never closed (a run that threw) is not leaked.
        if handle == nil && !closed { _ = Glibc.close(fd) }
    }

    /// True while writes bypass the page cache (tests).
    var writesUncached: Bool { uncached }

    func write(_ bytes: [UInt8]) {
        write { $0.append(contentsOf: bytes) }
    }

    /// Lets `body` append to the buffer in place; flushes past the block size.
    func write(_ body: (inout [UInt8]) -> Void) {
        body(&buffer)
        if buffer.count >= flushBytes { flush(final: false) }
    }

    /// Writes the buffer out with `write(2)` (uncached: its whole aligned blocks, the rest kept
    /// for the next flush; `final`: all of it). A failed write (disk full) is kept and thrown by
    /// `close`, and nothing more is written: the run goes on, and fails at its end naming the
    /// file, instead of trapping as `FileHandle.write` did.
    private func flush(final: Bool) {
        guard !buffer.isEmpty else { return }
        guard failure == nil else { return buffer.removeAll(keepingCapacity: true) }
        if uncached, let block {
            let whole = buffer.count / Self.alignment * Self.alignment
            var done = 0
            buffer.withUnsafeBytes { bytes in
                while done < whole && uncached {
                    let n = min(Self.blockBytes, whole - done)
                    block.copyMemory(from: bytes.baseAddress! + done, byteCount: n)
                    guard writeAll(UnsafeRawBufferPointer(start: block, count: n)) else { return }
                    done += n
                }
            }
            guard failure == nil else { return buffer.removeAll(keepingCapacity: true) }
            buffer.removeSubrange(0..<done)
            if uncached {
                // Less than a block left: it waits for the next flush, or ends the file.
                guard final, !buffer.isEmpty else { return }
                // The last partial block: the file's end need not be aligned.
                guard carry_drop_uncached(fd) == 0 else {
                    fail(errno)
                    return buffer.removeAll(keepingCapacity: true)
                }
                uncached = false
            }
        }
        buffer.withUnsafeBytes { _ = writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes all of `bytes` at the file's offset (going on cached if an uncached write is
    /// refused or comes up short). False when a write failed (`failure` set).
    private func writeAll(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n > 0 {
                done += n
                // A short uncached write leaves the offset unaligned: go on cached.
                if uncached && n % Self.alignment != 0 {
                    if carry_drop_uncached(fd) != 0 { fail(errno); return false }
                    uncached = false
                }
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && errno == EINVAL && uncached {
                // This file system took O_DIRECT at open but refuses the write: cached from here.
                if carry_drop_uncached(fd) != 0 { fail(errno); return false }
                uncached = false
            } else {
                fail(n < 0 ? errno : 0)
                return false
            }
        }
        return true
    }

    private func fail(_ code: Int32) {
        failure = code == 0 ? "nothing written"
            : String(cString: strerror(code)) + (code == ENOSPC || code == EDQUOT ? " (is the disk full?)" : "")
    }

    func close() throws {
        guard !closed else { return }
        flush(final: true)
        closed = true
        if let handle { try handle.close() } else if Glibc.close(fd) != 0 && failure == nil { fail(errno) }
        if let failure { throw BacktestError("cannot write \(path): \(failure)", badInput: false) }
    }
}
