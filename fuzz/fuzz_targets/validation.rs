//! `sba_validate::parse` over arbitrary request bodies for real request types: kb's
//! `NewDocument` (and its `prepare`), kb's `Batch::parse`, and AG-UI's `RunAgentInput`.
//!
//! Input: one byte choosing the type, then the body.
//!
//! Never panics. An error is a 400 `invalid_json` or a 422 `validation_failed` whose body
//! lists at least one issue, each with a path and a code; a 400 names a line and column.
//! A valid `NewDocument` prepares into chunks whose text is taken from the stored text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sba_agui::RunAgentInput;
use sba_edge_fuzz::check_api_error;
use sba_kb::{prepare, Batch, NewDocument};
use sba_validate::{parse, ApiError};

fn check_error(err: &ApiError) {
    check_api_error(err, &[400, 422]);
    let body = err.body("req-fuzz");
    match err.status {
        400 => {
            assert_eq!(err.code, "invalid_json");
            if let Some(details) = &err.details {
                assert!(
                    details["line"].is_u64() && details["column"].is_u64(),
                    "400 details: {details}"
                );
            }
        }
        _ => {
            assert_eq!(err.code, "validation_failed");
            let issues = body["error"]["issues"]
                .as_array()
                .unwrap_or_else(|| panic!("422 without issues: {body}"));
            assert!(!issues.is_empty(), "422 with an empty issue list");
            for issue in issues {
                assert!(issue["path"].is_array(), "issue without a path: {issue}");
                assert!(issue["code"].is_string(), "issue without a code: {issue}");
            }
        }
    }
}

fn check_prepared(doc: &NewDocument) {
    let prepared = prepare(doc);
    let chars: Vec<char> = prepared.text.chars().collect();
    for c in &prepared.chunks {
        assert!(c.start < c.end && c.end <= chars.len());
        assert_eq!(c.text, chars[c.start..c.end].iter().collect::<String>());
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => match parse::<NewDocument>(body) {
            Ok(doc) => check_prepared(&doc),
            Err(err) => check_error(&err),
        },
        1 => match Batch::parse(body) {
            Ok(batch) => {
                assert!(!batch.documents.is_empty() && batch.documents.len() <= 100);
                if let Some(doc) = batch.documents.first() {
                    check_prepared(doc);
                }
            }
            Err(err) => check_error(&err),
        },
        _ => match parse::<RunAgentInput>(body) {
            Ok(input) => {
                assert!(!input.thread_id.is_empty() && !input.run_id.is_empty());
                let _ = serde_json::to_string(&input).expect("a parsed input serialises");
            }
            Err(err) => check_error(&err),
        },
    }
});
