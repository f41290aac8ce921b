//! Server-sent events over byte chunks split anywhere (inside a line, a CRLF or a UTF-8
//! character): LF, CRLF or CR line ends, multi-line `data`, `event` names, `:` comments
//! (pings) skipped. Lines are cut at ASCII bytes only, so no character is ever split.

use crate::error::LlmError;
use std::collections::VecDeque;

/// One longer line is a broken or hostile server, not a model answer.
const MAX_LINE: usize = 1 << 20;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; empty means "message".
    pub event: String,
    /// The `data:` lines joined by `\n`.
    pub data: String,
}

#[derive(Debug, Default)]
pub struct SseDecoder {
    line: Vec<u8>,
    /// The previous chunk ended in CR: a leading LF belongs to it.
    after_cr: bool,
    event: String,
    data: String,
    has_data: bool,
    ready: VecDeque<SseEvent>,
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; complete events become available from [`SseDecoder::next_event`].
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), LlmError> {
        if self.after_cr && !bytes.is_empty() {
            self.after_cr = false;
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
        }
        while let Some(end) = bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.push_line_bytes(&bytes[..end])?;
            let line = std::mem::take(&mut self.line);
            self.line_done(&line);
            let crlf = bytes[end] == b'\r';
            bytes = &bytes[end + 1..];
            if crlf {
                match bytes.first() {
                    Some(b'\n') => bytes = &bytes[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
        }
        self.push_line_bytes(bytes)
    }

    /// End of the body: an unterminated last line and a pending event are delivered
    /// (lenient: some servers omit the final blank line).
    pub fn finish(&mut self) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.line_done(&line);
        }
        self.dispatch();
    }

    pub fn next_event(&mut self) -> Option<SseEvent> {
        self.ready.pop_front()
    }

    fn push_line_bytes(&mut self, bytes: &[u8]) -> Result<(), LlmError> {
        if self.line.len() + bytes.len() > MAX_LINE {
            self.line.clear();
            return Err(LlmError::Protocol(format!("SSE line longer than {MAX_LINE} bytes")));
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn line_done(&mut self, line: &[u8]) {
        if line.is_empty() {
            self.dispatch();
            return;
        }
        if line[0] == b':' {
            return; // comment / keep-alive
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.find(':') {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (&line[..], ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = value.to_owned(),
            _ => {} // id, retry, unknown fields
        }
    }

    fn dispatch(&mut self) {
        if self.has_data {
            self.ready
                .push_back(SseEvent { event: std::mem::take(&mut self.event), data: std::mem::take(&mut self.data) });
        }
        self.event.clear();
        self.data.clear();
        self.has_data = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_split(bytes: &[u8], cuts: &[usize]) -> Vec<SseEvent> {
        let mut d = SseDecoder::new();
        let mut start = 0;
        for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
            d.feed(&bytes[start..cut]).unwrap();
            start = cut;
        }
        d.finish();
        std::iter::from_fn(|| d.next_event()).collect()
    }

    fn ev(event: &str, data: &str) -> SseEvent {
        SseEvent { event: event.into(), data: data.into() }
    }

    const SAMPLE: &str = ": ping\n\ndata: {\"a\":\"héllo 🌍 日本\"}\n\n: keep-alive\r\nevent: error\r\ndata: line1\r\ndata:line2\r\n\r\ndata: [DONE]\n\n";

    fn expected() -> Vec<SseEvent> {
        vec![ev("", "{\"a\":\"héllo 🌍 日本\"}"), ev("error", "line1\nline2"), ev("", "[DONE]")]
    }

    #[test]
    fn whole_sample() {
        assert_eq!(decode_split(SAMPLE.as_bytes(), &[]), expected());
    }

    #[test]
    fn split_at_every_position() {
        let bytes = SAMPLE.as_bytes();
        for cut in 0..=bytes.len() {
            assert_eq!(decode_split(bytes, &[cut]), expected(), "cut at {cut}");
        }
    }

    #[test]
    fn split_at_every_pair_of_positions() {
        let bytes = SAMPLE.as_bytes();
        for a in 0..=bytes.len() {
            for b in a..=bytes.len() {
                assert_eq!(decode_split(bytes, &[a, b]), expected(), "cuts at {a},{b}");
            }
        }
    }

    #[test]
    fn byte_by_byte() {
        let bytes = SAMPLE.as_bytes();
        let cuts: Vec<usize> = (1..bytes.len()).collect();
        assert_eq!(decode_split(bytes, &cuts), expected());
    }

    #[test]
    fn bare_cr_line_ends_and_split_crlf() {
        let text = b"data: a\r\rdata: b\r\n\r\n";
        for cut in 0..=text.len() {
            assert_eq!(decode_split(text, &[cut]), vec![ev("", "a"), ev("", "b")], "cut at {cut}");
        }
    }

    #[test]
    fn unterminated_last_event_is_delivered_and_empty_data_kept() {
        assert_eq!(decode_split(b"data: x", &[]), vec![ev("", "x")]);
        assert_eq!(decode_split(b"data\n\n", &[]), vec![ev("", "")]);
        assert_eq!(decode_split(b"event: x\n\n: only comments\n\n", &[]), vec![]);
    }

    #[test]
    fn invalid_utf8_and_huge_lines_are_values_not_panics() {
        assert_eq!(decode_split(b"data: \xff\xfe\n\n", &[]), vec![ev("", "\u{fffd}\u{fffd}")]);
        let mut d = SseDecoder::new();
        let big = vec![b'a'; MAX_LINE + 1];
        assert!(matches!(d.feed(&big), Err(LlmError::Protocol(_))));
    }
}
