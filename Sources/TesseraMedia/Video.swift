import CFFmpeg
import Foundation
import TesseraCore

/// Container and stream facts about a video, read without decoding frames.
public struct VideoInfo: Sendable, Equatable {
    /// The file the information was read from.
    public var path: String
    /// Container format, e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "matroska,webm".
    public var container: String
    /// Codec short name, e.g. "h264", "vp9", "mpeg4", "gif".
    public var codec: String
    /// Displayed size (after rotation).
    public var width: Int
    /// Displayed height in pixels (after rotation).
    public var height: Int
    /// Size as stored in the stream (before rotation).
    public var codedWidth: Int
    /// Height in pixels as stored in the stream (before rotation).
    public var codedHeight: Int
    /// Average frame rate as a fraction, when the container states one.
    public var frameRate: Rational?
    /// Average frames per second, when known.
    public var fps: Double? { frameRate?.value }
    /// Duration in seconds, when known.
    public var duration: Double?
    /// Frame count the container states (exact for MP4/MOV, usually absent for WebM/MKV).
    public var frameCount: Int?
    /// Clockwise rotation in degrees (0, 90, 180, 270) applied for display.
    public var rotation: Int
    /// Pixel format of the decoded stream, e.g. "yuv420p".
    public var pixelFormat: String
    /// Timestamp of the first frame in seconds (usually 0).
    public var startTime: Double

    /// Frame count when stated, else estimated from duration × fps.
    public var estimatedFrameCount: Int? {
        if let frameCount { return frameCount }
        guard let duration, let fps else { return nil }
        return Int((duration * fps).rounded())
    }
}

/// A fraction, such as a frame rate of 30000/1001.
public struct Rational: Sendable, Equatable, CustomStringConvertible {
    /// Top of the fraction (30000 in 30000/1001).
    public var numerator: Int
    /// Bottom of the fraction (1001 in 30000/1001); positive in the frame rates ``VideoReader`` reports.
    public var denominator: Int
    /// The fraction `numerator / denominator` (not reduced or validated).
    public init(_ numerator: Int, _ denominator: Int) { self.numerator = numerator; self.denominator = denominator }
    /// The fraction as a floating-point number (infinite or NaN when the denominator is 0).
    public var value: Double { Double(numerator) / Double(denominator) }
    /// `numerator/denominator`, e.g. `30000/1001`.
    public var description: String { "\(numerator)/\(denominator)" }
}

/// One decoded video frame.
public struct VideoFrame: Sendable {
    /// Position in presentation order, counted from the first frame of the stream. Exact
    /// when the reader decoded from the start; after a seek or in keyframe mode it is derived
    /// from the timestamp and the average frame rate.
    public var index: Int
    /// Presentation time in seconds (pts × time base, as PyAV's `frame.time`).
    public var timestamp: Double
    /// Whether the decoder marked the frame as a keyframe.
    public var isKeyframe: Bool
    /// The frame as RGB, rotated for display.
    public var image: Image
}

/// Which frames to take from a video.
public enum FrameSampling: Sendable, Equatable {
    /// Every frame.
    case all
    /// Frames 0, n, 2n, … (counted within the time range).
    case everyNth(Int)
    /// About `fps` frames per second: for each time on the grid start, start + 1/fps, …, the
    /// first frame at or after it (never the same frame twice, so a rate above the source's
    /// gives every frame).
    case fps(Double)
    /// `count` frames spread evenly: indices `round(linspace(0, N − 1, count))` (half to even,
    /// as `torch.linspace(...).round()`), N being the frames in the time range.
    case uniform(count: Int)
    /// Keyframes only (non-key frames are not decoded at all).
    case keyframes
}

/// Reads a video file with FFmpeg and delivers frames one at a time, never holding the
/// whole video in memory.
///
/// ```swift
/// let video = try VideoReader(url: url)
/// var frames = try video.frames(.fps(2), from: 10, to: 20)
/// while let frame = try frames.next() { … }
/// ```
public final class VideoReader {
    /// Container and stream facts, read when the reader was opened.
    public let info: VideoInfo
    /// The video file; each iterator opens it anew.
    public let url: URL
    let maxPixels: Int

