// A journal: one LMDB environment per directory.
//
// Databases:
//   meta    ASCII key → value ‖ crc32c(key ‖ value): journal id, schema version, writer
//           version, created-at, purpose, and the time-order watermark.
//   events  u64 seq (MDB_INTEGERKEY, MDB_APPEND) → framed record.
//   chain   u64 last seq of a committed batch → firstSeq ‖ lastSeq ‖ SHA-256 digest.
//   bytime  (eventTime, seq) big-endian → empty; only for records from the first one whose
//           event time went backwards (see `disorderFromSeq`), so journals written in time
//           order (imports, backtests) pay nothing for time-ordered reads.
//
// Invariants: seqs start at 1 and are contiguous; a newer schema is refused; read-only
// opens never write the data file.

public import CarryCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What a journal says about itself.
public struct JournalMeta: Sendable, Equatable {
    public var journalId: JournalId
    public var schemaVersion: UInt32
    /// The Carry version that created the journal.
    public var writerVersion: String
    public var createdAt: Timestamp
    /// What the journal holds (market data, a backtest run, a live session).
    public var purpose: RunMode
}

/// How to create a journal.
public struct JournalCreateOptions: Sendable {
    /// A fixed id (deterministic backtests); random when nil.
    public var journalId: JournalId?
    /// A fixed creation time (deterministic backtests); the wall clock when nil.
    public var createdAt: Timestamp?
    public var purpose: RunMode
    public var writerVersion: String

    /// Builds create options.
    public init(purpose: RunMode, journalId: JournalId? = nil, createdAt: Timestamp? = nil, writerVersion: String = CarryVersion.current) {
        self.purpose = purpose
        self.journalId = journalId
        self.createdAt = createdAt
        self.writerVersion = writerVersion
    }
}

/// Tunables for opening a journal.
public struct JournalOpenOptions: Sendable {
    /// Initial map size; the writer doubles it whenever a batch would not fit.
    public var initialMapSizeBytes: Int
    /// The map never grows beyond this.
    public var maxMapSizeBytes: Int

    /// Defaults: 256 MiB initial, 1 TiB maximum (virtual address space, not disk).
    public init(initialMapSizeBytes: Int = 256 << 20, maxMapSizeBytes: Int = 1 << 40) {
        self.initialMapSizeBytes = initialMapSizeBytes
        self.maxMapSizeBytes = maxMapSizeBytes
    }
}

/// The schema this build writes and the newest it reads.
public enum JournalSchema {
    /// Version 1: the record layout in ARCHITECTURE.md.
    public static let current: UInt32 = 1
}

/// Carry's version string, recorded in journals.
public enum CarryVersion {
    public static let current = "0.1.0"
}

enum MetaKey {
    static let journalId = "journal.id"
    static let schemaVersion = "schema.version"
    static let writerVersion = "writer.version"
    static let createdAt = "created.at"
    static let purpose = "journal.purpose"
    static let disorderFromSeq = "order.disorderFromSeq"
    /// The largest map size any commit ran with; LMDB's meta page must agree.
    static let mapSize = "map.size"
}

/// An open journal. Thread-safe: any number of snapshots may read concurrently; one writer.
public final class Journal: @unchecked Sendable {
    /// The journal directory.
    public let path: String
    /// Identity and schema.
    public let meta: JournalMeta
    /// True when opened read-only (tools).
    public let isReadOnly: Bool
    let options: JournalOpenOptions

    let env: LMDBEnv
    let eventsDB: LMDBDatabase
    let metaDB: LMDBDatabase
    let chainDB: LMDBDatabase
    let timeDB: LMDBDatabase
    let gate = MapGate()
    /// Signalled after every commit of this process's writer, so followers wake at once.
    let commits = ConditionLock()
    private let writerTaken = Mutex(false)

    private init(path: String, env: LMDBEnv, dbs: (LMDBDatabase, LMDBDatabase, LMDBDatabase, LMDBDatabase), meta: JournalMeta, readOnly: Bool, options: JournalOpenOptions) {
        self.path = path
        self.env = env
        (eventsDB, metaDB, chainDB, timeDB) = dbs
        self.meta = meta
        self.isReadOnly = readOnly
        self.options = options
    }

    deinit { env.close() }

    // MARK: Opening

    /// True when `path` is a directory holding an LMDB data file.
    public static func exists(at path: String) -> Bool {
        access(path + "/data.mdb", F_OK) == 0
    }

