// JPEGDecoder+Truncation: does a JPEG stream reach its end-of-image marker?
//
// libjpeg treats running out of data as a warning ("Premature end of JPEG file"): it pads the
// stream with a fake end marker and returns an image whose missing part is gray. TurboJPEG then
// reports only the last warning, which for a cut progressive file can be a different one
// ("Invalid progressive parameters..."). So when the decoder warns, this walk of the marker
// structure decides whether the file was cut short: it skips each segment by its length and
// each scan's entropy-coded data to the next real marker (FF00 is a stuffed byte, FFD0-FFD7 are
// restart markers), and succeeds only on reaching EOI (FFD9). Linear in the file, allocation-free.

import Foundation

extension JPEGDecoder {
    /// True when the marker structure of `bytes` runs intact up to an end-of-image marker.
    static func reachesEndOfImage(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress, bytes.count >= 4 else { return false }
        let n = bytes.count
        var pos = 2                                           // after SOI
        /// Index of the next 0xFF at or after `from`, or n.
        func nextFF(_ from: Int) -> Int {
            guard from < n, let hit = memchr(base + from, 0xFF, n - from) else { return n }
            return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
        }
        while true {
            pos = nextFF(pos)                                 // bytes between segments are tolerated
            while pos < n && bytes[pos] == 0xFF { pos += 1 }  // fill bytes
            guard pos < n else { return false }
            let marker = bytes[pos]
            pos += 1
            if marker == 0xD9 { return true }
            if marker == 0x00 || marker == 0x01 || (0xD0...0xD7).contains(marker) { continue }
            guard pos + 2 <= n else { return false }
            let length = Int(bytes[pos]) << 8 | Int(bytes[pos + 1])
            guard length >= 2, pos + length <= n else { return false }
            pos += length
            if marker == 0xDA {                               // start of scan: skip entropy-coded data
                while true {
                    pos = nextFF(pos)
                    guard pos + 1 < n else { return false }
                    let next = bytes[pos + 1]
                    if next == 0x00 || (0xD0...0xD7).contains(next) { pos += 2; continue }
                    if next == 0xFF { pos += 1; continue }
                    break                                     // a real marker starts at pos
                }
            }
        }
    }
}
