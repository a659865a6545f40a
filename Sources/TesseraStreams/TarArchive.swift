import Foundation

/// Minimal POSIX ustar archives: what WebDataset shards are (regular files only, names up to
/// 100 bytes, sizes below 8 GiB).
public enum TarArchive {
    /// One regular file in an archive.
    public struct Member: Sendable, Equatable {
        /// Path of the member inside the archive (1–100 bytes of UTF-8 when writing).
        public var name: String
        /// The file's contents.
        public var data: Data
        /// A member named `name` holding `data`.
        public init(name: String, data: Data) { self.name = name; self.data = data }
    }

    /// The archive bytes for `members`, ending with the two zero blocks.
    public static func archive(_ members: [Member], modificationTime: Int = 0) throws -> Data {
        var out = Data()
        for m in members {
            let name = Array(m.name.utf8)
            guard !name.isEmpty, name.count <= 100 else {
                throw TokenFileError(path: m.name, reason: "tar member names must be 1–100 bytes")
            }
            var header = [UInt8](repeating: 0, count: 512)
            func put(_ bytes: [UInt8], at offset: Int) { for (i, b) in bytes.enumerated() { header[offset + i] = b } }
            func octal(_ value: Int, width: Int) -> [UInt8] {
                Array(
                    (String(repeating: "0", count: max(0, width - 1 - String(value, radix: 8).count))
                        + String(value, radix: 8)).utf8) + [0]
            }
            put(name, at: 0)
            put(octal(0o644, width: 8), at: 100)  // mode
            put(octal(0, width: 8), at: 108)  // uid
            put(octal(0, width: 8), at: 116)  // gid
            put(octal(m.data.count, width: 12), at: 124)
            put(octal(modificationTime, width: 12), at: 136)
            put(Array("        ".utf8), at: 148)  // checksum placeholder: spaces
            header[156] = UInt8(ascii: "0")  // regular file
            put(Array("ustar".utf8) + [0] + Array("00".utf8), at: 257)
            let checksum = header.reduce(0) { $0 + Int($1) }
            put(octal(checksum, width: 7) + [UInt8(ascii: " ")], at: 148)
            out.append(contentsOf: header)
            out.append(m.data)
            out.append(Data(count: (512 - m.data.count % 512) % 512))
        }
        out.append(Data(count: 1024))
        return out
    }

    /// The regular files of an archive, in order. Truncated or corrupt archives are errors.
    public static func members(of data: Data, path: String) throws -> [Member] {
        var out: [Member] = []
        var offset = 0
        while offset + 512 <= data.count {
            let header = data.subdata(in: offset..<(offset + 512))
            if header.allSatisfy({ $0 == 0 }) { return out }
            func field(_ start: Int, _ length: Int) -> String {
                let bytes = header[(header.startIndex + start)..<(header.startIndex + start + length)].prefix {
                    $0 != 0
                }
                return String(decoding: bytes, as: UTF8.self)
            }
            let stored = Int(field(148, 8).trimmingCharacters(in: .whitespaces), radix: 8)
            var sum = 0
            for (i, b) in header.enumerated() { sum += (148..<156).contains(i) ? 32 : Int(b) }
            guard stored == sum else {
                throw TokenFileError(path: path, reason: "tar header at byte \(offset) has a bad checksum")
            }
            guard let size = Int(field(124, 12).trimmingCharacters(in: .whitespaces), radix: 8), size >= 0 else {
                throw TokenFileError(path: path, reason: "tar header at byte \(offset) has a bad size")
            }
            let start = offset + 512
            guard start + size <= data.count else {
                throw TokenFileError(path: path, reason: "tar member \(field(0, 100)) is truncated")
            }
            let type = header[header.startIndex + 156]
            if type == UInt8(ascii: "0") || type == 0 {
                var name = field(0, 100)
                let prefix = field(345, 155)
                if !prefix.isEmpty { name = prefix + "/" + name }
                out.append(Member(name: name, data: data.subdata(in: start..<(start + size))))
            }
            offset = start + (size + 511) / 512 * 512
        }
        throw TokenFileError(path: path, reason: "tar archive is truncated (no end-of-archive blocks)")
    }
}
