//! Tags as the HTML tokenizer reads them: names, attributes with quoted `>` inside, raw-text
//! elements and what each element means for the text.

use super::out::Gap;

/// A start or end tag whose name begins at some offset; `end` is just past its `>`.
pub(super) struct Tag {
    name: [u8; 16],
    name_len: usize,
    pub(super) self_closing: bool,
    pub(super) end: usize,
}

impl Tag {
    /// The lowercased ASCII name; empty when it is too long to be one we know.
    pub(super) fn name(&self) -> &[u8] {
        &self.name[..self.name_len]
    }
}

/// What an element does to the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Element {
    /// Content dropped unread up to the matching end tag (`script` handles `<!--` escapes).
    Script,
    RawDropped,
    /// Content kept as text, entities decoded, no tags inside (`title`, `textarea`).
    RawText,
    /// Content parsed (to find the end) but dropped, nesting counted: `template`, `svg`, `math`.
    Dropped,
    Heading(u8),
    Pre,
    Item,
    Row,
    Cell,
    Block(Gap),
    Inline,
}

/// Element names by what they do to the text (a table: a `match` on byte strings is several
/// kilobytes of Wasm).
const RAW_DROPPED: &str = "style iframe noscript noembed noframes";
const RAW_TEXT: &str = "title textarea xmp";
const DROPPED: &str = "template svg math";
const PRE: &str = "pre listing";
const PARAGRAPHS: &str = "p section article aside header footer main nav blockquote figure table ul ol dl hr \
    details fieldset form address hgroup menu dir center dialog search";
const LINES: &str = "div br dt dd caption figcaption summary legend option optgroup thead tbody tfoot body \
    head html frameset frame object video audio canvas img";

pub(super) fn element(name: &[u8]) -> Element {
    let is = |names: &str| names.split_ascii_whitespace().any(|n| n.as_bytes() == name);
    match name {
        b"script" => Element::Script,
        b"li" => Element::Item,
        b"tr" => Element::Row,
        b"td" | b"th" => Element::Cell,
        [b'h', level @ b'1'..=b'6'] => Element::Heading(level - b'0'),
        _ if is(RAW_DROPPED) => Element::RawDropped,
        _ if is(RAW_TEXT) => Element::RawText,
        _ if is(DROPPED) => Element::Dropped,
        _ if is(PRE) => Element::Pre,
        _ if is(PARAGRAPHS) => Element::Block(Gap::Paragraph),
        _ if is(LINES) => Element::Block(Gap::Line),
        _ => Element::Inline,
    }
}

pub(super) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0C')
}

/// Reads the tag whose name starts at `at` (just after `<` or `</`) through its `>`.
/// None when the input ends inside it: HTML then drops the tag and everything after it.
pub(super) fn read_tag(bytes: &[u8], mut at: usize) -> Option<Tag> {
    let mut tag = Tag { name: [0; 16], name_len: 0, self_closing: false, end: 0 };
    let name_from = at;
    while at < bytes.len() && !is_space(bytes[at]) && bytes[at] != b'/' && bytes[at] != b'>' {
        at += 1;
    }
    if at - name_from <= tag.name.len() {
        tag.name_len = at - name_from;
        for (slot, b) in tag.name.iter_mut().zip(&bytes[name_from..at]) {
            *slot = b.to_ascii_lowercase();
        }
    }
    loop {
        match *bytes.get(at)? {
            b'>' => {
                tag.end = at + 1;
                return Some(tag);
            }
            b'/' => {
                at += 1;
                tag.self_closing = bytes.get(at) == Some(&b'>');
            }
            b if is_space(b) => at += 1,
            _ => at = skip_attribute(bytes, at)?,
        }
    }
}

/// Skips one attribute (name, optional `=` and value); `at` is on its first byte.
fn skip_attribute(bytes: &[u8], mut at: usize) -> Option<usize> {
    at += 1; // the first byte belongs to the name even when it is `=`, `"` or `<`
    while at < bytes.len() && !is_space(bytes[at]) && !matches!(bytes[at], b'/' | b'>' | b'=') {
        at += 1;
    }
    while at < bytes.len() && is_space(bytes[at]) {
        at += 1;
    }
    if bytes.get(at) != Some(&b'=') {
        return Some(at);
    }
    at += 1;
    while at < bytes.len() && is_space(bytes[at]) {
        at += 1;
    }
    match *bytes.get(at)? {
        quote @ (b'"' | b'\'') => {
            let close = bytes[at + 1..].iter().position(|&b| b == quote)?;
            Some(at + 1 + close + 1)
        }
        _ => {
            while at < bytes.len() && !is_space(bytes[at]) && bytes[at] != b'>' {
                at += 1;
            }
            Some(at)
        }
    }
}

