import Foundation
import Testing

@testable import TesseraNN

/// Configs read as data: Python literal reprs (safetensors metadata) and JSON, nothing evaluated.
@Suite struct ConfigTreeTests {
    @Test func pythonReprsParse() throws {
        let text =
            #"{'_target_': 'a.B', 'n': 256, 'eps': 1e-06, 'ok': True, 'no': False, 'x': None, "#
            + #"'sizes': [16, 16], 'pair': (1, -2.5), 'q': "it's", 'esc': 'a\'b\n', 'nested': {'k': [{}]}}"#
        let tree = try ConfigTree(parsing: text)
        #expect(tree["_target_"]?.string == "a.B" && tree["n"]?.int == 256 && tree["eps"]?.double == 1e-6)
        #expect(tree["ok"]?.bool == true && tree["no"]?.bool == false && tree["x"]?.isNone == true)
        #expect(tree["sizes"]?.list?.compactMap(\.int) == [16, 16])
        #expect(tree["pair"]?.list?.map(\.double) == [1, -2.5])
        #expect(tree["q"]?.string == "it's" && tree["esc"]?.string == "a'b\n")
        #expect(tree["nested"]?["k"]?.list?.first == .dict([]))
        #expect(tree.entries.map(\.key).first == "_target_", "entries keep file order")
    }

    @Test func jsonParses() throws {
        let tree = try ConfigTree(parsing: #"{"a": [1, 2.0, true, null], "b": {"c": "d\u00e9"}}"#)
        #expect(tree["a"]?.list == [.int(1), .double(2), .bool(true), .none])
        #expect(tree["b"]?["c"]?.string == "dé")
        #expect(tree["a"]?.list?[1].int == 2, "integral doubles read as integers")
    }

    @Test(arguments: [
        "{'a': __import__('os').system('x')}", "{'a': 1", "{'a' 1}", "[1, 2", "'unterminated", "{1: 2}",
        "{'a': inf}", "{'a': 1} trailing", "", "{'a': lambda: 0}",
    ])
    func nonLiteralsAreRefused(_ text: String) {
        #expect(throws: ConfigTreeError.self) { try ConfigTree(parsing: text) }
    }

    @Test func nestingAndSizeAreBounded() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: ConfigTreeError.self) { try ConfigTree(parsing: deep) }
        let shallow = String(repeating: "[", count: 10) + String(repeating: "]", count: 10)
        #expect((try? ConfigTree(parsing: shallow)) != nil)
        let huge = "'" + String(repeating: "x", count: ConfigTree.maximumTextLength) + "'"
        #expect(throws: ConfigTreeError.self) { try ConfigTree(parsing: huge) }
    }
}