    /// Opens an existing journal. Read-only opens never write to the data file and work
    /// while another process writes.
    public static func open(_ path: String, readOnly: Bool = true, options: JournalOpenOptions = JournalOpenOptions()) throws(JournalError) -> Journal {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw JournalError(.notAJournal, "no such directory. Check the path, or create a journal with `carry import` or `carry fetch`.", path: path)
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw JournalError(.notAJournal, "not a directory: a journal is a directory holding data.mdb.", path: path)
        }
        guard exists(at: path) else {
            throw JournalError(.notAJournal, "not a Carry journal (no data.mdb in this directory). Pass the journal directory, e.g. journals/market.", path: path)
        }
        return try openEnv(path, readOnly: readOnly, create: nil, options: options)
    }

    /// Creates a journal in an empty or missing directory, or opens the journal already
    /// there for writing. Refuses a directory that holds anything else.
    public static func openOrCreate(_ path: String, create: JournalCreateOptions, options: JournalOpenOptions = JournalOpenOptions()) throws(JournalError) -> Journal {
        if exists(at: path) {
            return try openEnv(path, readOnly: false, create: nil, options: options)
        }
        try makeEmptyDirectory(path)
        return try openEnv(path, readOnly: false, create: create, options: options)
    }

    static func makeEmptyDirectory(_ path: String) throws(JournalError) {
        var st = stat()
        if stat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                throw JournalError(.notAJournal, "exists and is not a directory; choose another --journal path.", path: path)
            }
            guard let dir = opendir(path) else {
                throw JournalError(.permissionDenied, "cannot list the directory (\(String(cString: strerror(errno)))).", path: path)
            }
            defer { closedir(dir) }
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
                }
                if name != "." && name != ".." && name != "writer.lock" {
                    throw JournalError(.notEmpty, "the directory is not empty and holds no journal (found \(name)). Carry creates journals only in empty or new directories.", path: path)
                }
            }
            return
        }
        // mkdir -p
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw JournalError(.permissionDenied, "cannot create directory \(prefix): \(String(cString: strerror(errno))).", path: path)
            }
            prefix += "/"
        }
    }

    private static func openEnv(_ path: String, readOnly: Bool, create: JournalCreateOptions?, options: JournalOpenOptions) throws(JournalError) -> Journal {
        if let problem = JournalVerifier.truncationProblem(file: path + "/data.mdb") {
            throw JournalError(.corrupt, "\(problem). The copy is incomplete or the disk lost data; restore the journal from a complete copy.", path: path)
        }
        let env: LMDBEnv
        do {
            env = try LMDBEnv(path: path, options: LMDBEnvOptions(readOnly: readOnly, mapSizeBytes: options.initialMapSizeBytes))
        } catch let error as LMDBStatus {
            if readOnly && (error.code == EACCES || error.code == EROFS) {
                // Read-only media: open without the lock file.
                do {
                    env = try LMDBEnv(path: path, options: LMDBEnvOptions(readOnly: true, mapSizeBytes: options.initialMapSizeBytes, noLock: true))
                } catch let error as LMDBStatus {
                    throw JournalError.from(error, path: path, doing: "opening the journal")
                } catch {
                    throw JournalError(.storage, "\(error)", path: path)
                }
            } else if error.code == EINVAL || error.code == LMDBStatus.invalid || error.code == LMDBStatus.versionMismatch {
                throw JournalError(.corrupt, "data.mdb is not a valid LMDB file (\(error.message)). Run `carry-journal verify \(path)`; restore from a copy.", path: path)
            } else {
                throw JournalError.from(error, path: path, doing: "opening the journal")
            }
        } catch {
            throw JournalError(.storage, "\(error)", path: path)
        }
        if !readOnly {
            // Adopt a larger size another writer left behind, then make room to grow.
            let current = env.mapSizeBytes
            if current < options.initialMapSizeBytes {
                try? env.setMapSize(options.initialMapSizeBytes)
            }
        }
        do {
            let dbs: (LMDBDatabase, LMDBDatabase, LMDBDatabase, LMDBDatabase)
            let meta: JournalMeta
            if readOnly {
                let txn = try env.beginRead()
                // Each database is opened on its own: an environment holding none of Carry's
                // databases is someone else's, but one holding some of them is a Carry journal
                // whose main page was damaged (a flipped byte in a database name).
                var opened: [LMDBDatabase?] = []
                var missing: [String] = []
                for (name, flags) in [("events", LMDBDatabaseFlags.integerKey), ("meta", []), ("chain", .integerKey), ("bytime", [])] {
                    do {
                        opened.append(try txn.openDatabase(name, flags: flags))
                    } catch let e as LMDBStatus where e.code == LMDBStatus.notFound {
                        opened.append(nil)
                        missing.append(name)
                    }
                }
                if missing.count == 4 {
                    throw JournalError(.notAJournal, "an LMDB environment, but not a Carry journal (its events/meta databases are missing).", path: path)
                }
                guard let events = opened[0], let metaDB = opened[1], let chain = opened[2], let bytime = opened[3] else {
                    throw JournalError(.corrupt, "LMDB's main database has lost the journal's \(missing.joined(separator: ", ")) database\(missing.count == 1 ? "" : "s") while holding the others: the file is damaged. Restore the journal from a copy.", path: path)
                }
                dbs = (events, metaDB, chain, bytime)
                meta = try readMeta(txn, dbs.1, path: path)
                try txn.commit()
            } else {
                let txn = try env.beginWrite()
                dbs = (try txn.openDatabase("events", flags: [.create, .integerKey]),
                       try txn.openDatabase("meta", flags: [.create]),
                       try txn.openDatabase("chain", flags: [.create, .integerKey]),
                       try txn.openDatabase("bytime", flags: [.create]))
                if let create, try metaValue(txn, dbs.1, MetaKey.journalId) == nil {
                    let id = create.journalId ?? randomJournalId()
                    let created = create.createdAt ?? Timestamp(ms: wallClockMs())
                    try putMeta(txn, dbs.1, MetaKey.journalId, le(id.high) + le(id.low))
                    try putMeta(txn, dbs.1, MetaKey.schemaVersion, le(JournalSchema.current))
                    try putMeta(txn, dbs.1, MetaKey.writerVersion, Array(create.writerVersion.utf8))
                    try putMeta(txn, dbs.1, MetaKey.createdAt, le(UInt64(bitPattern: created.ms)))
                    try putMeta(txn, dbs.1, MetaKey.purpose, [create.purpose.rawValue])
                    try putMeta(txn, dbs.1, MetaKey.disorderFromSeq, le(UInt64(0)))
                }
                meta = try readMeta(txn, dbs.1, path: path)
                _ = try recordMapSize(txn, dbs.1, env: env, recorded: nil)
                try txn.commit()
            }
            return Journal(path: path, env: env, dbs: dbs, meta: meta, readOnly: readOnly, options: options)
        } catch let error as JournalError {
            throw error
        } catch let status as LMDBStatus {
            throw JournalError.from(status, path: path, doing: "reading the journal's metadata")
        } catch {
            throw JournalError(.storage, "\(error)", path: path)
        }
    }

    // MARK: Meta

    static func metaValue(_ txn: LMDBTxn, _ db: LMDBDatabase, _ key: String) throws -> [UInt8]? {
        let keyBytes = Array(key.utf8)
        let value = try keyBytes.withUnsafeBytes { k in try txn.get(db, key: k) }
        guard let value else { return nil }
        guard value.count >= 4 else {
            throw JournalError(.corrupt, "meta entry \(key) is truncated. The journal is damaged; run `carry-journal verify`.", path: "")
        }
        let data = Array(value.prefix(value.count - 4))
        let stored = UInt32(littleEndian: value.loadUnaligned(fromByteOffset: value.count - 4, as: UInt32.self))
        guard metaChecksum(key: keyBytes, value: data) == stored else {
            throw JournalError(.corrupt, "meta entry \(key) fails its checksum. The journal is damaged; run `carry-journal verify`.", path: "")
        }
        return data
    }

    /// Records the map size LMDB will write into its meta page at this commit (it keeps
    /// the running maximum), so `verify` can tell a damaged meta page from a grown map.
    /// Returns the value now recorded.
    static func recordMapSize(_ txn: LMDBTxn, _ db: LMDBDatabase, env: LMDBEnv, recorded: UInt64?) throws -> UInt64 {
        var current = recorded
        if current == nil, let v = try metaValue(txn, db, MetaKey.mapSize), v.count == 8 {
            current = fromLE(v, UInt64.self)
        }
        let live = UInt64(env.mapSizeBytes)
        if let current, current >= live { return current }
        try putMeta(txn, db, MetaKey.mapSize, le(live))
        return live
    }

    static func metaChecksum(key: [UInt8], value: [UInt8]) -> UInt32 {
        (key + value).withUnsafeBytes { crc32c($0) }
    }

    static func putMeta(_ txn: LMDBTxn, _ db: LMDBDatabase, _ key: String, _ value: [UInt8]) throws {
        let keyBytes = Array(key.utf8)
        let stored = value + le(metaChecksum(key: keyBytes, value: value))
        try keyBytes.withUnsafeBytes { (k) throws in
            try stored.withUnsafeBytes { (v) throws in try txn.put(db, key: k, value: v, append: false) }
        }
    }

    static func readMeta(_ txn: LMDBTxn, _ db: LMDBDatabase, path: String) throws -> JournalMeta {
        func require(_ key: String) throws -> [UInt8] {
            do {
                guard let v = try metaValue(txn, db, key) else {
                    // A meta database is Carry's own; one that lacks an entry every journal is
                    // created with has lost it.
                    throw JournalError(.corrupt, "the journal's metadata has lost \(key) (every journal is created with it): the file is damaged. Restore the journal from a copy.", path: path)
                }
                return v
            } catch var e as JournalError {
                e.path = path
                throw e
            }
        }
        let schemaBytes = try require(MetaKey.schemaVersion)
        guard schemaBytes.count == 4 else { throw JournalError(.corrupt, "schema.version has \(schemaBytes.count) bytes.", path: path) }
        let schema = fromLE(schemaBytes, UInt32.self)
        let writer = String(decoding: try require(MetaKey.writerVersion), as: UTF8.self)
        guard schema <= JournalSchema.current else {
            throw JournalError(.newerSchema, "written with journal schema v\(schema) by Carry \(writer); this Carry (\(CarryVersion.current)) reads up to v\(JournalSchema.current). Upgrade Carry to open it; nothing was changed.", path: path)
        }
        let idBytes = try require(MetaKey.journalId)
        guard idBytes.count == 16 else { throw JournalError(.corrupt, "journal.id has \(idBytes.count) bytes.", path: path) }
        let created = try require(MetaKey.createdAt)
        guard created.count == 8 else { throw JournalError(.corrupt, "created.at has \(created.count) bytes.", path: path) }
        let purposeBytes = try require(MetaKey.purpose)
        guard purposeBytes.count == 1, let purpose = RunMode(rawValue: purposeBytes[0]) else {
            throw JournalError(.corrupt, "journal.purpose is not a known value.", path: path)
        }
        return JournalMeta(
            journalId: JournalId(high: fromLE(Array(idBytes[0..<8]), UInt64.self), low: fromLE(Array(idBytes[8..<16]), UInt64.self)),
            schemaVersion: schema, writerVersion: writer,
            createdAt: Timestamp(ms: Int64(bitPattern: fromLE(created, UInt64.self))), purpose: purpose)
    }

    // MARK: Reading

    /// Runs `body` against a consistent snapshot of the journal (one read transaction).
    /// Keep snapshots short: they pin the pages they see.
    @discardableResult
    public func withSnapshot<T>(_ body: (JournalSnapshot) throws -> T) throws -> T {
        gate.enterShared()
        defer { gate.leaveShared() }
        let txn: LMDBTxn
        do {
            txn = try env.beginRead()
        } catch let error as LMDBStatus {
            throw JournalError.from(error, path: path, doing: "starting a read")
        }
        defer { txn.abort() }
        let snapshot = JournalSnapshot(journal: self, txn: txn)
        return try body(snapshot)
    }

    /// The last committed seq (0 when empty).
    public func lastSeq() throws -> UInt64 {
        try withSnapshot { try $0.lastSeq() }
    }

    /// Size of data.mdb on disk and the map in use.
    public func storageUsage() -> (fileBytes: Int64, usedBytes: Int, mapBytes: Int) {
        var st = stat()
        let fileBytes = stat(path + "/data.mdb", &st) == 0 ? Int64(st.st_size) : 0
        let u = env.usage
        return (fileBytes, u.lastPage * u.pageSize, u.mapSize)
    }

    /// Takes the single in-process writer slot.
    func claimWriter() -> Bool {
        writerTaken.withLock { taken in
            if taken { return false }
            taken = true
            return true
        }
    }

    func releaseWriter() {
        writerTaken.withLock { $0 = false }
    }

    /// Blocks until this process's writer commits or `timeoutMs` passes.
    func waitForCommit(timeoutMs: Int64) {
        commits.withLock { _ = commits.wait(timeoutMs: timeoutMs) }
    }
}

// MARK: - Little-endian helpers

func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
    withUnsafeBytes(of: v.littleEndian) { Array($0) }
}

func fromLE<T: FixedWidthInteger>(_ bytes: [UInt8], _: T.Type) -> T {
    precondition(bytes.count == MemoryLayout<T>.size)
    return bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(as: T.self)) }
}

/// 128 bits from the system's random source.
func randomJournalId() -> JournalId {
    var rng = SystemRandomNumberGenerator()
    return JournalId(high: rng.next(), low: rng.next())
}
