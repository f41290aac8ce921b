/// This request's place in a W3C Trace Context (https://www.w3.org/TR/trace-context/).
///
/// A valid incoming `traceparent` keeps its trace id and flags and becomes our parent; we get
/// a span id of our own. An absent or invalid one starts a new trace (the spec's rule: a
/// receiver must not propagate what it cannot parse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub flags: u8,
    /// Vendor state, passed on untouched when the parent was valid.
    pub tracestate: Option<String>,
}

impl TraceContext {
    /// `random` supplies 24 fresh bytes: 16 for a possible new trace id, 8 for our span id.
    pub fn from_headers(traceparent: Option<&str>, tracestate: Option<&str>, random: [u8; 24]) -> Self {
        let span_id = nonzero_hex(&random[16..24]);
        match traceparent.and_then(parse) {
            Some(parent) => Self {
                trace_id: parent.trace_id,
                span_id,
                parent_span_id: Some(parent.parent_id),
                // Only `sampled` is defined; the spec says to zero flags we do not know.
                flags: parent.flags & SAMPLED,
                tracestate: tracestate.map(str::trim).filter(|s| valid_tracestate(s)).map(str::to_owned),
            },
            None => Self {
                trace_id: nonzero_hex(&random[0..16]),
                span_id,
                parent_span_id: None,
                flags: 0x01,
                tracestate: None,
            },
        }
    }

    /// The `traceparent` to send on our own subrequests (and to answer with), naming our span.
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-{:02x}", self.trace_id, self.span_id, self.flags)
    }

    /// Whether the caller records this trace (only then do exemplars point at a real span).
    pub fn sampled(&self) -> bool {
        self.flags & SAMPLED != 0
    }
}

const SAMPLED: u8 = 0x01;

/// W3C `tracestate`: at most 32 comma-separated `key=value` members, 512 bytes. The value is
/// forwarded on every outgoing request, so anything else is dropped whole — in particular
/// bytes outside printable ASCII, which some HTTP clients refuse to send (a caller could
/// otherwise make every Redis call of the request fail).
fn valid_tracestate(state: &str) -> bool {
    let members: Vec<&str> = state.split(',').map(|m| m.trim_matches([' ', '\t'])).filter(|m| !m.is_empty()).collect();
    !members.is_empty()
        && members.len() <= 32
        && state.len() <= 512
        && members.iter().all(|member| {
            let Some((key, value)) = member.split_once('=') else { return false };
            let key_ok = !key.is_empty()
                && key.len() <= 256
                && key.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-*/@".contains(&b));
            let value_ok = !value.is_empty()
                && value.len() <= 256
                && !value.ends_with(' ')
                && value.bytes().all(|b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=');
            key_ok && value_ok
        })
}

struct Parent {
    trace_id: String,
    parent_id: String,
    flags: u8,
}

fn parse(header: &str) -> Option<Parent> {
    let header = header.trim();
    let mut parts = header.split('-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let parent_id = parts.next()?;
    let flags = parts.next()?;
    // Version 00 has exactly four fields; a future version may append more, never fewer.
    if version.len() != 2 || !is_lower_hex(version) || version == "ff" {
        return None;
    }
    if version == "00" && parts.next().is_some() {
        return None;
    }
    if trace_id.len() != 32 || !is_lower_hex(trace_id) || trace_id.bytes().all(|b| b == b'0') {
        return None;
    }
    if parent_id.len() != 16 || !is_lower_hex(parent_id) || parent_id.bytes().all(|b| b == b'0') {
        return None;
    }
    if flags.len() != 2 || !is_lower_hex(flags) {
        return None;
    }
    Some(Parent {
        trace_id: trace_id.to_owned(),
        parent_id: parent_id.to_owned(),
        flags: u8::from_str_radix(flags, 16).ok()?,
    })
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// All-zero ids are invalid in the spec; the odds are nil but the fix is one line.
fn nonzero_hex(bytes: &[u8]) -> String {
    if bytes.iter().all(|&b| b == 0) {
        let mut one = bytes.to_vec();
        one[bytes.len() - 1] = 1;
        return crate::hex(&one);
    }
    crate::hex(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn continues_a_valid_trace() {
        let ctx = TraceContext::from_headers(Some(PARENT), Some("congo=t61rcWkgMzE"), [0xab; 24]);
        assert_eq!(ctx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ctx.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_eq!(ctx.span_id, "abababababababab");
        assert_eq!(ctx.tracestate.as_deref(), Some("congo=t61rcWkgMzE"));
        assert_eq!(ctx.traceparent(), "00-4bf92f3577b34da6a3ce929d0e0e4736-abababababababab-01");
    }

    #[test]
    fn keeps_the_sampled_flag_as_given_and_zeroes_unknown_flags() {
        let ctx = TraceContext::from_headers(Some(&PARENT.replace("-01", "-00")), None, [1; 24]);
        assert_eq!(ctx.flags, 0);
        assert!(!ctx.sampled());
        assert!(ctx.traceparent().ends_with("-00"));
        let ctx = TraceContext::from_headers(Some(&PARENT.replace("-01", "-ff")), None, [1; 24]);
        assert!(ctx.sampled());
        assert!(ctx.traceparent().ends_with("-01"), "{}", ctx.traceparent());
    }

    #[test]
    fn only_a_well_formed_tracestate_is_passed_on() {
        let state = |s: &str| TraceContext::from_headers(Some(PARENT), Some(s), [3; 24]).tracestate;
        assert_eq!(
            state("congo=t61rcWkgMzE, rojo=00f067aa0ba902b7").as_deref(),
            Some("congo=t61rcWkgMzE, rojo=00f067aa0ba902b7")
        );
        assert_eq!(state("fw529a3039@dt=abc").as_deref(), Some("fw529a3039@dt=abc"));
        for bad in [
            "a=é",
            "a=b\u{7f}",
            "no-equals",
            "Upper=x",
            "=x",
            "k=",
            "k=a,b",
            "k=v=w",
            &"k=v,".repeat(33),
            &format!("k={}", "v".repeat(600)),
        ] {
            assert_eq!(state(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn starts_a_new_trace_on_invalid_input() {
        let invalid = [
            "",
            "garbage",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ];
        for header in invalid {
            let ctx = TraceContext::from_headers(Some(header), Some("x=y"), [0x11; 24]);
            assert_eq!(ctx.trace_id, "11".repeat(16), "{header:?}");
            assert_eq!(ctx.parent_span_id, None);
            assert_eq!(ctx.tracestate, None, "tracestate must not survive an invalid parent");
        }
    }

    #[test]
    fn accepts_future_versions_with_extra_fields() {
        let header = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds";
        let ctx = TraceContext::from_headers(Some(header), None, [2; 24]);
        assert_eq!(ctx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn never_emits_all_zero_ids() {
        let ctx = TraceContext::from_headers(None, None, [0; 24]);
        assert_ne!(ctx.trace_id, "0".repeat(32));
        assert_ne!(ctx.span_id, "0".repeat(16));
    }
}
