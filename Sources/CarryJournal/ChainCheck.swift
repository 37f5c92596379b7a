// Recomputing hash-chain digests on a second thread while the verifier checks records.
//
// Why: SHA-256 over every record is the largest single cost of `verify` (a quarter of its
// time with SHA-NI); the records' CRCs and decoding are the rest. Each batch's digest
// depends only on its own records and the *stored* digest of the batch before, so batches
// can be hashed independently of the main walk.
//
// Invariants: the records handed over are pointers into LMDB's map, valid only while the
// read transaction is open; `finish()` waits for every submitted batch and the thread's
// exit, and the verifier calls it before its transaction ends (a `defer` in checkEvents).
// At most `maxQueued` batches wait, so memory stays bounded whatever the journal's size.

import Foundation

/// A batch to hash: its chain entry and its records' stored bytes.
struct ChainJob {
    var firstSeq: UInt64
    var lastSeq: UInt64
    var previous: Digest
    var expected: Digest
    var records: [UnsafeRawBufferPointer]
}

/// Hashes submitted batches on its own thread and remembers the first that does not recompute.
final class ParallelChainCheck: @unchecked Sendable {
    static let maxQueued = 8
    private let lock = ConditionLock()
    private var queue: [ChainJob] = []
    private var closed = false
    private var exited = false
    private var firstMismatch: (first: UInt64, last: UInt64)?

    init() {
        let t = Thread { self.run() }
        t.name = "carry-verify-chain"
        t.stackSize = 1 << 20
        t.start()
    }

    /// Queues a batch, waiting while `maxQueued` are already waiting.
    func submit(_ job: ChainJob) {
        lock.withLock {
            while queue.count >= Self.maxQueued { lock.wait() }
            queue.append(job)
            lock.broadcast()
        }
    }

    /// Waits until every batch is hashed and the thread has exited; returns the first batch
    /// (lowest seqs) whose digest did not recompute.
    func finish() -> (first: UInt64, last: UInt64)? {
        lock.withLock {
            closed = true
            lock.broadcast()
            while !exited { lock.wait() }
            return firstMismatch
        }
    }

    private func run() {
        while true {
            let jobs: [ChainJob] = lock.withLock {
                while queue.isEmpty && !closed { lock.wait() }
                let taken = queue
                queue.removeAll(keepingCapacity: true)
                lock.broadcast()
                return taken
            }
            if jobs.isEmpty {
                lock.withLock {
                    exited = true
                    lock.broadcast()
                }
                return
            }
            for job in jobs {
                var hasher = Chain.begin(previous: job.previous, firstSeq: job.firstSeq, lastSeq: job.lastSeq)
                for r in job.records { hasher.update(r) }
                if hasher.finish() != job.expected {
                    lock.withLock {
                        if firstMismatch == nil || job.firstSeq < firstMismatch!.first { firstMismatch = (job.firstSeq, job.lastSeq) }
                    }
                }
            }
        }
    }
}
