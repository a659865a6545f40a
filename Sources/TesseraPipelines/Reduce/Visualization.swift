// Pictures of a token reduction: the image the tower saw with the kept patches highlighted
// (pruning) or every merged group tinted in one colour (merging).
import TesseraMedia

/// Draws patch selections and merge groups on an RGB image cut into a patch grid.
public enum ReductionOverlay {
    /// Pruned patches are dimmed to this fraction of their brightness.
    public static let dimming: Float = 0.3
    /// Outline colour of kept patches.
    public static let outline: (UInt8, UInt8, UInt8) = (255, 214, 0)
    /// Colours of merged groups (group slot modulo the palette size).
    public static let palette: [(UInt8, UInt8, UInt8)] = [
        (230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
        (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (170, 110, 40), (128, 0, 0),
    ]

    /// Kept patches as they are with a 1-pixel outline; every other patch dimmed.
    /// `kept` holds raster indices on the `gridHeight × gridWidth` grid.
    public static func pruning(_ image: Image, gridHeight: Int, gridWidth: Int, kept: [Int]) -> Image {
        var out = image.rgb()
        let ph = out.height / gridHeight, pw = out.width / gridWidth
        var isKept = [Bool](repeating: false, count: gridHeight * gridWidth)
        for k in kept where k >= 0 && k < isKept.count { isKept[k] = true }
        out.pixels.withUnsafeMutableBufferPointer { p in
            for gy in 0..<gridHeight {
                for gx in 0..<gridWidth {
                    let keep = isKept[gy * gridWidth + gx]
                    for y in (gy * ph)..<((gy + 1) * ph) {
                        for x in (gx * pw)..<((gx + 1) * pw) {
                            let o = (y * out.width + x) * 3
                            if !keep {
                                for c in 0..<3 { p[o + c] = UInt8((Float(p[o + c]) * dimming).rounded()) }
                            } else if y == gy * ph || y == (gy + 1) * ph - 1 || x == gx * pw || x == (gx + 1) * pw - 1 {
                                (p[o], p[o + 1], p[o + 2]) = outline
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Every patch of a merged group (more than one patch) tinted half-way to the group's colour;
    /// white lines between patches of different groups. `groupOf` is the group of every patch.
    public static func merging(_ image: Image, gridHeight: Int, gridWidth: Int, groupOf: [Int]) -> Image {
        var out = image.rgb()
        let ph = out.height / gridHeight, pw = out.width / gridWidth
        var count: [Int: Int] = [:]
        for g in groupOf { count[g, default: 0] += 1 }
        func group(_ gy: Int, _ gx: Int) -> Int? {
            gy >= 0 && gy < gridHeight && gx >= 0 && gx < gridWidth ? groupOf[gy * gridWidth + gx] : nil
        }
        out.pixels.withUnsafeMutableBufferPointer { p in
            for gy in 0..<gridHeight {
                for gx in 0..<gridWidth {
                    let g = groupOf[gy * gridWidth + gx]
                    let tint = count[g, default: 1] > 1 ? palette[g % palette.count] : nil
                    let (top, bottom) = (group(gy - 1, gx) != g, group(gy + 1, gx) != g)
                    let (left, right) = (group(gy, gx - 1) != g, group(gy, gx + 1) != g)
                    for y in (gy * ph)..<((gy + 1) * ph) {
                        for x in (gx * pw)..<((gx + 1) * pw) {
                            let o = (y * out.width + x) * 3
                            let edge =
                                (top && y == gy * ph) || (bottom && y == (gy + 1) * ph - 1)
                                || (left && x == gx * pw) || (right && x == (gx + 1) * pw - 1)
                            if edge {
                                (p[o], p[o + 1], p[o + 2]) = (255, 255, 255)
                            } else if let tint {
                                let t = [tint.0, tint.1, tint.2]
                                for c in 0..<3 { p[o + c] = UInt8(((Float(p[o + c]) + Float(t[c])) / 2).rounded()) }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}

extension ReducedVisionTokens {
    /// The reduction drawn on the single view the tower saw (`view`: the processor's prepared
    /// image, `grid × grid` patches): merges by group, pruning by kept patch. HiRED with tiles:
    /// the full view's selection (see ``tileVisualization(on:tiles:)`` for the tiles).
    public func visualization(on view: Image) -> Image {
        if let slots {
            return ReductionOverlay.merging(
                view, gridHeight: grid, gridWidth: grid, groupOf: Array(slots.prefix(grid * grid)))
        }
        let kept = partitions.map { p in zip(indices, p).filter { $0.1 == 0 }.map(\.0) } ?? indices
        return ReductionOverlay.pruning(view, gridHeight: grid, gridWidth: grid, kept: kept)
    }

    /// HiRED with tiles: the tiles' selections on the high-resolution image (`rows·grid ×
    /// columns·grid` patches).
    public func tileVisualization(on highResolution: Image, tiles: TileGrid) -> Image {
        let kept = zip(positions, partitions ?? []).filter { $0.1 > 0 }.map { $0.0[1] * tiles.columns * grid + $0.0[2] }
        return ReductionOverlay.pruning(
            highResolution, gridHeight: tiles.rows * grid, gridWidth: tiles.columns * grid, kept: kept)
    }

    /// Video: the reduction drawn on frame `t` (merged groups share a colour across frames).
    public func visualization(on view: Image, frame t: Int) -> Image {
        let n = grid * grid
        if let slots {
            return ReductionOverlay.merging(
                view, gridHeight: grid, gridWidth: grid, groupOf: Array(slots[(t * n)..<((t + 1) * n)]))
        }
        let kept = zip(indices, positions).filter { $0.1[0] == t }.map { $0.0 - t * n }
        return ReductionOverlay.pruning(view, gridHeight: grid, gridWidth: grid, kept: kept)
    }
}