    /// Opens a video and reads its stream information.
    /// - Parameter maxPixels: frames larger than this are refused (as for images).
    public init(url: URL, maxPixels: Int = ImageDecodingOptions().maxPixels) throws {
        self.url = url
        self.maxPixels = maxPixels
        let demuxer = try Demuxer(url: url)
        self.info = demuxer.info
        try checkFrameSize(info: demuxer.info, limit: maxPixels)
    }

    /// An iterator over the selected frames, optionally limited to `start..<end` seconds.
    public func frames(_ sampling: FrameSampling = .all, from start: Double? = nil, to end: Double? = nil) throws
        -> FrameIterator
    {
        try FrameIterator(reader: self, sampling: sampling, start: start, end: end)
    }

    /// The first frame at or after `time` seconds, or nil past the end.
    public func frame(at time: Double) throws -> VideoFrame? {
        var it = try frames(.all, from: time)
        return try it.next()
    }

    /// Counts the frames in `start..<end` (seconds) by reading packets, without decoding.
    public func countFrames(from start: Double? = nil, to end: Double? = nil) throws -> Int {
        let demuxer = try Demuxer(url: url)
        return try demuxer.countPackets(from: start, to: end)
    }
}

private func checkFrameSize(info: VideoInfo, limit: Int) throws {
    let (pixels, overflow) = info.codedWidth.multipliedReportingOverflow(by: info.codedHeight)
    guard !overflow, pixels <= limit else {
        throw MediaError(
            .tooLarge, path: info.path,
            "video frames are \(info.codedWidth)x\(info.codedHeight), above the pixel limit of \(limit)")
    }
    guard info.codedWidth > 0, info.codedHeight > 0 else {
        throw MediaError(.corrupt, path: info.path, "video stream has no frame size")
    }
}

/// Iterates over sampled frames. Call ``next()`` until it returns nil.
public struct FrameIterator: Sendable {
    private let state: DecodeState

    init(reader: VideoReader, sampling: FrameSampling, start: Double?, end: Double?) throws {
        switch sampling {
        case .everyNth(let n) where n < 1:
            throw MediaError(.invalidRequest, path: reader.url.path, "every-nth sampling needs n >= 1, got \(n)")
        case .fps(let f) where !(f > 0) || !f.isFinite:
            throw MediaError(.invalidRequest, path: reader.url.path, "fps sampling needs a positive rate, got \(f)")
        case .uniform(let k) where k < 1:
            throw MediaError(.invalidRequest, path: reader.url.path, "uniform sampling needs count >= 1, got \(k)")
        default: break
        }
        if let start, let end, !(end > start) {
            throw MediaError(
                .invalidRequest, path: reader.url.path, "time range end \(end) is not after start \(start)")
        }
        state = try DecodeState(reader: reader, sampling: sampling, start: start, end: end)
    }

    /// The next selected frame, or nil when the selection is exhausted.
    public mutating func next() throws -> VideoFrame? { try state.next() }
}

extension FrameIterator: AsyncSequence, AsyncIteratorProtocol {
    /// The frames, in presentation order.
    public typealias Element = VideoFrame
    /// The iterator itself. Copies share one decoder, so the frames can be iterated only once.
    public func makeAsyncIterator() -> FrameIterator { self }
    /// As the synchronous `next()`, for `for try await`: the next selected frame, or nil once exhausted.
    /// - Throws: ``MediaError`` when a frame cannot be decoded or converted.
    public mutating func next() async throws -> VideoFrame? { try state.next() }
}

// MARK: - FFmpeg plumbing

private func ffmpegMessage(_ code: Int32) -> String {
    var buf = [CChar](repeating: 0, count: 256)
    av_strerror(code, &buf, buf.count)
    return cString(buf)
}

private let quietLogs: Void = { av_log_set_level(-8) }()  // AV_LOG_QUIET: errors are reported as MediaError

/// An opened container positioned on its best video stream.
final class Demuxer {
    var format: UnsafeMutablePointer<AVFormatContext>?
    let streamIndex: Int32
    let stream: UnsafeMutablePointer<AVStream>
    let info: VideoInfo
    let path: String

