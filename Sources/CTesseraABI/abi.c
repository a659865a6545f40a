// The C ABI is declared in include/tessera.h and implemented in Swift (Sources/TesseraC).
