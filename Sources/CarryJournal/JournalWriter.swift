// The journal's single writer: one dedicated thread owns every write transaction.
//
// Invariants:
// - Seqs are assigned at enqueue, in enqueue order, contiguous from the last committed seq.
//   A producer therefore knows an event's seq at once (to link causation or derive a client
//   order id) but must not *act* on it until its ticket reports the commit.
// - A ticket completes only after mdb_txn_commit returned success (durable: default sync).
// - Group commit: everything queued when the thread wakes goes into one transaction, up to
//   `maxBatchEvents`.
// - The producer does the CPU work at enqueue (encoding, CRC-32C, and the SHA-256 chain
//   digest of its batch, chained in enqueue order), so the writer thread only puts and
//   commits and the two overlap. Each enqueued batch gets one chain entry; a transaction
//   may carry several.
// - Any failed put (other than MAP_FULL, which grows the map and retries) or failed commit
//   halts the writer: the failing batch and everything queued behind it fail with the
//   cause, and every later call is refused. Nothing is retried silently.

import CarryCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Writer tunables.
public struct JournalWriterOptions: Sendable {
    /// Upper bound of events in one transaction.
    public var maxBatchEvents: Int
    /// How long the writer waits for more events before committing a small batch (0 = commit
    /// as soon as anything is queued).
    public var commitWindowMs: Int64
    /// Producers block while more than this many bytes wait to be committed.
    public var maxQueuedBytes: Int
    /// After this many bytes committed, the writer drops the process's resident pages of the
    /// journal's map (0: never). A page read once by a transaction stays in the RSS of the
    /// process that mapped it, so without this a live session's RSS grows with its journal
    /// (measured: by the journal's size exactly). The pages stay in the page cache.
    public var releaseResidentEveryBytes: Int

    /// Defaults: batches up to 50,000 events, no added latency, 64 MiB of backlog, resident
    /// map pages dropped every MiB committed.
    public init(maxBatchEvents: Int = 50_000, commitWindowMs: Int64 = 0, maxQueuedBytes: Int = 64 << 20, releaseResidentEveryBytes: Int = 1 << 20) {
        self.maxBatchEvents = maxBatchEvents
        self.commitWindowMs = commitWindowMs
        self.maxQueuedBytes = maxQueuedBytes
        self.releaseResidentEveryBytes = releaseResidentEveryBytes
    }
}

/// The promise of a commit: which seqs were assigned, and (after `wait`) that they are durable.
public final class CommitTicket: @unchecked Sendable {
    /// The seqs assigned to the enqueued events.
    public let seqs: ClosedRange<UInt64>
    private let lock = ConditionLock()
    private var outcome: Result<Void, JournalError>?
    private var continuations: [CheckedContinuation<Void, any Error>] = []

    init(seqs: ClosedRange<UInt64>) { self.seqs = seqs }

    func complete(_ result: Result<Void, JournalError>) {
        let waiting: [CheckedContinuation<Void, any Error>] = lock.withLock {
            outcome = result
            lock.broadcast()
            let w = continuations
            continuations = []
            return w
        }
        for c in waiting { c.resume(with: result.mapError { $0 as any Error }) }
    }

    /// Blocks until the events are durable, or throws why they never will be.
    public func wait() throws(JournalError) {
        let result: Result<Void, JournalError> = lock.withLock {
            while outcome == nil { lock.wait() }
            return outcome!
        }
        try result.get()
    }

    /// Suspends until the events are durable.
    public func value() async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            let ready: Result<Void, JournalError>? = lock.withLock {
                if let outcome { return outcome }
                continuations.append(c)
                return nil
            }
            if let ready { c.resume(with: ready.mapError { $0 as any Error }) }
        }
    }

    /// True once committed or failed.
    public var isDone: Bool { lock.withLock { outcome != nil } }
}

