/// Why pretrained weights named by a backbone's weight set could not be had: a set the backbone
/// does not declare, a download that failed, a file that does not match its published hash.
/// Each message names the URL or file and what to do.
public enum WeightsError: Error, Equatable, CustomStringConvertible {
    /// `--weights NAME` where the backbone declares no set of that name (`sets`: those it does).
    case unknownSet(backbone: String, name: String, sets: [String])
    /// The server could not be reached (offline, refused, no such host, timed out, cut off).
    case unreachable(url: String, reason: String, fileName: String, folder: String)
    /// A declared URL that does not parse.
    case badURL(String)
    /// The server answered, but not with the file.
    case httpStatus(url: String, status: Int)
    /// The server's sizes are inconsistent or over `Limits.weightsDownloadBytes`.
    case badSize(url: String, reason: String)
    /// A downloaded or cached file whose SHA-256 does not start with the published digest.
    case hashMismatch(file: String, expected: String, actual: String, kept: Bool)
    /// `FINETUNE_WEIGHTS_MIRROR` is not a usable base URL.
    case badMirror(value: String)
    /// The download was asked to stop (Ctrl-C); what had arrived stays in `partial` to be continued.
    case interrupted(url: String, partial: String)
    /// A file could not be written into the cache folder.
    case cache(folder: String, reason: String)
    /// `finetune weights path` for a set that is in none of the folders.
    case notCached(backbone: String, set: String, fileName: String, folders: [String])

    public var description: String {
        switch self {
        case let .unknownSet(backbone, name, sets):
            let known = sets.isEmpty ? "it declares none; pass a .pth or .safetensors file"
                : "its sets: " + sets.joined(separator: ", ") + " (\(WeightsArgument.defaultSetName): the default, \(sets[0]))"
            return "\(backbone) has no weight set named '\(name.terminalSafe)', and no file of that name exists; \(known)"
        case let .unreachable(url, reason, fileName, folder):
            return "cannot download \(url) (\(reason.terminalSafe)): without a connection, put \(fileName) in \(folder), "
                + "or set FINETUNE_WEIGHTS_MIRROR to a server that has it"
        case let .badURL(url):
            return "the weight set's URL '\(url.terminalSafe)' is not a valid URL: fix the plugin, or download the file and pass its path"
        case let .httpStatus(url, status):
            return "cannot download \(url): the server answered HTTP \(status) instead of the file"
        case let .badSize(url, reason):
            return "refused the download of \(url): \(reason.terminalSafe)"
        case let .hashMismatch(file, expected, actual, kept):
            return "\(file): its SHA-256 \(actual) does not start with the published \(expected); "
                + (kept ? "delete it to download it again" : "the download was deleted (a corrupt copy or the wrong file)")
        case let .badMirror(value):
            return "FINETUNE_WEIGHTS_MIRROR=\(value.terminalSafe) is not an http:// or https:// URL with a host "
                + "(e.g. http://mirror.example:8080/pytorch)"
        case let .interrupted(url, partial):
            return "stopped the download of \(url); what arrived is kept in \(partial), and the next run continues from it"
        case let .cache(folder, reason):
            return "cannot write to the weights cache \(folder): \(reason); set XDG_CACHE_HOME to a writable folder"
        case let .notCached(backbone, set, fileName, folders):
            return "\(backbone)'s \(set) (\(fileName)) is in none of \(folders.joined(separator: ", ")): "
                + "finetune weights download \(backbone) \(set) fetches it"
        }
    }
}
