// The `tessera` command: everything lives in the TesseraCLI library, so the commands are tested.
import TesseraCLI

TesseraCommand.main()
