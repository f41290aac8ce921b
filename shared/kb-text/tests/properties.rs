//! Property tests over arbitrary and Markdown-shaped Unicode text and HTML-shaped soup.

mod common;

use common::check_chunks;
use proptest::prelude::*;
use sba_kb_text::{chunk, content_sha256, html_to_text, normalize, ChunkOptions, ContentType};

fn options() -> impl Strategy<Value = ChunkOptions> {
    prop_oneof![(0usize..40, 0usize..40, 0usize..30), (1usize..400, 1usize..500, 0usize..250), Just((1200, 2000, 200)),]
        .prop_map(|(target_chars, max_chars, overlap_chars)| ChunkOptions { target_chars, max_chars, overlap_chars })
}

fn content_type() -> impl Strategy<Value = ContentType> {
    prop_oneof![Just(ContentType::Text), Just(ContentType::Markdown), Just(ContentType::Html)]
}

fn arbitrary_text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..400).prop_map(String::from_iter)
}

/// Markdown-ish documents: headings, blank lines, lists, fences, long words, emoji, combining
/// marks, CJK, CRLF and stray whitespace, in any order.
fn markdownish() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        (1usize..8, "[A-Za-z é日本]{0,12}").prop_map(|(level, title)| format!("\n{} {title}\n", "#".repeat(level))),
        Just("\n\n".to_string()),
        Just("\n".to_string()),
        Just("\r\n".to_string()),
        Just("\n===\n".to_string()),
        Just("\n---\n".to_string()),
        Just("\n```rust\n".to_string()),
        Just("\n~~~\n".to_string()),
        Just("\n- ".to_string()),
        Just("\n12. ".to_string()),
        Just(". ".to_string()),
        Just("。".to_string()),
        Just("   \t ".to_string()),
        "[a-z]{1,12} ",
        "[a-zäöüß]{40,300}",
        "[\u{4e00}-\u{4e80}\u{3041}-\u{3096}]{1,60}",
        prop::sample::select(vec!["👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵", "👍🏽", "#️⃣", "❤️", "🧑🏿‍🚀"]).prop_map(str::to_string),
        (
            "[a-z]",
            prop::collection::vec(
                prop::sample::select(vec!['\u{301}', '\u{308}', '\u{20DD}', '\u{200D}', '\u{FE0F}']),
                1..4
            )
        )
            .prop_map(|(base, marks)| format!("{base}{}", String::from_iter(marks))),
        prop::sample::select(vec!["नमस्ते", "ภาษาไทย", "한국어 ", "\u{0600}1", "\u{FEFF}", "\u{2028}", "\u{A0}"])
            .prop_map(str::to_string),
        // Extenders with no base of their own (after a space, a newline or nothing).
        prop::sample::select(vec!["\u{301}", "\u{200D}", "\u{FE0F}", "\u{1F3FD}", "\u{93F}", "\u{1F1EB}"])
            .prop_map(str::to_string),
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(fragment, 0..120).prop_map(|parts| parts.concat())
}

/// HTML-shaped soup: tags that matter, broken tags, quotes, comments, entities, text.
fn htmlish() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        (
            prop::sample::select(vec![
                "script", "SCRIPT", "style", "StYlE", "template", "noscript", "iframe", "svg", "math", "title",
                "textarea", "p", "div", "h1", "h3", "h6", "pre", "li", "tr", "td", "br", "b", "a", "scr",
            ]),
            prop::sample::select(vec!["", "/", " ", " a=\"x>y\"", " b='<script>'", " c=d", " /", "\t", " \"", "\n"]),
            prop::sample::select(vec![">", "", " >", "/>"]),
            any::<bool>(),
        )
            .prop_map(|(name, attr, close, end)| format!("<{}{name}{attr}{close}", if end { "/" } else { "" })),
        prop::sample::select(vec![
            "<!--",
            "-->",
            "--!>",
            "<![CDATA[",
            "]]>",
            "<!doctype html>",
            "<?xml ?>",
            "<",
            ">",
            "</",
            "</>",
            "<scr",
            "ipt>",
            "&lt;",
            "&gt;",
            "&lt;script&gt;",
            "&#60;",
            "&#x3C;",
            "&amp;",
            "&nbsp;",
            "&#0;",
            "&#x110000;",
            "&#128512;",
            "&bogus;",
            "&",
            "\"",
            "'",
            "</script >",
            "</style\n>",
            "<!--<script>",
            "`",
            "\n",
            "  ",
        ])
        .prop_map(str::to_string),
        "[a-zA-Z #.]{0,20}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(fragment, 0..80).prop_map(|parts| parts.concat())
}

fn has_markup(text: &str) -> bool {
    text.as_bytes()
        .windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || matches!(w[1], b'/' | b'!' | b'?')))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn chunks_of_arbitrary_text(text in arbitrary_text(), opts in options(), content_type in content_type()) {
        let chunked = match content_type {
            ContentType::Html => html_to_text(&text),
            _ => text.clone(),
        };
        check_chunks(&chunked, &chunk(&text, content_type, opts), opts);
    }

    #[test]
    fn chunks_of_markdownish_text(text in markdownish(), opts in options(), markdown in any::<bool>()) {
        let content_type = if markdown { ContentType::Markdown } else { ContentType::Text };
        check_chunks(&text, &chunk(&text, content_type, opts), opts);
        let normalized = normalize(&text);
        check_chunks(&normalized, &chunk(&normalized, content_type, opts), opts);
    }

    #[test]
    fn html_never_yields_markup(html in htmlish(), opts in options()) {
        let text = html_to_text(&html);
        let lower = text.to_lowercase();
        prop_assert!(!lower.contains("<script") && !lower.contains("<style"), "{:?} gave {:?}", html, text);
        prop_assert!(!has_markup(&text), "{:?} gave {:?}", html, text);
        check_chunks(&text, &chunk(&html, ContentType::Html, opts), opts);
    }

    #[test]
    fn html_of_arbitrary_text_never_yields_markup(html in arbitrary_text()) {
        prop_assert!(!has_markup(&html_to_text(&html)));
    }

    #[test]
    fn normalize_is_idempotent(text in prop_oneof![arbitrary_text(), markdownish()]) {
        let once = normalize(&text);
        prop_assert_eq!(normalize(&once), once.clone());
        prop_assert!(!once.contains('\r') && !once.contains("\n\n\n\n"));
        prop_assert_eq!(once.trim(), once.as_str());
    }

    #[test]
    fn line_endings_do_not_change_the_hash(text in markdownish()) {
        let lf = text.replace('\r', "");
        let crlf = lf.replace('\n', "\r\n");
        prop_assert_eq!(content_sha256(&normalize(&lf)), content_sha256(&normalize(&crlf)));
    }
}
