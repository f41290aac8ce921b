//! Grapheme-cluster boundaries and byte→char offsets, the two things every cut needs.

use unicode_segmentation::GraphemeCursor;

/// Whether a chunk may start or end at byte `at` without splitting a user-perceived
/// character. Cheap for ASCII neighbours; otherwise asks the UAX #29 rules.
pub(super) fn is_boundary(text: &str, at: usize) -> bool {
    if at == 0 || at >= text.len() {
        return at <= text.len();
    }
    if !text.is_char_boundary(at) {
        return false;
    }
    let bytes = text.as_bytes();
    if bytes[at - 1].is_ascii() && bytes[at].is_ascii() {
        return !(bytes[at - 1] == b'\r' && bytes[at] == b'\n');
    }
    GraphemeCursor::new(at, text.len(), true).is_boundary(text, 0).unwrap_or(false)
}

/// The last boundary at or before `at`.
pub(super) fn floor(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    if is_boundary(text, at) {
        return at;
    }
    match GraphemeCursor::new(at, text.len(), true).prev_boundary(text, 0) {
        Ok(Some(before)) => before,
        _ => 0,
    }
}

/// The first boundary at or after `at`.
pub(super) fn ceil(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at += 1;
    }
    if is_boundary(text, at) {
        return at;
    }
    match GraphemeCursor::new(at, text.len(), true).next_boundary(text, 0) {
        Ok(Some(after)) => after,
        _ => text.len(),
    }
}

/// Byte offsets to char offsets, moving from the last answer: linear over a walk that
/// mostly goes forward.
pub(super) struct CharCursor<'a> {
    text: &'a str,
    byte: usize,
    chars: usize,
}

impl<'a> CharCursor<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        CharCursor { text, byte: 0, chars: 0 }
    }

    pub(super) fn chars_at(&mut self, byte: usize) -> usize {
        let count = |from: usize, to: usize| self.text.get(from..to).map_or(0, |s| s.chars().count());
        if byte >= self.byte {
            self.chars += count(self.byte, byte);
        } else {
            self.chars -= count(byte, self.byte);
        }
        self.byte = byte;
        self.chars
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries() {
        let text = "a\r\nb👍🏽c\u{301}🇫🇷";
        let expected: Vec<usize> = unicode_segmentation::UnicodeSegmentation::grapheme_indices(text, true)
            .map(|(at, _)| at)
            .chain([text.len()])
            .collect();
        let found: Vec<usize> = (0..=text.len()).filter(|&at| is_boundary(text, at)).collect();
        assert_eq!(found, expected);
        assert_eq!(floor(text, 6), 4);
        assert_eq!(ceil(text, 6), 12);
        let mut cursor = CharCursor::new(text);
        assert_eq!(cursor.chars_at(12), 6);
        assert_eq!(cursor.chars_at(4), 4);
        assert_eq!(cursor.chars_at(text.len()), text.chars().count());
    }
}
