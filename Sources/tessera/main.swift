// The `tessera` command: everything lives in the TesseraCLI library, so the commands are tested.
import TesseraCLI

BLASKernels.relaunchIfOpenBLASFellBack()
TesseraCommand.main()
