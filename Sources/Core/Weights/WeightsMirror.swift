import Foundation

/// `FINETUNE_WEIGHTS_MIRROR`: a server that holds copies of the published weight files, for
/// sites behind a proxy or without the internet. Its scheme, host and port replace those of
/// every declared URL, and its path, if any, goes before the declared path:
/// `http://mirror.example:8080/pytorch` turns `https://download.pytorch.org/models/x.pth` into
/// `http://mirror.example:8080/pytorch/models/x.pth`. The file must still match its hash.
public struct WeightsMirror: Equatable, Sendable {
    public static let variable = "FINETUNE_WEIGHTS_MIRROR"

    private let base: URLComponents

    /// - Throws: `WeightsError.badMirror` unless `value` is an http or https URL with a host,
    ///   without a query, a fragment or credentials.
    public init(_ value: String) throws {
        guard let c = URLComponents(string: value), let scheme = c.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = c.host, !host.isEmpty, c.query == nil, c.fragment == nil, c.user == nil else {
            throw WeightsError.badMirror(value: value)
        }
        base = c
    }

    /// `url` on the mirror.
    public func apply(to url: URL) -> URL {
        var c = URLComponents(url: url, resolvingAgainstBaseURL: false) ?? URLComponents()
        c.scheme = base.scheme
        c.host = base.host
        c.port = base.port
        let prefix = base.percentEncodedPath.hasSuffix("/") ? String(base.percentEncodedPath.dropLast()) : base.percentEncodedPath
        c.percentEncodedPath = prefix + c.percentEncodedPath
        return c.url ?? url
    }
}
