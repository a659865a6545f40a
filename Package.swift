// swift-tools-version:6.0
import Foundation
import PackageDescription

// Release builds on x86-64 Linux compile the numeric targets for Haswell-class CPUs (AVX2 + FMA,
// x86-64-v3: every x86 server CPU since 2013). Their SIMD8 kernels (Winograd transforms, norms,
// softmax, activations) then run in one 256-bit register instead of two SSE halves: a FlexTok
// encode is 12% faster, with bit-identical results (Swift does not contract a·b + c into FMAs).
// `TESSERA_PORTABLE=1 swift build -c release` targets the x86-64 baseline instead, as does a
// debug build; the `tessera` command checks the CPU before anything else runs.
let haswell: Bool = {
    #if arch(x86_64) && os(Linux)
        return ProcessInfo.processInfo.environment["TESSERA_PORTABLE"] == nil
    #else
        return false
    #endif
}()
let numeric: [SwiftSetting] =
    haswell ? [.unsafeFlags(["-target-cpu", "haswell"], .when(configuration: .release))] : []
let cpuCheck: [SwiftSetting] = haswell ? [.define("TESSERA_NEEDS_AVX2", .when(configuration: .release))] : []

// Tessera: visual tokenization in Swift. Module layout: README ("Layout") and the DocC catalog
// (Sources/Tessera/Tessera.docc, "Architecture").
let package = Package(
    name: "Tessera",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Tessera", targets: ["Tessera"]),
        .library(name: "TesseraCore", targets: ["TesseraCore"]),
        .library(name: "TesseraMedia", targets: ["TesseraMedia"]),
        .library(name: "TesseraNN", targets: ["TesseraNN"]),
        .library(name: "TesseraQuantizers", targets: ["TesseraQuantizers"]),
        .library(name: "TesseraModels", targets: ["TesseraModels"]),
        .library(name: "TesseraPipelines", targets: ["TesseraPipelines"]),
        .executable(name: "tessera", targets: ["tessera"]),
        // The C ABI (include/tessera.h) as one shared library, for Python and other languages.
        .library(name: "TesseraC", type: .dynamic, targets: ["TesseraC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        // Thin C shims over system libraries. libpng and libjpeg report errors by longjmp,
        // which Swift cannot host, so those two are tiny C targets; FFmpeg is a plain module map.
        .target(name: "CPNG", linkerSettings: [.linkedLibrary("png16")]),
        .target(name: "CJPEG", linkerSettings: [.linkedLibrary("jpeg")]),
        .systemLibrary(
            name: "CFFmpeg", pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "libswscale-dev"])]),

        .systemLibrary(name: "COpenBLAS", providers: [.apt(["libopenblas-dev"])]),

        // The layers, each depending only on those above it in the data flow (README, "Layout").
        .target(
            name: "TesseraCore",
            dependencies: [.target(name: "COpenBLAS", condition: .when(platforms: [.linux]))],
            swiftSettings: numeric),
        .target(
            name: "TesseraMedia", dependencies: ["TesseraCore", "CPNG", "CJPEG", "CFFmpeg"], swiftSettings: numeric),
        .target(name: "TesseraNN", dependencies: ["TesseraCore"], swiftSettings: numeric),
        .target(name: "TesseraQuantizers", dependencies: ["TesseraCore", "TesseraNN"], swiftSettings: numeric),
        .target(
            name: "TesseraModels",
            dependencies: ["TesseraCore", "TesseraNN", "TesseraQuantizers", "TesseraMedia", "TesseraStreams"],
            swiftSettings: numeric),
        .target(name: "TesseraReduction", dependencies: ["TesseraCore", "TesseraNN"], swiftSettings: numeric),
        .target(name: "TesseraStreams", dependencies: ["TesseraCore"], swiftSettings: numeric),
        .target(
            name: "TesseraPipelines",
            dependencies: [
                "TesseraCore", "TesseraMedia", "TesseraNN", "TesseraModels", "TesseraReduction", "TesseraStreams",
            ], swiftSettings: numeric),
        .target(
            name: "Tessera",
            dependencies: [
                "TesseraCore", "TesseraMedia", "TesseraNN", "TesseraQuantizers", "TesseraModels",
                "TesseraReduction", "TesseraStreams", "TesseraPipelines",
            ]),
        .target(
            name: "TesseraCLI",
            dependencies: ["Tessera", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: cpuCheck),
        .executableTarget(name: "tessera", dependencies: ["TesseraCLI"]),
        // The C ABI: the header is the contract (a C target so Swift and C read the same file), and
        // TesseraC implements it with `@c @implementation`, which fails to compile on any mismatch.
        .target(name: "CTesseraABI"),
        .target(name: "TesseraC", dependencies: ["Tessera", "CTesseraABI"]),

        .executableTarget(name: "video-features", dependencies: ["Tessera"], path: "Examples/VideoFeatures"),
        .executableTarget(name: "tokenize-image", dependencies: ["Tessera"], path: "Examples/Tokenize"),
        .executableTarget(name: "write-shards", dependencies: ["Tessera"], path: "Examples/WriteShards"),
        .executableTarget(name: "prune-tokens", dependencies: ["Tessera"], path: "Examples/PruneTokens"),
        // libFuzzer targets for every input kind (Scripts/fuzz.sh; a stub in ordinary builds).
        .executableTarget(name: "tessera-fuzz", dependencies: ["Tessera"], path: "Fuzz"),

        // Tests: one target per source target, sharing TesseraTestSupport (fixture paths, error measures).
        .target(
            name: "TesseraTestSupport", dependencies: ["TesseraCore", "TesseraMedia"],
            path: "Tests/TesseraTestSupport"),
        .testTarget(name: "TesseraCoreTests", dependencies: ["TesseraCore", "TesseraTestSupport"]),
        .testTarget(name: "TesseraMediaTests", dependencies: ["TesseraMedia", "TesseraCore", "TesseraTestSupport"]),
        .testTarget(name: "TesseraNNTests", dependencies: ["TesseraNN", "TesseraCore", "TesseraTestSupport"]),
        .testTarget(
            name: "TesseraQuantizersTests",
            dependencies: ["TesseraQuantizers", "TesseraNN", "TesseraCore", "TesseraTestSupport"]),
        .testTarget(
            name: "TesseraReductionTests",
            dependencies: ["TesseraReduction", "TesseraNN", "TesseraCore", "TesseraTestSupport"]),
        .testTarget(
            name: "TesseraStreamsTests", dependencies: ["TesseraStreams", "TesseraCore", "TesseraTestSupport"]),
        .testTarget(
            name: "TesseraModelsTests",
            dependencies: ["TesseraModels", "TesseraReduction", "TesseraQuantizers", "TesseraTestSupport"]),
        .testTarget(name: "TesseraPipelinesTests", dependencies: ["Tessera", "TesseraTestSupport"]),
        .testTarget(name: "TesseraCLITests", dependencies: ["TesseraCLI", "Tessera", "TesseraTestSupport"]),
    ]
)
