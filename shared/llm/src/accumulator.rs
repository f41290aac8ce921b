//! Folds [`StreamEvent::ToolCallDelta`] fragments, by index, into complete [`ToolCall`]s, and
//! says what a caller can announce as it goes (AG-UI: TOOL_CALL_START once the name is known,
//! TOOL_CALL_ARGS per fragment).
//!
//! id and name usually come on the first fragment only; some servers repeat them on every
//! fragment: the first non-empty value wins (names are never concatenated). Arguments that
//! arrive before the name are held back and released with the start.

use crate::types::{StreamEvent, ToolCall};
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct ToolCallAccumulator {
    calls: BTreeMap<u32, Partial>,
    /// Ids for calls the provider gave none: `{prefix}_{index}` (`call_{index}` by default).
    id_prefix: Option<String>,
}

#[derive(Debug, Default)]
struct Partial {
    id: Option<String>,
    name: Option<String>,
    arguments: String,
    started: bool,
    /// Arguments received before the start, not yet reported.
    held: String,
}

/// The call became announceable with this fragment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolCallStart {
    pub index: u32,
    /// The provider's id, or `call_{index}` if it gave none before the name.
    pub id: String,
    pub name: String,
}

/// What one fragment changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolCallProgress {
    /// `Some` exactly once per index: the first fragment by which the name is known.
    pub start: Option<ToolCallStart>,
    /// The id to report arguments under (`None` until started).
    pub id: Option<String>,
    /// Arguments to report now (empty: nothing new, or still held back).
    pub arguments_delta: String,
}

impl ToolCallAccumulator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls without a provider id get `{prefix}_{index}`: a prefix per model turn keeps the
    /// ids of one run unique across its turns.
    pub fn with_id_prefix(prefix: impl Into<String>) -> Self {
        Self { id_prefix: Some(prefix.into()), ..Self::default() }
    }

    fn fallback_id(prefix: &Option<String>, index: u32) -> String {
        format!("{}_{index}", prefix.as_deref().unwrap_or("call"))
    }

    /// Characters received so far (names and arguments): what the calls cost in tokens when
    /// the provider reports no usage.
    pub fn chars(&self) -> usize {
        self.calls.values().map(|c| c.name.as_ref().map_or(0, String::len) + c.arguments.len()).sum()
    }

    /// Folds a `ToolCallDelta`; other events change nothing and return `None`.
    pub fn push_event(&mut self, event: &StreamEvent) -> Option<ToolCallProgress> {
        match event {
            StreamEvent::ToolCallDelta { index, id, name, arguments_delta } => {
                Some(self.push(*index, id.as_deref(), name.as_deref(), arguments_delta))
            }
            _ => None,
        }
    }

    pub fn push(
        &mut self,
        index: u32,
        id: Option<&str>,
        name: Option<&str>,
        arguments_delta: &str,
    ) -> ToolCallProgress {
        let prefix = &self.id_prefix;
        let call = self.calls.entry(index).or_default();
        if call.id.is_none() {
            call.id = id.filter(|s| !s.is_empty()).map(str::to_owned);
        }
        if call.name.is_none() {
            call.name = name.filter(|s| !s.is_empty()).map(str::to_owned);
        }
        call.arguments.push_str(arguments_delta);
        let mut progress = ToolCallProgress::default();
        if call.started {
            progress.arguments_delta = arguments_delta.to_owned();
        } else if let Some(name) = &call.name {
            call.started = true;
            let id = call.id.get_or_insert_with(|| Self::fallback_id(prefix, index)).clone();
            progress.start = Some(ToolCallStart { index, id, name: name.clone() });
            progress.arguments_delta = std::mem::take(&mut call.held) + arguments_delta;
        } else {
            call.held.push_str(arguments_delta);
        }
        if call.started {
            progress.id = call.id.clone();
        }
        progress
    }

    /// Has index `index` been announced (its name is known)?
    pub fn is_started(&self, index: u32) -> bool {
        self.calls.get(&index).is_some_and(|c| c.started)
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// The complete calls by index; calls that never got a name are dropped, empty
    /// arguments become `{}`.
    pub fn into_calls(self) -> Vec<ToolCall> {
        let prefix = self.id_prefix;
        self.calls
            .into_iter()
            .filter_map(|(index, c)| {
                let name = c.name?;
                let arguments = if c.arguments.trim().is_empty() { "{}".to_owned() } else { c.arguments };
                Some(ToolCall { id: c.id.unwrap_or_else(|| Self::fallback_id(&prefix, index)), name, arguments })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_by_index_with_id_and_name_on_first_fragment() {
        let mut acc = ToolCallAccumulator::new();
        let p = acc.push(0, Some("call_a"), Some("lookup"), "");
        assert_eq!(p.start, Some(ToolCallStart { index: 0, id: "call_a".into(), name: "lookup".into() }));
        let p = acc.push(1, Some("call_b"), Some("search"), "{\"q\":");
        assert_eq!(p.arguments_delta, "{\"q\":");
        let p = acc.push(0, None, None, "{\"id\":");
        assert_eq!((p.start, p.id.as_deref(), p.arguments_delta.as_str()), (None, Some("call_a"), "{\"id\":"));
        acc.push(0, None, None, "7}");
        acc.push(1, None, None, "\"x\"}");
        assert_eq!(
            acc.into_calls(),
            vec![
                ToolCall { id: "call_a".into(), name: "lookup".into(), arguments: "{\"id\":7}".into() },
                ToolCall { id: "call_b".into(), name: "search".into(), arguments: "{\"q\":\"x\"}".into() },
            ]
        );
    }

    #[test]
    fn repeated_ids_and_names_are_not_concatenated() {
        let mut acc = ToolCallAccumulator::new();
        let first = acc.push(0, Some("c1"), Some("f"), "{\"a\"");
        let again = acc.push(0, Some("c1"), Some("f"), ":1}");
        assert!(first.start.is_some() && again.start.is_none());
        assert_eq!(again.arguments_delta, ":1}");
        assert_eq!(
            acc.into_calls(),
            vec![ToolCall { id: "c1".into(), name: "f".into(), arguments: "{\"a\":1}".into() }]
        );
    }

    #[test]
    fn arguments_before_the_name_are_held_back() {
        let mut acc = ToolCallAccumulator::new();
        let p = acc.push(0, Some(""), None, "{\"x\"");
        assert_eq!(p, ToolCallProgress::default());
        assert!(!acc.is_started(0));
        let p = acc.push(0, None, Some("f"), ":2}");
        assert_eq!(p.start.map(|s| s.id), Some("call_0".to_owned()));
        assert_eq!(p.arguments_delta, "{\"x\":2}");
        acc.push(3, None, None, "orphan");
        let calls = acc.into_calls();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].arguments, "{\"x\":2}");
    }

    #[test]
    fn empty_arguments_become_an_empty_object() {
        let mut acc = ToolCallAccumulator::new();
        acc.push_event(&StreamEvent::ToolCallDelta {
            index: 0,
            id: Some("c".into()),
            name: Some("now".into()),
            arguments_delta: String::new(),
        });
        assert!(acc.push_event(&StreamEvent::TextDelta("x".into())).is_none());
        assert_eq!(acc.into_calls()[0].arguments, "{}");
    }
}