    init(url: URL) throws {
        _ = quietLogs
        path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw MediaError(.unreadable, path: path, "no such file")
        }
        guard !isDirectory.boolValue else { throw MediaError(.unreadable, path: path, "is a directory") }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw MediaError(.unreadable, path: path, "permission denied")
        }
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size == 0 {
            throw MediaError(.empty, path: path, "empty file (0 bytes)")
        }
        var ctx: UnsafeMutablePointer<AVFormatContext>? = nil
        var status = avformat_open_input(&ctx, path, nil, nil)
        guard status >= 0, let ctx else {
            throw MediaError(.unrecognized, path: path, "not a readable video (\(ffmpegMessage(status)))")
        }
        format = ctx
        status = avformat_find_stream_info(ctx, nil)
        guard status >= 0 else {
            avformat_close_input(&format)
            throw MediaError(.corrupt, path: path, "cannot read stream information (\(ffmpegMessage(status)))")
        }
        let index = av_find_best_stream(ctx, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        guard index >= 0 else {
            avformat_close_input(&format)
            throw MediaError(.noVideoStream, path: path, "no video stream")
        }
        streamIndex = index
        stream = ctx.pointee.streams[Int(index)]!
        let par = stream.pointee.codecpar.pointee
        let tb = stream.pointee.time_base
        let seconds = { (ts: Int64) -> Double in Double(ts) * Double(tb.num) / Double(tb.den) }
        var duration: Double? = nil
        if stream.pointee.duration != tsr_nopts_value() && stream.pointee.duration > 0 {
            duration = seconds(stream.pointee.duration)
        } else if ctx.pointee.duration != tsr_nopts_value() && ctx.pointee.duration > 0 {
            duration = Double(ctx.pointee.duration) / Double(AV_TIME_BASE)
        }
        var rate = stream.pointee.avg_frame_rate
        if rate.num <= 0 || rate.den <= 0 { rate = stream.pointee.r_frame_rate }
        let rotation = Demuxer.rotation(of: stream)
        let swaps = rotation == 90 || rotation == 270
        let codec = String(cString: avcodec_get_name(par.codec_id))
        let pixfmt = av_get_pix_fmt_name(AVPixelFormat(rawValue: par.format)).map { String(cString: $0) } ?? "unknown"
        let vi = VideoInfo(
            path: path,
            container: String(cString: ctx.pointee.iformat.pointee.name),
            codec: codec,
            width: Int(swaps ? par.height : par.width), height: Int(swaps ? par.width : par.height),
            codedWidth: Int(par.width), codedHeight: Int(par.height),
            frameRate: rate.num > 0 && rate.den > 0 ? Rational(Int(rate.num), Int(rate.den)) : nil,
            duration: duration,
            frameCount: stream.pointee.nb_frames > 0 ? Int(stream.pointee.nb_frames) : nil,
            rotation: rotation, pixelFormat: pixfmt,
            startTime: stream.pointee.start_time != tsr_nopts_value() ? seconds(stream.pointee.start_time) : 0)
        info = vi
    }

    deinit { avformat_close_input(&format) }

    /// Clockwise display rotation from the stream's display matrix (as the ffmpeg CLI reads it).
    private static func rotation(of stream: UnsafeMutablePointer<AVStream>) -> Int {
        var size: Int = 0
        guard let data = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &size), size >= 36 else { return 0 }
        let theta = data.withMemoryRebound(to: Int32.self, capacity: 9) { av_display_rotation_get($0) }
        guard theta.isFinite else { return 0 }
        var degrees = -Int(theta.rounded())
        degrees = ((degrees % 360) + 360) % 360
        return [0, 90, 180, 270].min(by: { abs($0 - degrees) < abs($1 - degrees) }) ?? 0
    }

    func seconds(_ ts: Int64) -> Double {
        let tb = stream.pointee.time_base
        return Double(ts) * Double(tb.num) / Double(tb.den)
    }

    func timestamp(_ seconds: Double) -> Int64 {
        let tb = stream.pointee.time_base
        return Int64((seconds * Double(tb.den) / Double(tb.num)).rounded(.down))
    }

    /// Seeks to the keyframe at or before `seconds`. Returns false when the container cannot seek.
    func seek(to seconds: Double) -> Bool {
        av_seek_frame(format, streamIndex, timestamp(seconds), 1 /* AVSEEK_FLAG_BACKWARD */) >= 0
    }

    /// Reads the next packet of the video stream into `packet`; false at end of file.
    func readPacket(_ packet: UnsafeMutablePointer<AVPacket>) throws -> Bool {
        while true {
            let status = av_read_frame(format, packet)
            if status == tsr_averror_eof() { return false }
            guard status >= 0 else {
                throw MediaError(.corrupt, path: path, "cannot read packet (\(ffmpegMessage(status)))")
            }
            if packet.pointee.stream_index == streamIndex { return true }
            av_packet_unref(packet)
        }
    }

    /// Number of video packets whose presentation time falls in `start..<end`.
    func countPackets(from start: Double?, to end: Double?) throws -> Int {
        if let start, start > 0 { _ = seek(to: start) }
        guard let packet = av_packet_alloc() else { throw MediaError(.corrupt, path: path, "out of memory") }
        var packetPtr: UnsafeMutablePointer<AVPacket>? = packet
        defer { av_packet_free(&packetPtr) }
        var count = 0
        while try readPacket(packet) {
            let ts = packet.pointee.pts != tsr_nopts_value() ? packet.pointee.pts : packet.pointee.dts
            av_packet_unref(packet)
            let t = seconds(ts)
            if let start, t < start - 1e-6 { continue }
            if let end, t >= end - 1e-6 { continue }
            count += 1
        }
        return count
    }
}

