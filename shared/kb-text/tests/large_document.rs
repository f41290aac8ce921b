//! A ~1 MB document (and some adversarial ones) keep every chunk invariant. Speed is not
//! asserted here (timed tests flake on a shared machine); `scripts/bench` measures it.

mod common;

use std::time::Instant;

use common::check_chunks;
use sba_kb_text::{chunk, html_to_text, normalize, ChunkOptions, ContentType};

/// Deterministic pseudo-random numbers (xorshift), so the document is the same every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "the",
    "tenant",
    "knowledge",
    "base",
    "stores",
    "documents",
    "für",
    "Größe",
    "naïve",
    "café",
    "日本語",
    "の",
    "文章",
    "한국어",
    "данные",
    "поиск",
    "👍🏽",
    "🏳️‍🌈",
    "e\u{301}t\u{e9}",
    "worker",
    "edge",
    "chunk",
    "index",
    "embedding",
    "query",
    "🇯🇵",
    "नमस्ते",
];

/// Between `least` and `least + spread - 1` sentences.
fn paragraph(rng: &mut Rng, least: usize, spread: usize) -> String {
    let sentences = least + rng.below(spread);
    let mut out = String::new();
    for _ in 0..sentences {
        let words = 5 + rng.below(20);
        for w in 0..words {
            if w > 0 {
                out.push(' ');
            }
            out.push_str(WORDS[rng.below(WORDS.len())]);
        }
        out.push_str(if rng.below(10) == 0 { "。" } else { ". " });
    }
    out.trim_end().to_string()
}

fn markdown_document(bytes: usize) -> String {
    let mut rng = Rng(0x5ba_ed9e);
    let mut doc = String::with_capacity(bytes + 4096);
    let mut section = 0;
    while doc.len() < bytes {
        section += 1;
        let level = 1 + rng.below(3);
        doc.push_str(&format!("{} Section {section} — Größe {}\n\n", "#".repeat(level), WORDS[rng.below(WORDS.len())]));
        for _ in 0..1 + rng.below(6) {
            match rng.below(10) {
                0 => doc
                    .push_str(&format!("```rust\nfn f() {{\n    let x = \"{}\";\n}}\n```", paragraph(&mut rng, 1, 1))),
                1 => (0..3 + rng.below(5)).for_each(|_| doc.push_str(&format!("- {}\n", paragraph(&mut rng, 1, 1)))),
                2 => doc.push_str(&paragraph(&mut rng, 40, 40)), // longer than max_chars
                _ => doc.push_str(&paragraph(&mut rng, 1, 8)),
            }
            doc.push_str("\n\n");
        }
    }
    doc
}

fn timed<T>(what: &str, work: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let result = work();
    let elapsed = started.elapsed();
    println!("{what}: {elapsed:?}");
    result
}

#[test]
fn one_megabyte_of_markdown() {
    let doc = markdown_document(1 << 20);
    let opts = ChunkOptions::default();
    let chunks = timed("chunk 1 MB markdown", || chunk(&doc, ContentType::Markdown, opts));
    println!("{} bytes, {} chars, {} chunks", doc.len(), doc.chars().count(), chunks.len());
    check_chunks(&doc, &chunks, opts);
    assert!(chunks.len() > 500);
    assert!(chunks.iter().all(|c| !c.heading_path.is_empty()));
    assert!(chunks.iter().any(|c| c.heading_path.len() == 3));
    let shared = chunks.windows(2).filter(|p| p[1].start < p[0].end).count();
    assert!(shared * 10 > chunks.len() * 9, "only {shared} of {} chunks overlap", chunks.len());

    let normalized = timed("normalize 1 MB", || normalize(&doc));
    assert_eq!(normalize(&normalized), normalized);
}

#[test]
fn one_megabyte_of_html() {
    let mut html = String::from("<!doctype html><html><head><style>p { color: red }</style></head><body>");
    let mut rng = Rng(7);
    let mut section = 0;
    while html.len() < 1 << 20 {
        section += 1;
        html.push_str(&format!("<h{0}>Section {section} &amp; more</h{0}>", 1 + rng.below(3)));
        html.push_str(&format!("<p class=\"a>b\">{}</p><script>var s = '</p>';</script>", paragraph(&mut rng, 1, 6)));
        html.push_str(&format!(
            "<ul><li>{}</li><li>&lt;tag&gt; &#x1F600;</li></ul><!-- note -->",
            paragraph(&mut rng, 1, 1)
        ));
    }
    html.push_str("</body></html>");
    let text = timed("html_to_text 1 MB", || html_to_text(&html));
    assert!(!text.contains("var s") && !text.contains("color") && !text.contains("note"));
    let opts = ChunkOptions::default();
    let chunks = timed("chunk 1 MB html", || chunk(&html, ContentType::Html, opts));
    check_chunks(&text, &chunks, opts);
}

#[test]
fn adversarial_megabytes() {
    let cases = [
        ("one word", "a".repeat(1 << 20)),
        ("regional indicators", "🇫".repeat(1 << 18)),
        ("combining marks", format!("a{}", "\u{301}".repeat(1 << 19))),
        ("blank lines", "\n".repeat(1 << 20) + "x"),
        ("spaces and words", "ab ".repeat(1 << 18)),
        ("headings", "# h\n".repeat(1 << 18)),
        ("fences", "```\n".repeat(1 << 18)),
        ("lone carriage returns", "word. \r".repeat(1 << 17)),
        ("cjk", "日本語の文章です".repeat(1 << 16)),
    ];
    let opts = ChunkOptions::default();
    for (what, text) in cases {
        let chunks = timed(what, || chunk(&text, ContentType::Markdown, opts));
        check_chunks(&text, &chunks, opts);
    }
    let html = timed("html: unclosed tags", || html_to_text(&"<a b='".repeat(1 << 17)));
    assert!(html.is_empty());
    timed("html: many lt", || html_to_text(&"<<<&&&#".repeat(1 << 17)));
}
