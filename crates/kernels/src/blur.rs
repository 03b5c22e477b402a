//! A 3 × 3 Gaussian blur of a greyscale image. Input and output: binary PGM (`P5`, maxval 255),
//! at most 4096 × 4096. Each output pixel is Σ weight × neighbour / 16 with weights
//! [1 2 1; 2 4 2; 1 2 1], rounded half up, neighbours clamped at the edges. Integer arithmetic:
//! no float appears, so any platform gets the same bytes.

use crate::{bad, Generator, InputError};

/// Largest width or height.
pub const MAX_SIDE: usize = 4096;

/// A greyscale image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Row-major pixels.
    pub pixels: Vec<u8>,
}

impl Image {
    /// Encodes as binary PGM.
    pub fn to_pgm(&self) -> Vec<u8> {
        let mut out = format!("P5\n{} {}\n255\n", self.width, self.height).into_bytes();
        out.extend_from_slice(&self.pixels);
        out
    }

    /// Parses binary PGM with maxval 255 (comments allowed in the header).
    pub fn from_pgm(bytes: &[u8]) -> Result<Image, InputError> {
        let mut position = 0;
        let mut fields = Vec::with_capacity(4);
        while fields.len() < 4 {
            while position < bytes.len() && bytes[position].is_ascii_whitespace() {
                position += 1;
            }
            if bytes.get(position) == Some(&b'#') {
                while position < bytes.len() && bytes[position] != b'\n' {
                    position += 1;
                }
                continue;
            }
            let start = position;
            while position < bytes.len() && !bytes[position].is_ascii_whitespace() {
                position += 1;
            }
            if start == position {
                return Err(bad("truncated PGM header"));
            }
            fields.push(&bytes[start..position]);
        }
        // Exactly one whitespace byte separates the header from the pixels.
        position += 1;
        if fields[0] != b"P5" {
            return Err(bad("not a binary PGM (P5) image"));
        }
        let field = |index: usize, what: &str| -> Result<usize, InputError> {
            core::str::from_utf8(fields[index])
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| bad(format!("bad PGM {what}")))
        };
        let (width, height) = (field(1, "width")?, field(2, "height")?);
        if field(3, "maxval")? != 255 {
            return Err(bad("only maxval 255 is supported"));
        }
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(bad(format!("image sides must be 1 to {MAX_SIDE}")));
        }
        let pixels = bytes
            .get(position..position + width * height)
            .ok_or_else(|| bad("PGM pixel data is shorter than width × height"))?
            .to_vec();
        Ok(Image {
            width,
            height,
            pixels,
        })
    }

    /// A synthetic test image: smooth gradients with seeded noise.
    pub fn synthetic(width: usize, height: usize, seed: u64) -> Image {
        let mut generator = Generator::new(seed);
        let pixels = (0..width * height)
            .map(|index| {
                let (x, y) = (index % width, index / width);
                let base = (x * 255 / width.max(1) + y * 255 / height.max(1)) / 2;
                let noise = (generator.next_u64() % 64) as usize;
                ((base + noise) % 256) as u8
            })
            .collect();
        Image {
            width,
            height,
            pixels,
        }
    }
}

/// The blurred image.
pub fn blur(image: &Image) -> Image {
    const WEIGHTS: [[u32; 3]; 3] = [[1, 2, 1], [2, 4, 2], [1, 2, 1]];
    let (width, height) = (image.width, image.height);
    let at = |x: usize, y: usize| u32::from(image.pixels[y * width + x]);
    let mut pixels = Vec::with_capacity(width * height);
    for y in 0..height {
        for x in 0..width {
            let mut sum = 0;
            for (dy, row) in WEIGHTS.iter().enumerate() {
                let ny = (y + dy).saturating_sub(1).min(height - 1);
                for (dx, weight) in row.iter().enumerate() {
                    let nx = (x + dx).saturating_sub(1).min(width - 1);
                    sum += weight * at(nx, ny);
                }
            }
            pixels.push(((sum + 8) / 16) as u8);
        }
    }
    Image {
        width,
        height,
        pixels,
    }
}

/// The whole workload: PGM in, blurred PGM out.
pub fn run(input: &[u8]) -> Result<Vec<u8>, InputError> {
    Ok(blur(&Image::from_pgm(input)?).to_pgm())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_image_stays_flat_and_round_trips() {
        let flat = Image {
            width: 3,
            height: 2,
            pixels: vec![100; 6],
        };
        assert_eq!(blur(&flat), flat);
        assert_eq!(Image::from_pgm(&flat.to_pgm()), Ok(flat));
    }

    #[test]
    fn single_bright_pixel_spreads_by_the_kernel() {
        let mut pixels = vec![0; 9];
        pixels[4] = 160;
        let out = blur(&Image {
            width: 3,
            height: 3,
            pixels,
        });
        assert_eq!(out.pixels, vec![10, 20, 10, 20, 40, 20, 10, 20, 10]);
    }

    #[test]
    fn refuses_bad_images() {
        assert!(run(b"P6\n1 1\n255\nx").is_err());
        assert!(run(b"P5\n2 2\n255\nxy").is_err());
        assert!(run(b"P5\n1 1\n65535\nxx").is_err());
        assert!(run(b"P5 # comment\n1 1\n255\nx").is_ok());
    }
}
