//! Heading-aware chunking with overlap, in character offsets.
//!
//! The text is read into blocks ([`blocks`]); a block longer than `max_chars` is cut into
//! pieces ([`split`]); consecutive pieces are packed into a chunk while it stays within
//! `target_chars` (a heading starts a new chunk once the current one is half full, and a
//! chunk never ends on a heading when more follows); then each chunk after the first reaches
//! back into the previous one for up to `overlap_chars` ([`overlap`]). All cuts are on
//! grapheme-cluster boundaries ([`graphemes`]). Work is linear in the text: offsets are
//! tracked in bytes and converted to characters by one cursor that only steps back across
//! a split block.

mod blocks;
mod graphemes;
mod overlap;
mod split;

use serde::{Deserialize, Serialize};

use crate::{html_to_text, ContentType};

/// Sizes in characters (Unicode scalar values). Zero or inconsistent values are tolerated:
/// `max_chars` is at least 1 and `target_chars` is clamped to `1..=max_chars`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChunkOptions {
    /// Pack blocks into a chunk up to this size.
    pub target_chars: usize,
    /// No chunk's own content is longer (a longer block is split).
    pub max_chars: usize,
    /// How far a chunk may reach back into the previous one.
    pub overlap_chars: usize,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        ChunkOptions { target_chars: 1200, max_chars: 2000, overlap_chars: 200 }
    }
}

/// One chunk of a document. `start..end` are character offsets (`chars()` indices) into the
/// text that was chunked, and `text` is exactly those characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// 0, 1, 2, … in document order.
    pub ordinal: u32,
    /// Titles of the enclosing headings where the chunk's own content begins (after the
    /// overlap), outermost first, e.g. `["Guide", "Install", "Linux"]`.
    pub heading_path: Vec<String>,
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// Cuts `text` into overlapping chunks.
///
/// For [`ContentType::Html`], `text` is the raw HTML: it is reduced with [`html_to_text`]
/// and the offsets index into that output, which is what the caller stores (chunking
/// `html_to_text(html)` as `Markdown` gives the same chunks).
///
/// Guarantees, for any input: chunks are in order with strictly increasing starts and ends;
/// none is empty; together they cover every non-whitespace character; each has at most
/// `max_chars + overlap_chars` characters, of which at most `overlap_chars` are shared with the
/// previous chunk; every start and end is a grapheme-cluster boundary (except inside a single
/// cluster longer than `max_chars`, which is cut between characters); a fenced code block of
/// at most `max_chars` is never cut.
pub fn chunk(text: &str, content_type: ContentType, opts: ChunkOptions) -> Vec<Chunk> {
    match content_type {
        ContentType::Html => chunk_text(&html_to_text(text), true, opts),
        ContentType::Markdown => chunk_text(text, true, opts),
        ContentType::Text => chunk_text(text, false, opts),
    }
}

/// A run of text no longer than `max_chars`: a block or part of one.
struct Piece {
    start: usize,
    end: usize,
    start_char: usize,
    end_char: usize,
    path: usize,
    heading: bool,
}

fn chunk_text(text: &str, markdown: bool, opts: ChunkOptions) -> Vec<Chunk> {
    let max = opts.max_chars.max(1);
    let target = opts.target_chars.clamp(1, max);
    let parsed = blocks::parse(text, markdown);
    let mut cursor = graphemes::CharCursor::new(text);

    let mut pieces = Vec::with_capacity(parsed.blocks.len());
    for block in &parsed.blocks {
        let start_char = cursor.chars_at(block.start);
        let end_char = cursor.chars_at(block.end);
        let piece = |start, end, start_char, end_char| Piece {
            start,
            end,
            start_char,
            end_char,
            path: block.path,
            heading: block.heading,
        };
        if end_char - start_char <= max {
            pieces.push(piece(block.start, block.end, start_char, end_char));
            continue;
        }
        for (start, end) in split::split(text, block.start, block.end, target, max) {
            let start_char = cursor.chars_at(start);
            pieces.push(piece(start, end, start_char, cursor.chars_at(end)));
        }
    }

    let mut chunks: Vec<Chunk> = Vec::new();
    // The previous chunk's own content (without its overlap): start, start char, end, end char.
    let mut previous: Option<(usize, usize, usize, usize)> = None;
    let mut first = 0;
    while first < pieces.len() {
        let last = pack(&pieces, first, target, max);
        let own = &pieces[first];
        let end = &pieces[last];
        let (start, start_char) = previous
            .and_then(|(prev_start, prev_start_char, prev_end, prev_end_char)| {
                // At most half of the previous chunk, so no chunk nearly repeats another, and
                // no more than keeps the whole chunk (with the blank gap) within bounds.
                let room = max.saturating_add(opts.overlap_chars).saturating_sub(end.end_char - prev_end_char);
                let budget = opts.overlap_chars.min((prev_end_char - prev_start_char) / 2).min(room);
                let at = overlap::start(text, prev_start, prev_end, budget)?;
                let shared = text.get(at..prev_end).map_or(0, |s| s.chars().count());
                Some((at, prev_end_char - shared))
            })
            .unwrap_or((own.start, own.start_char));
        chunks.push(Chunk {
            ordinal: u32::try_from(chunks.len()).unwrap_or(u32::MAX),
            heading_path: parsed.paths.get(own.path).cloned().unwrap_or_default(),
            start: start_char,
            end: end.end_char,
            text: text.get(start..end.end).unwrap_or_default().to_string(),
        });
        previous = Some((own.start, own.start_char, end.end, end.end_char));
        first = last + 1;
    }
    chunks
}

/// The last piece of the chunk that begins with `pieces[first]`: pieces are added while the
/// chunk stays within `target` (within `max` while it holds only headings, so a heading is not
/// left alone), and a heading starts a new chunk once the current one is half full.
fn pack(pieces: &[Piece], first: usize, target: usize, max: usize) -> usize {
    let start_char = pieces[first].start_char;
    let mut last = first;
    let mut only_headings = pieces[first].heading;
    while let Some(next) = pieces.get(last + 1) {
        let size = pieces[last].end_char - start_char;
        let limit = if only_headings { max } else { target };
        if next.end_char - start_char > limit || (next.heading && !only_headings && 2 * size >= target) {
            break;
        }
        only_headings &= next.heading;
        last += 1;
    }
    // Keep headings with what follows them (unless there is nothing but headings).
    if last + 1 < pieces.len() && !only_headings {
        while last > first && pieces[last].heading {
            last -= 1;
        }
    }
    last
}

#[cfg(test)]
mod tests;
