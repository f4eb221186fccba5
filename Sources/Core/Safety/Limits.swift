/// What a file, a folder or a flag from outside may ask of `finetune`, stated once.
///
/// Every reader checks the sizes it reads against these before it forms a pointer or allocates:
/// a crafted file gets an error naming it, never a crash or an allocation the machine cannot
/// make (Swift aborts on a failed allocation). Values are generous for real models and data.
public enum Limits {
    /// Bytes of a safetensors JSON header (as the reference implementation, 100 MB).
    public static let safeTensorsHeaderBytes = 100 << 20
    /// Tensors in one weight or model file (torchvision's largest CNNs hold under 2,000).
    public static let tensorsPerFile = 100_000
    /// Dimensions of one tensor.
    public static let tensorRank = 8
    /// Nesting depth of a pickle's containers.
    public static let pickleDepth = 64
    /// Entries of a pickle's memo.
    public static let pickleMemo = 1_000_000
    /// Pixels of one decoded image (Pillow's `MAX_IMAGE_PIXELS`, 1024 * 1024 * 1024 / 4 / 3);
    /// `--max-image-pixels` raises it.
    public static let defaultImagePixels = 89_478_485
    /// Side length of a network input (`--input-size`, a model file's `input_size` and
    /// `eval_resize`, a backbone's declared sizes).
    public static let imageSide = 2048
    /// Channels of one activation, and the width of a head layer or of a backbone's features.
    public static let channels = 65_536
    /// Classes of one classifier.
    public static let classes = 100_000
    /// Elements of one parameter tensor (2^31: 8 GB of Float32).
    public static let parameterElements = 1 << 31
    /// Samples in one batch.
    public static let batchSize = 65_536
    /// Parameters of one network, all tensors together (2^31: 8 GB of Float32).
    public static let parameters = 1 << 31
    /// Elements of one sample's activation at one layer (2^28: 1 GB of Float32).
    public static let activationElements = 1 << 28
    /// Layers of one network (torchvision's largest CNNs have under 2,000).
    public static let graphNodes = 100_000
    /// Backbones one plugin file may list.
    public static let backbonesPerPlugin = 1_000
    /// Bytes of one text a plugin hands over: a name, a summary, a version, an error message.
    public static let pluginTextBytes = 1_024
    /// Bytes of a run folder's `training-state.json` (a few kB: the tensors are beside it).
    public static let runStateBytes = 1 << 20
    /// Bytes of a run folder's `metrics.jsonl` read back for the report.
    public static let metricsBytes = 256 << 20
}
