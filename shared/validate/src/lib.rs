//! Zod-style validation of JSON request bodies, on top of `serde` and `validator`.
//!
//! A handler declares its request type once (`#[derive(Deserialize, Serialize, Validate)]`)
//! and calls [`parse`] with the raw body bytes; it gets the typed value or an [`ApiError`]
//! that already has the right status and a client-friendly body:
//!
//! | what went wrong | status | `code` | `details` |
//! |---|---|---|---|
//! | `Content-Type` missing or not JSON ([`require_json_content_type`]) | 415 | `unsupported_media_type` | — |
//! | body empty (or only whitespace) | 400 | `invalid_json` | — |
//! | not UTF-8, malformed JSON, trailing garbage | 400 | `invalid_json` | `{"line", "column"}` |
//! | valid JSON of the wrong shape (serde) | 422 | `validation_failed` | `{"issues": [one issue]}` |
//! | right shape, `validator` rules fail | 422 | `validation_failed` | `{"issues": [every issue]}` |
//!
//! An [`Issue`] is `{"path": ["items", 2, "title"], "code": "too_long", "message": "…",
//! "params"?: {…}}`; paths use the JSON keys the client sent (see [`report`] for how Rust
//! field names are mapped back), issues are sorted by path. The codes are listed on
//! [`codes`]. [`rules`] has custom rules for `#[validate(custom(function = …))]`.
//!
//! Writing request types: derive `Serialize` too (validator records each checked value with
//! `serde_json::to_value(..).unwrap()`, so checked fields must serialize, e.g. maps need
//! string keys); use `BTreeMap<String, _>` (not `HashMap`) for maps with `nested` values, so
//! an issue can name the key; validate elements of a `Vec<String>` through a newtype and
//! [`rules::value_errors`]. Know that serde's derive also accepts a JSON array for a struct
//! (fields by position): `["Title", …]` is read like `{"title": "Title", …}`.
//!
//! Not for: reading the request (the HTTP layer passes bytes and the header value), size
//! limits of the body (413 is the HTTP layer's), or business rules that need I/O. The crate
//! is pure and runs natively; it never panics on any input.

// `ApiError` is the project's one error type; handlers return it by value.
#![allow(clippy::result_large_err)]

pub mod codes;
mod content_type;
mod issue;
mod parse;
pub mod report;
pub mod rules;
mod shape;

pub use content_type::require_json_content_type;
pub use issue::{validation_error, Issue, PathSegment};
pub use parse::{check_value, parse};
pub use sba_errors::ApiError;
pub use validator::{Validate, ValidationError, ValidationErrors};
