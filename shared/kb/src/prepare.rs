//! From a validated request to what is stored: plain text, its hash, its chunks.

use crate::NewDocument;
use sba_kb_text::{chunk, content_sha256, detect, html_to_text, normalize, Chunk, ChunkOptions, ContentType, Language};

#[derive(Debug, Clone)]
pub struct Prepared {
    /// The searchable text: the normalised content, HTML reduced to text first. Chunk offsets
    /// are character offsets into this text.
    pub text: String,
    /// sha-256 of `text`: equal hashes mean the same document content (dedupe, no-op updates).
    pub content_sha256: String,
    pub chunks: Vec<Chunk>,
    /// The document's own, else the one its text shows; `None`: the tenant's default applies
    /// (`kb_settings`, stored by `kb_ingest`; English when it has none).
    pub language: Option<Language>,
}

pub fn prepare(doc: &NewDocument) -> Prepared {
    let text = match doc.content_type {
        ContentType::Html => normalize(&html_to_text(&doc.content)),
        ContentType::Markdown | ContentType::Text => normalize(&doc.content),
    };
    let content_sha256 = content_sha256(&text);
    // HTML is already text here, with its headings as markdown `#` lines.
    let chunked_as = match doc.content_type {
        ContentType::Text => ContentType::Text,
        ContentType::Markdown | ContentType::Html => ContentType::Markdown,
    };
    let chunks = chunk(&text, chunked_as, ChunkOptions::default());
    let language = doc.language.or_else(|| detect(&text));
    Prepared { text, content_sha256, chunks, language }
}
