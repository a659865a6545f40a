import Foundation
import TesseraTestSupport
import Testing

@testable import Tessera

/// The LLaVA-style reduction pipeline (`VisionTokenReducer`, what `tessera prune` runs) on the
/// reduced CLIP/SigLIP fixture towers: every method, ToMe against the patched-transformers
/// fixture, HiRED tiles, video, pictures, and the errors for impossible requests.
@Suite struct VisionPruningTests {
    static let root = TowerFixtures.root
    static let clip: any VisionEncoder = try! CLIPVisionTower(directory: root.appendingPathComponent("clip"))
    static let siglip: any VisionEncoder = try! SigLIPVisionTower(directory: root.appendingPathComponent("siglip"))

    func images() throws -> [Image] { try TowerFixtures.images() }

    func reducer(
        _ tower: any VisionEncoder, _ method: TokenReductionMethod, keep: Int? = nil, layer: Int = -2, r: Int? = nil,
        tiles: TileGrid? = nil
    ) throws -> VisionTokenReducer {
        try VisionTokenReducer(
            encoder: tower, options: TokenReductionOptions(method: method, keep: keep, layer: layer, r: r, tiles: tiles)
        )
    }

    @Test(arguments: [
        TokenReductionMethod.divprune, .visionzip, .hiprune, .uniform, .random, .prumerge, .prumergePlus,
        .transprune, .hired, .tome,
    ])
    func everyMethodRunsOnCLIP(_ method: TokenReductionMethod) throws {
        // ToMe merges at most half the tokens per layer: the last layer's features reach 6 of 16
        let r = try reducer(Self.clip, method, keep: 6, layer: method == .tome ? -1 : -2)
        for image in try images() {
            let out = try r.reduce(image)
            #expect(out.indices == out.indices.sorted())
            #expect(Set(out.indices).count == out.indices.count)
            #expect(out.positions.count == out.indices.count)
            #expect(zip(out.indices, out.positions).allSatisfy { $0.1 == [0, $0.0 / 4, $0.0 % 4] })
            #expect(out.features.shape[1] == 64)
            switch method {
            case .prumerge, .prumergePlus: #expect(out.features.shape[0] == out.indices.count + 1)
            case .visionzip: #expect(out.features.shape[0] == 6)
            case .tome:
                #expect(out.features.shape[0] <= 6)
                #expect(out.slots?.count == 16 && out.sizes?.reduce(0, +) == 16)
            default: #expect(out.features.shape[0] == 6 && out.indices.count == 6)
            }
        }
    }

    @Test(arguments: [
        TokenReductionMethod.divprune, .visionzip, .hiprune, .uniform, .random, .prumerge, .prumergePlus,
        .transprune, .hired, .tome,
    ])
    func siglipMethods(_ method: TokenReductionMethod) throws {
        let out = try reducer(Self.siglip, method, keep: 5, layer: method == .tome ? -1 : -2).reduce(try images()[0])
        #expect(out.indices == out.indices.sorted() && out.features.shape[0] >= 1 && out.features.shape[1] == 64)
        switch method {
        case .prumerge, .prumergePlus: #expect(out.features.shape[0] == out.indices.count + 1)
        case .tome: #expect(out.features.shape[0] <= 5)
        default: #expect(out.features.shape[0] == 5)
        }
    }

