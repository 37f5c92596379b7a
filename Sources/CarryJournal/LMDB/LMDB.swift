// Every mdb_* call in Carry goes through this file.
//
// Why one file: LMDB's rules (a write transaction belongs to one thread; a read-only env
// must adopt a map grown by another process; MAP_FULL means abort and grow) are enforced in
// one place, and debug builds can make any call fail on demand (EIO, ENOSPC, MAP_FULL,
// READERS_FULL) to prove the writer halts cleanly. Nothing outside this file imports CLMDB.

internal import CLMDB
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A raw LMDB return code with its name.
struct LMDBStatus: Error, Equatable {
    let code: Int32
    /// The call that returned it.
    let operation: LMDBOperation

    var message: String { String(cString: mdb_strerror(code)) }

    static let notFound = MDB_NOTFOUND
    static let mapFull = MDB_MAP_FULL
    static let mapResized = MDB_MAP_RESIZED
    static let readersFull = MDB_READERS_FULL
    static let keyExists = MDB_KEYEXIST
    static let corrupted = MDB_CORRUPTED
    static let invalid = MDB_INVALID
    static let versionMismatch = MDB_VERSION_MISMATCH
    static let pageNotFound = MDB_PAGE_NOTFOUND
    static let panic = MDB_PANIC
    static let badTxn = MDB_BAD_TXN

    /// True for the codes LMDB uses when the file's structure is damaged.
    var isCorruption: Bool {
        [LMDBStatus.corrupted, LMDBStatus.invalid, LMDBStatus.versionMismatch, LMDBStatus.pageNotFound,
         LMDBStatus.panic, MDB_BAD_VALSIZE, MDB_BAD_DBI, MDB_INCOMPATIBLE, MDB_TLS_FULL].contains(code)
    }
}

/// The LMDB calls fault injection can target.
public enum LMDBOperation: String, Sendable, CaseIterable {
    case envOpen, beginWrite, beginRead, put, get, commit, cursorGet, dbiOpen, setMapSize, sync
}

// MARK: - Fault injection (debug builds only)

/// A planned failure of an LMDB call: the `afterCalls`-th call of `operation` from now (1 =
/// the next one) returns `code` instead of running; with `sticky`, every later call fails too.
public struct LMDBFault: Sendable {
    public var operation: LMDBOperation
    public var afterCalls: Int
    public var code: Int32
    public var sticky: Bool
    /// Only environments whose path contains this string are affected (nil: all). Tests
    /// run in parallel, so each scopes its faults to its own journal.
    public var pathContains: String?

    /// Plans a failure.
    public init(_ operation: LMDBOperation, afterCalls: Int = 1, code: Int32, sticky: Bool = false, pathContains: String? = nil) {
        self.operation = operation
        self.afterCalls = afterCalls
        self.code = code
        self.sticky = sticky
        self.pathContains = pathContains
    }

    /// errno EIO.
    public static let eio: Int32 = EIO
    /// errno ENOSPC.
    public static let enospc: Int32 = ENOSPC
    /// MDB_MAP_FULL.
    public static let mapFull: Int32 = MDB_MAP_FULL
    /// MDB_READERS_FULL.
    public static let readersFull: Int32 = MDB_READERS_FULL
}

/// Arms and disarms injected LMDB failures. Compiled into debug builds only: a release
/// binary has no way to fail on purpose.
public enum LMDBFaultInjection {
    struct Armed {
        var fault: LMDBFault
        var remaining: Int
        var fired = false
    }

    static let state = Mutex<[Armed]>([])

    /// Adds a planned failure.
    public static func arm(_ fault: LMDBFault) {
        #if DEBUG
        state.withLock { $0.append(Armed(fault: fault, remaining: fault.afterCalls)) }
        #else
        preconditionFailure("LMDB fault injection exists only in debug builds")
        #endif
    }

    /// Removes every planned failure.
    public static func disarm() {
        state.withLock { $0.removeAll() }
    }

    /// Removes the planned failures scoped to `path`.
    public static func disarm(pathContains path: String) {
        state.withLock { $0.removeAll { $0.fault.pathContains == path } }
    }

    /// In debug builds, arms the fault named by `CARRY_LMDB_FAULT` (if set), so end-to-end
    /// tests can make a real `carry` process hit a full disk. Release builds ignore it.
    public static func armFromEnvironment() {
        #if DEBUG
        if let spec = getenv("CARRY_LMDB_FAULT").map({ String(cString: $0) }), let fault = parse(spec) {
            arm(fault)
        }
        #endif
    }

