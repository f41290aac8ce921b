//! An OpenAI-compatible streaming body: `sba_llm::SseDecoder` over arbitrary bytes fed in
//! pieces cut at fuzzed positions, then every event through the chat-completions chunk parser
//! and the tool-call accumulator, as `ChatStream` does.
//!
//! The chunk parser (`openai.rs`: `parse_chunk`, `OpenAiStream`) is private to sba-llm and only
//! reachable through an HTTP stream, so its source file is compiled into this target as a
//! module, next to sba-llm's `error.rs`; its types are sba-llm's own (`types` below).
//!
//! Input: two bytes of cut positions and one flags byte, then the body.
//!
//! Never panics. The events do not depend on where the body was cut (one piece, three pieces,
//! or byte by byte); text deltas are never empty; provider error messages are capped at 200
//! characters; each tool call is announced once, and the finished calls all have a name.
#![no_main]

#[allow(dead_code)]
#[path = "../../shared/llm/src/error.rs"]
mod error;
#[allow(dead_code)]
#[path = "../../shared/llm/src/openai.rs"]
mod openai;
mod types {
    pub use sba_llm::{ChatMessage, ChatRequest, FinishReason, Provider, StreamEvent, Usage};
}

use libfuzzer_sys::fuzz_target;
use openai::{OpenAiStream, Step};
use sba_llm::{SseDecoder, SseEvent, StreamEvent, ToolCallAccumulator};
use std::collections::BTreeSet;

/// All events of `body` fed as `pieces`, or `None` if the decoder refused a line.
fn decode(pieces: &[&[u8]]) -> Option<Vec<SseEvent>> {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    for piece in pieces {
        decoder.feed(piece).ok()?;
        while let Some(event) = decoder.next_event() {
            events.push(event);
        }
    }
    decoder.finish();
    while let Some(event) = decoder.next_event() {
        events.push(event);
    }
    Some(events)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (cuts, body) = data.split_at(3);
    let flags = cuts[2];
    let len = body.len();
    let mut a = usize::from(cuts[0]) * len / 256;
    let mut b = usize::from(cuts[1]) * len / 256;
    if a > b {
        std::mem::swap(&mut a, &mut b);
    }

    let Some(whole) = decode(&[body]) else { return };
    let three = decode(&[&body[..a], &body[a..b], &body[b..]]).expect("same lines, same limits");
    assert_eq!(
        whole, three,
        "events depend on where the body was cut ({a}, {b})"
    );
    if flags & 1 != 0 {
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(
            whole,
            decode(&bytes).expect("same lines"),
            "events differ when fed byte by byte"
        );
    }

    let mut dialect = OpenAiStream::default();
    let mut calls = ToolCallAccumulator::new();
    let mut started = BTreeSet::new();
    let mut check = |event: &StreamEvent| {
        if let StreamEvent::TextDelta(text) = event {
            assert!(!text.is_empty(), "empty text delta");
        }
        if let Some(progress) = calls.push_event(event) {
            if let Some(start) = &progress.start {
                assert!(
                    started.insert(start.index),
                    "tool call {} announced twice",
                    start.index
                );
                assert!(!start.name.is_empty() && !start.id.is_empty());
            }
        }
    };
    let mut over = false;
    for event in &whole {
        match dialect.on_event(&event.event, &event.data) {
            Ok(Step::Events(events)) => events.iter().for_each(&mut check),
            Ok(Step::Done(last)) => {
                assert!(matches!(last, StreamEvent::Finish { .. }));
                over = true;
                break;
            }
            Err(err) => {
                if let error::LlmError::MidStream { message } = &err {
                    assert!(
                        message.chars().count() <= 200,
                        "error excerpt too long: {}",
                        message.chars().count()
                    );
                }
                over = true;
                break;
            }
        }
    }
    if !over {
        if let Ok(last) = dialect.on_eof() {
            assert!(matches!(last, StreamEvent::Finish { .. }));
        }
    }
    for call in calls.into_calls() {
        assert!(!call.name.is_empty() && !call.id.is_empty() && !call.arguments.trim().is_empty());
    }
});
