// JPEGDecoder: JPEG to 8-bit gray or RGB through libjpeg-turbo's TurboJPEG API.
//
// Why TurboJPEG and not the libjpeg API: libjpeg reports a fatal error by calling
// `error_exit`, which must not return (the default one calls exit()); the only way back is
// longjmp, which Swift cannot do safely. TurboJPEG wraps libjpeg with its own setjmp in C and
// returns -1 with a message instead, and it offers DCT-domain downscaling (scaling factors
// M/8), so a 4000x3000 photo destined for a 224 crop is decoded at 1/8 the work.
//
// What it handles: baseline and progressive, gray (kept as one channel), YCbCr, CMYK and YCCK
// (converted to RGB the way PIL does: Adobe-inverted values, R = 255 - C*(255-K)/255 ...),
// and the EXIF orientation (read by ExifOrientation, applied after decoding). Decoding uses
// libjpeg's defaults (accurate integer IDCT, smooth upsampling), the same as PIL, so pixels
// match PIL's `Image.open(f).convert("RGB")` exactly for RGB and gray files.
//
// Caveat: TurboJPEG 2.1 formats libjpeg's own messages into one process-wide buffer, so when
// several threads fail at the same moment a reason may describe another file's failure. The
// error always names the right file; only the reason text can be crossed.

import CTurboJPEG

/// Decodes JPEG bytes. Owns a TurboJPEG handle: use one decoder per thread.
final class JPEGDecoder {
    /// What the header says, before any pixel is decoded.
    struct Header {
        /// Stored size (before orientation).
        var width: Int
        var height: Int
        /// 1 for gray JPEGs, 3 otherwise (CMYK and YCCK become RGB).
        var channels: Int
        /// TurboJPEG colourspace (TJCS_*).
        var colorspace: Int32
        var orientation: ExifOrientation
    }

    /// A DCT-domain scaling factor `numerator/denominator` (at most 1).
    struct Scale: Equatable {
        var numerator: Int
        var denominator: Int
        static let one = Scale(numerator: 1, denominator: 1)

        /// TurboJPEG's TJSCALED: the scaled size of a dimension (rounded up).
        func scaled(_ dimension: Int) -> Int {
            (dimension * numerator + denominator - 1) / denominator
        }
    }

    /// The downscaling factors libjpeg-turbo supports (7/8 down to 1/8), largest first.
    static let scales: [Scale] = {
        var count: Int32 = 0
        guard let factors = tjGetScalingFactors(&count) else { return [.one] }
        let all = (0..<Int(count)).map { Scale(numerator: Int(factors[$0].num), denominator: Int(factors[$0].denom)) }
        return all.filter { $0.numerator <= $0.denominator }
            .sorted { $0.numerator * $1.denominator > $1.numerator * $0.denominator }
    }()

    private let handle: tjhandle

    init() {
        guard let handle = tjInitDecompress() else {
            fatalError("TurboJPEG could not allocate a decompressor (out of memory)")
        }
        self.handle = handle
    }

    deinit { tjDestroy(handle) }

    /// Reads the header of `bytes` (no pixel decoding). Throws `.corrupt` naming `path`.
    func header(_ bytes: UnsafeBufferPointer<UInt8>, path: String) throws -> Header {
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        guard tjDecompressHeader3(handle, bytes.baseAddress, UInt(bytes.count),
                                  &width, &height, &subsampling, &colorspace) == 0 else {
            throw DataError.corrupt(path: path, format: "JPEG", reason: message())
        }
        guard width > 0, height > 0 else {
            throw DataError.corrupt(path: path, format: "JPEG", reason: "zero width or height")
        }
        return Header(width: Int(width), height: Int(height),
                      channels: colorspace == Int32(TJCS_GRAY.rawValue) ? 1 : 3,
                      colorspace: colorspace, orientation: ExifOrientation.read(jpeg: bytes))
    }

