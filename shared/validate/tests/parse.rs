//! `parse` end to end with realistic request types: every status and issue code.

mod common;

use common::{CreateDocument, Search, SourceKind, Subscription};
use sba_validate::{parse, ApiError, Validate};
use serde_json::{json, Value};

fn valid_document() -> Value {
    json!({
        "title": "Quarterly report",
        "tags": ["finance", "q3"],
        "source": {"kind": "web", "url": "https://example.com/r.pdf", "externalId": "doc-42"},
        "items": [
            {"title": "Revenue", "quantity": 1, "unitWeight": 0.5},
            {"title": "Costs", "quantity": 2, "unitWeight": 1.0},
            {"title": "Margin", "quantity": 3, "unitWeight": 0.0}
        ],
        "priority": 3,
        "contactEmail": "cfo@example.com",
        "metadata": {"department": {"name": "finance"}},
        "sections": {"intro": {"title": "Intro", "quantity": 1, "unitWeight": 0.1}}
    })
}

fn with(mut doc: Value, pointer: &str, value: Value) -> Value {
    *doc.pointer_mut(pointer).unwrap_or_else(|| panic!("no {pointer}")) = value;
    doc
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).unwrap()
}

fn issues(err: &ApiError) -> Vec<Value> {
    assert_eq!((err.status, err.code.as_ref()), (422, "validation_failed"), "{err:?}");
    let issues = err.details.as_ref().unwrap()["issues"].as_array().unwrap().clone();
    assert_eq!(err.message, format!("request body failed validation: {} issue(s)", issues.len()));
    issues
}

fn only_issue(err: &ApiError) -> Value {
    let issues = issues(err);
    assert_eq!(issues.len(), 1, "{issues:#?}");
    issues[0].clone()
}

fn path_and_code(issue: &Value) -> (Value, &str) {
    (issue["path"].clone(), issue["code"].as_str().unwrap())
}

#[test]
fn a_valid_body_parses() {
    let doc: CreateDocument = parse(&bytes(&valid_document())).unwrap();
    assert_eq!(doc.title, "Quarterly report");
    assert_eq!(doc.source.kind, SourceKind::Web);
    assert_eq!(doc.items[1].quantity, 2);
    assert_eq!(doc.sections["intro"].title, "Intro");
}

#[test]
fn empty_body_is_400() {
    for body in [&b""[..], b"  \r\n\t"] {
        let err = parse::<CreateDocument>(body).unwrap_err();
        assert_eq!(
            (err.status, err.code.as_ref(), err.message.as_str()),
            (400, "invalid_json", "request body is empty")
        );
        assert_eq!(err.details, None);
    }
}

#[test]
fn malformed_json_is_400_with_line_and_column() {
    let body = "{\n  \"title\": \"x\",\n  \"items\": [1, 2,]\n}";
    let err = parse::<CreateDocument>(body.as_bytes()).unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (400, "invalid_json"));
    let column = "  \"items\": [1, 2,]".find(']').unwrap() + 1;
    assert_eq!(err.details, Some(json!({"line": 3, "column": column})));
    assert!(err.message.contains(&format!("line 3 column {column}")), "{}", err.message);
    assert!(err.message.starts_with("request body is not valid JSON: trailing comma"), "{}", err.message);
}

#[test]
fn malformed_json_wins_over_a_wrong_first_field() {
    // `title` has the wrong type, but the body is not JSON at all: 400, not 422.
    let err = parse::<CreateDocument>(b"{\"title\": 5, \"items\": [").unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (400, "invalid_json"));
    assert!(err.message.contains("EOF while parsing"), "{}", err.message);
}

#[test]
fn trailing_garbage_is_400() {
    let mut body = serde_json::to_vec(&valid_document()).unwrap();
    let column = body.len() + 2;
    body.extend_from_slice(b" x");
    let err = parse::<CreateDocument>(&body).unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (400, "invalid_json"));
    assert_eq!(err.details, Some(json!({"line": 1, "column": column})));
    assert!(err.message.contains("trailing characters"), "{}", err.message);
    // Two JSON values are garbage too.
    assert_eq!(parse::<CreateDocument>(b"{} {}").unwrap_err().status, 400);
}

#[test]
fn invalid_utf8_is_400_with_its_position() {
    let err = parse::<CreateDocument>(b"{\n  \"title\": \"caf\xe9\"\n}").unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (400, "invalid_json"));
    assert_eq!(err.details, Some(json!({"line": 2, "column": 16})));
    assert_eq!(err.message, "request body is not valid UTF-8 at line 2 column 16");
}

#[test]
fn nesting_past_serde_json_limit_is_400_not_a_stack_overflow() {
    let deep = format!("{{\"metadata\": {}{}}}", "[".repeat(200), "]".repeat(200));
    let err = parse::<CreateDocument>(deep.as_bytes()).unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (400, "invalid_json"));
    assert!(err.message.contains("recursion limit"), "{}", err.message);
    let deeper = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(parse::<CreateDocument>(deeper.as_bytes()).unwrap_err().status, 400);
}

