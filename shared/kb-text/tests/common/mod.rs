//! The invariants every chunking must keep, checked from outside through the public API.

use sba_kb_text::{Chunk, ChunkOptions};
use unicode_segmentation::UnicodeSegmentation;

/// Panics with a description when `chunks` (cut from `text`) break a promised invariant.
pub fn check_chunks(text: &str, chunks: &[Chunk], opts: ChunkOptions) {
    let chars: Vec<char> = text.chars().collect();
    let max = opts.max_chars.max(1);
    let mut boundary = vec![false; chars.len() + 1];
    let mut longest_cluster = 0;
    let mut at = 0;
    boundary[0] = true;
    for cluster in text.graphemes(true) {
        let len = cluster.chars().count();
        longest_cluster = longest_cluster.max(len);
        at += len;
        boundary[at] = true;
    }
    let mut covered = vec![false; chars.len()];
    for (i, c) in chunks.iter().enumerate() {
        let context = || format!("chunk {i} {}..{} of {} chars, {opts:?}", c.start, c.end, chars.len());
        assert_eq!(c.ordinal as usize, i, "{}", context());
        assert!(c.start < c.end && c.end <= chars.len(), "empty or out of range: {}", context());
        assert_eq!(c.text, chars[c.start..c.end].iter().collect::<String>(), "{}", context());
        assert!(c.end - c.start <= max + opts.overlap_chars, "too long: {}", context());
        if longest_cluster <= max {
            assert!(boundary[c.start] && boundary[c.end], "splits a grapheme cluster: {}", context());
        }
        if let Some(prev) = i.checked_sub(1).map(|p| &chunks[p]) {
            assert!(c.start > prev.start && c.end > prev.end, "out of order: {}", context());
            if c.start < prev.end {
                assert!(prev.end - c.start <= opts.overlap_chars, "overlap too long: {}", context());
            }
        }
        covered[c.start..c.end].iter_mut().for_each(|slot| *slot = true);
    }
    if let Some(missed) = chars.iter().zip(&covered).position(|(ch, covered)| !ch.is_whitespace() && !covered) {
        panic!("character {missed} ({:?}) is in no chunk", chars[missed]);
    }
}
