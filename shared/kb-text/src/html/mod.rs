//! HTML reduced to readable text, with a hand-written linear tokenizer (no DOM, no tree
//! building) that follows the HTML tokenizer where it matters for safety.
//!
//! Dropped with their content: `script` (including its `<!--` escape states), `style`,
//! `iframe`, `noscript`, `noembed`, `noframes`, `template`, `svg`, `math`, comments, CDATA
//! sections, doctypes and processing instructions. An element that is never closed drops
//! everything after it, and so does a tag cut off by the end of the input.
//!
//! Kept: text, entities decoded ([`entities`]), whitespace collapsed; block elements
//! become line breaks, `h1`–`h6` become `#`…`######` lines, `li` a `- ` line, table cells
//! ` | `-separated, `pre` a fenced code block with its whitespace. `title`, `textarea` and `xmp`
//! keep their content as text.
//!
//! Limits: no tree building, so misnested markup is read in source order (an `<h2>` left open
//! ends at the next block element); hidden content (`hidden`, `display:none`) is kept;
//! attributes are never read (no `alt`, no link targets); a text line that happens to start
//! with `# ` or a fence reads as Markdown to the chunker; `<plaintext>` is not special.
//! Output never contains `<` followed by a letter, `/`, `!` or `?` — a space is put after such
//! a `<` (decoded `&lt;script&gt;` becomes `< script>`), so no HTML parser finds markup in it.

mod entities;
mod out;
mod tags;

use out::{Gap, Out};
use tags::{Element, Tag};

/// Reduces `html` to readable text (see the module docs for what is dropped and kept).
/// Linear in the input; never panics.
pub fn html_to_text(html: &str) -> String {
    let bytes = html.as_bytes();
    let mut out = Out::with_capacity(html.len() / 2);
    let mut reader = Reader { html, bytes, dropping: Vec::new(), cells_in_row: 0 };
    let mut text_from = 0;
    let mut at = 0;
    while let Some(offset) = html[at..].find('<') {
        let lt = at + offset;
        let Some(next) = reader.markup_end(lt, &mut out, text_from) else {
            at = lt + 1; // a `<` that opens nothing is text
            continue;
        };
        at = next;
        text_from = next;
    }
    reader.text(text_from, html.len(), &mut out);
    out.finish()
}

struct Reader<'a> {
    html: &'a str,
    bytes: &'a [u8],
    /// Open elements whose content is dropped (`template`, `svg`, `math`).
    dropping: Vec<[u8; 8]>,
    cells_in_row: u32,
}

