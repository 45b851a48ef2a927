//! QR codes as images: SVG (one path) and PNG (8-bit greyscale, zlib by `miniz_oxide`), each
//! with the standard four-module quiet zone.

use qrcode::{Color, QrCode};

const QUIET: usize = 4;

/// The modules of a code: `true` is dark. Row-major, `width × width`.
struct Matrix {
    width: usize,
    dark: Vec<bool>,
}

fn matrix(text: &str) -> Result<Matrix, String> {
    let code = QrCode::new(text.as_bytes()).map_err(|error| format!("cannot encode the QR code: {error}"))?;
    Ok(Matrix { width: code.width(), dark: code.to_colors().into_iter().map(|c| c == Color::Dark).collect() })
}

/// An SVG image of `text`'s QR code, `module` pixels per module.
///
/// # Errors
/// When the text is too long for a QR code.
pub fn svg(text: &str, module: usize) -> Result<String, String> {
    let m = matrix(text)?;
    let size = (m.width + 2 * QUIET) * module;
    let mut path = String::new();
    for y in 0..m.width {
        for x in 0..m.width {
            if m.dark[y * m.width + x] {
                path.push_str(&format!(
                    "M{},{}h{module}v{module}h-{module}z",
                    (x + QUIET) * module,
                    (y + QUIET) * module
                ));
            }
        }
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size}\" height=\"{size}\" viewBox=\"0 0 {size} {size}\" \
         shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\
         <path fill=\"#000\" d=\"{path}\"/></svg>"
    ))
}

/// A PNG image of `text`'s QR code, `module` pixels per module.
///
/// # Errors
/// When the text is too long for a QR code.
pub fn png(text: &str, module: usize) -> Result<Vec<u8>, String> {
    let m = matrix(text)?;
    let size = (m.width + 2 * QUIET) * module;
    let mut raw = Vec::with_capacity((size + 1) * size);
    for py in 0..size {
        raw.push(0); // filter: none
        for px in 0..size {
            let (x, y) = (px / module, py / module);
            let dark = x >= QUIET
                && y >= QUIET
                && x < m.width + QUIET
                && y < m.width + QUIET
                && m.dark[(y - QUIET) * m.width + (x - QUIET)];
            raw.push(if dark { 0 } else { 255 });
        }
    }
    let side = u32::try_from(size).map_err(|_| "the image is too large".to_string())?;
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&side.to_be_bytes());
    header.extend_from_slice(&side.to_be_bytes());
    header.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit greyscale, deflate, no filter, no interlace
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &header);
    chunk(&mut out, b"IDAT", &miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6));
    chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_png_specification() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn images_have_the_quiet_zone_and_the_right_size() {
        let text = "330100ec0123456789abcdef0123456789abcd";
        let m = matrix(text).unwrap();
        let svg = svg(text, 4).unwrap();
        let side = (m.width + 8) * 4;
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains(&format!("width=\"{side}\"")));
        let png = png(text, 4).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[16..20], &u32::try_from(side).unwrap().to_be_bytes());
        let idat = &png[33 + 8..];
        let length = u32::from_be_bytes(png[33..37].try_into().unwrap()) as usize;
        let pixels = miniz_oxide::inflate::decompress_to_vec_zlib(&idat[..length]).unwrap();
        assert_eq!(pixels.len(), (side + 1) * side);
        // The top-left finder pattern starts right after the quiet zone.
        assert_eq!(pixels[1], 255);
        let row = 4 * 4;
        assert_eq!(pixels[row * (side + 1) + 1 + 4 * 4], 0);
        assert_eq!(pixels[row * (side + 1) + 1 + 4 * 4 - 1], 255);
    }
}