#[test]
fn wrong_type_is_one_422_issue_at_its_path() {
    let body = with(valid_document(), "/items/1/title", json!(42));
    let issue = only_issue(&parse::<CreateDocument>(&bytes(&body)).unwrap_err());
    assert_eq!(
        issue,
        json!({"path": ["items", 1, "title"], "code": "invalid_type", "message": "expected string, received number",
               "params": {"expected": "string", "received": "number"}})
    );

    let top = only_issue(&parse::<CreateDocument>(b"\"a document\"").unwrap_err());
    assert_eq!(
        (top["path"].clone(), top["message"].as_str().unwrap()),
        (json!([]), "expected object, received string")
    );
    // serde's derive also reads a struct from an array, field by field: `[1, 2]` is a
    // CreateDocument whose title is 1.
    let positional = only_issue(&parse::<CreateDocument>(b"[1, 2]").unwrap_err());
    assert_eq!(positional["path"], json!([0]));

    let null_quantity = with(valid_document(), "/sections/intro/quantity", Value::Null);
    let issue = only_issue(&parse::<CreateDocument>(&bytes(&null_quantity)).unwrap_err());
    assert_eq!(path_and_code(&issue), (json!(["sections", "intro", "quantity"]), "invalid_type"));
    assert_eq!(issue["message"], "expected u32, received null");
}

#[test]
fn out_of_range_for_the_rust_type_is_invalid_value() {
    let body = with(valid_document(), "/priority", json!(300));
    let issue = only_issue(&parse::<CreateDocument>(&bytes(&body)).unwrap_err());
    assert_eq!(path_and_code(&issue), (json!(["priority"]), "invalid_value"));
    assert_eq!(issue["message"], "expected u8, received number");
}