    /// Parses `commit:EIO:3` / `put:MAP_FULL:1:sticky` (the `CARRY_LMDB_FAULT` variable read
    /// by debug builds of the executables, for end-to-end tests).
    public static func parse(_ spec: String) -> LMDBFault? {
        let parts = spec.split(separator: ":").map(String.init)
        guard parts.count >= 2, let op = LMDBOperation(rawValue: parts[0]) else { return nil }
        let codes: [String: Int32] = ["EIO": EIO, "ENOSPC": ENOSPC, "MAP_FULL": MDB_MAP_FULL, "READERS_FULL": MDB_READERS_FULL]
        guard let code = codes[parts[1]] ?? Int32(parts[1]) else { return nil }
        let after = parts.count > 2 ? Int(parts[2]) ?? 1 : 1
        return LMDBFault(op, afterCalls: after, code: code, sticky: parts.count > 3 && parts[3] == "sticky")
    }

    @inline(__always)
    static func check(_ op: LMDBOperation, _ path: String) -> Int32? {
        #if DEBUG
        return state.withLock { armed -> Int32? in
            for i in armed.indices where armed[i].fault.operation == op && (armed[i].fault.pathContains.map { path.contains($0) } ?? true) {
                if armed[i].fired {
                    if armed[i].fault.sticky { return armed[i].fault.code }
                    continue
                }
                armed[i].remaining -= 1
                if armed[i].remaining <= 0 {
                    armed[i].fired = true
                    return armed[i].fault.code
                }
            }
            return nil
        }
        #else
        return nil
        #endif
    }
}

// MARK: - Environment

/// Options for opening an environment.
struct LMDBEnvOptions {
    var readOnly: Bool
    var mapSizeBytes: Int
    var maxDatabases: UInt32 = 8
    var maxReaders: UInt32 = 254
    /// Skip the lock file (read-only media). Unsafe with a concurrent writer.
    var noLock = false
}

/// An open LMDB environment. Thread-safe for readers (MDB_NOTLS); write transactions are
/// confined to the journal's writer thread by construction.
final class LMDBEnv: @unchecked Sendable {
    let raw: OpaquePointer
    let readOnly: Bool
    /// The directory, for scoping injected faults.
    let path: String
    private(set) var closed = false

    init(path: String, options: LMDBEnvOptions) throws {
        if let injected = LMDBFaultInjection.check(.envOpen, path) { throw LMDBStatus(code: injected, operation: .envOpen) }
        var env: OpaquePointer?
        var rc = mdb_env_create(&env)
        guard rc == 0, let env else { throw LMDBStatus(code: rc, operation: .envOpen) }
        rc = mdb_env_set_maxdbs(env, MDB_dbi(options.maxDatabases))
        if rc == 0 { rc = mdb_env_set_maxreaders(env, options.maxReaders) }
        if rc == 0 { rc = mdb_env_set_mapsize(env, options.mapSizeBytes) }
        var flags = UInt32(MDB_NOTLS)
        if options.readOnly { flags |= UInt32(MDB_RDONLY) }
        if options.noLock { flags |= UInt32(MDB_NOLOCK) }
        if rc == 0 { rc = mdb_env_open(env, path, flags, 0o644) }
        guard rc == 0 else {
            mdb_env_close(env)
            throw LMDBStatus(code: rc, operation: .envOpen)
        }
        self.raw = env
        self.readOnly = options.readOnly
        self.path = path
        // Clear reader slots left by processes that died (kill -9) holding a read txn.
        var dead: Int32 = 0
        _ = mdb_reader_check(env, &dead)
    }

    /// Closes the environment; every transaction must be finished.
    func close() {
        guard !closed else { return }
        closed = true
        mdb_env_close(raw)
    }

    deinit { close() }

    /// The current map size in bytes.
    var mapSizeBytes: Int {
        var info = MDB_envinfo()
        mdb_env_info(raw, &info)
        return info.me_mapsize
    }

    /// Pages in use (last page number + 1) and the page size.
    var usage: (lastPage: Int, pageSize: Int, mapSize: Int) {
        var info = MDB_envinfo()
        mdb_env_info(raw, &info)
        var st = MDB_stat()
        mdb_env_stat(raw, &st)
        return (info.me_last_pgno + 1, Int(st.ms_psize), info.me_mapsize)
    }