/// Decoder, converter and sampling state behind a ``FrameIterator``.
final class DecodeState: @unchecked Sendable {
    private let demuxer: Demuxer
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var scaler: OpaquePointer?
    private let sampling: FrameSampling
    private let start: Double?
    private let end: Double?
    private let maxPixels: Int
    private let path: String

    private var decodedFromStart: Bool
    private var decodeIndex = 0  // frames decoded so far (presentation order)
    private var inRangeIndex = 0  // frames seen inside the time range
    private var nextGridTime: Double?  // .fps
    private var uniformTargets: [Int] = []  // .uniform, ascending in-range indices
    private var uniformCursor = 0
    private var flushing = false
    private var finished = false
    private var packetsRead = 0

    init(reader: VideoReader, sampling: FrameSampling, start: Double?, end: Double?) throws {
        demuxer = try Demuxer(url: reader.url)
        path = reader.url.path
        self.sampling = sampling
        self.start = start
        self.end = end
        maxPixels = reader.maxPixels
        decodedFromStart = true

        let par = demuxer.stream.pointee.codecpar!
        guard let decoder = avcodec_find_decoder(par.pointee.codec_id) else {
            throw MediaError(.corrupt, path: path, "no decoder for codec \(demuxer.info.codec)")
        }
        codec = avcodec_alloc_context3(decoder)
        guard let codec else { throw MediaError(.corrupt, path: path, "out of memory") }
        var status = avcodec_parameters_to_context(codec, par)
        guard status >= 0 else {
            throw MediaError(.corrupt, path: path, "bad codec parameters (\(ffmpegMessage(status)))")
        }
        codec.pointee.thread_count = Int32(Threading.threadCount)
        codec.pointee.pkt_timebase = demuxer.stream.pointee.time_base
        if sampling == .keyframes { codec.pointee.skip_frame = AVDISCARD_NONKEY }
        status = avcodec_open2(codec, decoder, nil)
        guard status >= 0 else {
            throw MediaError(.corrupt, path: path, "cannot open decoder (\(ffmpegMessage(status)))")
        }
        packet = av_packet_alloc()
        frame = av_frame_alloc()
        guard packet != nil, frame != nil else { throw MediaError(.corrupt, path: path, "out of memory") }

        if case .uniform(let k) = sampling {
            let n = try reader.countFrames(from: start, to: end)
            uniformTargets = Self.uniformIndices(count: k, total: n)
        }
        if let start, start > 0 {
            if demuxer.seek(to: start) {
                decodedFromStart = false
            } else {
                // Not seekable (e.g. some GIFs): decode from the beginning and drop frames.
                demuxer.format.map { _ = avformat_seek_file($0, -1, Int64.min, 0, 0, 0) }
            }
        }
        if sampling == .keyframes { decodedFromStart = false }
    }

    deinit {
        sws_freeContext(scaler)
        av_frame_free(&frame)
        av_packet_free(&packet)
        avcodec_free_context(&codec)
    }

