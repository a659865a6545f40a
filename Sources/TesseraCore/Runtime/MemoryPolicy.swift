#if canImport(Glibc)
    import Glibc
#endif

/// Process-wide allocator settings for model inference.
public enum MemoryPolicy {
    /// Keeps freed tensor buffers in the process instead of returning them to the kernel.
    ///
    /// Every op allocates its output. glibc serves blocks above its mmap threshold (at most
    /// 32 MiB) with fresh `mmap`s and trims the heap after frees, so each layer of a forward pass
    /// faults in and zeroes the same megabytes again. With mmap off (`M_MMAP_MAX` 0) and a 1 GiB
    /// trim threshold, buffers are reused from the heap: TiTok-S-128 page faults fall 3×,
    /// encoding 143 → 130 ms, batch-8 decoding 6.35 → 5.19 s, peak memory unchanged (measured
    /// with `tessera bench titok`). Call once at startup (the `tessera` command does); a no-op
    /// off glibc.
    public static func reuseFreedBuffers() {
        #if canImport(Glibc)
            // <malloc.h> is not part of the Glibc module: look mallopt up (glibc's malloc.h:
            // M_TRIM_THRESHOLD = -1, M_MMAP_MAX = -4).
            guard let symbol = dlsym(nil, "mallopt") else { return }
            let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
            _ = mallopt(-4, 0)
            _ = mallopt(-1, 1 << 30)
        #endif
    }
}