    /// The smallest DCT scaling that keeps both stored dimensions at least `needed`, used only when
    /// the image is at least twice the size needed (otherwise the full size, as PIL would decode).
    static func scale(width: Int, height: Int, neededWidth: Int, neededHeight: Int) -> Scale {
        guard neededWidth > 0, neededHeight > 0, width >= 2 * neededWidth, height >= 2 * neededHeight else {
            return .one
        }
        return scales.last { $0.scaled(width) >= neededWidth && $0.scaled(height) >= neededHeight } ?? .one
    }

    /// Decodes `bytes` at `scale`, then turns the result upright (EXIF orientation). The caller
    /// has checked the header's size against its pixel limit.
    func decode(_ bytes: UnsafeBufferPointer<UInt8>, header: Header, scale: Scale = .one, path: String) throws -> Image {
        let cmyk = header.colorspace == Int32(TJCS_CMYK.rawValue) || header.colorspace == Int32(TJCS_YCCK.rawValue)
        let width = scale.scaled(header.width), height = scale.scaled(header.height)
        let format: TJPF = cmyk ? TJPF_CMYK : (header.channels == 1 ? TJPF_GRAY : TJPF_RGB)
        let decodedChannels = cmyk ? 4 : header.channels
        // The caller checked width x height against the pixel limit; the buffer size and the
        // sizes TurboJPEG takes as Int32 are checked here, before allocating.
        guard let count = CheckedSize.product(of: [width, height, decodedChannels]),
              let pitch = CheckedSize.product(width, decodedChannels), Int32(exactly: pitch) != nil,
              let width32 = Int32(exactly: width), let height32 = Int32(exactly: height) else {
            throw DataError.corrupt(path: path, format: "JPEG", reason: "\(width)x\(height) pixels is too large to address")
        }
        var pixels = [UInt8](repeating: 0, count: count)
        let status = pixels.withUnsafeMutableBufferPointer { out in
            tjDecompress2(handle, bytes.baseAddress, UInt(bytes.count), out.baseAddress,
                          width32, 0, height32, format.rawValue, TJFLAG_LIMITSCANS)
        }
        if status != 0 {
            let text = message()
            if tjGetErrorCode(handle) != Int32(TJERR_WARNING.rawValue) {
                throw DataError.corrupt(path: path, format: "JPEG", reason: text)
            }
            // Warnings (extraneous bytes, a corrupt stretch of entropy data) leave a whole image and
            // PIL accepts them; a file cut short has missing pixels, which PIL refuses too.
            if !JPEGDecoder.reachesEndOfImage(bytes) {
                throw DataError.corrupt(path: path, format: "JPEG", reason: "truncated: the data ends before the end-of-image marker")
            }
        }
        if cmyk { pixels = JPEGDecoder.invertedCMYKToRGB(pixels) }
        return Image(width: width, height: height, channels: header.channels, pixels: pixels)
            .applying(header.orientation)
    }

    /// Adobe-inverted CMYK (what Photoshop writes, and what PIL assumes for every CMYK JPEG) to RGB,
    /// with PIL's arithmetic: R = K' - C*K'/255 where C = 255 - C' and K' is the stored black.
    static func invertedCMYKToRGB(_ cmyk: [UInt8]) -> [UInt8] {
        let count = cmyk.count / 4
        var rgb = [UInt8](repeating: 0, count: count * 3)
        @inline(__always) func mulDiv255(_ a: Int, _ b: Int) -> Int {
            let t = a * b + 128
            return ((t >> 8) + t) >> 8
        }
        cmyk.withUnsafeBufferPointer { src in
            rgb.withUnsafeMutableBufferPointer { dst in
                for i in 0..<count {
                    let k = Int(src[4 * i + 3])   // stored (inverted) black = 255 - K
                    for c in 0..<3 {
                        let ink = 255 - Int(src[4 * i + c])
                        dst[3 * i + c] = UInt8(clamping: k - mulDiv255(ink, k))
                    }
                }
            }
        }
        return rgb
    }

    private func message() -> String {
        guard let text = tjGetErrorStr2(handle) else { return "unknown TurboJPEG error" }
        return String(cString: text)
    }
}