    /// `round(linspace(0, total - 1, count))`, half to even, deduplicated.
    static func uniformIndices(count: Int, total: Int) -> [Int] {
        guard total > 0 else { return [] }
        if count >= total { return Array(0..<total) }
        if count == 1 { return [0] }
        var out: [Int] = []
        for i in 0..<count {
            let v = Double(i) * Double(total - 1) / Double(count - 1)
            let r = Int(v.rounded(.toNearestOrEven))
            if out.last != r { out.append(r) }
        }
        return out
    }

    func next() throws -> VideoFrame? {
        while !finished {
            guard let decoded = try decodeNext() else { finished = true; return nil }
            let (image, timestamp, key) = decoded
            if let start, timestamp < start - 1e-6 { continue }
            if let end, timestamp >= end - 1e-6 { finished = true; return nil }
            let position = inRangeIndex
            inRangeIndex += 1
            var take: Bool
            switch sampling {
            case .all, .keyframes: take = true
            case .everyNth(let n): take = position % n == 0
            case .fps(let rate):
                let step = 1 / rate
                let grid = nextGridTime ?? (start ?? timestamp)
                take = timestamp + 1e-6 >= grid
                if take {
                    var g = grid + step
                    while g <= timestamp + 1e-6 { g += step }
                    nextGridTime = g
                } else {
                    nextGridTime = grid
                }
            case .uniform:
                take = uniformCursor < uniformTargets.count && uniformTargets[uniformCursor] == position
                if take { uniformCursor += 1 }
                if uniformCursor >= uniformTargets.count && !take { finished = true; return nil }
            }
            if take {
                let index: Int
                if decodedFromStart {
                    index = decodeIndex - 1
                } else {
                    index = Int(((timestamp - demuxer.info.startTime) * (demuxer.info.fps ?? 0)).rounded())
                }
                let frame = VideoFrame(index: index, timestamp: timestamp, isKeyframe: key, image: try image())
                if case .uniform = sampling, uniformCursor >= uniformTargets.count { finished = true }
                return frame
            }
        }
        return nil
    }

    /// Decodes the next frame; returns a closure that converts it (so skipped frames are never
    /// converted to RGB), its timestamp and key flag.
    private func decodeNext() throws -> ((() throws -> Image), Double, Bool)? {
        guard let codec, let packet, let frame else { return nil }
        while true {
            let status = avcodec_receive_frame(codec, frame)
            if status >= 0 {
                decodeIndex += 1
                let ts =
                    frame.pointee.pts != tsr_nopts_value() ? frame.pointee.pts : frame.pointee.best_effort_timestamp
                let time =
                    ts == tsr_nopts_value() ? Double(decodeIndex - 1) / (demuxer.info.fps ?? 1) : demuxer.seconds(ts)
                let key = tsr_frame_is_key(frame) != 0
                return ({ [unowned self] in try self.convert() }, time, key)
            }
            if status == tsr_averror_eof() { return nil }
            guard status == tsr_averror_eagain() else {
                throw MediaError(.corrupt, path: path, "decoding failed (\(ffmpegMessage(status)))")
            }
            if flushing { return nil }
            var gotPacket = false
            while try demuxer.readPacket(packet) {
                packetsRead += 1
                if sampling == .keyframes && (packet.pointee.flags & tsr_pkt_flag_key()) == 0 {
                    av_packet_unref(packet)
                    continue
                }
                gotPacket = true
                break
            }
            if gotPacket {
                let sent = avcodec_send_packet(codec, packet)
                av_packet_unref(packet)
                // Damaged packets are skipped, as FFmpeg's own tools do; the stream goes on.
                if sent < 0 && sent != tsr_averror_eagain() && sent != -1094995529 /* AVERROR_INVALIDDATA */ {
                    throw MediaError(.corrupt, path: path, "decoding failed (\(ffmpegMessage(sent)))")
                }
            } else {
                try checkComplete()
                flushing = true
                avcodec_send_packet(codec, nil)
            }
        }
    }

