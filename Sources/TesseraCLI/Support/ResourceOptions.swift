import ArgumentParser
import Tessera

/// `--memory-limit`, for every command that reads media, models or token files.
struct ResourceOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Refuse work estimated to need more memory than this (decoding an image or a frame, binding "
                + "weights, a batch, a clip), e.g. 8G or 512M. Default: TESSERA_MEMORY_LIMIT, else 80% of the "
                + "memory this process may use (the machine's or its cgroup's).",
            valueName: "size"))
    var memoryLimit: ByteSize?

    /// Sets the process-wide limit (``TesseraCommand/main()`` does, before the command runs).
    func apply() {
        if let memoryLimit { MemoryLimit.bytes = memoryLimit.bytes }
    }
}

/// A command with ``ResourceOptions``, applied before it runs.
protocol ResourceLimited {
    var resources: ResourceOptions { get }
}

extension BenchTokenizer: ResourceLimited {}
extension CodebookFit: ResourceLimited {}
extension Decode: ResourceLimited {}
extension Demo: ResourceLimited {}
extension Dequantize: ResourceLimited {}
extension Encode: ResourceLimited {}
extension Features: ResourceLimited {}
extension Frames: ResourceLimited {}
extension Info: ResourceLimited {}
extension Preprocess: ResourceLimited {}
extension Prune: ResourceLimited {}
extension Quantize: ResourceLimited {}
extension Roundtrip: ResourceLimited {}
extension TokenStats: ResourceLimited {}
