/// What a file, a folder or a flag from outside may ask of `finetune`, stated once.
///
/// Every reader checks the sizes it reads against these before it forms a pointer or allocates:
/// a crafted file gets an error naming it, never a crash or an allocation the machine cannot
/// make (Swift aborts on a failed allocation). Values are generous for real models and data.
public enum Limits {
    /// Bytes of a safetensors JSON header (as the reference implementation, 100 MB).
    public static let safeTensorsHeaderBytes = 100 << 20
    /// JSON values (keys, numbers, strings, lists, objects) in a safetensors header: 20 per
    /// tensor, as many as an entry of rank 8 has. Checked before the header is parsed.
    public static let safeTensorsHeaderValues = 20 * tensorsPerFile
    /// Entries of a safetensors file's `__metadata__` map (and fields of any header entry).
    public static let safeTensorsMetadataEntries = 1024
    /// Tensors in one weight or model file (torchvision's largest CNNs hold under 2,000).
    public static let tensorsPerFile = 100_000
    /// Dimensions of one tensor.
    public static let tensorRank = 8
    /// Nesting depth of a pickle's containers.
    public static let pickleDepth = 64
    /// Entries of a pickle's memo.
    public static let pickleMemo = 1_000_000
    /// Values one pickle may build (a state_dict needs about 30 per tensor).
    public static let pickleValues = 64 * tensorsPerFile
    /// Pixels of one decoded image (Pillow's `MAX_IMAGE_PIXELS`, 1024 * 1024 * 1024 / 4 / 3);
    /// `--max-image-pixels` raises it.
    public static let defaultImagePixels = 89_478_485
    /// The most `--max-image-pixels` may raise the pixel limit to (2^30: 4 GB decoded as CMYK).
    public static let maxImagePixels = 1 << 30
    /// Bytes of one image file, read whole before decoding.
    public static let imageFileBytes = 1 << 30
    /// Bytes of a manifest file (millions of `path label` lines), and of one of its lines.
    public static let manifestBytes = 256 << 20
    public static let manifestLineBytes = 64 << 10
    /// Side length of a network input (`--input-size`, a model file's `input_size` and
    /// `eval_resize`, a backbone's declared sizes).
    public static let imageSide = 2048
    /// Smallest side length of a network input (below it the backbones' strides leave nothing).
    public static let minimumImageSide = 16
    /// Channels of one activation, and the width of a head layer or of a backbone's features.
    public static let channels = 65_536
    /// Nodes one concatenation joins (DenseNet-121's widest joins 25).
    public static let concatInputs = 1024
    /// Classes of one classifier.
    public static let classes = 100_000
    /// UTF-8 bytes of one name read from outside: a class, a backbone, a plugin version.
    public static let nameBytes = 1024
    /// A `--class-weights` file: its bytes (every class's line at its longest), and the largest weight.
    public static let classWeightsBytes = classes * (nameBytes + 64)
    public static let classWeight: Float = 1e6
    /// Hidden layers of an `mlp:` head.
    public static let headLayers = 16
    /// Normalisation of a model file: |mean| at most this, std at least `smallestStd` (a smaller
    /// std turns pixel values into infinities, and a std of 0 into NaN).
    public static let meanMagnitude: Float = 1000
    public static let smallestStd: Float = 1e-6
    /// Elements of one parameter tensor (2^31: 8 GB of Float32).
    public static let parameterElements = 1 << 31
    /// Elements a torch checkpoint's tensors may hold together, per byte of the file (a file
    /// under 1 MB counts as 1 MB): views can repeat a storage (`expand()`, shared storages),
    /// so a small file could otherwise ask for gigabytes.
    public static let elementsPerWeightsFileByte = 4
    /// Samples in one batch.
    public static let batchSize = 65_536
    /// Compute or decoding threads.
    public static let threads = 256
    /// Parameters of one network, all tensors together (2^31: 8 GB of Float32).
    public static let parameters = 1 << 31
    /// Elements of one sample's activation at one layer (2^28: 1 GB of Float32).
    public static let activationElements = 1 << 28
    /// Layers of one network (torchvision's largest CNNs have under 2,000).
    public static let graphNodes = 100_000
    /// Backbones one plugin file may list.
    public static let backbonesPerPlugin = 1_000
    /// Published weight sets one backbone lists.
    public static let weightSetsPerBackbone = 64
    /// Bytes of one text a plugin hands over: a name, a summary, a version, an error message.
    public static let pluginTextBytes = 1_024
    /// Bytes of one downloaded weights file, whatever the server says (8 GB: `parameters` as
    /// Float32; torchvision's largest CNN checkpoints are under 600 MB).
    public static let weightsDownloadBytes = 4 * parameters
    /// Bytes of a run folder's `training-state.json` (a few kB: the tensors are beside it).
    public static let runStateBytes = 1 << 20
    /// Bytes of a run folder's `metrics.jsonl` read back for the report.
    public static let metricsBytes = 256 << 20
    /// Steps of one epoch whose learning rates an epoch record lists (2^20: 33 million images at
    /// batch 32, a line of about 20 MB); a longer epoch's record lists none.
    public static let stepsPerEpoch = 1 << 20
    /// Sessions a run folder's state lists (the run's start and each `--resume`); beyond it the
    /// earliest are joined (`TrainingState.startSession`).
    public static let runSessions = 1000
    /// UTF-8 bytes of the command line a run folder's state keeps for the report.
    public static let commandLineBytes = 64 << 10
    /// Validation images the report shows as top losses, and the longest side of each thumbnail.
    public static let reportTopLosses = 12
    public static let thumbnailSide = 160
}
