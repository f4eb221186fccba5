// ExifOrientation: the EXIF orientation tag (0x0112) of a JPEG and how to apply it.
//
// TurboJPEG does not read EXIF, so this file holds a small, bounded parser: it walks the JPEG
// marker segments up to the first scan, finds an APP1 segment starting "Exif\0\0", reads the
// TIFF header (byte order "II" or "MM"), and looks for tag 0x0112 in IFD0 only. Every offset is
// checked against the segment, so a malformed segment yields `.up` rather than a crash.
// Orientation values and their meaning follow the EXIF 2.32 specification (CIPA DC-008), and
// the transforms are those of PIL's `ImageOps.exif_transpose`.

/// How the stored pixels must be turned to display upright (EXIF tag 0x0112, values 1-8).
public enum ExifOrientation: Int, Sendable {
    case up = 1              // as stored
    case upMirrored = 2      // mirror left-right
    case down = 3            // rotate 180
    case downMirrored = 4    // mirror top-bottom
    case leftMirrored = 5    // transpose (mirror across the main diagonal)
    case right = 6           // rotate 90 degrees clockwise to display
    case rightMirrored = 7   // transverse
    case left = 8            // rotate 90 degrees counter-clockwise to display

    /// True when displaying swaps width and height.
    public var swapsDimensions: Bool { rawValue >= 5 }

    /// Reads the orientation of a JPEG file's bytes; `.up` when there is none or it is unreadable.
    public static func read(jpeg bytes: UnsafeBufferPointer<UInt8>) -> ExifOrientation {
        guard bytes.count > 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else { return .up }
        var pos = 2
        while pos + 4 <= bytes.count {
            guard bytes[pos] == 0xFF else { return .up }
            let marker = bytes[pos + 1]
            if marker == 0xFF { pos += 1; continue }                 // fill byte
            if marker == 0xDA || marker == 0xD9 { return .up }         // start of scan / end of image
            if marker == 0x01 || (0xD0...0xD7).contains(marker) { pos += 2; continue }
            let length = Int(bytes[pos + 2]) << 8 | Int(bytes[pos + 3])
            guard length >= 2, pos + 2 + length <= bytes.count else { return .up }
            if marker == 0xE1, length >= 8 {
                let start = pos + 4
                let exifHeader: [UInt8] = [0x45, 0x78, 0x69, 0x66, 0, 0]   // "Exif\0\0"
                if (0..<6).allSatisfy({ bytes[start + $0] == exifHeader[$0] }),
                   let value = tiffOrientation(bytes, start: start + 6, end: pos + 2 + length) {
                    return ExifOrientation(rawValue: value) ?? .up
                }
            }
            pos += 2 + length
        }
        return .up
    }

    /// Tag 0x0112 of IFD0 in the TIFF structure at `start..<end`, if present and well formed.
    private static func tiffOrientation(_ b: UnsafeBufferPointer<UInt8>, start: Int, end: Int) -> Int? {
        guard end - start >= 8 else { return nil }
        let little: Bool
        switch (b[start], b[start + 1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ at: Int) -> Int? {
            guard at >= start, at + 2 <= end else { return nil }
            return little ? Int(b[at]) | Int(b[at + 1]) << 8 : Int(b[at]) << 8 | Int(b[at + 1])
        }
        func u32(_ at: Int) -> Int? {
            guard let lo = u16(little ? at : at + 2), let hi = u16(little ? at + 2 : at) else { return nil }
            return hi << 16 | lo
        }
        guard u16(start + 2) == 42, let ifd = u32(start + 4), let count = u16(start + ifd) else { return nil }
        for entry in 0..<min(count, 512) {
            let at = start + ifd + 2 + 12 * entry
            guard let tag = u16(at) else { return nil }
            if tag == 0x0112 {
                // Type SHORT (3), count 1: the value sits in the first two bytes of the value field.
                guard u16(at + 2) == 3, let value = u16(at + 8) else { return nil }
                return value
            }
        }
        return nil
    }
}

extension Image {
    /// The image turned upright according to `orientation` (PIL's `ImageOps.exif_transpose`).
    public func applying(_ orientation: ExifOrientation) -> Image {
        let w = width, h = height
        switch orientation {
        case .up: return self
        case .upMirrored: return flippedHorizontally()
        case .down: return remapped(width: w, height: h) { x, y in (w - 1 - x, h - 1 - y) }
        case .downMirrored: return flippedVertically()
        case .leftMirrored: return remapped(width: h, height: w) { x, y in (y, x) }
        case .right: return remapped(width: h, height: w) { x, y in (y, h - 1 - x) }
        case .rightMirrored: return remapped(width: h, height: w) { x, y in (w - 1 - y, h - 1 - x) }
        case .left: return remapped(width: h, height: w) { x, y in (w - 1 - y, x) }
        }
    }
}
