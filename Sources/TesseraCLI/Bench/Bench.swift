import ArgumentParser

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure throughput. Compare with PyTorch/Pillow via Scripts/bench-*.sh.",
        subcommands: [BenchDecode.self, BenchViT.self, BenchReduce.self, BenchTokenizer.self, BenchQuantize.self])
}
