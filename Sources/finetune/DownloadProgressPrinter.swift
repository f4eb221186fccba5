import FineTuneCore
import Foundation

/// Renders a download's progress on stderr: on a terminal one bar redrawn in place (bytes,
/// MB/s, ETA) at most ten times a second; otherwise a plain line every 10 seconds and at the end.
final class DownloadProgressPrinter {
    let isTerminal = isatty(STDERR_FILENO) != 0
    var lastShown = Date.distantPast
    var barShown = false

    func show(_ p: DownloadProgress) {
        let finished = p.total.map { p.received >= $0 } ?? false
        guard finished || Date().timeIntervalSince(lastShown) >= (isTerminal ? 0.1 : 10) else { return }
        lastShown = Date()
        let name = URL(string: p.url)?.lastPathComponent ?? p.url
        let head = "downloading \(name)  \(megabytes(p.received))" + (p.total.map { " / " + megabytes($0) } ?? "")
        let extras = [String(format: "%.1f MB/s", p.bytesPerSecond / 1e6), "ETA " + ProgressPrinter.duration(p.eta)]
        if isTerminal {
            let width = ProgressPrinter.terminalColumns(of: STDERR_FILENO) - 1
            let line = ProgressLine.fit(head: head, extras: extras, width: width, done: p.received, of: p.total ?? 0)
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
            barShown = true
        } else {
            printError(([head] + extras).joined(separator: "  "))
        }
    }

    /// Ends the bar's line, so what follows starts on a line of its own.
    func finishLine() {
        if barShown {
            FileHandle.standardError.write(Data("\n".utf8))
            barShown = false
        }
    }

    func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }
}
