//! `getDocument`: one knowledge-base document by id, its content cut to what fits a prompt.

use crate::registry::{error, success};
use crate::{ToolResult, ToolSpec};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::borrow::Cow;
use tokio_postgres::{Error, Transaction};
use uuid::Uuid;
use validator::{Validate, ValidationError};

pub(crate) const NAME: &str = "getDocument";
/// Content beyond this many characters is cut off and the result says `truncated: true`.
pub(crate) const MAX_CONTENT_CHARS: usize = 20_000;

pub(crate) fn spec() -> ToolSpec {
    ToolSpec {
        name: NAME,
        description: "Read one knowledge-base document by its id (a documentId from searchKb). \
                      Long content is cut to 20000 characters and marked truncated.",
        parameters: json!({
            "type": "object",
            "properties": {
                "documentId": {"type": "string", "format": "uuid", "description": "The document's id."}
            },
            "required": ["documentId"],
            "additionalProperties": false
        }),
    }
}

#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Args {
    #[validate(custom(function = uuid_text))]
    pub document_id: String,
}

fn uuid_text(s: &str) -> Result<(), ValidationError> {
    match Uuid::try_parse(s) {
        Ok(_) => Ok(()),
        Err(_) => Err(ValidationError::new("invalid_uuid").with_message(Cow::Borrowed("must be a UUID"))),
    }
}

pub(crate) async fn run(tx: &Transaction<'_>, args: Args) -> Result<ToolResult, Error> {
    let Ok(id) = Uuid::try_parse(&args.document_id) else {
        return Ok(crate::registry::invalid_arguments(Vec::new()));
    };
    let Some(doc) = sba_kb::store::get(tx, id).await? else {
        return Ok(error("not_found", json!({"message": "no document with this id"})));
    };
    let (content, truncated) = truncate_chars(&doc.content, MAX_CONTENT_CHARS);
    Ok(success(
        json!({
            "id": doc.id,
            "title": doc.title,
            "content": content,
            "truncated": truncated,
            "contentType": doc.content_type,
            "tags": doc.tags,
            "version": doc.version,
        }),
        json!({ "documentId": doc.id, "truncated": truncated }),
    ))
}

/// The first `max` characters (Unicode scalar values) of `s`, and whether anything was cut.
pub(crate) fn truncate_chars(s: &str, max: usize) -> (&str, bool) {
    match s.char_indices().nth(max) {
        Some((end, _)) => (&s[..end], true),
        None => (s, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::parse;

    #[test]
    fn document_id_must_be_a_uuid() {
        assert!(parse::<Args>(r#"{"documentId": "6f9619ff-8b86-d011-b42d-00cf4fc964ff"}"#).is_ok());
        for bad in [
            r#"{"documentId": "nope"}"#,
            r#"{"documentId": ""}"#,
            r#"{"documentId": "6f9619ff-8b86-d011-b42d-00cf4fc964f"}"#,
        ] {
            let issues = parse::<Args>(bad).err().unwrap();
            assert_eq!(
                (issues[0].code.as_str(), &issues[0].path),
                ("invalid_uuid", &vec!["documentId".into()]),
                "{bad}"
            );
        }
        assert_eq!(parse::<Args>(r#"{"documentId": 7}"#).err().unwrap()[0].code, "invalid_type");
        assert_eq!(parse::<Args>(r#"{"document_id": "x"}"#).err().unwrap()[0].code, "unknown_field");
    }

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate_chars("héllo", 5), ("héllo", false));
        assert_eq!(truncate_chars("héllo", 2), ("hé", true));
        assert_eq!(truncate_chars("", 0), ("", false));
        assert_eq!(truncate_chars("ab", 0), ("", true));
    }
}
