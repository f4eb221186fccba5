import FineTuneCore
import Foundation

/// Renders training events: on a terminal, one progress line redrawn in place and cut to the
/// terminal's width (the least useful fields go first); otherwise plain lines every 10 seconds,
/// every line stamped with the local date and time, as logs are read later. A download of
/// `--weights` shows on stderr (`DownloadProgressPrinter`).
final class ProgressPrinter {
    let isTerminal = isatty(STDOUT_FILENO) != 0
    var lastPlain = Date.distantPast
    var barShown = false
    let download = DownloadProgressPrinter()

    func handle(_ event: Trainer.Event) {
        switch event {
        case .info(let message):
            finishLine()
            emit(message)
        case .progress(let p):
            let head = String(format: "%@ %d/%d  batch %d/%d  loss %.4f  acc %.4f",
                              p.stage, p.epoch, p.stageEpochs, p.batch, p.batches, p.loss, p.accuracy)
            // In the order they are dropped from the end when the line does not fit.
            let extras = ["run ETA " + Self.duration(p.runETA), "elapsed " + Self.duration(p.elapsed),
                          String(format: "lr %.2e", Double(p.learningRate)), String(format: "%.1f img/s", p.imagesPerSecond),
                          "epoch ETA " + Self.duration(p.epochETA), "epoch \(p.runEpoch)/\(p.runEpochs) of the run"]
            show(head, extras, done: p.batch, of: p.batches)
        case .caching(let what, let done, let total, let rate, let remaining):
            show("caching features of \(what)  \(done)/\(total)",
                 [String(format: "%.1f img/s", rate), "ETA " + Self.duration(remaining)], done: done, of: total)
        case .download(let p):
            download.show(p)
        case .epoch(let r):
            finishLine()
            var line = String(format: "epoch %d (%@): loss %.4f acc %.4f", r.epoch, r.stage, r.loss, r.accuracy)
            if let vl = r.val_loss, let va = r.val_accuracy { line += String(format: "  val_loss %.4f val_acc %.4f", vl, va) }
            line += String(format: "  %.1f img/s", r.images_per_second)
            if let data = r.data_images_per_second { line += String(format: " (data loading could supply %.0f)", data) }
            line += "  elapsed " + Self.duration(r.elapsed)
            emit(line)
        }
    }

    /// On a terminal, the bar and as many fields as fit, redrawn; otherwise every field, every
    /// 10 seconds and at the end.
    func show(_ head: String, _ extras: [String], done: Int, of total: Int) {
        if isTerminal {
            let line = ProgressLine.fit(head: head, extras: extras, width: Self.terminalColumns(of: STDOUT_FILENO) - 1, done: done, of: total)
            FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + line).utf8))
            barShown = true
        } else if Date().timeIntervalSince(lastPlain) >= 10 || done == total {
            emit(([head] + extras).joined(separator: "  "))
            lastPlain = Date()
        }
    }

    /// The width in columns of the terminal on `fd`: the window size, else `$COLUMNS`, else 80.
    static func terminalColumns(of fd: Int32) -> Int {
        var size = winsize()
        if ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init).map { max($0, 20) } ?? 80
    }

    /// A line of output: as it is on a terminal, after the date and time otherwise.
    func emit(_ line: String) {
        print(isTerminal ? line : Self.timestamp(Date()) + "  " + line)
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: date)
    }

    func finishLine() {
        download.finishLine()
        if barShown {
            print("")
            barShown = false
        }
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0, seconds < 1e8 else { return "?" }
        let s = Int(seconds)
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
