import Foundation
import Tessera

/// The `tessera` process on the best BLAS kernels its OpenBLAS has for this CPU.
public enum BLASKernels {
    /// When OpenBLAS fell back to its generic kernels on a CPU it does not know (``BLAS/betterOpenBLASCore``)
    /// and `OPENBLAS_CORETYPE` is unset, runs this command again with it set (kernels are chosen when
    /// the library loads). `TESSERA_KEEP_BLAS_KERNELS=1` keeps the fallback. Returns when nothing is
    /// to be done or the relaunch fails.
    public static func relaunchIfOpenBLASFellBack() {
        #if os(Linux)
            let environment = ProcessInfo.processInfo.environment
            guard environment["OPENBLAS_CORETYPE"] == nil, environment["TESSERA_KEEP_BLAS_KERNELS"] == nil,
                let core = BLAS.betterOpenBLASCore
            else { return }
            setenv("OPENBLAS_CORETYPE", core, 1)
            execv("/proc/self/exe", CommandLine.unsafeArgv)
            unsetenv("OPENBLAS_CORETYPE")  // execv returned: it failed; go on with the fallback
        #endif
    }
}