/// Whether `</name` followed by a space, `/` or `>` starts at `at`.
fn end_tag_at(bytes: &[u8], at: usize, name: &[u8]) -> bool {
    let after = at + 2 + name.len();
    bytes.len() > after
        && bytes[at] == b'<'
        && bytes[at + 1] == b'/'
        && bytes[at + 2..after].eq_ignore_ascii_case(name)
        && (is_space(bytes[after]) || matches!(bytes[after], b'/' | b'>'))
}

/// Content of a raw-text element starting at `from`: returns (end of content, end of the
/// closing tag). An element that is never closed runs to the end of the input.
pub(super) fn raw_text_end(bytes: &[u8], from: usize, name: &[u8]) -> (usize, usize) {
    let mut at = from;
    while let Some(offset) = bytes[at..].iter().position(|&b| b == b'<') {
        at += offset;
        if end_tag_at(bytes, at, name) {
            return (at, close_tag(bytes, at, name));
        }
        at += 1;
    }
    (bytes.len(), bytes.len())
}

/// Like [`raw_text_end`] for `script`, with the HTML "escaped" states: after `<!--`, a
/// nested `<script` makes the next `</script>` not count until `-->`.
pub(super) fn script_end(bytes: &[u8], from: usize) -> usize {
    const NAME: &[u8] = b"script";
    #[derive(PartialEq)]
    enum State {
        Data,
        Escaped,
        DoubleEscaped,
    }
    let mut state = State::Data;
    let mut at = from;
    while at < bytes.len() {
        match bytes[at] {
            b'<' if state != State::DoubleEscaped && end_tag_at(bytes, at, NAME) => {
                return close_tag(bytes, at, NAME);
            }
            b'<' if state == State::DoubleEscaped && end_tag_at(bytes, at, NAME) => {
                state = State::Escaped;
                at += 2 + NAME.len();
                continue;
            }
            b'<' if state == State::Data && bytes[at..].starts_with(b"<!--") => {
                // Its dashes count for `-->`, so `<!-->` closes at once (as in HTML).
                state = State::Escaped;
                at += 4;
                continue;
            }
            b'<' if state == State::Escaped && start_tag_at(bytes, at, NAME) => {
                state = State::DoubleEscaped;
                at += 1 + NAME.len();
                continue;
            }
            b'>' if state != State::Data && at >= 2 && &bytes[at - 2..at] == b"--" => {
                state = State::Data;
            }
            _ => {}
        }
        at += 1;
    }
    bytes.len()
}

fn start_tag_at(bytes: &[u8], at: usize, name: &[u8]) -> bool {
    let after = at + 1 + name.len();
    bytes.len() > after
        && bytes[at + 1..after].eq_ignore_ascii_case(name)
        && (is_space(bytes[after]) || matches!(bytes[after], b'/' | b'>'))
}

/// End of the closing tag `</name…>` at `at` (its attributes read like any tag's).
fn close_tag(bytes: &[u8], at: usize, name: &[u8]) -> usize {
    read_tag(bytes, at + 2).map_or(bytes.len(), |tag| {
        debug_assert_eq!(tag.name(), name);
        tag.end
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_may_hide_gt_in_quotes() {
        let html = br#"a href='x>y' title="1>0" data=z>rest"#;
        let tag = read_tag(html, 0).unwrap();
        assert_eq!(tag.name(), b"a");
        assert_eq!(&html[tag.end..], b"rest");
        assert!(read_tag(b"a href='never closed>", 0).is_none());
        assert!(read_tag(b"div", 0).is_none());
        assert!(read_tag(b"br/>", 0).unwrap().self_closing);
        assert!(read_tag(b"a ==x >", 0).is_some());
    }

    #[test]
    fn raw_text_ends_only_at_its_own_end_tag() {
        let html = b"a</scriptx></SCRIPT >b";
        assert_eq!(raw_text_end(html, 0, b"script"), (11, 21));
        assert_eq!(raw_text_end(b"never", 0, b"style"), (5, 5));
    }

    #[test]
    fn script_escapes() {
        let html = b"<!--<script></script>x--></script>after";
        assert_eq!(&html[script_end(html, 0)..], b"after");
        let html = b"<!--></script>after";
        assert_eq!(&html[script_end(html, 0)..], b"after");
    }
}