/// Commit statistics, for progress lines and benchmarks.
public struct JournalWriterStats: Sendable {
    public var commits: Int = 0
    public var events: Int = 0
    public var bytes: Int = 0
    public var mapGrowths: Int = 0
    /// Slowest commit seen, in microseconds.
    public var maxCommitMicros: Int64 = 0
    public var totalCommitMicros: Int64 = 0
    /// Times the map's resident pages were dropped (`releaseResidentEveryBytes`), and the
    /// bytes of map advised in all (0 with releases: the map was not found).
    public var residentReleases: Int = 0
    public var residentBytesReleased: Int = 0
}

/// Appends events to a journal from a dedicated thread with group commit.
public final class JournalWriter: @unchecked Sendable {
    private struct Pending {
        var bytes: ByteWriter
        /// End offset of each record in `bytes`.
        var ends: [Int]
        var firstSeq: UInt64
        /// The chain entry of this batch, computed at enqueue.
        var chainEntry: [UInt8]
        var ticket: CommitTicket
    }

    /// The journal being written.
    public let journal: Journal
    private let options: JournalWriterOptions
    private let lock = ConditionLock()
    private var queue: [Pending] = []
    private var queuedBytes = 0
    private var nextSeqValue: UInt64
    /// The first seq of the next batch allowed onto the queue (hand-off order).
    private var pushTurn: UInt64
    /// Buffers of committed batches, reused to avoid faulting in fresh memory per batch.
    private var spareBuffers: [ByteWriter] = []
    private var closing = false
    private var halted: JournalError?
    private var thread: Thread?
    private var threadDone = false
    private var released = false
    private let lockFd: Int32

    /// The chain digest of the last enqueued batch (guarded by `lock`).
    private var chainHead: Digest
    // Owned by the writer thread (read by others only through `stats` under `lock`).
    private var maxEventTime: Timestamp
    private var disorderFromSeq: UInt64
    private var statsValue = JournalWriterStats()
    private var durableSeqValue: UInt64
    private var recordedMapSize: UInt64?

