import Foundation
import TesseraTestSupport
import Testing

@testable import TesseraCLI

/// `tessera models` lists the registries.
@Suite struct ModelsCommandTests {
    @Test func listsEveryRegisteredFamily() throws {
        let command = try Models.parse(["--json"])
        #expect(command.json)
        try command.run()
    }
}
