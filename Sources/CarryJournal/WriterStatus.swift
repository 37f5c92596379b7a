// Whether a process is appending to a journal right now, found without touching its lock.
//
// The writer holds an exclusive flock on `writer.lock` for its lifetime (JournalWriter).
// Probing with flock(LOCK_NB) would race a writer starting at that instant (it would be
// refused as "busy"), so readers look the lock up in /proc/locks, where the kernel lists
// every flock with its holder's pid and the file's device and inode. Read-only: nothing
// here opens the lock file for writing or takes a lock.

#if canImport(Glibc)
import Glibc
#endif

/// Whether a journal has a live writer.
public enum WriterActivity: Sendable, Equatable {
    /// No process holds the writer lock: the journal is sealed until a writer opens it.
    case none
    /// The process with this pid holds the writer lock and may be appending.
    case active(pid: Int32)
    /// The system does not expose its locks (no /proc/locks); the answer is not known.
    case unknown
}

extension Journal {
    /// Who, if anyone, is writing the journal at `path` (a directory).
    public static func writerActivity(path: String) -> WriterActivity {
        var st = stat()
        guard stat(path + "/writer.lock", &st) == 0 else { return .none }
        guard let table = readSmallFile("/proc/locks") else { return .unknown }
        let dev = UInt64(st.st_dev)
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff))
        let minor = (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff))
        let inode = UInt64(st.st_ino)
        for line in table.split(separator: "\n") {
            // "1: FLOCK  ADVISORY  WRITE 6555 fe:00:16220546 0 EOF"; waiters read "1: -> FLOCK …".
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 6, parts[1] == "FLOCK", parts[3] == "WRITE", let pid = Int32(parts[4]) else { continue }
            let location = parts[5].split(separator: ":")
            guard location.count == 3, let maj = UInt64(location[0], radix: 16), let min = UInt64(location[1], radix: 16),
                  let ino = UInt64(location[2]) else { continue }
            if ino == inode && maj == major && min == minor { return .active(pid: pid) }
        }
        return .none
    }

    /// The contents of a small (proc) file, or nil when it cannot be read.
    static func readSmallFile(_ path: String) -> String? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while bytes.count < 16 << 20 {
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
