//! What `openai_stream` and `anthropic_stream` share: sba-llm's private `error.rs` and
//! `openai.rs` compiled in as modules (with `types`, the crate's public types under the path
//! those sources use), and the half of the targets that does not depend on the dialect:
//! `sba_llm::SseDecoder` over the body cut at fuzzed places, the events driven through a
//! dialect the way sba-llm's `EventReader` (`failover.rs`) does, and the checks every dialect's
//! output must pass.
//!
//! Included by those targets with `#[path]` (it is not part of `sba_edge_fuzz`, as sba-llm's
//! sources refer to each other as `crate::error`, `crate::openai`, `crate::types`): each target
//! brings those names to its root with `use llm_stream::{error, openai, types};`.
//!
//! Input layout: two bytes of cut positions and one flags byte (bit 0: also feed the body byte
//! by byte), then the body.

#[allow(dead_code)]
#[path = "../../shared/llm/src/error.rs"]
pub mod error;
#[allow(dead_code)]
#[path = "../../shared/llm/src/openai.rs"]
pub mod openai;
pub mod types {
    pub use sba_llm::{v1_endpoint, ChatMessage, ChatRequest, FinishReason, Provider, StreamEvent, Usage};
}

use error::LlmError;
use openai::Step;
use sba_llm::{SseDecoder, SseEvent, StreamEvent, ToolCallAccumulator};
use std::collections::BTreeSet;

/// What a stream yields, in order, as `ChatStream` would: events, then exactly one last item
/// (the finish or an error).
pub type Items = Vec<Result<StreamEvent, LlmError>>;

/// All events of the body fed as `pieces`, or `None` if the decoder refused a line.
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

/// The SSE events of the body in `data` (layout above), checked to be the same whether the
/// body comes whole, in three pieces or byte by byte. `None` when the input is too short or
/// the decoder refused a line (an oversized one: then no dialect sees anything).
pub fn sse_events(data: &[u8]) -> Option<Vec<SseEvent>> {
    if data.len() < 3 {
        return None;
    }
    let (cuts, body) = data.split_at(3);
    let flags = cuts[2];
    let len = body.len();
    let mut a = usize::from(cuts[0]) * len / 256;
    let mut b = usize::from(cuts[1]) * len / 256;
    if a > b {
        std::mem::swap(&mut a, &mut b);
    }

    let whole = decode(&[body])?;
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
    Some(whole)
}

/// `events` through a fresh dialect state, as `EventReader` drives it: every `Step::Events`
/// is passed on; `Step::Done` or an error is the last item and nothing after it is read; a
/// body that ends first gets the dialect's `on_eof`.
pub fn drive<D: Default>(
    events: &[SseEvent],
    on_event: fn(&mut D, &str, &str) -> Result<Step, LlmError>,
    on_eof: fn(&mut D) -> Result<StreamEvent, LlmError>,
) -> Items {
    let mut dialect = D::default();
    let mut items = Items::new();
    for event in events {
        match on_event(&mut dialect, &event.event, &event.data) {
            Ok(Step::Events(events)) => items.extend(events.into_iter().map(Ok)),
            Ok(Step::Done(last)) => {
                items.push(Ok(last));
                return items;
            }
            Err(err) => {
                items.push(Err(err));
                return items;
            }
        }
    }
    items.push(on_eof(&mut dialect));
    items
}

/// What the agent relies on in any dialect's output: exactly one last item, a `Finish` or an
/// error of a stream kind (provider messages capped at 200 characters), and no `Finish`
/// before it; text deltas are never empty, ids and names never `Some("")`; each tool call is
/// announced once, and the finished calls all have an id, a name and arguments.
pub fn check(items: &[Result<StreamEvent, LlmError>]) {
    let (last, events) = items
        .split_last()
        .expect("a stream always ends with an item");
    let mut calls = ToolCallAccumulator::new();
    let mut started = BTreeSet::new();
    for event in events {
        let event = event.as_ref().expect("an error is always the last item");
        match event {
            StreamEvent::TextDelta(text) => assert!(!text.is_empty(), "empty text delta"),
            StreamEvent::ToolCallDelta { id, name, .. } => assert!(
                id.as_deref() != Some("") && name.as_deref() != Some(""),
                "empty id or name in {event:?}"
            ),
            StreamEvent::Finish { .. } => panic!("a finish before the end: {event:?}"),
        }
        if let Some(start) = calls.push_event(event).and_then(|p| p.start) {
            assert!(
                started.insert(start.index),
                "tool call {} announced twice",
                start.index
            );
            assert!(!start.name.is_empty() && !start.id.is_empty());
        }
    }
    match last {
        Ok(StreamEvent::Finish { .. }) => {}
        Ok(other) => panic!("the stream ended on {other:?}, not a finish"),
        Err(LlmError::MidStream { message }) => assert!(
            message.chars().count() <= 200,
            "error excerpt too long: {}",
            message.chars().count()
        ),
        Err(LlmError::Protocol(_) | LlmError::Truncated) => {}
        Err(other) => panic!("not an error a stream parser makes: {other:?}"),
    }
    for call in calls.into_calls() {
        assert!(!call.name.is_empty() && !call.id.is_empty() && !call.arguments.trim().is_empty());
    }
}
