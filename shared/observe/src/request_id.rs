/// The id a client (or an upstream proxy) gave the request, or one we made up.
///
/// An incoming `X-Request-Id` is echoed only when it is short and made of safe characters:
/// it lands in logs and response headers, so it must not carry newlines, quotes or a megabyte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

pub const MAX_LEN: usize = 128;

impl RequestId {
    /// `incoming` is the header value, if any; `random` supplies 16 fresh bytes on demand.
    pub fn from_header_or(incoming: Option<&str>, random: impl FnOnce() -> [u8; 16]) -> Self {
        match incoming.map(str::trim) {
            Some(id) if is_acceptable(id) => Self(id.to_owned()),
            _ => Self::generate(random()),
        }
    }

    /// A UUID v4 in its canonical text form.
    pub fn generate(mut bytes: [u8; 16]) -> Self {
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let h = crate::hex(&bytes);
        Self(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b'+' | b'='))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_a_well_formed_id() {
        let id = RequestId::from_header_or(Some("abc-123_x.y:z"), || panic!("must not generate"));
        assert_eq!(id.as_str(), "abc-123_x.y:z");
    }

    #[test]
    fn replaces_unsafe_or_oversized_ids() {
        for bad in ["", "   ", "has space", "new\nline", "quote\"", &"a".repeat(MAX_LEN + 1)] {
            let id = RequestId::from_header_or(Some(bad), || [7; 16]);
            assert_eq!(id.as_str().len(), 36, "{bad:?} should be replaced");
        }
    }

    #[test]
    fn generated_ids_are_uuid_v4() {
        let id = RequestId::generate([0xff; 16]);
        assert_eq!(id.as_str(), "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let id = RequestId::generate([0; 16]);
        assert_eq!(id.as_str(), "00000000-0000-4000-8000-000000000000");
    }
}
