// The umbrella module: `import Tessera` brings in every layer of the toolkit.
@_exported import TesseraCore
@_exported import TesseraMedia
@_exported import TesseraNN
@_exported import TesseraQuantizers
@_exported import TesseraTokenizers
@_exported import TesseraStreams
@_exported import TesseraReduction
