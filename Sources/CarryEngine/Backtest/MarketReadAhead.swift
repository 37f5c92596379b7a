// Reads a backtest's market records ahead of the pipeline, on a thread of its own: scanning
// the market journal by time, checking every record and decoding the ones the run trades is
// about a third of a backtest's work, and none of it depends on the pipeline. The pipeline
// (the caller's thread) takes the decoded records in batches, in exactly the order the scan
// produced them, so the run is the same as reading them itself — only sooner.
//
// Invariants:
// - Order: batches are taken in the order they were read; within a batch, records keep the
//   scan's order (bars and other events interleaved as they came).
// - Memory is bounded and steady: `poolSize` batches of `batchSize` records circulate — the
//   reader fills an empty one (waiting for the pipeline to give one back when none is), the
//   pipeline takes full ones in order and gives them back. Nothing is allocated once every
//   batch has been filled once.
// - Errors: a reader failure (a damaged record, an LMDB error) is thrown by `next()` after
//   the batches read before it; `stop()` makes the reader end and waits for it, so no read
//   transaction outlives the run.

import CarryCore
import CarryJournal
import Foundation

/// One batch of market records, in scan order: bars and other events in two lists, and
/// which list each record came from.
struct MarketBatch: Sendable {
    /// Bars with their source seqs (event time = the bar's record time).
    var bars: [(seq: UInt64, time: Timestamp, bar: BarClosed)] = []
    /// Settlements and interval changes with their source seqs.
    var others: [(seq: UInt64, time: Timestamp, event: Event)] = []
    /// For each record in scan order: true for the next bar, false for the next other event.
    var isBar: [Bool] = []

    var count: Int { isBar.count }

    mutating func removeAll() {
        bars.removeAll(keepingCapacity: true)
        others.removeAll(keepingCapacity: true)
        isBar.removeAll(keepingCapacity: true)
    }
}

/// The reader thread and the hand-over between it and the pipeline.
final class MarketReadAhead: @unchecked Sendable {
    /// Which records the run reads (the filter the scan applies before decoding).
    struct Selection: Sendable {
        /// By instrument index: the spot and perp legs of the configured pairs (their
        /// settlements and interval changes are read).
        var traded: [Bool]
        /// By instrument index: the instruments whose bars are read (every traded one, but a
        /// perp in zero-basis mode, whose bars are the spot's). `ReplayFeed.selection` makes both.
        var readsBars: [Bool]
        /// The bar interval the engine trades on.
        var barIntervalSeconds: UInt32
        var from: Timestamp
        var through: Timestamp
    }

    static let batchSize = 2048
    /// Batches in circulation: one being filled, one being processed, the rest queued.
    static let poolSize = 4

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var full: [MarketBatch] = []
    private var empty: [MarketBatch] = []
    private var allocated = 0
    private var failure: (any Error)?
    private var readerDone = false
    private var stopping = false

    /// Starts reading `journal` on a new thread.
    init(journal: Journal, selection: Selection) {
        let thread = Thread { [self] in read(journal, selection) }
        thread.name = "carry-backtest-read"
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// The next batch in order; nil when the scan is done. Throws the reader's error once the
    /// batches read before it have been taken. Hand the batch back with `recycle`.
    func next() throws -> MarketBatch? {
        condition.lock()
        defer { condition.unlock() }
        while full.isEmpty && !readerDone { condition.wait() }
        if !full.isEmpty {
            let batch = full.removeFirst()
            condition.broadcast()
            return batch
        }
        if let failure { throw failure }
        return nil
    }

    /// Gives a batch's storage back to the reader (once the caller is done with it).
    func recycle(_ batch: MarketBatch) {
        condition.lock()
        empty.append(batch)
        condition.broadcast()
        condition.unlock()
    }

    /// Ends the reader (when it next hands over a batch, if it is still scanning) and waits
    /// until it has left the journal. Safe to call more than once.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !readerDone { condition.wait() }
        full.removeAll()
        condition.unlock()
    }

    // MARK: The reader thread

    private func read(_ journal: Journal, _ selection: Selection) {
        let barKind = EventKind.barClosed.rawValue
        let fundingKind = EventKind.fundingSettled.rawValue
        let intervalKind = EventKind.fundingIntervalChanged.rawValue
        guard var batch = takeEmpty() else { return finish(nil) }
        var error: (any Error)?
        do {
            try journal.withSnapshot { snap in
                try snap.scanByTime(from: selection.from, through: selection.through) { view in
                    let kind = view.header.kindCode
                    guard kind == barKind || kind == fundingKind || kind == intervalKind else { return true }
                    // Other instruments' records and other bar intervals are skipped undecoded.
                    guard let id = try view.instrument(), id.index < selection.traded.count, selection.traded[id.index] else { return true }
                    if let seconds = try view.barIntervalSeconds(), seconds != selection.barIntervalSeconds || !selection.readsBars[id.index] { return true }
                    if kind == barKind {
                        batch.bars.append((view.header.seq, view.header.eventTime, try view.decodeBar()))
                        batch.isBar.append(true)
                    } else {
                        batch.others.append((view.header.seq, view.header.eventTime, try view.decode()))
                        batch.isBar.append(false)
                    }
                    if batch.count >= Self.batchSize {
                        hand(batch)
                        guard let next = takeEmpty() else { batch = MarketBatch(); return false }
                        batch = next
                    }
                    return true
                }
            }
            if batch.count > 0 { hand(batch) }
        } catch let e {
            // The records read before the failure still go first, as if read in line.
            if batch.count > 0 { hand(batch) }
            error = e
        }
        finish(error)
    }

    private func finish(_ error: (any Error)?) {
        condition.lock()
        failure = error
        readerDone = true
        condition.broadcast()
        condition.unlock()
    }

    /// Queues a full batch for the pipeline.
    private func hand(_ batch: MarketBatch) {
        condition.lock()
        if !stopping { full.append(batch) }
        condition.broadcast()
        condition.unlock()
    }

    /// An empty batch: a new one while fewer than `poolSize` exist, else one the pipeline gave
    /// back (waiting for it); nil when stopping.
    private func takeEmpty() -> MarketBatch? {
        condition.lock()
        while empty.isEmpty && allocated >= Self.poolSize && !stopping { condition.wait() }
        if stopping {
            condition.unlock()
            return nil
        }
        if var batch = empty.popLast() {
            condition.unlock()
            batch.removeAll()   // the pipeline let go of it: the storage is reused in place
            return batch
        }
        allocated += 1
        condition.unlock()
        var batch = MarketBatch()
        batch.bars.reserveCapacity(Self.batchSize)
        batch.isBar.reserveCapacity(Self.batchSize)
        return batch
    }
}