    /// At end of file, a stream that stated its frame count but delivered fewer packets
    /// was cut short.
    private func checkComplete() throws {
        guard decodedFromStart, start == nil, end == nil, sampling != .keyframes,
            let stated = demuxer.info.frameCount, packetsRead < stated
        else { return }
        throw MediaError(.truncated, path: path, "file ends after \(packetsRead) of \(stated) frames")
    }

    /// Converts the current frame to RGB24 (BT.601/709 per the frame's colour metadata) and
    /// applies the display rotation.
    private func convert() throws -> Image {
        guard let frame else { throw MediaError(.corrupt, path: path, "no frame") }
        let w = Int(frame.pointee.width), h = Int(frame.pointee.height)
        let (pixels, overflow) = w.multipliedReportingOverflow(by: h)
        guard w > 0, h > 0, !overflow, pixels <= maxPixels else {
            throw MediaError(.tooLarge, path: path, "frame size \(w)x\(h) is invalid or above the pixel limit")
        }
        try MemoryLimit.check(pixels * 6, for: "decoding a \(w)x\(h) frame (RGB, then turned)", path: path)
        let srcFormat = AVPixelFormat(rawValue: frame.pointee.format)
        scaler = sws_getCachedContext(
            scaler, Int32(w), Int32(h), srcFormat, Int32(w), Int32(h), AV_PIX_FMT_RGB24,
            2 /* SWS_BILINEAR */, nil, nil, nil)
        guard let scaler else {
            throw MediaError(.corrupt, path: path, "unsupported pixel format \(srcFormat.rawValue)")
        }
        setColorspace(scaler, frame: frame, format: srcFormat)
        // swscale's vector paths write whole blocks past the last pixel of a row (widths that are
        // not a multiple of 16 overran a tight buffer): convert into 64-byte aligned rows with slack,
        // then copy the pixels out.
        let stride = (w * 3 + 63) & ~63
        var padded = [UInt8](repeating: 0, count: stride * h + 256)
        padded.withUnsafeMutableBufferPointer { dst in
            var dstData: [UnsafeMutablePointer<UInt8>?] = [dst.baseAddress, nil, nil, nil]
            var dstStride: [Int32] = [Int32(stride), 0, 0, 0]
            withUnsafePointer(to: &frame.pointee.data) { dataTuple in
                dataTuple.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { srcData in
                    withUnsafePointer(to: &frame.pointee.linesize) { lsTuple in
                        lsTuple.withMemoryRebound(to: Int32.self, capacity: 8) { srcStride in
                            _ = sws_scale(scaler, srcData, srcStride, 0, Int32(h), &dstData, &dstStride)
                        }
                    }
                }
            }
        }
        var rgb = [UInt8](repeating: 0, count: w * h * 3)
        rgb.withUnsafeMutableBufferPointer { out in
            padded.withUnsafeBufferPointer { src in
                guard let o = out.baseAddress, let p = src.baseAddress else { return }
                for y in 0..<h { (o + y * w * 3).update(from: p + y * stride, count: w * 3) }
            }
        }
        let image = Image(width: w, height: h, layout: .rgb, pixels: rgb)
        switch demuxer.info.rotation {
        case 90: return image.oriented(.right)
        case 180: return image.oriented(.down)
        case 270: return image.oriented(.left)
        default: return image
        }
    }

    private func setColorspace(_ ctx: OpaquePointer, frame: UnsafeMutablePointer<AVFrame>, format: AVPixelFormat) {
        var invTable: UnsafeMutablePointer<Int32>? = nil, table: UnsafeMutablePointer<Int32>? = nil
        var srcRange: Int32 = 0, dstRange: Int32 = 0, brightness: Int32 = 0, contrast: Int32 = 0, saturation: Int32 = 0
        guard
            sws_getColorspaceDetails(ctx, &invTable, &srcRange, &table, &dstRange, &brightness, &contrast, &saturation)
                >= 0
        else { return }  // RGB/palette sources: no YUV matrix to set
        let space = Int32(frame.pointee.colorspace.rawValue)
        let coefficients = sws_getCoefficients(space == 2 /* unspecified */ ? 5 /* SWS_CS_DEFAULT */ : space)
        let range: Int32 = frame.pointee.color_range == AVCOL_RANGE_JPEG ? 1 : srcRange
        sws_setColorspaceDetails(ctx, coefficients, range, table, dstRange, brightness, contrast, saturation)
    }
}
