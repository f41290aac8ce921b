//! The text as blocks: runs of lines that belong together (a paragraph, a list item, a
//! fenced code block, a heading), each with the heading path in force there.
//!
//! Markdown is read line by line, CommonMark-shaped but not CommonMark-complete: ATX headings
//! (`#`…`######`, at most three spaces in), setext headings (`===`/`---` under a paragraph),
//! backtick and tilde fences (blank lines inside do not split them), list items (`-`, `*`,
//! `+`, `1.`, `1)`), thematic breaks, and YAML front matter at the very start. Block quotes,
//! indented code, HTML blocks and tables are plain paragraphs. Plain text is blank-line
//! paragraphs only.

use super::graphemes;

/// A heading title is cut to this many characters in the heading path.
const MAX_TITLE_CHARS: usize = 200;

/// Byte span of a block: it starts and ends on grapheme boundaries, and everything between
/// two blocks is whitespace.
#[derive(Debug, Clone, Copy)]
pub(super) struct Block {
    pub(super) start: usize,
    pub(super) end: usize,
    /// Index into [`Blocks::paths`].
    pub(super) path: usize,
    pub(super) heading: bool,
}

pub(super) struct Blocks {
    pub(super) blocks: Vec<Block>,
    /// Every distinct heading path, in order of appearance; the first is empty.
    pub(super) paths: Vec<Vec<String>>,
}

#[derive(Clone, Copy)]
enum Open {
    Nothing,
    Paragraph { start: usize, end: usize },
    Item { start: usize, end: usize },
    Fence { start: usize, end: usize, marker: u8, len: usize },
}

/// One line: `[start, end)` without its `\n`; `content` its non-blank grapheme span.
struct Line<'a> {
    text: &'a str,
    indent: usize,
    content: Option<(usize, usize)>,
}

pub(super) fn parse(text: &str, markdown: bool) -> Blocks {
    let mut parser =
        Parser { text, blocks: Vec::new(), paths: vec![Vec::new()], stack: Vec::new(), open: Open::Nothing };
    let mut at = 0;
    if markdown {
        at = parser.front_matter();
    }
    while at < text.len() {
        let end = text[at..].find('\n').map_or(text.len(), |offset| at + offset);
        parser.line(line_at(text, at, end), markdown);
        at = end + 1;
    }
    parser.close();
    Blocks { blocks: parser.blocks, paths: parser.paths }
}

fn line_at(text: &str, start: usize, end: usize) -> Line<'_> {
    let line = &text[start..end];
    let stripped = line.trim_start();
    let lead = line.len() - stripped.len();
    let trimmed = stripped.trim_end();
    let content = (!trimmed.is_empty()).then(|| {
        // A combining mark after leading spaces belongs to the space's cluster.
        let first = graphemes::floor(text, start + lead);
        let last = graphemes::ceil(text, start + lead + trimmed.len());
        (first.max(start), last.min(end))
    });
    let indent = line[..lead].chars().take_while(|c| matches!(c, ' ' | '\t')).fold(0, |columns, c| {
        if c == '\t' {
            columns + 4 - columns % 4
        } else {
            columns + 1
        }
    });
    Line { text: trimmed, indent, content }
}

struct Parser<'a> {
    text: &'a str,
    blocks: Vec<Block>,
    paths: Vec<Vec<String>>,
    stack: Vec<(u8, String)>,
    open: Open,
}

