// LLaVA-NeXT's "anyres" image geometry (transformers `LlavaNextImageProcessor`:
// `select_best_resolution`, `_resize_for_patching`, `_pad_for_patching`, `unpad_image`): a base
// view of the whole image plus high-resolution tiles of the tower's input size.
import TesseraCore

/// A tile grid over the image (HiRED's high-resolution partitions, LLaVA-NeXT's anyres grid).
public struct TileGrid: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// Number of tile rows (vertical divisions).
    public var rows: Int
    /// Number of tile columns (horizontal divisions).
    public var columns: Int
    /// A grid of `rows × columns` tiles (not validated; ``init(_:)`` rejects counts below 1).
    public init(rows: Int, columns: Int) { self.rows = rows; self.columns = columns }
    /// Number of tiles.
    public var count: Int { rows * columns }
    /// `ROWSxCOLUMNS`, the form the command line takes.
    public var description: String { "\(rows)x\(columns)" }

    /// Parses `ROWSxCOLUMNS` (e.g. `2x2`); nil for anything else.
    public init?(_ text: String) {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 2, let r = parts[0], let c = parts[1], r >= 1, c >= 1 else { return nil }
        self.init(rows: r, columns: c)
    }

    /// LLaVA-NeXT's default `image_grid_pinpoints` (336×672, 672×336, 672×672, 1008×336,
    /// 336×1008 as height × width) in tiles of the tower's input size.
    public static let llavaNext = [
        TileGrid(rows: 1, columns: 2), TileGrid(rows: 2, columns: 1), TileGrid(rows: 2, columns: 2),
        TileGrid(rows: 3, columns: 1), TileGrid(rows: 1, columns: 3),
    ]

    /// LLaVA-NeXT's `select_best_resolution`: the grid that keeps the most of the image's
    /// pixels once the image is scaled to fit it, ties going to the least padding.
    /// - Precondition: `grids` is not empty.
    public static func bestFit(width: Int, height: Int, tileSize s: Int, among grids: [TileGrid] = llavaNext)
        -> TileGrid
    {
        precondition(!grids.isEmpty, "bestFit needs at least one tile grid")
        var best = grids[0], bestEffective = 0, leastWasted = Int.max
        for grid in grids {
            let (w, h) = (grid.columns * s, grid.rows * s)
            let scale = min(Double(w) / Double(width), Double(h) / Double(height))
            let effective = min(Int(Double(width) * scale) * Int(Double(height) * scale), width * height)
            let wasted = w * h - effective
            if effective > bestEffective || (effective == bestEffective && wasted < leastWasted) {
                (best, bestEffective, leastWasted) = (grid, effective, wasted)
            }
        }
        return best
    }
}

/// The anyres views of an image for a tower whose input is `tileSize × tileSize`, made with the
/// tower's own preprocessing (filter, resampler, normalization).
public struct AnyResViews: Sendable {
    /// The tower's preprocessing (its resize and crop are replaced per view).
    public var preprocessing: Preprocessing
    /// The tower's square input side.
    public var tileSize: Int

    /// Anyres views for a tower.
    /// - Parameters:
    ///   - preprocessing: The tower's preprocessing; its filter, engine and normalization are kept.
    ///   - tileSize: The tower's square input side `S` in pixels.
    public init(preprocessing: Preprocessing, tileSize: Int) {
        self.preprocessing = preprocessing
        self.tileSize = tileSize
    }

    /// The base view's preprocessing: the whole image resized to `S × S` (aspect not kept).
    public var basePreprocessing: Preprocessing {
        var p = preprocessing
        p.resize = .exact(width: tileSize, height: tileSize)
        p.centerCrop = nil
        return p
    }

    /// The base view as the tower sees it, `[3, S, S]`.
    public func baseView(_ image: Image) -> Tensor { basePreprocessing.tensor(image) }

    /// The high-resolution tiles: ``canvas(_:_:)`` cut into `S × S` crops, raster order, each
    /// normalized as the base view (`[3, S, S]` each).
    public func tiles(_ image: Image, _ grid: TileGrid) -> [Tensor] {
        let big = canvas(image, grid), s = tileSize
        var views: [Tensor] = []
        for r in 0..<grid.rows {
            for c in 0..<grid.columns {
                views.append(big.cropped(x: c * s, y: r * s, width: s, height: s).tensor(preprocessing.normalization))
            }
        }
        return views
    }

    /// The canvas the tiles cut up (`_resize_for_patching` + `_pad_for_patching`): the image
    /// scaled to fit `columns·S × rows·S` with its aspect kept (the long side filling the
    /// canvas, the other `ceil`ed), centred on black.
    public func canvas(_ image: Image, _ grid: TileGrid) -> Image {
        let s = tileSize
        let (width, height) = (grid.columns * s, grid.rows * s)
        let scaleW = Double(width) / Double(image.width), scaleH = Double(height) / Double(image.height)
        let (w, h) =
            scaleW < scaleH
            ? (width, min(Int((Double(image.height) * scaleW).rounded(.up)), height))
            : (min(Int((Double(image.width) * scaleH).rounded(.up)), width), height)
        let resized = image.rgb().resized(
            width: w, height: h, filter: preprocessing.filter, engine: preprocessing.engine)
        guard (w, h) != (width, height) else { return resized }
        return resized.padded(
            left: (width - w) / 2, top: (height - h) / 2,
            right: width - w - (width - w) / 2, bottom: height - h - (height - h) / 2)
    }

    /// The rows and columns of a `rows × columns` token grid over the canvas that show the image
    /// rather than padding (`unpad_image`, which HiRED applies to its selection masks).
    public static func unpaddedRegion(gridRows: Int, gridColumns: Int, imageWidth: Int, imageHeight: Int)
        -> (rows: Range<Int>, columns: Range<Int>)
    {
        let original = Double(imageWidth) / Double(imageHeight), current = Double(gridColumns) / Double(gridRows)
        if original > current {
            let height = Int(Double(imageHeight) * (Double(gridColumns) / Double(imageWidth)))
            let padding = (gridRows - height) / 2
            return (padding..<(gridRows - padding), 0..<gridColumns)
        }
        let width = Int(Double(imageWidth) * (Double(gridRows) / Double(imageHeight)))
        let padding = (gridColumns - width) / 2
        return (0..<gridRows, padding..<(gridColumns - padding))
    }
}