#[test]
fn missing_unknown_and_duplicate_fields() {
    let mut body = valid_document();
    body["source"].as_object_mut().unwrap().remove("url");
    let issue = only_issue(&parse::<CreateDocument>(&bytes(&body)).unwrap_err());
    assert_eq!(issue, json!({"path": ["source", "url"], "code": "required", "message": "is required"}));

    let mut body = valid_document();
    body["bogus"] = json!(1);
    let issue = only_issue(&parse::<CreateDocument>(&bytes(&body)).unwrap_err());
    assert_eq!(path_and_code(&issue), (json!(["bogus"]), "unknown_field"));

    let issue = only_issue(&parse::<Search>(br#"{"query": "a", "limit": 1, "limit": 2}"#).unwrap_err());
    assert_eq!(path_and_code(&issue), (json!(["limit"]), "duplicate_field"));
}

#[test]
fn unknown_enum_variant() {
    let body = with(valid_document(), "/source/kind", json!("fax"));
    let issue = only_issue(&parse::<CreateDocument>(&bytes(&body)).unwrap_err());
    assert_eq!(path_and_code(&issue), (json!(["source", "kind"]), "unknown_variant"));
    assert_eq!(issue["message"], "must be one of `web`, `upload`, `email`");
}

#[test]
fn every_rule_failure_is_listed_with_nested_paths_and_codes() {
    let mut body = valid_document();
    body["title"] = json!("");
    body["tags"] = json!(["ok", "x".repeat(33), "", "line\nbreak"]);
    body["source"]["url"] = json!("not a url");
    body["source"]["externalId"] = json!("Not A Slug");
    body["items"][0]["quantity"] = json!(0);
    body["items"][1]["title"] = json!("t".repeat(201));
    body["items"][2]["unitWeight"] = json!(1.5);
    body["priority"] = json!(11);
    body["contactEmail"] = json!("cfo-at-example.com");
    body["metadata"] = json!({"a": {"b": {"c": {"d": {}}}}});
    body["sections"] = json!({
        "zeta": {"title": "fine", "quantity": 1, "unitWeight": 0.1},
        "alpha": {"title": "", "quantity": 1001, "unitWeight": -0.5}
    });
    let err = parse::<CreateDocument>(&bytes(&body)).unwrap_err();
    let got: Vec<Value> = issues(&err).iter().map(|i| json!([i["path"], i["code"]])).collect();
    assert_eq!(
        got,
        vec![
            json!([["contactEmail"], "invalid_email"]),
            json!([["items", 0, "quantity"], "too_small"]),
            json!([["items", 1, "title"], "too_long"]),
            json!([["items", 2, "unitWeight"], "too_big"]),
            json!([["metadata"], "too_deep"]),
            json!([["priority"], "too_big"]),
            json!([["sections", "alpha", "quantity"], "too_big"]),
            json!([["sections", "alpha", "title"], "too_short"]),
            json!([["sections", "alpha", "unitWeight"], "too_small"]),
            json!([["source", "externalId"], "invalid_string"]),
            json!([["source", "url"], "invalid_url"]),
            json!([["tags", 1], "too_long"]),
            json!([["tags", 2], "too_short"]),
            json!([["tags", 3], "invalid_string"]),
            json!([["title"], "too_short"]),
        ]
    );
    let by_path = |path: Value| issues(&err).into_iter().find(|i| i["path"] == path).unwrap();
    assert_eq!(
        by_path(json!(["items", 1, "title"])),
        json!({"path": ["items", 1, "title"], "code": "too_long", "message": "must be at most 200 characters",
               "params": {"min": 1, "max": 200}})
    );
    assert_eq!(by_path(json!(["title"]))["message"], "must be at least 1 character");
    assert_eq!(by_path(json!(["items", 0, "quantity"]))["message"], "must be at least 1");
    assert_eq!(by_path(json!(["sections", "alpha", "unitWeight"]))["message"], "must be at least 0");
    assert_eq!(by_path(json!(["tags", 1]))["message"], "must be at most 32 characters");
    assert_eq!(by_path(json!(["metadata"]))["message"], "must be nested at most 4 levels deep");
    // Nothing the client sent is echoed back.
    assert!(!serde_json::to_string(&err.details).unwrap().contains("cfo-at-example"));
}

#[test]
fn too_many_tags_is_one_issue_on_the_list() {
    let tags: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    let body = with(valid_document(), "/tags", json!(tags));
    let issue = only_issue(&parse::<CreateDocument>(&bytes(&body)).unwrap_err());
    assert_eq!(issue["path"], json!(["tags"]));
    assert_eq!(
        (issue["code"].as_str(), issue["message"].as_str()),
        (Some("too_long"), Some("must be at most 20 items"))
    );
    let empty_items = with(valid_document(), "/items", json!([]));
    let issue = only_issue(&parse::<CreateDocument>(&bytes(&empty_items)).unwrap_err());
    assert_eq!(
        (issue["code"].as_str(), issue["message"].as_str()),
        (Some("too_short"), Some("must be at least 1 item"))
    );
}

#[test]
fn metadata_size_limit() {
    let body = with(valid_document(), "/metadata", json!({"blob": "x".repeat(2000)}));
    let issue = only_issue(&parse::<CreateDocument>(&bytes(&body)).unwrap_err());
    assert_eq!(
        issue,
        json!({"path": ["metadata"], "code": "too_large", "message": "must be at most 1024 bytes as JSON", "params": {"max": 1024}})
    );
}

#[test]
fn required_exclusive_bounds_and_struct_rules() {
    let err = parse::<Search>(br#"{"minScore": 0, "limit": 0, "fromDay": 9, "toDay": 2}"#).unwrap_err();
    let all = issues(&err);
    assert_eq!(
        all,
        vec![
            json!({"path": [], "code": "invalid_window", "message": "fromDay must not be after toDay"}),
            json!({"path": ["limit"], "code": "too_small", "message": "must be at least 1", "params": {"min": 1, "max": 100}}),
            json!({"path": ["minScore"], "code": "too_small", "message": "must be greater than 0",
                   "params": {"exclusive_min": 0.0, "max": 1.0}}),
            json!({"path": ["query"], "code": "required", "message": "is required"}),
        ]
    );
    let ok: Search = parse(br#"{"query": "invoices", "minScore": 1}"#).unwrap();
    assert_eq!((ok.limit, ok.min_score), (10, Some(1.0)));
}

#[test]
fn validator_reports_rust_names_and_paths_use_the_wire_names() {
    // What validator 0.21 itself says: the Rust identifier, serde's rename_all ignored.
    let doc: CreateDocument = serde_json::from_value(with(valid_document(), "/contactEmail", json!("nope"))).unwrap();
    let raw = doc.validate().unwrap_err();
    assert!(raw.field_errors().contains_key("contact_email"), "{raw:?}");
    assert!(!raw.field_errors().contains_key("contactEmail"));

    // The issue path is what the client sent, for camelCase, snake_case and a raw identifier.
    let body = json!({"owner_email": "x", "callback_url": "ftp//", "events": [], "type": ""});
    let err = parse::<Subscription>(&bytes(&body)).unwrap_err();
    let got: Vec<Value> = issues(&err).iter().map(|i| json!([i["path"], i["code"], i["message"]])).collect();
    assert_eq!(
        got,
        vec![
            json!([["callback_url"], "invalid_url", "must be a valid URL"]),
            json!([["events"], "too_short", "must be at least 1 item"]),
            json!([["owner_email"], "invalid_email", "we need an address we can write to"]),
            json!([["type"], "too_short", "must be at least 1 character"]),
        ]
    );
}

#[test]
fn the_error_body_carries_the_issues_at_error_issues() {
    let body = with(valid_document(), "/title", json!(""));
    let err = parse::<CreateDocument>(&bytes(&body)).unwrap_err();
    let wire = err.body("req-1");
    assert_eq!(wire["error"]["code"], "validation_failed");
    // sba-errors lifts details.issues to error.issues.
    assert_eq!(wire["error"]["issues"][0]["path"], json!(["title"]));
}
