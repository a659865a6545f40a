import Foundation

/// The most memory one step of work may ask for, like the pixel limit for images: work whose
/// estimated need is above it is refused with a ``MemoryLimitError`` before anything is
/// allocated, instead of being killed by the kernel (or taking the Python or Ray worker that
/// hosts Tessera with it).
///
/// Checked where sizes come from a file or an option: decoding an image, binding a
/// checkpoint's weights, a batch of a tokenizer, the frames of a video clip. The default is 80%
/// of the memory this process can have (the machine's, or its cgroup's limit when lower:
/// containers, Kubernetes pods, Ray workers), leaving the rest to the weights and the process.
/// `TESSERA_MEMORY_LIMIT` (`8G`, `512MiB`, `2.5GB`, bytes) overrides it, and
/// `tessera --memory-limit` sets it for one command.
public enum MemoryLimit {
    /// The limit in bytes: ``scoped`` inside ``withLimit(_:_:)``, otherwise the process-wide value.
    /// Safe to read and set from any thread.
    public static var bytes: Int {
        get { scoped ?? lock.withLock { stored } }
        set { lock.withLock { stored = max(0, newValue) } }
    }

    /// A limit for the current task only (threads the task starts do not inherit it).
    @TaskLocal public static var scoped: Int?

    /// Runs `body` with `bytes` as the limit of the current task, leaving other tasks' alone.
    public static func withLimit<T>(_ bytes: Int, _ body: () throws -> T) rethrows -> T {
        try $scoped.withValue(max(0, bytes), operation: body)
    }

    nonisolated(unsafe) private static var stored = defaultLimit()
    private static let lock = NSLock()

    /// `TESSERA_MEMORY_LIMIT` when set and valid, otherwise 80% of ``available``.
    public static func defaultLimit() -> Int {
        if let raw = ProcessInfo.processInfo.environment["TESSERA_MEMORY_LIMIT"], let n = parse(raw) { return n }
        return available / 5 * 4
    }

    /// The memory this process can have: physical memory, or its cgroup's limit when lower (the
    /// lowest `memory.max` of cgroup v2 from the process's group up, or v1's `memory.limit_in_bytes`).
    public static var available: Int {
        let physical = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        return cgroupLimits().filter { $0 > 0 }.reduce(physical, min)
    }

    /// The limits of the process's cgroups and their ancestors, read from `/proc/self/cgroup`.
    /// A file that is missing or unreadable (no cgroups, macOS, a sandbox) means no limit there,
    /// hence the `try?`: this is a default, never a reason to fail.
    static func cgroupLimits() -> [Int] {
        func read(_ path: String) -> Int? {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
            return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))  // "max" → nil
        }
        let lines = (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8))?.split(separator: "\n") ?? []
        var limits: [Int] = []
        for line in lines {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let (root, file): (String, String)
            if fields[0] == "0" && fields[1].isEmpty {
                (root, file) = ("/sys/fs/cgroup", "memory.max")
            } else if fields[1].split(separator: ",").contains("memory") {
                (root, file) = ("/sys/fs/cgroup/memory", "memory.limit_in_bytes")
            } else {
                continue
            }
            var group = fields[2].split(separator: "/").map(String.init)
            while true {  // the group, then each ancestor up to the root
                if let limit = read(([root] + group + [file]).joined(separator: "/")) { limits.append(limit) }
                if group.isEmpty { break }
                group.removeLast()
            }
        }
        return limits
    }

    /// Bytes from `4096`, `512K`, `64MiB`, `8G`, `2.5GB`, `1T` (binary multiples, case-insensitive);
    /// nil for anything else, negative sizes and sizes that do not fit an `Int`.
    public static func parse(_ text: String) -> Int? {
        var s = text.trimmingCharacters(in: .whitespaces).uppercased()
        for suffix in ["IB", "B"] where s.hasSuffix(suffix) && s.count > suffix.count {
            s.removeLast(suffix.count)
            break
        }
        let scales: [Character: Double] = ["K": 0x1p10, "M": 0x1p20, "G": 0x1p30, "T": 0x1p40]
        var scale = 1.0
        if let last = s.last, let factor = scales[last] {
            scale = factor
            s.removeLast()
        }
        guard let value = Double(s), value.isFinite, value >= 0 else { return nil }
        let bytes = (value * scale).rounded()
        return bytes < 0x1p62 ? Int(bytes) : nil
    }

    /// Throws when `bytes` is above the limit.
    /// - Parameters:
    ///   - what: the work, as the message's subject ("decoding the image", "a batch of 64").
    ///   - path: the file the sizes came from.
    ///   - hint: how to need less, appended to the message.
    public static func check(_ bytes: Int, for what: @autoclosure () -> String, path: String, hint: String? = nil)
        throws(MemoryLimitError)
    {
        let limit = Self.bytes
        guard bytes > limit else { return }
        throw MemoryLimitError(path: path, work: what(), bytes: bytes, limit: limit, hint: hint)
    }

    /// `bytes` for people in the units ``parse(_:)`` reads: "812 MiB", "3.2 GiB".
    public static func format(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(bytes), unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: value < 10 ? "%.1f " : "%.0f ", value) + units[unit]
    }
}

/// Work refused because it would need more memory than ``MemoryLimit`` allows.
public struct MemoryLimitError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file whose sizes ask for the memory.
    public var path: String
    /// What would need it.
    public var work: String
    /// The estimated need in bytes.
    public var bytes: Int
    /// The limit it is above.
    public var limit: Int
    /// How to need less, if there is a way.
    public var hint: String?

    /// "FILE: WORK needs about N, above the memory limit of L (…)".
    public var description: String {
        var text = "\(path): \(work) needs about \(MemoryLimit.format(bytes)), above the memory limit of "
        text += "\(MemoryLimit.format(limit))"
        if let hint { text += "; \(hint)" }
        return text + " (the limit is set by --memory-limit or TESSERA_MEMORY_LIMIT)"
    }
}
