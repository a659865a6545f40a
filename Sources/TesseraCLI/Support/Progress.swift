import Dispatch
import Foundation
import Tessera

/// First Ctrl-C: finish the current shard. Second: stop at once.
final class InterruptFlag: @unchecked Sendable {
    private var count = 0
    private let lock = NSLock()
    private let source: DispatchSourceSignal

    init() {
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [unowned self] in
            lock.lock()
            count += 1
            let n = count
            lock.unlock()
            FileHandle.standardError.write(
                Data(
                    (n == 1
                        ? "\ninterrupt: finishing the current shard (Ctrl-C again to stop now)\n"
                        : "\ninterrupt: stopping now; the unfinished shard is redone on --resume\n").utf8))
        }
        source.resume()
    }

    deinit { source.cancel(); signal(SIGINT, SIG_DFL) }

    func request() -> BatchEncoder.Stop {
        lock.lock()
        defer { lock.unlock() }
        return count == 0 ? .no : count == 1 ? .afterShard : .now
    }
}

/// A progress bar on a terminal (items/s, ETA), a plain line every 10 s otherwise.
final class ProgressMeter {
    private let terminal = isatty(STDERR_FILENO) == 1
    private var lastPrint = Date.distantPast
    private var last: BatchEncoder.Progress?

    func update(_ p: BatchEncoder.Progress) {
        last = p
        let now = Date()
        guard now.timeIntervalSince(lastPrint) >= (terminal ? 0.25 : 10) else { return }
        lastPrint = now
        write(p)
    }

    func finish() {
        if let last { write(last) }
        if terminal && last != nil { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    private func write(_ p: BatchEncoder.Progress) {
        let rate = Double(p.inputsThisRun) / max(p.elapsed, 1e-9)
        let left = p.inputsTotal - p.inputsDone
        let eta = rate > 0 ? Double(left) / rate : 0
        let clock = String(format: "%d:%02d:%02d", Int(eta) / 3600, Int(eta) / 60 % 60, Int(eta) % 60)
        let fraction = p.inputsTotal > 0 ? Double(p.inputsDone) / Double(p.inputsTotal) : 1
        if terminal {
            let width = 24, filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let line = String(
                format: "\r%@ %d/%d inputs  %.1f inputs/s  ETA %@  %d samples  %d failed  %d shards ",
                bar, p.inputsDone, p.inputsTotal, rate, clock, p.samples, p.failed, p.shards)
            FileHandle.standardError.write(Data(line.utf8))
        } else {
            FileHandle.standardError.write(
                Data(
                    String(
                        format:
                            "encode: %d/%d inputs (%.0f%%), %.1f inputs/s, ETA %@, %d samples, %d failed, %d shards\n",
                        p.inputsDone, p.inputsTotal, 100 * fraction, rate, clock, p.samples, p.failed, p.shards
                    ).utf8))
        }
    }
}
