//! Tenant ids: their accepted shape, and the `X-Tenant-ID` assertion.

use sba_errors::ApiError;

pub(crate) const MAX_TENANT_ID_LEN: usize = 128;

/// Non-empty, at most 128 characters of `[A-Za-z0-9_-]` (UUIDs included).
pub(crate) fn is_valid_tenant_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_TENANT_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `X-Tenant-ID` never selects a tenant: absent → fine; present → must equal the token's
/// tenant exactly (surrounding whitespace ignored), else 403.
pub(crate) fn check_assertion(token_tenant: &str, asserted: Option<&str>) -> Result<(), ApiError> {
    match asserted.map(str::trim) {
        None => Ok(()),
        Some(asserted) if asserted == token_tenant => Ok(()),
        Some(_) => Err(ApiError::forbidden("tenant_mismatch", "X-Tenant-ID does not match the token's tenant")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_id_shape() {
        for ok in ["t1", "acme_corp-2", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", &"a".repeat(128)] {
            assert!(is_valid_tenant_id(ok), "{ok}");
        }
        for bad in ["", "a b", "a/b", "a.b", "ä", "t1\n", "t1;drop", &"a".repeat(129)] {
            assert!(!is_valid_tenant_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn assertion_absent_equal_or_403() {
        assert!(check_assertion("t1", None).is_ok());
        assert!(check_assertion("t1", Some("t1")).is_ok());
        assert!(check_assertion("t1", Some(" t1 ")).is_ok());
        for other in ["t2", "T1", "", "t1 t1"] {
            let err = check_assertion("t1", Some(other)).unwrap_err();
            assert_eq!((err.status, err.code.as_ref()), (403, "tenant_mismatch"), "{other:?}");
        }
    }
}
