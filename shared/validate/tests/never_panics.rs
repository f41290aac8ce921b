//! Property: `parse` never panics, and answers Ok, a 400 `invalid_json` or a 422
//! `validation_failed` with well-formed issues, for any bytes and any JSON, including
//! near-miss bodies that have the right keys with values of random types.

mod common;

use common::{CreateDocument, Search, Subscription};
use proptest::prelude::*;
use sba_validate::{parse, ApiError, Validate};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

fn check<T: DeserializeOwned + Validate>(body: &[u8]) -> Result<(), TestCaseError> {
    match parse::<T>(body) {
        Ok(_) => Ok(()),
        Err(err) => well_formed(&err),
    }
}

fn well_formed(err: &ApiError) -> Result<(), TestCaseError> {
    match (err.status, err.code.as_ref()) {
        (400, "invalid_json") => {
            prop_assert!(!err.message.is_empty());
            if let Some(details) = &err.details {
                prop_assert!(details["line"].is_u64() && details["column"].is_u64(), "{details}");
            }
        }
        (422, "validation_failed") => {
            let issues = err.details.as_ref().and_then(|d| d["issues"].as_array()).cloned().unwrap_or_default();
            prop_assert!(!issues.is_empty(), "422 without issues: {err:?}");
            prop_assert_eq!(&err.message, &format!("request body failed validation: {} issue(s)", issues.len()));
            for issue in &issues {
                let path = issue["path"].as_array();
                prop_assert!(path.is_some_and(|p| p.iter().all(|s| s.is_string() || s.is_u64())), "{issue}");
                prop_assert!(issue["code"].as_str().is_some_and(|c| !c.is_empty()), "{issue}");
                prop_assert!(issue["message"].as_str().is_some_and(|m| !m.is_empty()), "{issue}");
                prop_assert!(issue["params"].is_null() || issue["params"].is_object(), "{issue}");
            }
        }
        _ => prop_assert!(false, "unexpected error {err:?}"),
    }
    Ok(())
}

