//! An Anthropic Messages streaming body: `sba_llm::SseDecoder` over arbitrary bytes fed in
//! pieces cut at fuzzed positions, then every event through the named-event handler
//! (`message_start`, `content_block_*`, `message_delta`, `message_stop`, `ping`, `error`) and
//! the tool-call accumulator, as `ChatStream` does.
//!
//! `AnthropicStream` is private to sba-llm, so `anthropic.rs` is compiled into this target as
//! a module, as `openai_stream` does with `openai.rs`; the `openai.rs` and `error.rs` it uses
//! (`Step`, `error_message`, `LlmError`), the decoding, the driving and the common checks come
//! from `common/llm_stream.rs`.
//!
//! Input: two bytes of cut positions and one flags byte, then the body.
//!
//! Never panics. Everything `openai_stream` checks (the events do not depend on where the body
//! was cut; one last item, a finish or an error, and no finish before it; no empty text;
//! capped error messages; each tool call announced once, finished calls complete). Besides:
//! an `error` event is always a provider error whatever its data; and the output is the same
//! when the pings are dropped and every event whose payload `type` repeats its name is sent
//! unnamed (servers that leave `event:` out).
#![no_main]

#[allow(dead_code)]
#[path = "../../shared/llm/src/anthropic.rs"]
mod anthropic;
#[path = "../common/llm_stream.rs"]
mod llm_stream;
// The paths sba-llm's sources use: `crate::error`, `crate::openai`, `crate::types`.
use llm_stream::{error, openai, types};

use anthropic::AnthropicStream;
use error::LlmError;
use libfuzzer_sys::fuzz_target;
use sba_llm::SseEvent;
use serde_json::Value;

/// The events as a server that sends no pings and no `event:` lines would send them: a named
/// event stays named only where its payload's `type` does not say the same.
fn unnamed(events: &[SseEvent]) -> Vec<SseEvent> {
    events
        .iter()
        .filter(|e| e.event != "ping")
        .map(|e| {
            let typed = serde_json::from_str::<Value>(e.data.trim())
                .is_ok_and(|v| v.get("type").and_then(Value::as_str) == Some(e.event.as_str()));
            SseEvent {
                event: if typed {
                    String::new()
                } else {
                    e.event.clone()
                },
                data: e.data.clone(),
            }
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some(events) = llm_stream::sse_events(data) else {
        return;
    };
    let drive = |events: &[SseEvent]| {
        llm_stream::drive(events, AnthropicStream::on_event, AnthropicStream::on_eof)
    };
    let items = drive(&events);
    llm_stream::check(&items);
    assert_eq!(
        items,
        drive(&unnamed(&events)),
        "pings or event names changed the output"
    );
    for e in events.iter().filter(|e| e.event == "error") {
        let verdict = AnthropicStream::default().on_event(&e.event, &e.data);
        assert!(
            matches!(verdict, Err(LlmError::MidStream { .. })),
            "an error event gave {:?}",
            verdict.map(|_| ())
        );
    }
});