    /// Drops this process's resident pages of this environment's map (`madvise(MADV_DONTNEED)`
    /// over the mapping of `data.mdb`, found in /proc/self/maps: LMDB tells the map's address
    /// only when it is fixed). Without `MDB_WRITEMAP` the map is a shared, read-only file
    /// mapping, so its contents never change by this: a later read faults the page back in
    /// from the page cache. What it changes is the resident set — every page a transaction
    /// ever touched stays counted in the process's RSS, so a long-running writer's RSS would
    /// otherwise grow with its journal.
    ///
    /// Only this environment's own map is advised: the mapping of `data.mdb` that holds a key
    /// read from the main database a moment before (another environment of the same file in
    /// this process, if there ever is one, is left alone — its map could be unmapped and the
    /// range reused by anonymous memory, which the advice would zero). The caller must keep
    /// this map from being resized meanwhile: in the writer's process only the writer thread
    /// resizes it (a growth, under the map gate taken exclusively; adopting another process's
    /// growth happens only in processes without the writer). Safe with readers on other
    /// threads (they refault). Returns the bytes advised.
    @discardableResult
    func releaseResidentPages() -> Int {
        guard let anchor = mapAnchor() else { return 0 }
        for (start, length) in Self.mappings(of: path + "/data.mdb") where start <= anchor && anchor - start < UInt(length) {
            guard let base = UnsafeMutableRawPointer(bitPattern: start), madvise(base, length, MADV_DONTNEED) == 0 else { return 0 }
            return length
        }
        return 0
    }

    /// The address of the main database's first key: a byte inside this environment's map
    /// (LMDB hands a read transaction its keys in place).
    private func mapAnchor() -> UInt? {
        guard let txn = try? beginRead() else { return nil }
        defer { txn.abort() }
        // The main (unnamed) database, dbi 1, which holds the named databases' records.
        guard let cursor = try? txn.cursor(LMDBDatabase(dbi: 1)) else { return nil }
        defer { cursor.close() }
        guard let first = try? cursor.get(.first), let key = first.key.baseAddress else { return nil }
        return UInt(bitPattern: key)
    }

    /// This process's mappings of `file` (its real path), as start address and length.
    static func mappings(of file: String) -> [(start: UInt, length: Int)] {
        guard let real = realpath(file, nil) else { return [] }
        let target = String(cString: real)
        free(real)
        // Read to the end (String(contentsOfFile:) stops at the first 4 KiB of a /proc file).
        guard let maps = Journal.readSmallFile("/proc/self/maps") else { return [] }
        var out: [(UInt, Int)] = []
        for line in maps.split(separator: "\n") where line.hasSuffix(target) {
            // start-end perms offset dev inode pathname (the pathname may hold spaces).
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6, fields[5].drop(while: { $0 == " " }) == target[...] else { continue }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16), end > start else { continue }
            out.append((start, Int(end - start)))
        }
        return out
    }

    /// The id of the last committed transaction.
    var lastTxnId: Int {
        var info = MDB_envinfo()
        mdb_env_info(raw, &info)
        return info.me_last_txnid
    }

    /// Grows (or, with 0, adopts another process's) map size. No transaction of this
    /// process may be active.
    func setMapSize(_ bytes: Int) throws {
        if let injected = LMDBFaultInjection.check(.setMapSize, path) { throw LMDBStatus(code: injected, operation: .setMapSize) }
        let rc = mdb_env_set_mapsize(raw, bytes)
        guard rc == 0 else { throw LMDBStatus(code: rc, operation: .setMapSize) }
    }

    /// Forces a durable flush (used after opening with relaxed sync for bulk loads).
    func sync() throws {
        if let injected = LMDBFaultInjection.check(.sync, path) { throw LMDBStatus(code: injected, operation: .sync) }
        let rc = mdb_env_sync(raw, 1)
        guard rc == 0 else { throw LMDBStatus(code: rc, operation: .sync) }
    }

    /// Begins a write transaction. Only the writer thread calls this.
    func beginWrite() throws -> LMDBTxn {
        if let injected = LMDBFaultInjection.check(.beginWrite, path) { throw LMDBStatus(code: injected, operation: .beginWrite) }
        var txn: OpaquePointer?
        let rc = mdb_txn_begin(raw, nil, 0, &txn)
        guard rc == 0, let txn else { throw LMDBStatus(code: rc, operation: .beginWrite) }
        return LMDBTxn(raw: txn, readOnly: false, path: path)
    }

    /// Begins a read transaction, adopting a map grown by another process if needed.
    func beginRead() throws -> LMDBTxn {
        if let injected = LMDBFaultInjection.check(.beginRead, path) { throw LMDBStatus(code: injected, operation: .beginRead) }
        var txn: OpaquePointer?
        var rc = mdb_txn_begin(raw, nil, UInt32(MDB_RDONLY), &txn)
        if rc == MDB_MAP_RESIZED {
            rc = mdb_env_set_mapsize(raw, 0)
            if rc == 0 { rc = mdb_txn_begin(raw, nil, UInt32(MDB_RDONLY), &txn) }
        }
        guard rc == 0, let txn else { throw LMDBStatus(code: rc, operation: .beginRead) }
        return LMDBTxn(raw: txn, readOnly: true, path: path)
    }
}

