use super::{chunk, Chunk, ChunkOptions};
use crate::{html_to_text, ContentType};
use unicode_segmentation::UnicodeSegmentation;

fn opts(target_chars: usize, max_chars: usize, overlap_chars: usize) -> ChunkOptions {
    ChunkOptions { target_chars, max_chars, overlap_chars }
}

fn texts(chunks: &[Chunk]) -> Vec<&str> {
    chunks.iter().map(|c| c.text.as_str()).collect()
}

/// Character offsets at which `text` has a grapheme-cluster boundary.
fn boundaries(text: &str) -> Vec<usize> {
    let mut at = 0;
    let mut found = vec![0];
    for cluster in text.graphemes(true) {
        at += cluster.chars().count();
        found.push(at);
    }
    found
}

fn sentence(i: usize) -> String {
    format!("Sentence number {i} says something about item {i}. ")
}

#[test]
fn heading_paths_follow_the_sections() {
    let text = "# Guide\n\nWelcome to the guide.\n\n## Install\n\nGet it.\n\n### Linux\n\napt install it\n\n\
                ### macOS\n\nbrew install it\n\n## Use\n\nRun it.\n";
    let chunks = chunk(text, ContentType::Markdown, opts(20, 40, 0));
    let paths: Vec<Vec<&str>> = chunks.iter().map(|c| c.heading_path.iter().map(String::as_str).collect()).collect();
    assert_eq!(
        paths,
        vec![
            vec!["Guide"],
            vec!["Guide", "Install"],
            vec!["Guide", "Install", "Linux"],
            vec!["Guide", "Install", "macOS"],
            vec!["Guide", "Use"],
        ]
    );
    assert_eq!(texts(&chunks)[2], "### Linux\n\napt install it");
    // Plain text has no headings.
    assert!(chunk(text, ContentType::Text, opts(20, 40, 0)).iter().all(|c| c.heading_path.is_empty()));
}

#[test]
fn small_sections_share_a_chunk_and_headings_stay_with_their_text() {
    let text = "# A\n\none\n\n# B\n\ntwo\n\n# C\n\nthree";
    let chunks = chunk(text, ContentType::Markdown, opts(1000, 2000, 0));
    assert_eq!(texts(&chunks), vec![text]);
    assert_eq!(chunks[0].heading_path, vec!["A"]);
    // A heading never ends a chunk when text follows it.
    let text = format!("{}\n\n# Next\n\n{}", "word ".repeat(15).trim_end(), "more ".repeat(15).trim_end());
    let chunks = chunk(&text, ContentType::Markdown, opts(100, 100, 0));
    assert_eq!(chunks.len(), 2);
    assert!(chunks[1].text.starts_with("# Next"));
    assert_eq!(chunks[1].heading_path, vec!["Next"]);
}

#[test]
fn consecutive_chunks_overlap() {
    let text: String = (0..60).map(sentence).collect();
    let chunks = chunk(&text, ContentType::Text, opts(300, 500, 80));
    assert!(chunks.len() > 5);
    for pair in chunks.windows(2) {
        let (prev, next) = (&pair[0], &pair[1]);
        assert!(next.start < prev.end, "no overlap between {} and {}", prev.ordinal, next.ordinal);
        let shared = prev.end - next.start;
        assert!(shared <= 80 && shared > 20, "{shared}");
        let shared_text: String = text.chars().skip(next.start).take(shared).collect();
        assert!(prev.text.ends_with(&shared_text) && next.text.starts_with(&shared_text));
        // Snapped to a word start.
        assert!(text.chars().nth(next.start - 1).is_some_and(char::is_whitespace));
    }
    let no_overlap = chunk(&text, ContentType::Text, opts(300, 500, 0));
    assert!(no_overlap.windows(2).all(|p| p[1].start > p[0].end));
}

