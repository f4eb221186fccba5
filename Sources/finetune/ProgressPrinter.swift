import FineTuneCore
import Foundation

/// Renders training events: a redrawn progress bar on a terminal, plain periodic lines otherwise.
final class ProgressPrinter {
    let isTerminal = isatty(STDOUT_FILENO) != 0
    var lastPlain = Date.distantPast
    var barShown = false

    func handle(_ event: Trainer.Event) {
        switch event {
        case .info(let message):
            finishLine()
            print(message)
        case .progress(let stage, let epoch, let epochs, let batch, let batches, let loss, let accuracy, let rate, let remaining):
            let text = String(format: "%@ epoch %d/%d  %d/%d  loss %.4f  acc %.4f  %.1f img/s  ETA %@",
                              stage, epoch, epochs, batch, batches, loss, accuracy, rate, duration(remaining))
            show(text, done: batch, of: batches)
        case .caching(let what, let done, let total, let rate, let remaining):
            let text = String(format: "caching features of %@  %d/%d  %.1f img/s  ETA %@",
                              what, done, total, rate, duration(remaining))
            show(text, done: done, of: total)
        case .epoch(let r):
            finishLine()
            var line = String(format: "epoch %d (%@): loss %.4f acc %.4f", r.epoch, r.stage, r.loss, r.accuracy)
            if let vl = r.val_loss, let va = r.val_accuracy { line += String(format: "  val_loss %.4f val_acc %.4f", vl, va) }
            line += String(format: "  %.1f img/s", r.images_per_second)
            if let data = r.data_images_per_second { line += String(format: " (data loading could supply %.0f)", data) }
            print(line)
        }
    }

    /// A redrawn bar on a terminal; otherwise the line every 10 seconds and at the end.
    func show(_ text: String, done: Int, of total: Int) {
        if isTerminal {
            let width = 24, filled = total == 0 ? 0 : width * min(done, total) / total
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            FileHandle.standardOutput.write(Data(("\r\u{1B}[K[\(bar)] " + text).utf8))
            barShown = true
        } else if Date().timeIntervalSince(lastPlain) >= 10 || done == total {
            print(text)
            lastPlain = Date()
        }
    }

    func finishLine() {
        if barShown {
            print("")
            barShown = false
        }
    }

    func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds)
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
