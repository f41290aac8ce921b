//! The canonical form of a document's text, and its hash, used to find duplicates.

use sha2::{Digest, Sha256};
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

/// Blank lines kept in a row; longer runs are cut to this many.
const MAX_BLANK_LINES: usize = 2;

/// The canonical form used for dedupe hashing:
/// Unicode NFC; every line ending (CRLF, CR, NEL, VT, FF, U+2028, U+2029) becomes `\n`;
/// trailing whitespace is removed from each line; runs of three or more blank lines become
/// two; leading and trailing whitespace (and byte-order marks) of the whole text are removed.
///
/// Idempotent: `normalize(&normalize(t)) == normalize(t)`.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut line = String::new();
    let mut blank_lines = 0;
    let mut previous_cr = false;
    let mut end_line = |line: &mut String, out: &mut String| {
        let content = line.trim_end();
        if content.is_empty() {
            blank_lines += 1;
        } else {
            if !out.is_empty() {
                (0..=blank_lines.min(MAX_BLANK_LINES)).for_each(|_| out.push('\n'));
            }
            out.push_str(content);
            blank_lines = 0;
        }
        line.clear();
    };
    let mut each = |c: char| {
        let cr = c == '\r';
        match c {
            '\n' if previous_cr => {}
            '\r' | '\n' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
                end_line(&mut line, &mut out);
            }
            // Byte-order marks (and leading whitespace) before the first text are dropped.
            '\u{FEFF}' if out.is_empty() && line.trim_start().is_empty() => {}
            c if c.is_whitespace() && out.is_empty() && line.is_empty() => {}
            c => line.push(c),
        }
        previous_cr = cr;
    };
    if is_nfc_quick(text.chars()) == IsNormalized::Yes {
        text.chars().for_each(&mut each);
    } else {
        text.nfc().for_each(&mut each);
    }
    end_line(&mut line, &mut out);
    out
}

/// Lowercase hex SHA-256 of `normalized` (the output of [`normalize`]).
pub fn content_sha256(normalized: &str) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(normalized.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        hex.push(DIGITS[usize::from(byte >> 4)] as char);
        hex.push(DIGITS[usize::from(byte & 0x0f)] as char);
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::{content_sha256, normalize};

    #[test]
    fn line_endings_trailing_spaces_and_blank_runs() {
        assert_eq!(normalize("\u{FEFF}  a  \r\nb\t\rc\u{2028}d\u{85}e\n\n\n\n\nf \n\n"), "a\nb\nc\nd\ne\n\n\nf");
        assert_eq!(normalize("a\n\nb\n \n \nc"), "a\n\nb\n\n\nc");
        assert_eq!(normalize("  \n\u{FEFF}\u{FEFF} x"), "x");
        assert_eq!(normalize(" \t\n\r\n "), "");
        assert_eq!(normalize("  indented\n    code"), "indented\n    code");
    }

    #[test]
    fn nfc_composes() {
        assert_eq!(normalize("e\u{301}"), "\u{E9}");
        assert_eq!(normalize("\u{212B}"), "\u{C5}"); // ANGSTROM SIGN → Å
    }

    #[test]
    fn crlf_and_lf_hash_the_same() {
        let lf = normalize("# Title\n\nSome text.  \nMore.\n");
        let crlf = normalize("\u{FEFF}# Title\r\n\r\nSome text.\r\nMore.\r\n\r\n");
        assert_eq!(lf, crlf);
        assert_eq!(content_sha256(&lf), content_sha256(&crlf));
        assert_ne!(content_sha256(&lf), content_sha256("# Title\n\nSome text.\nMore!"));
    }

    #[test]
    fn sha256_known_values() {
        assert_eq!(content_sha256(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(content_sha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn idempotent_on_awkward_input() {
        for text in ["\u{FEFF}\u{FEFF}a", " \u{FEFF}x", "a\r\r\n\n\n\nb", "\u{301}a", "x\u{A0}\n", "\u{FEFF}"] {
            let once = normalize(text);
            assert_eq!(normalize(&once), once, "{text:?}");
        }
    }
}
