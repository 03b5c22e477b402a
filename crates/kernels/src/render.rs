//! A render-shaped workload: the Mandelbrot set, escape-time coloured, written as a PNG.
//! Input: text `WIDTH HEIGHT MAX_ITERATIONS` (1 to 4,096 pixels a side, 1 to 100,000
//! iterations). Output: the PNG file's bytes. The encoder ([`png`]) is written here (stored
//! deflate blocks, CRC-32, Adler-32), so the workload has no dependencies and any viewer opens
//! its output.

use crate::{bad, number, words, InputError};

/// Largest side, pixels.
pub const MAX_SIDE: u32 = 4_096;
/// Most iterations per pixel.
pub const MAX_ITERATIONS: u32 = 100_000;

/// Renders the input's image.
pub fn run(input: &[u8]) -> Result<Vec<u8>, InputError> {
    let words = words(input)?;
    let width: u32 = number(words.first(), "WIDTH")?;
    let height: u32 = number(words.get(1), "HEIGHT")?;
    let iterations: u32 = number(words.get(2), "MAX_ITERATIONS")?;
    if !(1..=MAX_SIDE).contains(&width) || !(1..=MAX_SIDE).contains(&height) {
        return Err(bad(format!("sides are 1 to {MAX_SIDE} pixels")));
    }
    if !(1..=MAX_ITERATIONS).contains(&iterations) {
        return Err(bad(format!("MAX_ITERATIONS is 1 to {MAX_ITERATIONS}")));
    }
    let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
    for row in 0..height {
        for column in 0..width {
            // The view from (-2.5, -1.25) to (1.0, 1.25), stretched to the image.
            let x0 = -2.5 + 3.5 * (f64::from(column) + 0.5) / f64::from(width);
            let y0 = -1.25 + 2.5 * (f64::from(row) + 0.5) / f64::from(height);
            let (mut x, mut y, mut count) = (0.0f64, 0.0f64, 0u32);
            while x * x + y * y <= 4.0 && count < iterations {
                let next = x * x - y * y + x0;
                y = 2.0 * x * y + y0;
                x = next;
                count += 1;
            }
            if count == iterations {
                rgb.extend_from_slice(&[0, 0, 0]);
            } else {
                let t = u64::from(count) * 255 / u64::from(iterations);
                let t = t as u8;
                rgb.extend_from_slice(&[t, t.wrapping_mul(5), 255 - t]);
            }
        }
    }
    Ok(png::encode_rgb(width, height, &rgb))
}

/// A minimal PNG encoder: 8-bit RGB, no filtering, stored (uncompressed) deflate blocks.
pub mod png {
    /// The PNG file of a `width` × `height` image whose pixels are `rgb` (3 bytes each, rows
    /// top to bottom).
    pub fn encode_rgb(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
        let mut raw = Vec::with_capacity(rgb.len() + height as usize);
        for row in rgb.chunks(width as usize * 3) {
            raw.push(0); // filter: none
            raw.extend_from_slice(row);
        }
        let mut zlib = vec![0x78, 0x01];
        let mut blocks = raw.chunks(65_535).peekable();
        if blocks.peek().is_none() {
            zlib.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
        }
        while let Some(block) = blocks.next() {
            let last = u8::from(blocks.peek().is_none());
            let length = block.len() as u16;
            zlib.push(last);
            zlib.extend_from_slice(&length.to_le_bytes());
            zlib.extend_from_slice(&(!length).to_le_bytes());
            zlib.extend_from_slice(block);
        }
        zlib.extend_from_slice(&adler32(&raw).to_be_bytes());
        let mut header = Vec::with_capacity(13);
        header.extend_from_slice(&width.to_be_bytes());
        header.extend_from_slice(&height.to_be_bytes());
        header.extend_from_slice(&[8, 2, 0, 0, 0]);
        let mut file = b"\x89PNG\r\n\x1a\n".to_vec();
        chunk(&mut file, b"IHDR", &header);
        chunk(&mut file, b"IDAT", &zlib);
        chunk(&mut file, b"IEND", &[]);
        file
    }

    fn chunk(file: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        file.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = file.len();
        file.extend_from_slice(kind);
        file.extend_from_slice(data);
        let crc = crc32(&file[start..]);
        file.extend_from_slice(&crc.to_be_bytes());
    }

    /// CRC-32 (ISO-HDLC, as PNG uses it).
    pub fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// Adler-32 (as zlib uses it).
    pub fn adler32(bytes: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for chunk in bytes.chunks(5_552) {
            for &byte in chunk {
                a += u32::from(byte);
                b += a;
            }
            a %= 65_521;
            b %= 65_521;
        }
        (b << 16) | a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_their_standard_vectors() {
        assert_eq!(png::crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(png::adler32(b"Wikipedia"), 0x11e6_0398);
    }

    #[test]
    fn the_png_is_well_formed() {
        let file = run(b"40 20 50").expect("renders");
        assert!(file.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(&file[12..16], b"IHDR");
        assert_eq!(
            u32::from_be_bytes([file[16], file[17], file[18], file[19]]),
            40
        );
        assert_eq!(
            u32::from_be_bytes([file[20], file[21], file[22], file[23]]),
            20
        );
        assert!(file.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82]));
        // IDAT holds the 20 rows of 1 + 40 × 3 bytes, stored.
        let idat_length = u32::from_be_bytes([file[33], file[34], file[35], file[36]]) as usize;
        assert_eq!(idat_length, 2 + 5 + 20 * 121 + 4);
        assert!(run(b"0 10 10").is_err());
        assert!(run(b"10 10").is_err());
    }
}
