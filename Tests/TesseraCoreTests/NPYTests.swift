import Foundation
import Testing

@testable import TesseraCore

@Suite struct NPYTests {
    /// Every type numpy has a code for; bfloat16 and float8 (safetensors only) have none.
    @Test func roundTripsEveryDType() throws {
        #expect(DType.allCases.filter { $0.npyDescr == nil } == [.bfloat16, .float8e4m3, .float8e5m2])
        for dtype in DType.allCases where dtype.npyDescr != nil {
            let shape = [2, 3]
            let bytes = (0..<(6 * dtype.size)).map { UInt8(truncatingIfNeeded: $0 * 7 + 1) }
            let array = NPYArray(dtype: dtype, shape: shape, data: bytes)
            let parsed = try NPYArray(npyBytes: array.npyBytes())
            #expect(parsed == array, "\(dtype)")
        }
    }

    @Test func headerIsPaddedTo64Bytes() {
        let bytes = NPYArray(Tensor(shape: [5], scalars: [1, 2, 3, 4, 5])).npyBytes()
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        #expect((10 + headerLength) % 64 == 0)
        #expect(bytes[10 + headerLength - 1] == UInt8(ascii: "\n"))
    }

    @Test func floatConversions() throws {
        let t = Tensor(shape: [2, 2], scalars: [1.5, -2, 0, 3.25])
        #expect(NPYArray(t).tensor() == t)
        let ints = NPYArray(dtype: .int32, shape: [3], data: [255, 255, 255, 255, 7, 0, 0, 0, 0, 1, 0, 0])
        #expect(ints.floats() == [-1, 7, 256])
        let halves = NPYArray(dtype: .float16, shape: [3], data: [0x00, 0x3C, 0x00, 0xC0, 0x00, 0x7C])
        #expect(halves.floats() == [1, -2, .infinity])
    }

    @Test func rejectsMalformedFiles() {
        let good = NPYArray(uint8: [1, 2, 3, 4], shape: [2, 2]).npyBytes()
        let cases: [(String, [UInt8])] = [
            ("empty", []),
            ("bad magic", Array("hello world, not npy".utf8)),
            ("truncated header", Array(good.prefix(20))),
            ("truncated data", Array(good.dropLast(2))),
            ("fortran order", patchHeader(good, "'fortran_order': False", "'fortran_order': True ")),
            ("unknown dtype", patchHeader(good, "'|u1'", "'<c8'")),
            ("overflowing shape", patchHeader(good, "(2, 2)", "(9223372036854775807, 2)")),
        ]
        for (name, bytes) in cases {
            #expect(throws: ArrayFileError.self, "\(name)") { try NPYArray(npyBytes: bytes, path: "x.npy") }
        }
    }

    @Test func errorNamesTheFile() {
        do {
            _ = try NPYArray(contentsOf: URL(fileURLWithPath: "/nonexistent/dir/a.npy"))
            Issue.record("expected an error")
        } catch let error as ArrayFileError {
            #expect(error.path == "/nonexistent/dir/a.npy")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    private func patchHeader(_ bytes: [UInt8], _ old: String, _ new: String) -> [UInt8] {
        let text = String(decoding: bytes, as: UTF8.self)
        return Array(text.replacingOccurrences(of: old, with: new).utf8)
    }
}

@Suite struct ParallelTests {
    @Test func chunksCoverEveryIndexOnce() {
        for threads in [1, 2, 3, 8] {
            Threading.threadCount = threads
            for count in [0, 1, 5, 100, 1001] {
                let hits = UnsafeMutableBufferPointer<Int32>.allocate(capacity: max(count, 1))
                hits.initialize(repeating: 0)
                defer { hits.deallocate() }
                nonisolated(unsafe) let h = hits
                parallelChunks(count) { range in for i in range { h[i] += 1 } }
                #expect(hits.prefix(count).allSatisfy { $0 == 1 }, "threads \(threads) count \(count)")
            }
        }
        Threading.threadCount = 2
    }
}
