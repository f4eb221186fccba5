/// The report's table of epochs: stage, training and validation loss and accuracy (and the
/// validation set's balanced accuracy and macro-F1), the
/// learning rate at the epoch's end and the wall time the epoch took; in a run with `--ema`, the
/// averaged weights' validation accuracy beside the trained weights'.
extension TrainingReport {
    func epochTable() -> String {
        var previousElapsed = 0.0
        let averaged = epochRecords.contains { $0.ema_val_accuracy != nil }
        let rows = epochRecords.map { r -> String in
            let seconds = r.elapsed - previousElapsed
            previousElapsed = r.elapsed
            let cells = [Self.fixed(r.loss, decimals: 4), Self.percent(r.accuracy),
                         r.val_loss.map { Self.fixed($0, decimals: 4) } ?? "—", r.val_accuracy.map { Self.percent($0) } ?? "—",
                         r.val_balanced_accuracy.map { Self.percent($0) } ?? "—", r.val_macro_f1.map { Self.fixed($0) } ?? "—"]
                + (averaged ? [r.ema_val_accuracy.map { Self.percent($0) } ?? "—"] : [])
                + [String(format: "%.3g", r.learning_rate), seconds >= 0 ? Self.duration(seconds) : "—"]
            return "<tr><td>\(r.epoch)</td><td class=\"name\">\(r.stage.htmlEscaped)</td>"
                + cells.map { "<td>\($0)</td>" }.joined() + "</tr>"
        }
        return """
        <div class="scroll">
        <table class="metrics epochs">
        <thead><tr><th scope="col">epoch</th><th scope="col">stage</th><th scope="col">train loss</th>\
        <th scope="col">train accuracy</th><th scope="col">val loss</th><th scope="col">val accuracy</th>\
        <th scope="col">val balanced accuracy</th><th scope="col">val macro-F1</th>\
        \(averaged ? "<th scope=\"col\">EMA val accuracy</th>" : "")<th scope="col">learning rate</th><th scope="col">time</th></tr></thead>
        <tbody>
        \(rows.joined(separator: "\n"))
        </tbody>
        </table>
        </div>
        """
    }
}
