// The `tessera` command: everything lives in the TesseraCLI library, so the commands are tested.
import TesseraCLI

// Before anything compiled for AVX2 runs (see CPURequirement).
if let problem = CPURequirement.unmet() { TesseraCommand.exit(withError: CPURequirement.Unmet(description: problem)) }
BLASKernels.relaunchIfOpenBLASFellBack()
TesseraCommand.main()