#[test]
fn unicode_clusters_are_never_split() {
    let pieces = [
        "👨‍👩‍👧‍👦",
        "🏳️‍🌈",
        "🇯🇵🇫🇷",
        "é",
        "e\u{301}\u{302}",
        "한국어",
        "日本語の文章です。",
        "ภาษาไทย",
        "नमस्ते",
        "👍🏽",
        "a\u{200D}b",
        "\r\n",
        "#️⃣",
        " ",
        "\n\n",
    ];
    let mut text = String::new();
    for i in 0..400 {
        text.push_str(pieces[(i * 7 + i / 3) % pieces.len()]);
    }
    let valid = boundaries(&text);
    for max in [7, 8, 9, 13, 20, 50] {
        for overlap in [0, 1, 3, 10] {
            for content_type in [ContentType::Text, ContentType::Markdown] {
                let chunks = chunk(&text, content_type, opts(max, max, overlap));
                assert!(!chunks.is_empty());
                for c in &chunks {
                    assert!(valid.binary_search(&c.start).is_ok(), "start {} (max {max})", c.start);
                    assert!(valid.binary_search(&c.end).is_ok(), "end {} (max {max})", c.end);
                    assert_eq!(c.text, text.chars().skip(c.start).take(c.end - c.start).collect::<String>());
                }
            }
        }
    }
}

#[test]
fn fenced_code_stays_whole_when_it_fits() {
    let code = format!("```rust\n{}```", "let x = 1; // a line of code.\n\n".repeat(5));
    let text = format!("Intro paragraph here.\n\n{code}\n\nOutro paragraph.");
    let chunks = chunk(&text, ContentType::Markdown, opts(40, 200, 0));
    assert!(chunks.iter().any(|c| c.text == code), "{:#?}", texts(&chunks));
    // Too long for one chunk: cut, preferably at line ends.
    let chunks = chunk(&text, ContentType::Markdown, opts(40, 60, 0));
    assert!(chunks.len() > 3);
    for c in &chunks {
        assert!(c.end - c.start <= 60);
        assert!(c.text.ends_with('.') || c.text.ends_with("```"), "{:?}", c.text);
    }
}

#[test]
fn long_paragraph_is_split_at_sentences() {
    let text: String = (0..40).map(sentence).collect::<String>().trim_end().to_string();
    let chunks = chunk(&text, ContentType::Markdown, opts(200, 300, 0));
    assert!(chunks.len() > 5);
    for c in &chunks {
        assert!(c.text.ends_with('.'), "{:?}", c.text);
        assert!((150..=300).contains(&(c.end - c.start)) || c.ordinal as usize == chunks.len() - 1);
    }
}

#[test]
fn offsets_are_characters() {
    let text = "ÄÖÜ äöü\n\n日本語\n\n😀 end";
    let chunks = chunk(text, ContentType::Text, opts(3, 7, 0));
    let spans: Vec<(usize, usize)> = chunks.iter().map(|c| (c.start, c.end)).collect();
    assert_eq!(spans, vec![(0, 7), (9, 12), (14, 19)]);
}

#[test]
fn html_is_chunked_as_its_text() {
    let html = "<h1>Guide</h1><p>Intro &amp; more.</p><script>x()</script><h2>Install</h2><p>Steps.</p>";
    let chunks = chunk(html, ContentType::Html, ChunkOptions::default());
    assert_eq!(chunks, chunk(&html_to_text(html), ContentType::Markdown, ChunkOptions::default()));
    assert_eq!(texts(&chunks), vec!["# Guide\n\nIntro & more.\n\n## Install\n\nSteps."]);
    assert_eq!(chunks[0].heading_path, vec!["Guide"]);
}

#[test]
fn empty_and_degenerate_input() {
    assert!(chunk("", ContentType::Markdown, ChunkOptions::default()).is_empty());
    assert!(chunk(" \n\t\u{3000}\n", ContentType::Text, ChunkOptions::default()).is_empty());
    let chunks = chunk("abc def", ContentType::Text, opts(0, 0, 0));
    assert_eq!(texts(&chunks), vec!["a", "b", "c", "d", "e", "f"]);
    let chunks = chunk("abc def", ContentType::Text, opts(usize::MAX, 3, usize::MAX));
    assert_eq!(texts(&chunks), vec!["abc", "def"]);
}

#[test]
fn options_serde_defaults() {
    let o: ChunkOptions = serde_json::from_str(r#"{"max_chars": 500}"#).unwrap();
    assert_eq!(o, ChunkOptions { target_chars: 1200, max_chars: 500, overlap_chars: 200 });
}
