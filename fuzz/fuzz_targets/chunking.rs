//! `sba_kb_text`: `html_to_text`, `normalize` and `chunk` over arbitrary UTF-8, with small
//! fuzzed chunk sizes so that short inputs already make many chunks.
//!
//! Input: a content-type byte and three size bytes, then the text (lossy UTF-8).
//!
//! Checked, from the crates' documented guarantees:
//! - `chunk`: each chunk's `text` is exactly the characters `start..end` of the chunked text
//!   (the `html_to_text` output for HTML); none is empty; ordinals count up from 0; starts and
//!   ends strictly increase; at most `max + overlap` characters each, at most `overlap` of
//!   them shared with the previous chunk; every non-whitespace character is in some chunk;
//!   when no grapheme cluster is longer than `max`, every start and end is a cluster boundary;
//! - `normalize` is idempotent and has no CR, no trailing whitespace on a line, no leading or
//!   trailing whitespace; `content_sha256` is 64 lowercase hex digits;
//! - `html_to_text` never emits `<` followed by a letter, `/`, `!` or `?`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sba_kb_text::{chunk, content_sha256, html_to_text, normalize, ChunkOptions, ContentType};
use std::collections::BTreeSet;
use unicode_segmentation::UnicodeSegmentation;

fn check_chunks(chunked: &str, content_type: ContentType, text: &str, opts: ChunkOptions) {
    let chars: Vec<char> = chunked.chars().collect();
    let chunks = chunk(text, content_type, opts);
    let max = opts.max_chars.max(1);
    let mut covered = vec![false; chars.len()];
    // Character offsets of grapheme-cluster boundaries, if every cluster fits in `max`.
    let mut boundaries = BTreeSet::from([0]);
    let mut at = 0;
    let mut clusters_fit = true;
    for g in chunked.graphemes(true) {
        let n = g.chars().count();
        clusters_fit &= n <= max;
        at += n;
        boundaries.insert(at);
    }
    let mut last: Option<(usize, usize)> = None;
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(c.ordinal as usize, i, "ordinal");
        assert!(
            c.start < c.end && c.end <= chars.len(),
            "chunk {i}: bad range {}..{} of {}",
            c.start,
            c.end,
            chars.len()
        );
        let expected: String = chars[c.start..c.end].iter().collect();
        assert_eq!(
            c.text, expected,
            "chunk {i}: text is not chars {}..{}",
            c.start, c.end
        );
        assert!(!c.text.is_empty(), "chunk {i} is empty");
        assert!(
            c.end - c.start <= max + opts.overlap_chars,
            "chunk {i} has {} chars > {max} + {}",
            c.end - c.start,
            opts.overlap_chars
        );
        if let Some((start, end)) = last {
            assert!(
                c.start > start && c.end > end,
                "chunk {i} does not move forward: {}..{} after {start}..{end}",
                c.start,
                c.end
            );
            assert!(
                end.saturating_sub(c.start) <= opts.overlap_chars,
                "chunk {i} shares {} chars with the previous one (overlap {})",
                end - c.start,
                opts.overlap_chars
            );
        }
        if clusters_fit {
            assert!(
                boundaries.contains(&c.start) && boundaries.contains(&c.end),
                "chunk {i} ({}..{}) cuts a grapheme cluster",
                c.start,
                c.end
            );
        }
        last = Some((c.start, c.end));
        covered[c.start..c.end].iter_mut().for_each(|x| *x = true);
    }
    for (i, ch) in chars.iter().enumerate() {
        assert!(
            covered[i] || ch.is_whitespace(),
            "character {i} ({ch:?}) is in no chunk"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let (head, body) = data.split_at(4);
    let text = String::from_utf8_lossy(body);
    let content_type = match head[0] % 3 {
        0 => ContentType::Text,
        1 => ContentType::Markdown,
        _ => ContentType::Html,
    };
    let opts = ChunkOptions {
        target_chars: usize::from(head[1] % 64),
        max_chars: usize::from(head[2] % 128),
        overlap_chars: usize::from(head[3] % 64),
    };

    let html = html_to_text(&text);
    let bytes = html.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'<' {
            let next = bytes.get(i + 1).copied().unwrap_or(b' ');
            assert!(
                !(next.is_ascii_alphabetic() || matches!(next, b'/' | b'!' | b'?')),
                "markup survived at byte {i}: {html:?}"
            );
        }
    }

    let normalized = normalize(&text);
    assert_eq!(
        normalize(&normalized),
        normalized,
        "normalize is not idempotent"
    );
    assert!(!normalized.contains('\r'));
    assert_eq!(
        normalized.trim(),
        normalized,
        "leading or trailing whitespace left"
    );
    for line in normalized.split('\n') {
        assert_eq!(line.trim_end(), line, "trailing whitespace left on a line");
    }
    let hash = content_sha256(&normalized);
    assert!(
        hash.len() == 64
            && hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );

    let chunked = if content_type == ContentType::Html {
        html.as_str()
    } else {
        &*text
    };
    check_chunks(chunked, content_type, &text, opts);
    // The ingest pipeline: normalized text, default sizes.
    if head[0] & 0x80 != 0 {
        let as_type = if content_type == ContentType::Text {
            ContentType::Text
        } else {
            ContentType::Markdown
        };
        check_chunks(&normalized, as_type, &normalized, ChunkOptions::default());
    }
});
