import Foundation

#if canImport(Glibc)
    import Glibc
    private let systemGlob = Glibc.glob
#elseif canImport(Darwin)
    import Darwin
    private let systemGlob = Darwin.glob
#endif

/// What a media file is, read from its content (not its extension).
public enum MediaDescription: Sendable {
    /// A PNG or JPEG image, with its header facts.
    case image(ImageInfo)
    /// Anything FFmpeg opens as a video (GIF included), with its container and stream facts.
    case video(VideoInfo)
}

/// Media discovery: probing files and expanding folders into media files.
public enum Media {
    /// File extensions treated as images when listing folders.
    public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg", "jpe", "jfif"]
    /// File extensions treated as videos when listing folders.
    public static let videoExtensions: Set<String> = [
        "mp4", "m4v", "mov", "mkv", "webm", "avi", "gif", "mpg", "mpeg", "ts", "flv", "wmv", "3gp",
    ]

    /// Probes a file: PNG/JPEG by signature, anything else through FFmpeg.
    public static func probe(_ url: URL) throws -> MediaDescription {
        let head = try readHead(url, count: 16)
        guard !head.isEmpty else { throw MediaError(.empty, path: url.path, "empty file (0 bytes)") }
        if ImageFormat.sniff(head) != nil {
            return .image(try ImageInfo(contentsOf: url))
        }
        return .video(try VideoReader(url: url).info)
    }

    /// Whether a file's content is a PNG or JPEG image (false for videos and unknown data).
    public static func isImage(_ url: URL) -> Bool {
        (try? readHead(url, count: 8)).flatMap { ImageFormat.sniff($0) } != nil
    }

    /// What ``scan(_:)`` found: the media files, and the files inside folders it left out.
    public struct Scan: Sendable, Equatable {
        /// Media files in processing order.
        public var files: [URL]
        /// Files inside the searched folders whose extension is neither an image nor a video
        /// one (hidden files excepted), sorted: a run reports them rather than skip them silently.
        public var skipped: [URL]
    }

    /// Expands paths into media files: files are kept as given (whatever their extension);
    /// folders are searched recursively for image and video extensions, sorted by path so the
    /// order is deterministic; glob patterns (`photos/*.jpg`, quoted so the shell leaves them)
    /// expand to their sorted matches.
    public static func expand(_ paths: [String]) throws -> [URL] { try scan(paths).files }

    /// ``expand(_:)`` that also reports the folder files it left out.
    public static func scan(_ paths: [String]) throws -> Scan {
        var out: [URL] = [], skipped: [URL] = []
        let known = imageExtensions.union(videoExtensions)
        for pattern in paths {
            var matches = [pattern]
            if !FileManager.default.fileExists(atPath: pattern), pattern.contains(where: { "*?[".contains($0) }) {
                let found = glob(pattern)
                if !found.isEmpty { matches = found }  // no match: kept, and reported as a missing file
            }
            for path in matches {
                let url = URL(fileURLWithPath: path)
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue
                else {
                    out.append(url)
                    continue
                }
                guard
                    let walker = FileManager.default.enumerator(
                        at: url, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles])
                else {
                    throw MediaError(.unreadable, path: url.path, "cannot list folder")
                }
                var found: [URL] = []
                for case let file as URL in walker {
                    if known.contains(file.pathExtension.lowercased()) {
                        found.append(file)
                    } else if (try? file.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                        skipped.append(file)
                    }
                }
                out += found.sorted { $0.path < $1.path }
            }
        }
        return Scan(files: out, skipped: skipped.sorted { $0.path < $1.path })
    }

    /// Sorted matches of a shell glob pattern.
    static func glob(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard systemGlob(pattern, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { result.gl_pathv[$0].map { String(cString: $0) } }.sorted()
    }

    private static func readHead(_ url: URL, count: Int) throws -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw MediaError(.unreadable, path: url.path, "no such file")
        }
        guard !isDirectory.boolValue else { throw MediaError(.unreadable, path: url.path, "is a directory") }
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw MediaError(.unreadable, path: url.path, "cannot open (permission denied?)")
        }
        defer { try? handle.close() }
        do {
            return [UInt8](try handle.read(upToCount: count) ?? Data())
        } catch {
            throw MediaError(.unreadable, path: url.path, "cannot read (\(error.localizedDescription))")
        }
    }
}