// MARK: - Transactions and cursors

/// Flags for named databases.
struct LMDBDatabaseFlags: OptionSet {
    let rawValue: UInt32
    static let create = LMDBDatabaseFlags(rawValue: UInt32(MDB_CREATE))
    static let integerKey = LMDBDatabaseFlags(rawValue: UInt32(MDB_INTEGERKEY))
}

/// A database handle.
struct LMDBDatabase: Sendable {
    let dbi: UInt32
}

/// A transaction. Not Sendable: a transaction stays on the thread that began it (read
/// transactions may move between threads only because the env uses MDB_NOTLS, and then
/// only while not in concurrent use).
final class LMDBTxn {
    let raw: OpaquePointer
    let readOnly: Bool
    let path: String
    private var finished = false

    init(raw: OpaquePointer, readOnly: Bool, path: String) {
        self.raw = raw
        self.readOnly = readOnly
        self.path = path
    }

    deinit {
        if !finished { mdb_txn_abort(raw) }
    }

    /// Opens (or creates) a named database inside this transaction.
    func openDatabase(_ name: String, flags: LMDBDatabaseFlags) throws -> LMDBDatabase {
        if let injected = LMDBFaultInjection.check(.dbiOpen, path) { throw LMDBStatus(code: injected, operation: .dbiOpen) }
        var dbi: MDB_dbi = 0
        let rc = mdb_dbi_open(raw, name, flags.rawValue, &dbi)
        guard rc == 0 else { throw LMDBStatus(code: rc, operation: .dbiOpen) }
        return LMDBDatabase(dbi: dbi)
    }

    /// Reads the value under a key; nil when absent. The returned bytes live in the map and
    /// are valid only until the transaction ends.
    func get(_ db: LMDBDatabase, key: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer? {
        if let injected = LMDBFaultInjection.check(.get, path) { throw LMDBStatus(code: injected, operation: .get) }
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val()
        let rc = mdb_get(raw, db.dbi, &k, &v)
        if rc == MDB_NOTFOUND { return nil }
        guard rc == 0 else { throw LMDBStatus(code: rc, operation: .get) }
        return UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
    }

    /// Reads the value under an integer key.
    func get(_ db: LMDBDatabase, integerKey: UInt64) throws -> UnsafeRawBufferPointer? {
        var key = integerKey
        return try withUnsafeBytes(of: &key) { (k) throws -> UnsafeRawBufferPointer? in try get(db, key: k) }
    }

    /// Writes a value; with `append`, the key must sort after every existing key.
    func put(_ db: LMDBDatabase, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, append: Bool) throws {
        if let injected = LMDBFaultInjection.check(.put, path) { throw LMDBStatus(code: injected, operation: .put) }
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        let rc = mdb_put(raw, db.dbi, &k, &v, append ? UInt32(MDB_APPEND) : 0)
        guard rc == 0 else { throw LMDBStatus(code: rc, operation: .put) }
    }

    /// Writes a value under an integer key.
    func put(_ db: LMDBDatabase, integerKey: UInt64, value: UnsafeRawBufferPointer, append: Bool) throws {
        var key = integerKey
        try withUnsafeBytes(of: &key) { (k) throws in try put(db, key: k, value: value, append: append) }
    }

    /// Commits; the transaction is finished whatever the outcome.
    func commit() throws {
        precondition(!finished, "transaction already finished")
        finished = true
        if let injected = LMDBFaultInjection.check(.commit, path) {
            mdb_txn_abort(raw)
            throw LMDBStatus(code: injected, operation: .commit)
        }
        let rc = mdb_txn_commit(raw)
        guard rc == 0 else { throw LMDBStatus(code: rc, operation: .commit) }
    }

    /// Abandons the transaction.
    func abort() {
        guard !finished else { return }
        finished = true
        mdb_txn_abort(raw)
    }

    /// Entry count and tree shape of a database.
    func stat(_ db: LMDBDatabase) -> (entries: Int, depth: Int, pages: Int) {
        var st = MDB_stat()
        mdb_stat(raw, db.dbi, &st)
        return (st.ms_entries, Int(st.ms_depth), st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages)
    }

    /// Opens a cursor for appending inside this write transaction. It must be closed
    /// (`close()`) before the transaction commits or aborts.
    func appendCursor(_ db: LMDBDatabase) throws -> LMDBAppendCursor {
        precondition(!readOnly, "append cursors need a write transaction")
        var c: OpaquePointer?
        let rc = mdb_cursor_open(raw, db.dbi, &c)
        guard rc == 0, let c else { throw LMDBStatus(code: rc, operation: .put) }
        return LMDBAppendCursor(raw: c, path: path)
    }

    /// Opens a cursor valid for this transaction's lifetime.
    func cursor(_ db: LMDBDatabase) throws -> LMDBCursor {
        var c: OpaquePointer?
        let rc = mdb_cursor_open(raw, db.dbi, &c)
        guard rc == 0, let c else { throw LMDBStatus(code: rc, operation: .cursorGet) }
        return LMDBCursor(raw: c, path: path)
    }
}

/// Cursor positioning operations.
enum LMDBCursorOp {
    case first, last, next, prev, current
    /// The first key ≥ the given key.
    case setRange
    /// Exactly the given key.
    case set