impl Parser<'_> {
    /// YAML front matter (`---` … `---` or `...` from the first line) as one plain block, so
    /// its last key does not read as a setext heading. Returns where the body starts.
    fn front_matter(&mut self) -> usize {
        let text = self.text;
        let first_end = text.find('\n').unwrap_or(text.len());
        if text[..first_end].trim_end() != "---" {
            return 0;
        }
        let mut at = first_end + 1;
        while at < text.len() {
            let end = text[at..].find('\n').map_or(text.len(), |offset| at + offset);
            if matches!(text[at..end].trim_end(), "---" | "...") {
                let close_end = at + text[at..end].trim_end().len();
                self.push(0, close_end, false);
                return end + 1;
            }
            at = end + 1;
        }
        0
    }

    fn line(&mut self, line: Line<'_>, markdown: bool) {
        let Some((start, end)) = line.content else {
            match &mut self.open {
                Open::Fence { .. } => {}
                _ => self.close(),
            }
            return;
        };
        if let Open::Fence { end: fence_end, marker, len, .. } = &mut self.open {
            *fence_end = end;
            if line.indent <= 3 && closes_fence(line.text, *marker, *len) {
                self.close();
            }
            return;
        }
        if !markdown {
            self.extend_or_open(start, end, false);
            return;
        }
        let shallow = line.indent <= 3;
        if let Some((level, title)) = shallow.then(|| atx_heading(line.text)).flatten() {
            self.close();
            self.heading(start, end, level, title);
        } else if let Some(level) = shallow.then(|| setext_underline(line.text)).flatten() {
            match self.open {
                Open::Paragraph { start: para_start, .. } => {
                    let title = self.text[para_start..start].split_whitespace().collect::<Vec<_>>().join(" ");
                    self.open = Open::Nothing;
                    self.heading(para_start, end, level, &title);
                }
                _ if level == 2 => {
                    self.close();
                    self.push(start, end, false); // a thematic break
                }
                _ => self.extend_or_open(start, end, false),
            }
        } else if let Some((marker, len)) = shallow.then(|| fence_opening(line.text)).flatten() {
            self.close();
            self.open = Open::Fence { start, end, marker, len };
        } else if is_list_item(line.text) {
            self.close();
            self.open = Open::Item { start, end };
        } else if is_thematic_break(line.text) && shallow {
            self.close();
            self.push(start, end, false);
        } else {
            self.extend_or_open(start, end, true);
        }
    }

    fn extend_or_open(&mut self, start: usize, end: usize, may_continue_item: bool) {
        match &mut self.open {
            Open::Paragraph { end: open_end, .. } => *open_end = end,
            Open::Item { end: open_end, .. } if may_continue_item => *open_end = end,
            _ => {
                self.close();
                self.open = Open::Paragraph { start, end };
            }
        }
    }

    fn heading(&mut self, start: usize, end: usize, level: u8, title: &str) {
        while self.stack.last().is_some_and(|(open, _)| *open >= level) {
            self.stack.pop();
        }
        let title = cap_title(title);
        if !title.is_empty() {
            self.stack.push((level, title));
        }
        self.paths.push(self.stack.iter().map(|(_, title)| title.clone()).collect());
        self.push(start, end, true);
    }

    fn push(&mut self, start: usize, end: usize, heading: bool) {
        if start < end {
            self.blocks.push(Block { start, end, path: self.paths.len() - 1, heading });
        }
    }

    fn close(&mut self) {
        match std::mem::replace(&mut self.open, Open::Nothing) {
            Open::Nothing => {}
            Open::Paragraph { start, end } | Open::Item { start, end } | Open::Fence { start, end, .. } => {
                self.push(start, end, false)
            }
        }
    }
}

fn atx_heading(line: &str) -> Option<(u8, &str)> {
    let hashes = line.bytes().take_while(|&b| b == b'#').count();
    let rest = &line[hashes..];
    if !(1..=6).contains(&hashes) || !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let rest = rest.trim();
    // An optional closing run of `#` after a space.
    let without_closing = rest.trim_end_matches('#');
    let title = if without_closing.is_empty() || without_closing.ends_with([' ', '\t']) {
        without_closing.trim_end()
    } else {
        rest
    };
    Some((hashes as u8, title))
}

fn setext_underline(line: &str) -> Option<u8> {
    let first = *line.as_bytes().first()?;
    let level = match first {
        b'=' => 1,
        b'-' => 2,
        _ => return None,
    };
    line.bytes().all(|b| b == first).then_some(level)
}

fn fence_opening(line: &str) -> Option<(u8, usize)> {
    let marker = *line.as_bytes().first()?;
    if marker != b'`' && marker != b'~' {
        return None;
    }
    let len = line.bytes().take_while(|&b| b == marker).count();
    let info = &line[len..];
    (len >= 3 && !(marker == b'`' && info.contains('`'))).then_some((marker, len))
}

fn closes_fence(line: &str, marker: u8, len: usize) -> bool {
    let run = line.bytes().take_while(|&b| b == marker).count();
    run >= len && line[run..].trim().is_empty()
}

fn is_list_item(line: &str) -> bool {
    let bytes = line.as_bytes();
    let after_marker = match bytes.first() {
        Some(b'-' | b'*' | b'+') => 1,
        Some(b'0'..=b'9') => {
            let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
            if digits > 9 || !matches!(bytes.get(digits), Some(b'.' | b')')) {
                return false;
            }
            digits + 1
        }
        _ => return false,
    };
    matches!(bytes.get(after_marker), None | Some(b' ' | b'\t'))
}

