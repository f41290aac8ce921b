//! An OpenAI-compatible streaming body: `sba_llm::SseDecoder` over arbitrary bytes fed in
//! pieces cut at fuzzed positions, then every event through the chat-completions chunk parser
//! and the tool-call accumulator, as `ChatStream` does.
//!
//! The chunk parser (`openai.rs`: `parse_chunk`, `OpenAiStream`) is private to sba-llm and only
//! reachable through an HTTP stream, so its source file is compiled into this target as a
//! module, next to sba-llm's `error.rs`; its types are sba-llm's own. Those modules, the
//! decoding, the driving and the checks are `common/llm_stream.rs`, shared with
//! `anthropic_stream`.
//!
//! Input: two bytes of cut positions and one flags byte, then the body.
//!
//! Never panics. The events do not depend on where the body was cut (one piece, three pieces,
//! or byte by byte); the stream ends with exactly one finish or error, and nothing else is a
//! finish; text deltas are never empty; provider error messages are capped at 200
//! characters; each tool call is announced once, and the finished calls all have a name.
#![no_main]

#[path = "../common/llm_stream.rs"]
mod llm_stream;
// The paths sba-llm's sources use: `crate::error`, `crate::openai`, `crate::types`.
use llm_stream::{error, openai, types};

use libfuzzer_sys::fuzz_target;
use openai::OpenAiStream;

fuzz_target!(|data: &[u8]| {
    let Some(events) = llm_stream::sse_events(data) else {
        return;
    };
    llm_stream::check(&llm_stream::drive(
        &events,
        OpenAiStream::on_event,
        OpenAiStream::on_eof,
    ));
});
