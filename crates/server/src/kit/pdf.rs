//! A small PDF writer for printed statements: A4 pages of positioned text in the standard
//! Chinese font STSong-Light (encoding `UniGB-UCS2-H`, which every PDF reader with the Adobe
//! Asian font pack renders without embedding), with a `ToUnicode` map so the text can be
//! searched, copied and extracted (`pdftotext`).

use std::collections::BTreeSet;
use std::fmt::Write as _;

/// A4 in points.
pub const PAGE_WIDTH: u32 = 595;
pub const PAGE_HEIGHT: u32 = 842;

/// A piece of text at a position (points from the bottom left), in a size (points).
#[derive(Debug, Clone)]
pub struct Text {
    pub x: u32,
    pub y: u32,
    pub size: u32,
    pub text: String,
}

impl Text {
    pub fn new(x: u32, y: u32, size: u32, text: impl Into<String>) -> Text {
        Text { x, y, size, text: text.into() }
    }
}

/// The UCS-2 code of a character; characters outside the Basic Multilingual Plane become `?`.
fn ucs2(c: char) -> u16 {
    u16::try_from(u32::from(c)).unwrap_or(u16::from(b'?'))
}

/// Renders pages of text as a PDF file.
pub fn render(pages: &[Vec<Text>], title: &str) -> Vec<u8> {
    let used: BTreeSet<u16> = pages.iter().flatten().flat_map(|t| t.text.chars().map(ucs2)).collect();
    // Objects: 1 catalog, 2 pages, 3 font, 4 CID font, 5 descriptor, 6 ToUnicode, 7 info,
    // then a page and its content stream for each page.
    let mut objects: Vec<Vec<u8>> = Vec::new();
    let page_ids: Vec<usize> = (0..pages.len()).map(|i| 8 + 2 * i).collect();
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    let kids: Vec<String> = page_ids.iter().map(|id| format!("{id} 0 R")).collect();
    objects.push(format!("<< /Type /Pages /Kids [{}] /Count {} >>", kids.join(" "), pages.len()).into_bytes());
    objects.push(
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H \
          /DescendantFonts [4 0 R] /ToUnicode 6 0 R >>"
            .to_vec(),
    );
    objects.push(
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light \
          /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> \
          /FontDescriptor 5 0 R /DW 1000 /W [1 95 500] >>"
            .to_vec(),
    );
    objects.push(
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] \
          /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>"
            .to_vec(),
    );
    objects.push(stream(&to_unicode(&used)));
    objects.push(format!("<< /Title <{}> /Producer (yibao) >>", utf16_hex(title, true)).into_bytes());
    for page in pages {
        let id = 8 + objects.len() - 7;
        debug_assert_eq!(objects.len() + 1, id);
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] \
                 /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                id + 1
            )
            .into_bytes(),
        );
        let mut content = String::new();
        for text in page {
            let _ = writeln!(
                content,
                "BT /F1 {} Tf {} {} Td <{}> Tj ET",
                text.size,
                text.x,
                text.y,
                utf16_hex(&text.text, false)
            );
        }
        objects.push(stream(content.as_bytes()));
    }
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (index, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", index + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    let mut tail = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        let _ = writeln!(tail, "{offset:010} 00000 n ");
    }
    let _ =
        write!(tail, "trailer\n<< /Size {} /Root 1 0 R /Info 7 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1);
    out.extend_from_slice(tail.as_bytes());
    out
}

fn stream(data: &[u8]) -> Vec<u8> {
    let mut out = format!("<< /Length {} >>\nstream\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\nendstream");
    out
}

/// UTF-16BE hex of a text; with a byte-order mark for PDF text strings (the document info).
fn utf16_hex(text: &str, bom: bool) -> String {
    let mut hex = String::with_capacity(text.len() * 4 + 4);
    if bom {
        hex.push_str("FEFF");
    }
    for c in text.chars() {
        let _ = write!(hex, "{:04X}", ucs2(c));
    }
    hex
}

/// The map from the codes used back to Unicode (UniGB-UCS2-H codes are UCS-2 already).
fn to_unicode(used: &BTreeSet<u16>) -> Vec<u8> {
    let mut cmap = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let codes: Vec<u16> = used.iter().copied().collect();
    for block in codes.chunks(100) {
        let _ = writeln!(cmap, "{} beginbfchar", block.len());
        for code in block {
            let _ = writeln!(cmap, "<{code:04X}> <{code:04X}>");
        }
        cmap.push_str("endbfchar\n");
    }
    cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    cmap.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cross_reference_table_points_at_every_object() {
        let pdf = render(&[vec![Text::new(50, 800, 12, "张伟 A10000001")], vec![]], "对账单");
        let text = String::from_utf8_lossy(&pdf);
        let start: usize = text.rsplit("startxref\n").next().unwrap().lines().next().unwrap().parse().unwrap();
        assert!(pdf[start..].starts_with(b"xref"));
        let table = String::from_utf8_lossy(&pdf[start..]).to_string();
        let entries: Vec<usize> = table
            .lines()
            .skip(3)
            .take_while(|line| line.ends_with(" n "))
            .map(|line| line[..10].parse().unwrap())
            .collect();
        assert_eq!(entries.len(), 11, "7 shared objects and 2 per page");
        for (index, offset) in entries.iter().enumerate() {
            assert!(pdf[*offset..].starts_with(format!("{} 0 obj", index + 1).as_bytes()), "object {}", index + 1);
        }
        assert!(text.contains("<5F204F1F00200041"), "张伟 as UCS-2");
        assert!(text.contains("<5F20> <5F20>"), "ToUnicode maps 张");
    }
}
