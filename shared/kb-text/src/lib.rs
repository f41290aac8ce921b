//! Text preparation for the tenant knowledge base: turning an uploaded document into the
//! text that is stored, the hash that finds duplicates, and the chunks that are embedded.
//!
//! - [`html_to_text`] reduces HTML to readable text (scripts, styles and other active or
//!   hidden content dropped, headings kept as `#` lines) with a small linear tokenizer;
//! - [`normalize`] gives the canonical form of a text and [`content_sha256`] its hash;
//! - [`detect`] tells English from Indonesian text, for the [`Language`] it is searched in;
//! - [`chunk`] cuts a text into overlapping, heading-aware chunks with character offsets that
//!   never split a grapheme cluster.
//!
//! The usual pipeline is `html_to_text` (for HTML) → `normalize` → `content_sha256` and
//! `chunk(…, ContentType::Markdown or Text, …)` on the normalized text, which is what gets
//! stored, so the chunk offsets index into it.
//!
//! Pure functions on strings: no I/O, no panics on any input, linear-ish time. Not for:
//! fetching or storing documents, counting model tokens, embedding, or sanitizing HTML that is
//! to be displayed as HTML (the reduction's output is plain text, to be escaped like any
//! other text).

mod chunk;
mod content_type;
mod html;
mod language;
mod normalize;

pub use chunk::{chunk, Chunk, ChunkOptions};
pub use content_type::ContentType;
pub use html::html_to_text;
pub use language::{detect, Language};
pub use normalize::{content_sha256, normalize};