impl Reader<'_> {
    fn text(&self, from: usize, to: usize, out: &mut Out) {
        if self.dropping.is_empty() && from < to {
            entities::decode(&self.html[from..to], |c| out.push(c));
        }
    }

    /// If markup starts at `lt`, writes the text before it, handles the markup and returns
    /// where the input continues.
    fn markup_end(&mut self, lt: usize, out: &mut Out, text_from: usize) -> Option<usize> {
        let bytes = self.bytes;
        let rest = &bytes[lt..];
        let len = bytes.len();
        let next = *rest.get(1)?;
        let end = if rest.starts_with(b"<!--") {
            self.text(text_from, lt, out);
            comment_end(bytes, lt + 4)
        } else if rest.len() >= 9 && rest[..9].eq_ignore_ascii_case(b"<![cdata[") {
            self.text(text_from, lt, out);
            find(bytes, lt + 9, b"]]>").map_or(len, |at| at + 3)
        } else if next == b'!' || next == b'?' {
            self.text(text_from, lt, out);
            find(bytes, lt + 2, b">").map_or(len, |at| at + 1)
        } else if next == b'/' {
            self.text(text_from, lt, out);
            match rest.get(2) {
                Some(b) if b.is_ascii_alphabetic() => match tags::read_tag(bytes, lt + 2) {
                    Some(tag) => {
                        self.end_tag(&tag, out);
                        tag.end
                    }
                    None => len,
                },
                Some(b'>') => lt + 3,
                // `</` then anything else: a bogus comment up to `>`.
                Some(_) => find(bytes, lt + 2, b">").map_or(len, |at| at + 1),
                None => len,
            }
        } else if next.is_ascii_alphabetic() {
            self.text(text_from, lt, out);
            match tags::read_tag(bytes, lt + 1) {
                Some(tag) => self.start_tag(&tag, out),
                None => len,
            }
        } else {
            return None;
        };
        Some(end)
    }

    /// Handles a start tag; returns where the input continues (past raw-text content).
    fn start_tag(&mut self, tag: &Tag, out: &mut Out) -> usize {
        let element = tags::element(tag.name());
        match element {
            Element::Script => return tags::script_end(self.bytes, tag.end),
            Element::RawDropped => return tags::raw_text_end(self.bytes, tag.end, tag.name()).1,
            Element::Dropped => {
                // `/>` closes only in SVG and MathML; HTML ignores it on `<template/>`.
                if !tag.self_closing || tag.name() == b"template" {
                    self.dropping.push(short_name(tag.name()));
                }
                return tag.end;
            }
            _ if !self.dropping.is_empty() => return tag.end,
            Element::RawText => {
                let (content_end, end) = tags::raw_text_end(self.bytes, tag.end, tag.name());
                out.end_heading();
                out.gap(Gap::Paragraph);
                self.text(tag.end, content_end, out);
                out.gap(Gap::Paragraph);
                return end;
            }
            _ => {}
        }
        if out.in_pre() {
            if !matches!(element, Element::Inline) {
                out.gap(Gap::Line);
            }
            if element == Element::Pre {
                out.begin_pre();
            }
            return tag.end;
        }
        match element {
            Element::Heading(level) => out.begin_heading(level),
            Element::Pre => out.begin_pre(),
            Element::Item => {
                out.end_heading();
                out.bullet();
            }
            Element::Row => {
                out.end_heading();
                self.cells_in_row = 0;
                out.gap(Gap::Line);
            }
            Element::Cell => {
                self.cells_in_row += 1;
                out.gap(if self.cells_in_row > 1 { Gap::Cell } else { Gap::Space });
            }
            Element::Block(gap) => {
                if tag.name() != b"br" {
                    out.end_heading();
                }
                out.gap(gap);
            }
            _ => {}
        }
        tag.end
    }

    fn end_tag(&mut self, tag: &Tag, out: &mut Out) {
        let element = tags::element(tag.name());
        if !self.dropping.is_empty() {
            if element == Element::Dropped {
                let name = short_name(tag.name());
                if let Some(open) = self.dropping.iter().rposition(|n| *n == name) {
                    self.dropping.truncate(open);
                }
            }
            return;
        }
        match element {
            Element::Pre => out.end_pre(),
            Element::Heading(_) if out.in_heading() => out.end_heading(),
            Element::Heading(_) | Element::Item | Element::Row => out.gap(Gap::Line),
            Element::Block(gap) => out.gap(gap),
            _ => {}
        }
    }
}

fn short_name(name: &[u8]) -> [u8; 8] {
    let mut short = [0; 8];
    short.iter_mut().zip(name).for_each(|(slot, b)| *slot = *b);
    short
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|at| from + at)
}

/// End of a comment whose body starts at `from` (after `<!--`): the first `-->` or `--!>`,
/// or `>` right away (`<!-->`, `<!--->`); an unclosed comment runs to the end.
fn comment_end(bytes: &[u8], from: usize) -> usize {
    for early in [&b">"[..], b"->"] {
        if bytes[from..].starts_with(early) {
            return from + early.len();
        }
    }
    let mut at = from;
    while let Some(dashes) = find(bytes, at, b"--") {
        let after = &bytes[dashes + 2..];
        if after.starts_with(b">") {
            return dashes + 3;
        }
        if after.starts_with(b"!>") {
            return dashes + 4;
        }
        at = dashes + 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests;
