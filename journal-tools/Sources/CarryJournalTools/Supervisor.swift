// Crash isolation: every carry-journal command runs in a child process (this executable
// again, marked by an environment variable), supervised by the process the user started.
//
// Why: LMDB 0.9 trusts the pages it reads. In a damaged file a flipped page number, node
// offset or value size can make LMDB (or a reader of the value it returns) touch memory
// outside the map, and the process dies by SIGSEGV or SIGBUS; LMDB's own assertions abort.
// No in-process check can catch that, so the supervisor turns such a death into what it
// means, a damaged journal: a one-line message and exit status 1, never a crash. The cost
// is one fork+exec (a few milliseconds).
//
// Invariants: the supervisor never opens the journal; it forwards SIGINT/SIGTERM/SIGHUP to
// the worker (a `tail -f` stops cleanly on Ctrl-C whether the signal reached one process or
// both); the worker inherits stdout and stderr, so output streams without a relay. The
// worker records where it is in a page of shared memory (`VerifyTrace`), so a verify that
// died can still name the seq it was reading.

public import CarryJournal

#if canImport(Glibc)
import Glibc
#endif

/// The pid being supervised, for the signal handlers (which cannot capture).
nonisolated(unsafe) private var supervisedPid: pid_t = 0

/// Runs commands in a supervised child process.
public enum Supervisor {
    /// Set in the worker's environment to the fd of the shared trace page (or `-1`).
    public static let workerVariable = "CARRY_JOURNAL_WORKER"

    /// True inside the worker.
    public static var isWorker: Bool { getenv(workerVariable) != nil }

    /// The worker's view of the shared trace page, or nil (not a worker, or no page).
    nonisolated(unsafe) public static let workerTrace: UnsafeMutablePointer<VerifyTrace>? = {
        guard let raw = getenv(workerVariable), let fd = Int32(String(cString: raw)), fd >= 0 else { return nil }
        let p = mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        close(fd)
        guard let p, p != MAP_FAILED else { return nil }
        return p.bindMemory(to: VerifyTrace.self, capacity: 1)
    }()

    /// How a supervised worker ended.
    public enum Outcome: Sendable {
        /// It exited with this status.
        case exited(Int32)
        /// It was stopped by the user (SIGINT, SIGTERM, SIGHUP): the shell convention 128+n.
        case interrupted(Int32)
        /// It died by this signal while reading; `trace` says where.
        case crashed(signal: Int32, trace: VerifyTrace)
        /// The worker could not be started.
        case notStarted(String)
    }

    /// Runs this executable again with `arguments` (without argv[0]) as a worker, waits for
    /// it, and says how it ended.
    public static func run(arguments: [String]) -> Outcome {
        // The trace page: an unlinked temporary file both processes map.
        var traceFd: Int32 = -1
        var trace: UnsafeMutablePointer<VerifyTrace>? = nil
        for dir in ["/dev/shm", "/tmp"] {
            var template = Array("\(dir)/carry-journal-trace-XXXXXX".utf8CString)
            let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard fd >= 0 else { continue }
            template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
            if ftruncate(fd, 4096) == 0, let p = mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED {
                traceFd = fd
                trace = p.bindMemory(to: VerifyTrace.self, capacity: 1)
                trace!.pointee = VerifyTrace()
                break
            }
            close(fd)
        }
        defer {
            if let trace { munmap(UnsafeMutableRawPointer(trace), 4096) }
            if traceFd >= 0 { close(traceFd) }
        }

        var environment: [String] = []
        var index = 0
        while let entry = environ[index] {
            let s = String(cString: entry)
            if !s.hasPrefix(workerVariable + "=") { environment.append(s) }
            index += 1
        }
        environment.append("\(workerVariable)=\(traceFd)")
        let argv = [CommandLine.arguments.first ?? "carry-journal"] + arguments

        // The worker starts with the stop signals at their defaults and none blocked, whatever
        // the parent inherited (a test runner or a shell may ignore or block SIGTERM; an
        // ignored signal would survive exec and a `tail -f` could then not be stopped).
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] { sigaddset(&defaults, sig) }
        var noneBlocked = sigset_t()
        sigemptyset(&noneBlocked)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setsigmask(&attr, &noneBlocked)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var pid: pid_t = 0
        let rc = withCStrings(argv) { cargv in
            withCStrings(environment) { cenv in
                posix_spawn(&pid, "/proc/self/exe", nil, &attr, cargv, cenv)
            }
        }
        guard rc == 0 else { return .notStarted(String(cString: strerror(rc))) }

        supervisedPid = pid
        let forward: @convention(c) (Int32) -> Void = { sig in
            if supervisedPid > 0 { kill(supervisedPid, sig) }
        }
        var previous: [(Int32, sighandler_t?)] = []
        for sig in [SIGINT, SIGTERM, SIGHUP] { previous.append((sig, signal(sig, forward))) }
        // A parent may have started us with these blocked (a thread of Foundation's Process
        // spawns with its own mask): unblock them, or a stop request would never arrive.
        var stops = sigset_t()
        sigemptyset(&stops)
        for sig in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&stops, sig) }
        var previousMask = sigset_t()
        sigprocmask(SIG_UNBLOCK, &stops, &previousMask)
        defer {
            sigprocmask(SIG_SETMASK, &previousMask, nil)
            for (sig, handler) in previous { signal(sig, handler) }
            supervisedPid = 0
        }

        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return .notStarted("waiting for the worker failed: \(String(cString: strerror(errno)))") }
        }
        // WIFEXITED / WTERMSIG, spelled out (the C macros do not import).
        let termSignal = status & 0x7f
        if termSignal == 0 { return .exited((status >> 8) & 0xff) }
        if termSignal == SIGINT || termSignal == SIGTERM || termSignal == SIGHUP { return .interrupted(128 + termSignal) }
        return .crashed(signal: termSignal, trace: trace?.pointee ?? VerifyTrace())
    }

    /// The name of a signal (`SIGSEGV`).
    public static func signalName(_ sig: Int32) -> String {
        switch sig {
        case SIGSEGV: return "SIGSEGV"
        case SIGBUS: return "SIGBUS"
        case SIGILL: return "SIGILL"
        case SIGTRAP: return "SIGTRAP"
        case SIGABRT: return "SIGABRT"
        case SIGFPE: return "SIGFPE"
        case SIGKILL: return "SIGKILL"
        case SIGPIPE: return "SIGPIPE"
        default: return "signal \(sig)"
        }
    }

    /// What the worker was doing when it died, from its trace.
    public static func whereItDied(_ trace: VerifyTrace) -> String {
        switch VerifyPhase(rawValue: trace.phase) {
        case .metaPages?: return "while reading LMDB's meta pages"
        case .opening?: return "while opening the LMDB environment"
        case .metaEntries?: return "while reading the meta database"
        case .records?: return "while reading the records at seq \(trace.seq)"
        case .timeIndex?: return "while checking the time index entry for seq \(trace.seq)"
        default: return "while reading the journal"
        }
    }
}

/// Calls `body` with a NULL-terminated C array of the strings.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return body(pointers)
}
