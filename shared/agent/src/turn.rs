//! One model turn as AG-UI events. The model streams text and tool-call fragments; a client
//! sees a text message opened on its first delta and closed before any tool call, each tool
//! call announced once its name is known (its arguments as they arrive) and ended before the
//! next call or more text. Fragments are folded by `sba_llm::ToolCallAccumulator`.
//!
//! Pure: events in, events out, so the mapping is tested without a runtime.

use sba_agui::Event;
use sba_llm::{StreamEvent, ToolCall, ToolCallAccumulator};

/// What a turn produced: the text it said and the calls it asked for.
#[derive(Debug, Default, PartialEq)]
pub struct Turn {
    pub text: String,
    pub calls: Vec<ToolCall>,
}

pub struct TurnEvents {
    /// Ids of this turn's messages and of calls without a provider id start with it.
    id_prefix: String,
    calls: ToolCallAccumulator,
    text: String,
    /// The text message open now, and how many this turn opened.
    open_text: Option<String>,
    texts_opened: u32,
    /// The tool call open now: (index, id).
    open_call: Option<(u32, String)>,
}

impl TurnEvents {
    pub fn new(id_prefix: impl Into<String>) -> Self {
        let id_prefix = id_prefix.into();
        Self {
            calls: ToolCallAccumulator::with_id_prefix(format!("{id_prefix}_call")),
            id_prefix,
            text: String::new(),
            open_text: None,
            texts_opened: 0,
            open_call: None,
        }
    }

    /// The events one stream event makes (a `Finish` makes none; its usage is the caller's).
    pub fn on(&mut self, event: &StreamEvent) -> Vec<Event> {
        let mut out = Vec::new();
        match event {
            StreamEvent::TextDelta(delta) if !delta.is_empty() => {
                self.end_call(&mut out);
                let id = match &self.open_text {
                    Some(id) => id.clone(),
                    None => {
                        self.texts_opened += 1;
                        let id = format!("{}_msg{}", self.id_prefix, self.texts_opened);
                        out.push(Event::TextMessageStart { message_id: id.clone(), role: "assistant".into() });
                        self.open_text = Some(id.clone());
                        id
                    }
                };
                self.text.push_str(delta);
                out.push(Event::TextMessageContent { message_id: id, delta: delta.clone() });
            }
            StreamEvent::ToolCallDelta { index, .. } => {
                // Text closes before any tool call (older clients expect it); calls stream one
                // after another, so a fragment of another index closes the open call.
                self.end_text(&mut out);
                if self.open_call.as_ref().is_some_and(|(open, _)| open != index) {
                    self.end_call(&mut out);
                }
                let progress = self.calls.push_event(event).unwrap_or_default();
                if let Some(start) = progress.start {
                    out.push(Event::ToolCallStart {
                        tool_call_id: start.id.clone(),
                        tool_call_name: start.name,
                        parent_message_id: None,
                    });
                    self.open_call = Some((start.index, start.id));
                }
                if let Some((_, id)) = self.open_call.as_ref().filter(|(open, _)| open == index) {
                    if !progress.arguments_delta.is_empty() {
                        out.push(Event::ToolCallArgs { tool_call_id: id.clone(), delta: progress.arguments_delta });
                    }
                }
            }
            StreamEvent::TextDelta(_) | StreamEvent::Finish { .. } => {}
        }
        out
    }

    /// Characters streamed so far (text, call names and arguments), for a token estimate.
    pub fn streamed_chars(&self) -> usize {
        self.text.len() + self.calls.chars()
    }

    /// Closes what is open; the turn's text and complete calls.
    pub fn finish(mut self) -> (Vec<Event>, Turn) {
        let mut out = Vec::new();
        self.end_text(&mut out);
        self.end_call(&mut out);
        (out, Turn { text: self.text, calls: self.calls.into_calls() })
    }

    fn end_text(&mut self, out: &mut Vec<Event>) {
        if let Some(message_id) = self.open_text.take() {
            out.push(Event::TextMessageEnd { message_id });
        }
    }

