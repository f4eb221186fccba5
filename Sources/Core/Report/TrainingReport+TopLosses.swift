import Foundation

/// The report's top losses (fastai's `plot_top_losses`): the validation images the best model
/// got wrong with the highest loss, as embedded thumbnails with the true class, the prediction
/// and its probability.
extension TrainingReport {
    public struct TopLoss: Sendable, Equatable {
        /// The image's path inside the validation folder (its whole path when it lies elsewhere).
        public var image: String
        public var truth: String
        public var prediction: String
        /// The probability the model gave its prediction.
        public var probability: Double
        public var loss: Double
        /// A small JPEG (`Thumbnail`), embedded as a data URI; nil when the image could no
        /// longer be read.
        public var jpeg: [UInt8]?

        public init(image: String, truth: String, prediction: String, probability: Double, loss: Double, jpeg: [UInt8]?) {
            self.image = image; self.truth = truth; self.prediction = prediction
            self.probability = probability; self.loss = loss; self.jpeg = jpeg
        }
    }

    func topLossesGrid() -> String {
        let cells = topLosses.prefix(Limits.reportTopLosses).map { t -> String in
            let picture = t.jpeg.map {
                "<img src=\"data:image/jpeg;base64,\(Data($0).base64EncodedString())\" alt=\"\(t.image.htmlEscaped)\">"
            } ?? "<div class=\"missing\">image no longer readable</div>"
            return "<figure class=\"loss\">\(picture)<figcaption><b>\(t.prediction.htmlEscaped)</b> "
                + "\(Self.percent(t.probability))<br>true: \(t.truth.htmlEscaped)<br>"
                + "<span class=\"muted\">loss \(Self.fixed(t.loss)) · \(t.image.htmlEscaped)</span></figcaption></figure>"
        }
        return """
        <p class="muted">The validation images the best model got wrong with the highest loss: its prediction \
        and the probability it gave it, then the true class.</p>
        <div class="losses">
        \(cells.joined(separator: "\n"))
        </div>
        """
    }
}
