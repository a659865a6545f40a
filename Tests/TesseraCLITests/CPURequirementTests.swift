import Testing

@testable import TesseraCLI

@Suite struct CPURequirementTests {
    static let haswell = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma bmi2\n"
    static let sandyBridge = "processor\t: 0\nflags\t\t: fpu sse2 sse4_2 avx\n"

    /// A CPU without AVX2 and FMA is refused with the flags it lacks and how to rebuild.
    @Test func olderCPUIsRefusedWithTheFix() throws {
        let message = try #require(CPURequirement.unmet(cpuinfo: Self.sandyBridge, required: ["avx2", "fma"]))
        #expect(message.contains("lacks avx2, fma"))
        #expect(message.contains("TESSERA_PORTABLE=1"))
        #expect(CPURequirement.unmet(cpuinfo: Self.haswell, required: ["avx2", "fma"]) == nil)
    }

    /// A baseline build needs nothing; unreadable CPU information does not block the command.
    @Test func baselineBuildsAndUnknownCPUsPass() {
        #expect(CPURequirement.unmet(cpuinfo: Self.sandyBridge, required: []) == nil)
        #expect(CPURequirement.unmet(cpuinfo: "no flags line", required: ["avx2"]) == nil)
    }
}
