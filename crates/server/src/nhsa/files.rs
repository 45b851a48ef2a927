//! File transport of the national interface: multipart uploads (`jsonStr` + `file`), uploads
//! inside the JSON (`fsUploadIn.in` as base64 or a byte array), and zip archives (HIS clients
//! usually zip their reconciliation detail files).

use base64::Engine;
use serde_json::Value;

use super::NhsaError;

/// The parts of a `multipart/form-data` body: the envelope text and the file, if any.
#[derive(Debug, Default)]
pub struct Multipart {
    pub json: Option<Vec<u8>>,
    pub file: Option<(Option<String>, Vec<u8>)>,
}

/// The longest multipart boundary (RFC 2046 allows 1 to 70 characters).
pub const BOUNDARY_MAX: usize = 70;
/// The longest file name (9101 `filename`).
pub const FILE_NAME_MAX: usize = 200;

/// A file name as 9101 may store it: 1 to [`FILE_NAME_MAX`] characters, no control characters
/// (a line break would end up in a download's headers), no quotes, backslashes or slashes.
///
/// # Errors
/// What is wrong with the name.
pub fn check_file_name(name: &str) -> Result<(), NhsaError> {
    let count = name.chars().count();
    if count == 0 || count > FILE_NAME_MAX {
        return Err(NhsaError::new(format!("文件名filename须为1至{FILE_NAME_MAX}个字符")));
    }
    if let Some(bad) = name.chars().find(|c| c.is_control() || matches!(c, '"' | '\\' | '/' | ';')) {
        return Err(NhsaError::new(format!("文件名filename含有非法字符{:?}", bad)));
    }
    Ok(())
}

/// A `Content-Disposition` for a download: an ASCII fallback name and the whole name encoded
/// (RFC 6266 / RFC 5987), so no name can break the header.
pub fn content_disposition(name: &str) -> String {
    let fallback: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for byte in name.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => encoded.push(char::from(byte)),
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// The boundary of a `multipart/form-data` content type (`None` when it is not one; an
/// over-long boundary is returned as it is and refused by [`parse_multipart`]).
pub fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|param| {
        let (name, value) = param.split_once('=')?;
        (name.trim().eq_ignore_ascii_case("boundary")).then(|| value.trim().trim_matches('"').to_string())
    })
}

/// Whether a content type is `application/x-www-form-urlencoded` (jQuery's default: HIS pages
/// post `data: {"": JSON.stringify(envelope)}`, i.e. `=<the envelope, percent-encoded>`).
pub fn is_form(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// The envelope of a form-encoded body: the value named `""`, `jsonStr`, `json` or `data`, or
/// the only one.
///
/// # Errors
/// When no field holds it, or its percent-encoding is broken.
pub fn form_envelope(body: &[u8]) -> Result<Vec<u8>, NhsaError> {
    let pairs: Vec<(&[u8], &[u8])> = body
        .split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.iter().position(|b| *b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &pair[pair.len()..]),
        })
        .collect();
    let chosen = pairs
        .iter()
        .find(|(key, _)| matches!(*key, b"" | b"jsonStr" | b"json" | b"data"))
        .or(if pairs.len() == 1 { pairs.first() } else { None })
        .ok_or_else(|| NhsaError::new("表单报文中未找到JSON报文（应为jsonStr=…或=…）"))?;
    percent_decode(chosen.1).ok_or_else(|| NhsaError::new("表单报文的百分号编码错误"))
}

fn percent_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut index = 0;
    while index < text.len() {
        match text[index] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text.get(index + 1..index + 3)?;
                let value = std::str::from_utf8(hex).ok().and_then(|hex| u8::from_str_radix(hex, 16).ok())?;
                out.push(value);
                index += 2;
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    Some(out)
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    (from..=haystack.len() - needle.len()).find(|&i| &haystack[i..i + needle.len()] == needle)
}

/// Splits a multipart body. The part named `jsonStr` (or `json`) is the envelope; the part
/// named `file` (or any part with a filename) is the file.
///
/// # Errors
/// When the body is not multipart with this boundary.
pub fn parse_multipart(body: &[u8], boundary: &str) -> Result<Multipart, NhsaError> {
    if boundary.is_empty() || boundary.len() > BOUNDARY_MAX {
        return Err(NhsaError::new(format!("multipart报文的boundary须为1至{BOUNDARY_MAX}个字符")));
    }
    let delimiter = format!("--{boundary}").into_bytes();
    let malformed = || NhsaError::new("multipart报文格式错误");
    let mut parts = Multipart::default();
    let mut position = find(body, &delimiter, 0).ok_or_else(malformed)? + delimiter.len();
    loop {
        if body[position..].starts_with(b"--") {
            break;
        }
        let headers_start = position + if body[position..].starts_with(b"\r\n") { 2 } else { 0 };
        let headers_end = find(body, b"\r\n\r\n", headers_start).ok_or_else(malformed)?;
        let headers = String::from_utf8_lossy(&body[headers_start..headers_end]).to_string();
        let content_start = headers_end + 4;
        let next = find(body, &delimiter, content_start).ok_or_else(malformed)?;
        // The line break before the delimiter belongs to it, unless it is the blank line that
        // ended the headers (an empty part).
        let content_end = if next >= content_start + 2 && body[..next].ends_with(b"\r\n") { next - 2 } else { next };
        let content = body[content_start..content_end].to_vec();
        let disposition =
            headers.lines().find(|line| line.to_ascii_lowercase().starts_with("content-disposition")).unwrap_or("");
        let attribute = |name: &str| {
            disposition.split(';').find_map(|item| {
                let (key, value) = item.split_once('=')?;
                (key.trim().eq_ignore_ascii_case(name)).then(|| value.trim().trim_matches('"').to_string())
            })
        };
        let name = attribute("name").unwrap_or_default();
        let filename = attribute("filename");
        if name == "jsonStr" || name == "json" {
            parts.json = Some(content);
        } else if name == "file" || filename.is_some() {
            parts.file = Some((filename, content));
        }
        position = next + delimiter.len();
        if position >= body.len() {
            break;
        }
    }
    Ok(parts)
}