    /// `tome` in the pipeline is ToMe inside the forward pass: the features at the last layer
    /// equal the patched-transformers fixture's hidden state (without CLS, rows by smallest patch).
    @Test(arguments: ["clip", "siglip"])
    func tomeMatchesTheReference(_ family: String) throws {
        let tower = family == "clip" ? Self.clip : Self.siglip
        let e = try SafeTensorsFile(url: Self.root.appendingPathComponent("tome_expected.safetensors"))
        let pixels = try SafeTensorsFile(url: Self.root.appendingPathComponent("\(family)/expected.safetensors"))
            .tensor("pixel_values")
        let r = try reducer(tower, .tome, layer: -1, r: 3)
        let hidden = try e.tensor("\(family)_r3/hidden_states.2"), source = try e.tensor("\(family)_r3/source")
        let p = tower.descriptor.prefixTokens
        for b in 0..<2 {
            let out = try r.reduce(pixels: pixels.slice(axis: 0, b..<(b + 1)))
            let (t, c, t0) = (hidden.shape[1], hidden.shape[2], source.shape[2])
            #expect(out.features.shape == [t - p, c])
            for (row, first) in out.indices.enumerated() {
                // the reference row holding patch `first`
                let refRow = (0..<t).first { source.scalars[(b * t + $0) * t0 + p + first] == 1 }!
                let ref = hidden.scalars[((b * t + refRow) * c)..<((b * t + refRow + 1) * c)]
                let got = out.features.scalars[(row * c)..<((row + 1) * c)]
                let scale = ref.map(abs).max()!
                #expect(
                    zip(got, ref).allSatisfy { abs($0 - $1) <= 1e-4 * max(scale, 1) },
                    "\(family) sample \(b) row \(row)")
                // every patch of that reference row maps to this output row
                for j in 0..<(t0 - p) where source.scalars[(b * t + refRow) * t0 + p + j] == 1 {
                    #expect(out.slots![j] == row)
                }
            }
        }
    }

    /// One case of `pipeline_expected.json` (Tests/Reference/make_pipeline_fixtures.py).
    struct PipelineCase: Decodable, CustomTestStringConvertible {
        var key: String
        var tower: String
        var method: String
        var sample: Int
        var keep: Int?
        var layer: Int
        var testDescription: String { key }
    }

    static let pipelineCases: [PipelineCase] = {
        let url = root.appendingPathComponent("pipeline_expected.json")
        struct Manifest: Decodable { var cases: [PipelineCase] }
        return try! JSONDecoder().decode(Manifest.self, from: Data(contentsOf: url)).cases
    }()

    /// The whole pipeline against transformers' towers + the reference algorithms: identical kept
    /// indices and features ≤ 1e-4 for every method on CLIP and SigLIP (attention received in
    /// place of the CLS attention), fixed and adaptive budgets.
    @Test(arguments: pipelineCases)
    func pipelineMatchesTheReference(_ c: PipelineCase) throws {
        let tower = c.tower == "clip" ? Self.clip : Self.siglip
        let method = try #require(TokenReductionMethod(rawValue: c.method))
        let expected = try SafeTensorsFile(url: Self.root.appendingPathComponent("pipeline_expected.safetensors"))
        let pixels = try SafeTensorsFile(url: Self.root.appendingPathComponent("\(c.tower)/expected.safetensors"))
            .tensor("pixel_values")
        let out = try reducer(tower, method, keep: c.keep, layer: c.layer).reduce(
            pixels: pixels.slice(axis: 0, c.sample..<(c.sample + 1)))
        #expect(out.indices == (try expected.integers("\(c.key)/kept")))
        let features = try expected.tensor("\(c.key)/features")
        #expect(out.features.shape == features.shape)
        guard out.features.shape == features.shape else { return }
        let scale = max(1, features.scalars.map(abs).max()!)
        let worst = zip(out.features.scalars, features.scalars).map { abs($0 - $1) }.max()!
        #expect(worst <= 1e-4 * scale, "max |Δ| \(worst)")
    }

    @Test func tomeKeepPicksTheSmallestR() throws {
        let r = try reducer(Self.clip, .tome, keep: 10, layer: -1)
        #expect(r.mergingSchedule?.schedule == [3, 3])  // 17 → 14 → 11: 10 patches
        #expect(try r.reduce(try images()[0]).features.shape[0] == 10)
    }

    @Test(arguments: ["clip", "siglip"])
    func hiredWithTiles(_ family: String) throws {
        let r = try reducer(family == "clip" ? Self.clip : Self.siglip, .hired, tiles: TileGrid(rows: 2, columns: 2))
        let out = try r.reduce(try images()[0])
        let partitions = try #require(out.partitions)
        // total = int(5 · 16 · 0.2) = 16, full view int(16 · 0.5) = 8; tile tokens on the padding dropped
        #expect(partitions.filter { $0 == 0 }.count == 8)
        #expect(out.features.shape[0] == out.indices.count && out.indices.count <= 16 && out.indices.count > 8)
        #expect(out.positions.allSatisfy { $0[1] < 8 && $0[2] < 8 })
        #expect(out.inputTokens == 80)
        let picture = out.tileVisualization(
            on: r.highResolutionView(try images()[0], TileGrid(rows: 2, columns: 2)),
            tiles: TileGrid(rows: 2, columns: 2))
        #expect(picture.width == 112 && picture.height == 112)
    }

    /// One case of `anyres_expected.json` (Tests/Reference/make_anyres_fixtures.py).
    struct AnyresCase: Decodable, CustomTestStringConvertible {
        var key: String, tower: String, image: String, mode: String
        var grid: [Int]
        var testDescription: String { key }
    }

    static let anyresCases: [AnyresCase] = {
        struct Manifest: Decodable { var cases: [AnyresCase] }
        return try! JSONDecoder().decode(
            Manifest.self, from: Data(contentsOf: root.appendingPathComponent("anyres_expected.json"))
        ).cases
    }()

    /// HiRED on LLaVA-NeXT anyres views against transformers' LlavaNextImageProcessor + towers +
    /// the HiRED reference + upstream's unpadding: the same grid (best fit or 2x2), the same
    /// views (≤ 1e-5), identical kept (view, index) pairs and features ≤ 1e-4.
    @Test(arguments: anyresCases)
    func hiredAnyresMatchesTheReference(_ c: AnyresCase) throws {
        let tower = c.tower == "clip" ? Self.clip : Self.siglip
        var options = TokenReductionOptions(method: .hired, layer: -2)
        if c.mode == "auto" {
            options.tileChoices = TileGrid.llavaNext
        } else {
            options.tiles = TileGrid(rows: 2, columns: 2)
        }
        let r = try VisionTokenReducer(encoder: tower, options: options)
        let image = try Image(contentsOf: Self.root.appendingPathComponent(c.image))
        let grid = r.tileGrid(for: image)
        #expect([grid.rows, grid.columns] == c.grid)
        let expected = try SafeTensorsFile(url: Self.root.appendingPathComponent("anyres_expected.safetensors"))
        let pixels = try expected.tensor("\(c.key)/pixel_values")
        let anyRes = r.context.anyResViews
        let views = ([anyRes.baseView(image)] + anyRes.tiles(image, grid)).map { $0.reshaped([1] + $0.shape) }
        #expect(views.count == pixels.shape[0])
        for (p, view) in views.enumerated() {
            let ref = pixels.slice(axis: 0, p..<(p + 1))
            let worst = zip(view.scalars, ref.scalars).map { abs($0 - $1) }.max() ?? .infinity
            #expect(view.shape == ref.shape && worst <= 1e-5, "view \(p): max |Δ| \(worst)")
        }
        let out = try r.reduce(image)
        #expect(out.partitions == (try expected.integers("\(c.key)/partitions")))
        #expect(out.indices == (try expected.integers("\(c.key)/indices")))
        let features = try expected.tensor("\(c.key)/features")
        #expect(out.features.shape == features.shape)
        if out.features.shape == features.shape {
            let scale = max(1, features.scalars.map(abs).max()!)
            #expect(zip(out.features.scalars, features.scalars).allSatisfy { abs($0 - $1) <= 1e-4 * scale })
        }
    }

    @Test func bestFitFollowsLLaVANeXT() {
        // select_best_resolution over LLaVA-NeXT's pinpoints (336-px tiles)
        #expect(TileGrid.bestFit(width: 1000, height: 500, tileSize: 336) == TileGrid(rows: 1, columns: 2))
        #expect(TileGrid.bestFit(width: 500, height: 1000, tileSize: 336) == TileGrid(rows: 2, columns: 1))
        #expect(TileGrid.bestFit(width: 800, height: 800, tileSize: 336) == TileGrid(rows: 2, columns: 2))
        #expect(TileGrid.bestFit(width: 1500, height: 400, tileSize: 336) == TileGrid(rows: 1, columns: 3))
        #expect(TileGrid.bestFit(width: 200, height: 200, tileSize: 336) == TileGrid(rows: 1, columns: 2))
        // unpadding: a 2:1 image on a square grid keeps the middle rows
        let region = AnyResViews.unpaddedRegion(gridRows: 48, gridColumns: 48, imageWidth: 1000, imageHeight: 500)
        #expect(region.rows == 12..<36 && region.columns == 0..<48)
    }

    @Test func videoFramesWithTempMe() throws {
        let frames = try images().flatMap { [$0, $0] }  // 4 frames
        let r = try VisionTokenReducer(
            encoder: Self.clip, options: TokenReductionOptions(method: .tempme, layer: -1, r: 2))
        let out = try r.reduce(frames: frames)
        let slots = try #require(out.slots), sizes = try #require(out.sizes)
        #expect(slots.count == 64 && out.inputTokens == 64)
        #expect(sizes.reduce(0, +) == 64)
        #expect(out.features.shape[0] == sizes.count && out.features.shape[0] < 64)
        #expect(out.indices == out.indices.sorted())
        #expect(zip(out.indices, out.positions).allSatisfy { $0.1 == [$0.0 / 16, ($0.0 % 16) / 4, $0.0 % 4] })
        // identical neighbouring frames merge across time: some row holds patches of two frames
        #expect(
            (0..<sizes.count).contains { row in Set((0..<64).filter { slots[$0] == row }.map { $0 / 16 }).count > 1 })
        // every row's index is its smallest member
        for (row, first) in out.indices.enumerated() { #expect(slots.firstIndex(of: row) == first) }
    }

    @Test func videoFramesPrunedOneByOne() throws {
        let frames = try images()
        let out = try reducer(Self.clip, .uniform, keep: 4).reduce(frames: frames)
        #expect(out.features.shape[0] == 8 && out.positions.map { $0[0] } == [0, 0, 0, 0, 1, 1, 1, 1])
        #expect(out.indices.dropFirst(4).allSatisfy { $0 >= 16 })
    }

    @Test func pruningPicture() throws {
        let image = try images()[0]
        let r0 = try reducer(Self.clip, .uniform, keep: 4)
        let out = try r0.reduce(image)
        let view = r0.view(image)
        let picture = out.visualization(on: view)
        #expect(picture.width == 56 && picture.height == 56 && view.width == 56)
        let kept = Set(out.indices)
        for patch in 0..<16 {
            let (y0, x0) = (patch / 4 * 14, patch % 4 * 14)
            let inner = ((y0 + 5) * 56 + x0 + 5) * 3, edge = (y0 * 56 + x0 + 5) * 3
            if kept.contains(patch) {
                #expect(Array(picture.pixels[inner..<(inner + 3)]) == Array(view.pixels[inner..<(inner + 3)]))
                #expect(Array(picture.pixels[edge..<(edge + 3)]) == [255, 214, 0])
            } else {
                #expect(
                    Array(picture.pixels[inner..<(inner + 3)])
                        == view.pixels[inner..<(inner + 3)].map { UInt8((Float($0) * 0.3).rounded()) })
            }
        }
        // written as PNG and read back
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-prune-\(UUID()).png")
        defer { try? FileManager.default.removeItem(at: url) }
        try picture.writePNG(to: url)
        let back = try Image(contentsOf: url)
        #expect(back.width == 56 && back.height == 56 && back.pixels == picture.pixels)
    }

    @Test func mergingPicture() throws {
        let image = try images()[0]
        let r0 = try reducer(Self.clip, .tome, layer: -1, r: 4)
        let out = try r0.reduce(image)
        let view = r0.view(image), picture = out.visualization(on: view)
        let slots = try #require(out.slots), sizes = try #require(out.sizes)
        for patch in 0..<16 {
            let inner = ((patch / 4 * 14 + 5) * 56 + patch % 4 * 14 + 5) * 3
            let same = Array(picture.pixels[inner..<(inner + 3)]) == Array(view.pixels[inner..<(inner + 3)])
            #expect(same == (sizes[slots[patch]] == 1), "patch \(patch): merged patches are tinted, single ones not")
        }
    }

    @Test func impossibleRequestsAreClearErrors() throws {
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "" } catch { return "\(error)" }
        }
        #expect(message { _ = try reducer(Self.clip, .divprune, keep: 17) }.contains("outside 1...16"))
        #expect(message { _ = try reducer(Self.clip, .divprune, keep: 0) }.contains("outside 1...16"))
        #expect(message { _ = try reducer(Self.clip, .divprune) }.contains("needs keep"))
        #expect(
            message { _ = try reducer(Self.clip, .divprune, keep: 4, layer: 2) }.contains(
                "outside the tower's 2 layers"))
        #expect(
            message { _ = try reducer(Self.clip, .divprune, keep: 4, layer: -3) }.contains(
                "outside the tower's 2 layers"))
        #expect(message { _ = try reducer(Self.clip, .tome, r: 9) }.contains("r 9 is too large"))
        #expect(message { _ = try reducer(Self.siglip, .tome, r: 9) }.contains("r 9 is too large"))
        #expect(message { _ = try reducer(Self.clip, .tome) }.contains("tome needs r"))
        #expect(message { _ = try reducer(Self.clip, .tome, keep: 1, layer: 0) }.contains("cannot merge below 8"))
        #expect(message { _ = try reducer(Self.clip, .divprune, keep: 4, r: 2) }.contains("r only applies"))
        #expect(
            message { _ = try reducer(Self.clip, .tome, keep: 10, layer: -1, r: 2) }.contains("r or keep, not both"))
        #expect(
            message { _ = try reducer(Self.clip, .hired, keep: 4, tiles: TileGrid(rows: 2, columns: 2)) }.contains(
                "not keep"))
        #expect(
            message { _ = try reducer(Self.clip, .hired, tiles: TileGrid(rows: 5, columns: 1)) }.contains("do not fit"))
        #expect(
            message { _ = try reducer(Self.clip, .tempme, r: 2).reduce(try images()[0]) }.contains("give it a video"))
        #expect(
            message {
                _ = try reducer(Self.clip, .tempme, r: 2).reduce(frames: try images() + [try images()[0]]).features
            }.isEmpty)
        let bad = try VisionTokenReducer(
            encoder: Self.clip, options: TokenReductionOptions(method: .tempme, r: 2, groups: [2]))
        #expect(
            message { _ = try bad.reduce(frames: try images() + [try images()[0]]) }.contains("do not divide 3 frames"))
        // a projector whose input width is not the tower's
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-proj-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: dir) }
        try SafeTensorsWriter.write(
            [
                (
                    "model.mm_projector.0.weight",
                    .float(Tensor(shape: [8, 32], scalars: [Float](repeating: 0, count: 256)))
                ),
                ("model.mm_projector.0.bias", .float(Tensor(shape: [8], scalars: [Float](repeating: 0, count: 8)))),
                (
                    "model.mm_projector.2.weight",
                    .float(Tensor(shape: [8, 8], scalars: [Float](repeating: 0, count: 64)))
                ),
                ("model.mm_projector.2.bias", .float(Tensor(shape: [8], scalars: [Float](repeating: 0, count: 8)))),
            ], to: dir)
        let projector = try LLaVAProjector(directory: dir)
        #expect(
            message { try reducer(Self.clip, .uniform, keep: 4).check(projector: projector) }.contains(
                "takes 32 channels; the tower gives 64"))
    }
}
