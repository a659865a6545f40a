import Foundation
import Testing

@testable import TesseraCore

@Suite struct MemoryLimitTests {
    @Test(arguments: [
        ("4096", 4096), ("512K", 512 << 10), ("64MiB", 64 << 20), ("8G", 8 << 30), ("8gb", 8 << 30),
        ("2.5GB", 5 << 29), (" 1T ", 1 << 40), ("0", 0),
    ])
    func parsesSizes(_ entry: (String, Int)) {
        #expect(MemoryLimit.parse(entry.0) == entry.1)
    }

    @Test(arguments: ["", "G", "-1G", "12x", "1e30", "inf", "nan", "1 G B"])
    func refusesNonSizes(_ text: String) {
        #expect(MemoryLimit.parse(text) == nil)
    }

    @Test func formatsInTheUnitsItParses() {
        #expect(MemoryLimit.format(512) == "512 B")
        #expect(MemoryLimit.format(3 << 29) == "1.5 GiB")
        #expect(MemoryLimit.format(812 << 20) == "812 MiB")
    }

    /// The scoped limit holds for the task that set it, and a need above it is refused with the
    /// file, both sizes and the hint; at the limit is allowed.
    @Test func checksAgainstTheScopedLimit() throws {
        let outside = MemoryLimit.bytes
        try MemoryLimit.withLimit(1 << 20) {
            #expect(MemoryLimit.bytes == 1 << 20)
            try MemoryLimit.check(1 << 20, for: "this", path: "f")
            let error = try #require(throws: MemoryLimitError.self) {
                try MemoryLimit.check(3 << 20, for: "decoding x", path: "/data/x.png", hint: "try less")
            }
            #expect(error.bytes == 3 << 20 && error.limit == 1 << 20)
            #expect(
                error.description.hasPrefix(
                    "/data/x.png: decoding x needs about 3.0 MiB, above the memory limit of 1.0 MiB; try less"))
        }
        #expect(MemoryLimit.bytes == outside)
    }

    /// The default never exceeds the machine's memory nor any limit of the process's cgroups.
    @Test func defaultIsWhatTheProcessMayUse() {
        let available = MemoryLimit.available
        #expect(available > 0 && available <= Int(clamping: ProcessInfo.processInfo.physicalMemory))
        #expect(MemoryLimit.cgroupLimits().filter { $0 > 0 }.allSatisfy { $0 >= available })
    }
}
