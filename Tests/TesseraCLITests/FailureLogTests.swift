import ArgumentParser
import Foundation
import Tessera
import TesseraTestSupport
import Testing

@testable import TesseraCLI

/// `FailureLog` names the input of every failure once, and turns failures into exit status 1.
@Suite struct FailureLogTests {
    struct Plain: Error, CustomStringConvertible { var description: String }

    @Test func namesTheInputWhenTheErrorDoesNot() throws {
        var log = FailureLog()
        let input = "/data/photos/cat-\(UUID().uuidString).png"
        let output = try OutputCapture.capture(STDERR_FILENO) {
            log.record(Plain(description: "truncated JPEG"), input: input)
        }
        #expect(log.count == 1)
        #expect(output.contains("error: \(input): truncated JPEG\n"), "\(output)")
    }

    @Test func doesNotRepeatAnInputTheErrorNames() throws {
        var log = FailureLog()
        let input = "/data/photos/dog-\(UUID().uuidString).png"
        let output = try OutputCapture.capture(STDERR_FILENO) {
            log.record(MediaError(.corrupt, path: input, "bad header"), input: input)
        }
        #expect(log.count == 1)
        let line = try #require(output.split(separator: "\n").first { $0.contains(input) })
        #expect(line.hasPrefix("error: "))
        #expect(line.components(separatedBy: input).count == 2, "input named more than once: \(line)")
    }

    @Test func finishFailsOnlyAfterFailures() throws {
        var log = FailureLog()
        try log.finish()
        log.record(message: "x.png: unreadable")
        log.record(message: "y.png: unreadable")
        #expect(log.count == 2)
        do {
            try log.finish()
            Issue.record("finish did not fail")
        } catch let code as ExitCode {
            #expect(code == ExitCode(1))
        }
    }
}