fn check_all(body: &[u8]) -> Result<(), TestCaseError> {
    check::<CreateDocument>(body)?;
    check::<Search>(body)?;
    check::<Subscription>(body)
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,40}".prop_map(Value::String),
        (0usize..300).prop_map(|n| Value::String("é".repeat(n))),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z_]{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object with some of `fields` (each present with probability 0.95) and sometimes a
/// stray key.
fn object_of(fields: Vec<(&'static str, BoxedStrategy<Value>)>) -> BoxedStrategy<Value> {
    let fields: Vec<_> =
        fields.into_iter().map(|(k, v)| prop::option::weighted(0.95, v).prop_map(move |v| (k, v))).collect();
    (fields, prop::option::weighted(0.05, any_json()))
        .prop_map(|(fields, stray)| {
            let mut map: Map<String, Value> =
                fields.into_iter().filter_map(|(k, v)| Some((k.to_owned(), v?))).collect();
            if let Some(stray) = stray {
                map.insert("bogus".to_owned(), stray);
            }
            Value::Object(map)
        })
        .boxed()
}

/// Mostly `plausible`, sometimes anything at all.
fn near(plausible: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Value> {
    prop_oneof![15 => plausible, 1 => any_json()].boxed()
}

/// Strings around the length bounds, some with control characters or multi-byte characters.
fn text(max: usize) -> BoxedStrategy<Value> {
    (0..max + 3, prop_oneof![4 => Just("a"), 1 => Just("\n"), 1 => Just("é")])
        .prop_map(|(n, s)| json!(s.repeat(n)))
        .boxed()
}

fn near_item() -> BoxedStrategy<Value> {
    object_of(vec![
        ("title", near(text(200))),
        ("quantity", near((-2i64..1003).prop_map(|n| json!(n)))),
        ("unitWeight", near((-0.5f64..1.5).prop_map(|f| json!(f)))),
    ])
}

fn near_document() -> BoxedStrategy<Value> {
    let strings = |s: &'static [&'static str]| prop::sample::select(s).prop_map(|s| json!(s));
    let source = object_of(vec![
        ("kind", near(strings(&["web", "upload", "email", "web", "fax"]))),
        ("url", near(strings(&["https://example.com/a", "not a url", "", "ftp://x.y/z", "http://[::1]:80/"]))),
        ("externalId", near(strings(&["doc-1", "Doc 1", ""]))),
    ]);
    object_of(vec![
        ("title", near(text(200))),
        ("tags", near(prop::collection::vec(text(32), 0..23).prop_map(Value::Array))),
        ("source", near(source)),
        ("items", near(prop::collection::vec(near_item(), 0..4).prop_map(Value::Array))),
        ("priority", near((-1i64..14).prop_map(|n| json!(n)))),
        ("contactEmail", near(strings(&["a@b.co", "a-at-b", "@", "a@", "ü@例え.jp"]))),
        ("metadata", any_json().boxed()),
        ("sections", near(prop::collection::btree_map("[a-z]{0,3}", near_item(), 0..4).prop_map(|m| json!(m)))),
    ])
}

fn near_search() -> BoxedStrategy<Value> {
    let day = || near((0u32..40).prop_map(|n| json!(n)));
    object_of(vec![
        ("query", near(text(500))),
        ("limit", near((-1i64..102).prop_map(|n| json!(n)))),
        ("minScore", near((-0.5f64..1.5).prop_map(|f| json!(f)))),
        ("fromDay", day()),
        ("toDay", day()),
    ])
}

fn near_subscription() -> BoxedStrategy<Value> {
    object_of(vec![
        ("owner_email", near(prop::sample::select(&["a@b.co", "nope"][..]).prop_map(|s| json!(s)))),
        ("callback_url", near(prop::sample::select(&["https://x.y/hook", "x"][..]).prop_map(|s| json!(s)))),
        ("events", near(prop::collection::vec(text(3), 0..7).prop_map(Value::Array))),
        ("type", near(text(2))),
    ])
}

/// A document that satisfies every rule, so false rejections show up too.
fn valid_document() -> impl Strategy<Value = Value> {
    let text = |max: usize| {
        prop::collection::vec(prop::char::range('!', '~').prop_union(prop::char::range('À', 'ÿ')), 1..=max)
            .prop_map(|c| c.into_iter().collect::<String>())
    };
    let item = (text(200), 1u32..=1000, 0.0f64..=1.0)
        .prop_map(|(t, q, w)| json!({"title": t, "quantity": q, "unitWeight": w}));
    (
        text(200),
        prop::collection::vec(text(32), 0..=20),
        prop::sample::select(&["web", "upload", "email"][..]),
        prop::collection::vec(item.clone(), 1..5),
        prop::option::of(1u8..=10),
        prop::collection::btree_map("[a-z]{1,5}", item, 0..3),
    )
        .prop_map(|(title, tags, kind, items, priority, sections)| {
            json!({"title": title, "tags": tags, "source": {"kind": kind, "url": "https://example.com/a?b=c", "externalId": "x-1"},
                   "items": items, "priority": priority, "contactEmail": "someone@example.com",
                   "metadata": {"k": [1, {"v": "w"}]}, "sections": sections})
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..200)) {
        check_all(&body)?;
    }

    #[test]
    fn arbitrary_json(value in any_json(), pretty in any::<bool>()) {
        let body = if pretty { serde_json::to_vec_pretty(&value) } else { serde_json::to_vec(&value) };
        check_all(&body.unwrap())?;
    }

    #[test]
    fn near_miss_bodies(doc in near_document(), search in near_search(), sub in near_subscription()) {
        check::<CreateDocument>(&serde_json::to_vec(&doc).unwrap())?;
        check::<Search>(&serde_json::to_vec(&search).unwrap())?;
        check::<Subscription>(&serde_json::to_vec(&sub).unwrap())?;
    }

    #[test]
    fn mangled_json(value in near_document(), cut in any::<prop::sample::Index>(), byte in any::<u8>()) {
        // A valid-looking body with one byte replaced: mostly 400s, sometimes 422s.
        let mut body = serde_json::to_vec(&value).unwrap();
        if !body.is_empty() {
            let at = cut.index(body.len());
            body[at] = byte;
        }
        check_all(&body)?;
    }

    #[test]
    fn valid_documents_parse(doc in valid_document()) {
        let parsed = parse::<CreateDocument>(&serde_json::to_vec(&doc).unwrap());
        prop_assert!(parsed.is_ok(), "{:?}\n{doc:#}", parsed.err());
    }
}