    init(journal: Journal, options: JournalWriterOptions) throws(JournalError) {
        self.journal = journal
        self.options = options
        let path = journal.path
        guard !journal.isReadOnly else {
            throw JournalError(.invalidArgument, "opened read-only; open it for writing to append.", path: path)
        }
        guard journal.claimWriter() else {
            throw JournalError(.busy, "this process already has a writer for this journal.", path: path)
        }
        // One writing process per journal: an advisory lock held for the writer's lifetime.
        let fd = open(path + "/writer.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            journal.releaseWriter()
            throw JournalError(.permissionDenied, "cannot create writer.lock (\(String(cString: strerror(errno)))).", path: path)
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            var buf = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buf, 31, 0)
            let pid = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            Glibc.close(fd)
            journal.releaseWriter()
            throw JournalError(.busy, "another process (pid \(pid)) is writing this journal. Stop it first, or read with carry-journal.", path: path)
        }
        let pidText = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, pidText, pidText.count, 0)
        lockFd = fd

        // Recover the position from what is committed.
        do {
            let state = try journal.withSnapshot { snap -> (UInt64, Digest, Timestamp, UInt64) in
                let last = try snap.lastSeq()
                let head = try snap.chainHead()
                if let head, head.lastSeq != last {
                    throw JournalError(.corrupt, "the chain ends at seq \(head.lastSeq) but the events end at seq \(last). Run `carry-journal verify \(path)`.", path: path)
                }
                if head == nil && last != 0 {
                    throw JournalError(.corrupt, "events exist but the chain is empty. Run `carry-journal verify \(path)`.", path: path)
                }
                var maxTime = Timestamp.distantPast
                if last > 0 {
                    // The max event time: in an ordered journal, the last record's; otherwise
                    // the time index's last key.
                    let disorder = try snap.disorderFromSeq()
                    if disorder == 0 {
                        maxTime = try snap.withRecord(at: last) { $0.header.eventTime } ?? .distantPast
                    } else {
                        let c = try snap.txn.cursor(journal.timeDB)
                        defer { c.close() }
                        if let (k, _) = try c.get(.last), let d = TimeIndexKey.decode(k) { maxTime = d.time }
                        var prefixMax = Timestamp.distantPast
                        if disorder > 1 { prefixMax = try snap.withRecord(at: disorder - 1) { $0.header.eventTime } ?? .distantPast }
                        maxTime = max(maxTime, prefixMax)
                    }
                }
                return (last, head?.digest ?? Chain.genesis(journal.meta.journalId), maxTime, try snap.disorderFromSeq())
            }
            nextSeqValue = state.0 + 1
            pushTurn = state.0 + 1
            durableSeqValue = state.0
            chainHead = state.1
            maxEventTime = state.2
            disorderFromSeq = state.3
        } catch {
            Glibc.close(fd)
            journal.releaseWriter()
            if let e = error as? JournalError { throw e }
            if let s = error as? LMDBStatus { throw JournalError.from(s, path: path, doing: "recovering the writer position") }
            throw JournalError(.storage, "\(error)", path: path)
        }

        let t = Thread { self.run() }
        t.name = "carry-journal-writer"
        t.stackSize = 1 << 20
        thread = t
        t.start()
    }

    deinit {
        Glibc.close(lockFd)
    }

    // MARK: Producer API

    /// The seq the next enqueued event will get.
    public var nextSeq: UInt64 { lock.withLock { nextSeqValue } }

    /// The last seq known to be durable.
    public var durableSeq: UInt64 { lock.withLock { durableSeqValue } }

    /// Commit statistics so far.
    public var stats: JournalWriterStats { lock.withLock { statsValue } }

    /// The error that halted the writer, if it halted.
    public var haltError: JournalError? { lock.withLock { halted } }

    /// Assigns seqs to `drafts` and queues them for commit. Returns at once (unless the
    /// backlog is full); `wait()` on the ticket before acting on the events.
    public func enqueue(_ drafts: [EventDraft]) throws(JournalError) -> CommitTicket {
        precondition(!drafts.isEmpty, "enqueue needs at least one event")
        // 1. Reserve seqs (and a recycled buffer) under the lock.
        let reserved: Result<(UInt64, ByteWriter), JournalError> = lock.withLock {
            while queuedBytes > options.maxQueuedBytes && halted == nil && !closing { lock.wait() }
            if let halted { return .failure(haltedError(halted)) }
            if closing { return .failure(JournalError(.closed, "the writer is closed.", path: journal.path)) }
            let first = nextSeqValue
            nextSeqValue = first + UInt64(drafts.count)
            queuedBytes += drafts.count * 160
            let buffer = spareBuffers.popLast() ?? ByteWriter(capacity: drafts.count * 160)
            return .success((first, buffer))
        }
        var (first, w) = try reserved.get()
        let last = first + UInt64(drafts.count) - 1
        // 2. Encode and checksum outside the lock, so the writer thread keeps committing.
        w.removeAll()
        var ends: [Int] = []
        ends.reserveCapacity(drafts.count)
        for (i, d) in drafts.enumerated() {
            RecordCodec.encode(d, seq: first + UInt64(i), into: &w)
            ends.append(w.count)
        }
        // 3. Wait for this batch's turn (producers hand off in seq order), hash it onto the
        //    chain outside the lock, then queue it.
        let previous: Result<Digest, JournalError> = lock.withLock {
            while pushTurn != first && halted == nil { lock.wait() }
            if let halted { return .failure(haltedError(halted)) }
            return .success(chainHead)
        }
        let prev: Digest
        do {
            prev = try previous.get()
        } catch {
            lock.withLock {
                queuedBytes -= drafts.count * 160
                lock.broadcast()
            }
            throw error
        }
        var hasher = Chain.begin(previous: prev, firstSeq: first, lastSeq: last)
        w.withUnsafeBytes { hasher.update($0) }
        let digest = hasher.finish()
        let ticket = CommitTicket(seqs: first...last)
        let entry = Chain.encodeEntry(firstSeq: first, lastSeq: last, digest: digest)
        let pushed: JournalError? = lock.withLock {
            queuedBytes += w.count - drafts.count * 160
            if let halted {
                queuedBytes -= w.count
                lock.broadcast()
                return haltedError(halted)
            }
            chainHead = digest
            pushTurn = last + 1
            queue.append(Pending(bytes: w, ends: ends, firstSeq: first, chainEntry: entry, ticket: ticket))
            lock.broadcast()
            return nil
        }
        if let pushed { throw pushed }
        return ticket
    }

    /// Appends and waits for the commit; returns the seqs.
    @discardableResult
    public func append(_ drafts: [EventDraft]) throws(JournalError) -> ClosedRange<UInt64> {
        let ticket = try enqueue(drafts)
        try ticket.wait()
        return ticket.seqs
    }

    /// Appends one event and waits for the commit; returns its seq.
    @discardableResult
    public func append(_ draft: EventDraft) throws(JournalError) -> UInt64 {
        try append([draft]).lowerBound
    }

    /// Appends and suspends until the commit.
    @discardableResult
    public func appendAsync(_ drafts: [EventDraft]) async throws -> ClosedRange<UInt64> {
        let ticket = try enqueue(drafts)
        try await ticket.value()
        return ticket.seqs
    }

    /// Waits until everything enqueued so far is durable (or throws why not).
    public func flush() throws(JournalError) {
        let target: UInt64 = lock.withLock { nextSeqValue - 1 }
        let result: Result<Void, JournalError> = lock.withLock {
            while durableSeqValue < target && halted == nil { lock.wait() }
            if let halted { return .failure(haltedError(halted)) }
            return .success(())
        }
        try result.get()
    }

    /// Commits what is queued, stops the thread and releases the journal. Throws the halt
    /// error if the writer had halted.
    public func close() throws(JournalError) {
        let firstClose: Bool = lock.withLock {
            closing = true
            lock.broadcast()
            while !threadDone { lock.wait() }
            defer { released = true }
            return !released
        }
        if firstClose {
            flock(lockFd, LOCK_UN)
            journal.releaseWriter()
        }
        if let halted = haltError { throw haltedError(halted) }
    }

    private func haltedError(_ cause: JournalError) -> JournalError {
        JournalError(.writerHalted, "the writer halted and accepts nothing more: \(cause.message)", path: journal.path)
    }

    // MARK: Writer thread

    private func run() {
        var bytesSinceRelease = 0
        while true {
            var batch: [Pending] = []
            let stop: Bool = lock.withLock {
                while queue.isEmpty && !closing { lock.wait() }
                if queue.isEmpty { return true }
                if options.commitWindowMs > 0 && !closing {
                    let deadline = monotonicMs() + options.commitWindowMs
                    while queueEventCount() < options.maxBatchEvents && !closing {
                        let left = deadline - monotonicMs()
                        if left <= 0 { break }
                        lock.wait(timeoutMs: left)
                    }
                }
                var events = 0
                var bytes = 0
                while let next = queue.first, batch.isEmpty || events + next.ends.count <= options.maxBatchEvents {
                    batch.append(next)
                    events += next.ends.count
                    bytes += next.bytes.count
                    queue.removeFirst()
                }
                return false
            }
            if stop { break }
            let started = monotonicMs()
            let startedMicros = monotonicMicros()
            let result = commit(batch)
            let micros = monotonicMicros() - startedMicros
            _ = started
            let events = batch.reduce(0) { $0 + $1.ends.count }
            let bytes = batch.reduce(0) { $0 + $1.bytes.count }
            lock.withLock {
                queuedBytes -= bytes
                switch result {
                case .success(let grew):
                    durableSeqValue = batch.last!.firstSeq + UInt64(batch.last!.ends.count) - 1
                    statsValue.commits += 1
                    statsValue.events += events
                    statsValue.bytes += bytes
                    statsValue.mapGrowths += grew
                    statsValue.totalCommitMicros += micros
                    statsValue.maxCommitMicros = max(statsValue.maxCommitMicros, micros)
                case .failure(let error):
                    halted = error
                }
                lock.broadcast()
            }
            switch result {
            case .success:
                for p in batch { p.ticket.complete(.success(())) }
                // On this thread, between transactions: in the writer's process the only one
                // that resizes the map (a growth, taking the map gate exclusively; held shared
                // here all the same), so the range read from /proc/self/maps stays the map's
                // until the advice is given.
                bytesSinceRelease += bytes
                if options.releaseResidentEveryBytes > 0 && bytesSinceRelease >= options.releaseResidentEveryBytes {
                    bytesSinceRelease %= options.releaseResidentEveryBytes
                    journal.gate.enterShared()
                    let advised = journal.env.releaseResidentPages()
                    journal.gate.leaveShared()
                    lock.withLock {
                        statsValue.residentReleases += 1
                        statsValue.residentBytesReleased += advised
                    }
                }
                // Recycle the buffers once nothing else refers to them.
                var spares = batch.map(\.bytes)
                batch = []
                lock.withLock {
                    while spareBuffers.count < 4, let b = spares.popLast() { spareBuffers.append(b) }
                }
            case .failure(let error):
                for p in batch { p.ticket.complete(.failure(error)) }
                // Everything behind the failed batch fails too: its seqs were never written.
                let rest: [Pending] = lock.withLock {
                    let r = queue
                    queue = []
                    queuedBytes = 0
                    lock.broadcast()
                    return r
                }
                for p in rest { p.ticket.complete(.failure(haltedError(error))) }
            }
            journal.commits.withLock { journal.commits.broadcast() }
            if case .failure = result { break }
        }
        lock.withLock {
            threadDone = true
            lock.broadcast()
        }
    }

    private func queueEventCount() -> Int { queue.reduce(0) { $0 + $1.ends.count } }

    /// Writes one transaction. Returns the number of map growths, or the halting error.
    private func commit(_ batch: [Pending]) -> Result<Int, JournalError> {
        let path = journal.path
        var growths = 0
        let totalBytes = batch.reduce(0) { $0 + $1.bytes.count }
        let firstSeq = batch.first!.firstSeq
        let lastSeq = batch.last!.firstSeq + UInt64(batch.last!.ends.count) - 1
        // Room first: growing needs no transaction open in this process.
        if let error = ensureRoom(forBytes: totalBytes, events: Int(lastSeq - firstSeq + 1), grew: &growths) { return .failure(error) }
        var attempt = 0
        while true {
            attempt += 1
            var maxTime = maxEventTime
            var disorder = disorderFromSeq
            let disorderBefore = disorder
            let txn: LMDBTxn
            do {
                txn = try journal.env.beginWrite()
            } catch {
                return .failure(JournalError.from(error as! LMDBStatus, path: path, doing: "beginning a write"))
            }
            do {
                // The append cursor is closed (by the defer) before anything commits.
                try {
                    let events = try txn.appendCursor(journal.eventsDB)
                    defer { events.close() }
                    for p in batch {
                        try p.bytes.withUnsafeBytes { (all) throws in
                            var start = 0
                            var seq = p.firstSeq
                            for end in p.ends {
                                let record = UnsafeRawBufferPointer(rebasing: all[start..<end])
                                try events.append(integerKey: seq, value: record)
                                let eventTime = Timestamp(ms: Int64(littleEndian: record.loadUnaligned(fromByteOffset: 16, as: Int64.self)))
                                if disorder == 0 && eventTime < maxTime { disorder = seq }
                                if disorder != 0 {
                                    try TimeIndexKey.withKey(time: eventTime, seq: seq) { k in
                                        try txn.put(journal.timeDB, key: k, value: UnsafeRawBufferPointer(start: nil, count: 0), append: false)
                                    }
                                }
                                if eventTime > maxTime { maxTime = eventTime }
                                start = end
                                seq += 1
                            }
                        }
                        let lastOfBatch = p.firstSeq + UInt64(p.ends.count) - 1
                        try p.chainEntry.withUnsafeBytes { v in
                            try txn.put(journal.chainDB, integerKey: lastOfBatch, value: v, append: true)
                        }
                    }
                }()
                if disorder != disorderBefore {
                    try Journal.putMeta(txn, journal.metaDB, MetaKey.disorderFromSeq, le(disorder))
                }
                let mapSize: UInt64
                do {
                    mapSize = try Journal.recordMapSize(txn, journal.metaDB, env: journal.env, recorded: recordedMapSize)
                } catch let s as LMDBStatus {
                    throw s
                } catch {
                    txn.abort()
                    return .failure(JournalError(.corrupt, "\(error)", path: path))
                }
                do {
                    try txn.commit()
                } catch {
                    // A failed commit is never retried: halt with the cause.
                    return .failure(JournalError.from(error as! LMDBStatus, path: path, doing: "committing seqs \(firstSeq)–\(lastSeq)"))
                }
                recordedMapSize = mapSize
                maxEventTime = maxTime
                disorderFromSeq = disorder
                return .success(growths)
            } catch {
                txn.abort()
                guard let error = error as? LMDBStatus else {
                    return .failure(JournalError(.storage, "\(error)", path: path))
                }
                if error.code == LMDBStatus.mapFull && attempt <= 8 {
                    if let e = grow(minimumBytes: journal.env.mapSizeBytes * 2, grew: &growths) { return .failure(e) }
                    continue
                }
                if error.code == LMDBStatus.keyExists {
                    preconditionFailure("journal seq \(firstSeq)–\(lastSeq) already exists in \(path): two writers, or a seq bug")
                }
                return .failure(JournalError.from(error, path: path, doing: "writing seqs \(firstSeq)–\(lastSeq)"))
            }
        }
    }

    /// Grows the map ahead of a batch that might not fit.
    private func ensureRoom(forBytes bytes: Int, events: Int, grew: inout Int) -> JournalError? {
        let u = journal.env.usage
        // Leaves fill almost completely under MDB_APPEND; allow for branch copies, the
        // chain, the time index and the free list.
        let need = bytes * 2 + events * 48 + 64 * u.pageSize
        let used = u.lastPage * u.pageSize
        guard used + need > u.mapSize else { return nil }
        return grow(minimumBytes: max(u.mapSize * 2, used + need * 2), grew: &grew)
    }

    private func grow(minimumBytes: Int, grew: inout Int) -> JournalError? {
        let limit = journal.options.maxMapSizeBytes
        let current = journal.env.mapSizeBytes
        guard current < limit else {
            return JournalError(.mapFull, "the journal reached its maximum map size (\(limit >> 20) MiB). Start a new journal or raise the limit.", path: journal.path)
        }
        let target = min(limit, max(minimumBytes, current * 2))
        journal.gate.enterExclusive()
        defer { journal.gate.leaveExclusive() }
        do {
            try journal.env.setMapSize(target)
        } catch {
            return JournalError.from(error as! LMDBStatus, path: journal.path, doing: "growing the map to \(target >> 20) MiB")
        }
        grew += 1
        return nil
    }
}

extension Journal {
    /// Starts the single writer of this journal (one per process, and one process at a time).
    public func makeWriter(options: JournalWriterOptions = JournalWriterOptions()) throws(JournalError) -> JournalWriter {
        try JournalWriter(journal: self, options: options)
    }
}

func monotonicMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
}
