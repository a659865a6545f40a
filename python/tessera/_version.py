__version__ = "0.5.0"  # the library's too (Sources/TesseraC/Library.swift; a test checks they agree)