/// Bytes sent inside the JSON: a base64 string or an array of byte values (Java clients send
/// signed bytes, -128..=127).
///
/// # Errors
/// When the value is neither.
pub fn bytes_of(value: &Value, field: &str) -> Result<Vec<u8>, NhsaError> {
    match value {
        Value::String(text) => {
            let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(cleaned.as_bytes())
                .map_err(|error| NhsaError::new(format!("{field}不是合法的Base64内容：{error}")))
        }
        Value::Array(items) => items
            .iter()
            .map(|item| match item.as_i64() {
                Some(byte @ 0..=255) => Ok(byte as u8),
                Some(byte @ -128..=-1) => Ok((byte + 256) as u8),
                _ => Err(NhsaError::new(format!("{field}应为字节数组（每项-128至255）"))),
            })
            .collect(),
        _ => Err(NhsaError::new(format!("{field}应为Base64字符串或字节数组"))),
    }
}

fn u16_at(bytes: &[u8], at: usize) -> Option<usize> {
    bytes.get(at..at + 2).map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<usize> {
    bytes.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

/// The content of a file: unzipped (first entry) when it is a zip archive, as is otherwise.
///
/// # Errors
/// When a zip archive is damaged or uses a compression other than stored or deflate.
pub fn unzip_if_zipped(bytes: &[u8], limit: usize) -> Result<Vec<u8>, NhsaError> {
    if !bytes.starts_with(b"PK\x03\x04") {
        return Ok(bytes.to_vec());
    }
    let damaged = || NhsaError::new("zip文件已损坏或格式不支持");
    // The central directory gives reliable sizes even when the local header defers them.
    let end = (0..bytes.len().saturating_sub(21))
        .rev()
        .find(|&i| bytes[i..].starts_with(b"PK\x05\x06"))
        .ok_or_else(damaged)?;
    let directory = u32_at(bytes, end + 16).ok_or_else(damaged)?;
    if !bytes.get(directory..).is_some_and(|b| b.starts_with(b"PK\x01\x02")) {
        return Err(damaged());
    }
    let method = u16_at(bytes, directory + 10).ok_or_else(damaged)?;
    let compressed = u32_at(bytes, directory + 20).ok_or_else(damaged)?;
    let size = u32_at(bytes, directory + 24).ok_or_else(damaged)?;
    let local = u32_at(bytes, directory + 42).ok_or_else(damaged)?;
    if size > limit {
        return Err(NhsaError::new(format!("zip内文件超过{limit}字节")));
    }
    let name_length = u16_at(bytes, local + 26).ok_or_else(damaged)?;
    let extra_length = u16_at(bytes, local + 28).ok_or_else(damaged)?;
    let start = local + 30 + name_length + extra_length;
    let data = bytes.get(start..start + compressed).ok_or_else(damaged)?;
    match method {
        0 => Ok(data.to_vec()),
        8 => miniz_oxide::inflate::decompress_to_vec_with_limit(data, limit).map_err(|_| damaged()),
        other => Err(NhsaError::new(format!("zip压缩方式{other}不支持，请使用deflate或不压缩"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_parts() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"jsonStr\"\r\n\r\n{\"infno\":\"9101\"}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d.txt\"\r\nContent-Type: application/octet-stream\r\n\r\nA\tB\r\n--XyZ--\r\n";
        assert_eq!(boundary("multipart/form-data; boundary=XyZ").as_deref(), Some("XyZ"));
        let parts = parse_multipart(body, "XyZ").unwrap();
        assert_eq!(parts.json.as_deref(), Some(&b"{\"infno\":\"9101\"}"[..]));
        assert_eq!(parts.file, Some((Some("d.txt".into()), b"A\tB".to_vec())));
    }

    #[test]
    fn bytes_from_base64_and_arrays() {
        assert_eq!(bytes_of(&Value::String("QUI=".into()), "in").unwrap(), b"AB");
        assert_eq!(bytes_of(&serde_json::json!([65, -1]), "in").unwrap(), vec![65, 255]);
        assert!(bytes_of(&serde_json::json!([300]), "in").is_err());
    }

    #[test]
    fn a_stored_zip_entry_is_read() {
        // A zip with one stored entry "a.txt" holding "hi".
        let mut zip = Vec::new();
        zip.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x05\x00\x00\x00a.txthi");
        let directory = zip.len();
        zip.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00a.txt");
        let size = zip.len() - directory;
        zip.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00");
        zip.extend_from_slice(&(size as u32).to_le_bytes());
        zip.extend_from_slice(&(directory as u32).to_le_bytes());
        zip.extend_from_slice(b"\x00\x00");
        assert_eq!(unzip_if_zipped(&zip, 1024).unwrap(), b"hi");
        assert_eq!(unzip_if_zipped(b"plain", 1024).unwrap(), b"plain");
    }
}