fn is_thematic_break(line: &str) -> bool {
    let Some(&marker) = line.as_bytes().first() else {
        return false;
    };
    matches!(marker, b'*' | b'_' | b'-')
        && line.bytes().filter(|&b| b == marker).count() >= 3
        && line.bytes().all(|b| b == marker || b == b' ' || b == b'\t')
}

fn cap_title(title: &str) -> String {
    use unicode_segmentation::UnicodeSegmentation;
    let mut chars = 0;
    let mut out = String::new();
    for grapheme in title.graphemes(true) {
        chars += grapheme.chars().count();
        if chars > MAX_TITLE_CHARS {
            break;
        }
        out.push_str(grapheme);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outline(text: &str) -> Vec<(String, Vec<String>, bool)> {
        let parsed = parse(text, true);
        parsed
            .blocks
            .iter()
            .map(|b| (text[b.start..b.end].to_string(), parsed.paths[b.path].clone(), b.heading))
            .collect()
    }

    fn path(titles: &[&str]) -> Vec<String> {
        titles.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn heading_paths_replace_deeper_levels() {
        let text = "# Guide\nintro\n\n## Install ##\n### Linux\nsteps\n## Use\ntext\n# Other\n#### Deep\nx";
        let blocks = outline(text);
        let seen: Vec<(&str, Vec<String>)> = blocks.iter().map(|(t, p, _)| (t.as_str(), p.clone())).collect();
        assert_eq!(
            seen,
            vec![
                ("# Guide", path(&["Guide"])),
                ("intro", path(&["Guide"])),
                ("## Install ##", path(&["Guide", "Install"])),
                ("### Linux", path(&["Guide", "Install", "Linux"])),
                ("steps", path(&["Guide", "Install", "Linux"])),
                ("## Use", path(&["Guide", "Use"])),
                ("text", path(&["Guide", "Use"])),
                ("# Other", path(&["Other"])),
                ("#### Deep", path(&["Other", "Deep"])),
                ("x", path(&["Other", "Deep"])),
            ]
        );
    }

    #[test]
    fn setext_fences_lists_and_non_headings() {
        let text = "Title\n=====\npara one\nstill one\n\nSub\nline\n---\n```sh\n# not heading\n\nls\n```\n\
                    - a\n  cont\n- b\n1. c\n    # indented code\n#hashtag\n***\n~~~\nunclosed";
        let blocks = outline(text);
        let texts: Vec<&str> = blocks.iter().map(|(t, _, _)| t.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "Title\n=====",
                "para one\nstill one",
                "Sub\nline\n---",
                "```sh\n# not heading\n\nls\n```",
                "- a\n  cont",
                "- b",
                "1. c\n    # indented code\n#hashtag",
                "***",
                "~~~\nunclosed",
            ]
        );
        assert_eq!(blocks[0].1, path(&["Title"]));
        assert_eq!(blocks[2].1, path(&["Title", "Sub line"]));
        assert!(blocks[2].2);
        assert_eq!(blocks[8].1, path(&["Title", "Sub line"]));
    }

    #[test]
    fn front_matter_is_one_plain_block() {
        let blocks = outline("---\ntitle: x\n---\n# Real\nbody");
        assert_eq!(blocks[0].0, "---\ntitle: x\n---");
        assert!(blocks[0].1.is_empty());
        assert_eq!(blocks[1].1, path(&["Real"]));
        // Not closed: ordinary lines.
        let blocks = outline("---\ntitle: x");
        assert_eq!(blocks[0].0, "---");
    }

    #[test]
    fn plain_text_has_paragraphs_only() {
        let parsed = parse("# not\n- a\n\n```\n\ncode", false);
        let texts: Vec<&str> = parsed.blocks.iter().map(|b| &"# not\n- a\n\n```\n\ncode"[b.start..b.end]).collect();
        assert_eq!(texts, vec!["# not\n- a", "```", "code"]);
        assert!(parsed.blocks.iter().all(|b| !b.heading && b.path == 0));
    }

    #[test]
    fn blocks_start_on_grapheme_boundaries() {
        let text = "  \u{301}abc \u{600}  \n\n x";
        for block in parse(text, true).blocks {
            assert!(graphemes::is_boundary(text, block.start) && graphemes::is_boundary(text, block.end));
        }
    }
}
