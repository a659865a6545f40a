import Foundation

/// The instruction set the numeric libraries were compiled for. Release builds on x86-64 Linux
/// target Haswell-class CPUs (AVX2 + FMA; Package.swift): on an older CPU their first vector
/// instruction would kill the process with SIGILL, so `tessera` checks first. This file is
/// compiled for the baseline, like the rest of TesseraCLI.
public enum CPURequirement {
    /// The refusal `tessera` reports (through ArgumentParser: `Error: …`, exit status 1).
    public struct Unmet: Error, CustomStringConvertible {
        /// What the CPU lacks and how to rebuild.
        public let description: String
        /// The refusal for `description` (``unmet(cpuinfo:required:)``'s message).
        public init(description: String) { self.description = description }
    }

    /// The `/proc/cpuinfo` flags this build needs (none for a baseline or debug build).
    public static var requiredFlags: [String] {
        #if TESSERA_NEEDS_AVX2
            ["avx2", "fma"]
        #else
            []
        #endif
    }

    /// Why this CPU cannot run this build, or nil when it can (or cannot tell: no `/proc/cpuinfo`).
    /// - Parameters:
    ///   - cpuinfo: the text of `/proc/cpuinfo` (read when nil).
    ///   - required: the flags to look for (default: what this build needs).
    public static func unmet(cpuinfo: String? = nil, required: [String] = requiredFlags) -> String? {
        guard !required.isEmpty,
            let info = cpuinfo ?? (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)),
            let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return nil }
        let flags = Set(line.split(separator: " ").map(String.init))
        let missing = required.filter { !flags.contains($0) }
        guard !missing.isEmpty else { return nil }
        return "this build of tessera needs a CPU with AVX2 and FMA (x86-64-v3); this one lacks "
            + missing.joined(separator: ", ") + ". Rebuild for any x86-64 CPU with "
            + "`TESSERA_PORTABLE=1 swift build -c release`."
    }
}
