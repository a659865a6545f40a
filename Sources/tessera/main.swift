// The `tessera` command: everything lives in the TesseraCLI library, so the commands are tested.
import Foundation
import TesseraCLI

// Before anything compiled for AVX2 runs (see CPURequirement).
if let problem = CPURequirement.unmet() {
    FileHandle.standardError.write(Data("tessera: \(problem)\n".utf8))
    exit(69)  // EX_UNAVAILABLE
}
BLASKernels.relaunchIfOpenBLASFellBack()
TesseraCommand.main()
