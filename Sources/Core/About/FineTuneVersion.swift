import PluginABI

/// The version of finetune (the library, the command-line tool and its built-in plugins), and of
/// the plugin ABI it speaks.
public enum FineTuneVersion {
    public static let release = "0.4.0"
    /// `finetune --version`: the release and the ABI, which decides which plugins load.
    public static var description: String { "finetune \(release) (plugin ABI \(FT_ABI_MAJOR).\(FT_ABI_MINOR))" }
}
