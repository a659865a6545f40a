#if canImport(Glibc)
import Glibc
#endif

/// Process-wide allocator settings for model inference.
public enum MemoryPolicy {
    /// Keeps freed tensor buffers in the process instead of returning them to the kernel.
    ///
    /// Every op allocates its output; glibc serves large buffers with fresh `mmap`s (or trims
    /// the heap after a free), so each layer of a forward pass faults in and zeroes the same
    /// megabytes again: 3–5% of a TiTok encode. With a 256 MiB mmap threshold and a 1 GiB trim
    /// threshold, buffers are reused from the heap; resident memory stays near the peak the
    /// work needed anyway. Call once at startup (the `tessera` command does); a no-op off glibc.
    public static func reuseFreedBuffers() {
        #if canImport(Glibc)
        // <malloc.h> is not part of the Glibc module: look mallopt up (M_TRIM_THRESHOLD = -1,
        // M_MMAP_THRESHOLD = -3 in glibc's malloc.h).
        guard let symbol = dlsym(nil, "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
        _ = mallopt(-3, 256 << 20)
        _ = mallopt(-1, 1 << 30)
        #endif
    }
}