    fn end_call(&mut self, out: &mut Vec<Event>) {
        if let Some((_, tool_call_id)) = self.open_call.take() {
            out.push(Event::ToolCallEnd { tool_call_id });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> StreamEvent {
        StreamEvent::TextDelta(s.into())
    }

    fn call(index: u32, id: Option<&str>, name: Option<&str>, args: &str) -> StreamEvent {
        StreamEvent::ToolCallDelta {
            index,
            id: id.map(Into::into),
            name: name.map(Into::into),
            arguments_delta: args.into(),
        }
    }

    fn run(events: &[StreamEvent]) -> (Vec<Event>, Turn) {
        let mut turn = TurnEvents::new("t1");
        let mut out: Vec<Event> = events.iter().flat_map(|e| turn.on(e)).collect();
        let (rest, result) = turn.finish();
        out.extend(rest);
        (out, result)
    }

    #[test]
    fn text_then_two_calls_in_order_with_their_arguments() {
        let (events, turn) = run(&[
            text("Let me "),
            text("look."),
            call(0, Some("c_a"), Some("searchKb"), "{\"q\":"),
            call(0, None, None, "\"refund\"}"),
            call(1, None, Some("createTask"), "{}"),
        ]);
        assert_eq!(
            events,
            vec![
                Event::TextMessageStart { message_id: "t1_msg1".into(), role: "assistant".into() },
                Event::TextMessageContent { message_id: "t1_msg1".into(), delta: "Let me ".into() },
                Event::TextMessageContent { message_id: "t1_msg1".into(), delta: "look.".into() },
                Event::TextMessageEnd { message_id: "t1_msg1".into() },
                Event::ToolCallStart {
                    tool_call_id: "c_a".into(),
                    tool_call_name: "searchKb".into(),
                    parent_message_id: None
                },
                Event::ToolCallArgs { tool_call_id: "c_a".into(), delta: "{\"q\":".into() },
                Event::ToolCallArgs { tool_call_id: "c_a".into(), delta: "\"refund\"}".into() },
                Event::ToolCallEnd { tool_call_id: "c_a".into() },
                Event::ToolCallStart {
                    tool_call_id: "t1_call_1".into(),
                    tool_call_name: "createTask".into(),
                    parent_message_id: None
                },
                Event::ToolCallArgs { tool_call_id: "t1_call_1".into(), delta: "{}".into() },
                Event::ToolCallEnd { tool_call_id: "t1_call_1".into() },
            ]
        );
        assert_eq!(turn.text, "Let me look.");
        assert_eq!(
            turn.calls.iter().map(|c| (c.id.as_str(), c.name.as_str(), c.arguments.as_str())).collect::<Vec<_>>(),
            vec![("c_a", "searchKb", "{\"q\":\"refund\"}"), ("t1_call_1", "createTask", "{}"),]
        );
    }

    #[test]
    fn arguments_before_the_name_are_released_with_the_start_and_text_after_a_call_is_a_new_message() {
        let (events, turn) = run(&[call(0, None, None, "{\"a\""), call(0, None, Some("render"), ":1}"), text("done")]);
        assert_eq!(
            events,
            vec![
                Event::ToolCallStart {
                    tool_call_id: "t1_call_0".into(),
                    tool_call_name: "render".into(),
                    parent_message_id: None
                },
                Event::ToolCallArgs { tool_call_id: "t1_call_0".into(), delta: "{\"a\":1}".into() },
                Event::ToolCallEnd { tool_call_id: "t1_call_0".into() },
                Event::TextMessageStart { message_id: "t1_msg1".into(), role: "assistant".into() },
                Event::TextMessageContent { message_id: "t1_msg1".into(), delta: "done".into() },
                Event::TextMessageEnd { message_id: "t1_msg1".into() },
            ]
        );
        assert_eq!(turn.calls.len(), 1);
    }

    #[test]
    fn nameless_calls_and_empty_text_announce_nothing_and_are_dropped() {
        let (events, turn) = run(&[text(""), call(0, Some("x"), None, "{}")]);
        assert!(events.is_empty(), "{events:?}");
        assert_eq!(turn, Turn::default());
        let mut counting = TurnEvents::new("t");
        counting.on(&text("abcd"));
        counting.on(&call(0, None, Some("getDocument"), "{}"));
        assert_eq!(counting.streamed_chars(), 4 + "getDocument".len() + 2);
    }
}
