//! Server-Sent-Events framing for AG-UI: `id: {runId}:{seq}\ndata: {json}\n\n`, LF only.
//! The official client ignores `id:` lines and `: comment` frames, so resumption cursors and
//! heartbeats cost it nothing.

use crate::event::Event;

/// A heartbeat comment; send it every ~15 s while idle so proxies keep the stream open.
pub const PING: &str = ": ping\n\n";

/// Response headers for an SSE stream at the edge. `Content-Encoding: identity` stops the
/// Workers runtime from compressing (and so buffering) the stream. `Connection` is not
/// set: Workers does not allow it.
pub const SSE_HEADERS: [(&str, &str); 4] = [
    ("Content-Type", "text/event-stream; charset=utf-8"),
    ("Cache-Control", "no-cache, no-transform"),
    ("X-Accel-Buffering", "no"),
    ("Content-Encoding", "identity"),
];

/// One frame. `id` may not contain CR or LF (they would end the field); any are replaced by
/// spaces. serde_json escapes control characters, so the data line is always one line.
pub fn frame(id: &str, event: &Event) -> String {
    let id: String = id.chars().map(|c| if matches!(c, '\r' | '\n' | '\0') { ' ' } else { c }).collect();
    format!("id: {id}\ndata: {}\n\n", event.to_json())
}

/// The cursor of the `seq`-th event of a run: `"{runId}:{seq}"`.
pub fn event_id(run_id: &str, seq: u64) -> String {
    format!("{run_id}:{seq}")
}

/// A `Last-Event-ID` back into run id and sequence number; split at the last `:` (run ids
/// may contain `:`). `None` for anything else.
pub fn parse_event_id(s: &str) -> Option<(String, u64)> {
    let (run_id, seq) = s.trim().rsplit_once(':')?;
    if run_id.is_empty() || seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((run_id.to_owned(), seq.parse().ok()?))
}

/// The JSON of a frame's `data:` line, if it has one.
pub fn frame_data(frame: &str) -> Option<&str> {
    frame.lines().find_map(|line| line.strip_prefix("data:")).map(|d| d.strip_prefix(' ').unwrap_or(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content() -> Event {
        Event::TextMessageContent { message_id: "m1".into(), delta: "a\nb\r\n".into() }
    }

    #[test]
    fn frames_are_lf_only_and_single_line() {
        let f = frame("r:1", &content());
        assert_eq!(
            f,
            "id: r:1\ndata: {\"type\":\"TEXT_MESSAGE_CONTENT\",\"messageId\":\"m1\",\"delta\":\"a\\nb\\r\\n\"}\n\n"
        );
        assert!(!f.contains('\r'));
        assert_eq!(f.matches('\n').count(), 3);
        assert_eq!(frame_data(&f), Some(&content().to_json()[..]));
    }

    #[test]
    fn ids_with_line_breaks_are_sanitised() {
        let f = frame("r\r\ndata: x\n", &content());
        assert!(f.starts_with("id: r  data: x \ndata: {"), "{f}");
        assert_eq!(f.matches('\n').count(), 3);
    }

    #[test]
    fn event_ids() {
        assert_eq!(event_id("run-1", 7), "run-1:7");
        assert_eq!(parse_event_id("run-1:7"), Some(("run-1".into(), 7)));
        assert_eq!(parse_event_id("a:b:c:12"), Some(("a:b:c".into(), 12)));
        for bad in ["", "r", "r:", ":5", "r:-1", "r:+1", "r:x", "r:99999999999999999999999"] {
            assert_eq!(parse_event_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn headers() {
        assert!(SSE_HEADERS.iter().all(|(k, _)| !k.eq_ignore_ascii_case("connection")));
        assert_eq!(PING, ": ping\n\n");
    }
}
