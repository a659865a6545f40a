// The umbrella module: `import Tessera` brings in every layer of the toolkit. It holds no code
// of its own; see the DocC catalog's Architecture article for which module owns what.
@_exported import TesseraCore
@_exported import TesseraMedia
@_exported import TesseraModels
@_exported import TesseraNN
@_exported import TesseraPipelines
@_exported import TesseraQuantizers
@_exported import TesseraReduction
@_exported import TesseraStreams