    var raw: MDB_cursor_op {
        switch self {
        case .first: return MDB_FIRST
        case .last: return MDB_LAST
        case .next: return MDB_NEXT
        case .prev: return MDB_PREV
        case .current: return MDB_GET_CURRENT
        case .setRange: return MDB_SET_RANGE
        case .set: return MDB_SET_KEY
        }
    }
}

/// A cursor over one database; closed with its transaction or explicitly.
final class LMDBCursor {
    let raw: OpaquePointer
    let path: String
    private var open = true

    init(raw: OpaquePointer, path: String) {
        self.raw = raw
        self.path = path
    }

    deinit { close() }

    /// Closes the cursor before its (read) transaction ends.
    func close() {
        guard open else { return }
        open = false
        mdb_cursor_close(raw)
    }

    /// Moves the cursor; nil at the end. Key and value live in the map until the
    /// transaction ends.
    @inline(__always)
    func get(_ op: LMDBCursorOp, key: UnsafeRawBufferPointer? = nil) throws -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)? {
        if let injected = LMDBFaultInjection.check(.cursorGet, path) { throw LMDBStatus(code: injected, operation: .cursorGet) }
        var k = MDB_val(mv_size: key?.count ?? 0, mv_data: key.flatMap { UnsafeMutableRawPointer(mutating: $0.baseAddress) })
        var v = MDB_val()
        let rc = mdb_cursor_get(raw, &k, &v, op.raw)
        if rc == MDB_NOTFOUND { return nil }
        guard rc == 0 else { throw LMDBStatus(code: rc, operation: .cursorGet) }
        return (UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size), UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
    }

    /// Positions at an integer key (exact or ≥).
    func get(_ op: LMDBCursorOp, integerKey: UInt64) throws -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)? {
        var key = integerKey
        return try withUnsafeBytes(of: &key) { (k) throws -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)? in
            try get(op, key: k)
        }
    }
}

/// A write cursor that appends under increasing integer keys. Cheaper than `put` per record
/// (no cursor set-up per call). Closed explicitly before its transaction ends, because LMDB
/// frees write cursors itself at commit.
struct LMDBAppendCursor {
    let raw: OpaquePointer
    let path: String

    /// Appends `value` under `key`, which must exceed every existing key.
    @inline(__always)
    func append(integerKey: UInt64, value: UnsafeRawBufferPointer) throws {
        if let injected = LMDBFaultInjection.check(.put, path) { throw LMDBStatus(code: injected, operation: .put) }
        var key = integerKey
        let rc = withUnsafeMutableBytes(of: &key) { k -> Int32 in
            var kv = MDB_val(mv_size: 8, mv_data: k.baseAddress)
            var vv = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
            return mdb_cursor_put(raw, &kv, &vv, UInt32(MDB_APPEND))
        }
        guard rc == 0 else { throw LMDBStatus(code: rc, operation: .put) }
    }

    /// Closes the cursor; call before the transaction commits or aborts.
    func close() { mdb_cursor_close(raw) }
}

/// LMDB's library version string.
var lmdbVersion: String { String(cString: mdb_version(nil, nil, nil)) }

/// The human name of an LMDB or errno code.
func lmdbErrorString(_ code: Int32) -> String { String(cString: mdb_strerror(code)) }
