//! `createTask`: a to-do in `public.tasks`, owned by the tenant (RLS default), attributed to
//! the caller and the run.

use crate::registry::success;
use crate::{ToolContext, ToolResult, ToolSpec};
use sba_validate::rules::no_control_chars;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::borrow::Cow;
use tokio_postgres::{Error, Transaction};
use uuid::Uuid;
use validator::{Validate, ValidationError};

pub(crate) const NAME: &str = "createTask";

pub(crate) fn spec() -> ToolSpec {
    ToolSpec {
        name: NAME,
        description: "Create a task (a to-do) for the user's organisation. Returns the new task's id and status.",
        parameters: json!({
            "type": "object",
            "properties": {
                "title": {"type": "string", "minLength": 1, "maxLength": 200, "description": "Short, imperative title."},
                "notes": {"type": "string", "maxLength": 4000, "description": "Optional details."},
                "dueDate": {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "description": "Optional due date, YYYY-MM-DD."}
            },
            "required": ["title"],
            "additionalProperties": false
        }),
    }
}

#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Args {
    #[validate(length(min = 1, max = 200), custom(function = no_control_chars))]
    pub title: String,
    #[validate(length(max = 4000), custom(function = no_nul))]
    pub notes: Option<String>,
    #[validate(custom(function = calendar_date))]
    pub due_date: Option<String>,
}

/// Postgres text cannot hold NUL; newlines and tabs are fine in notes.
fn no_nul(s: &str) -> Result<(), ValidationError> {
    if s.contains('\0') {
        Err(ValidationError::new("invalid_string").with_message(Cow::Borrowed("must not contain NUL characters")))
    } else {
        Ok(())
    }
}

/// `YYYY-MM-DD`, a real day of the Gregorian calendar (years 0001–9999).
pub(crate) fn calendar_date(s: &str) -> Result<(), ValidationError> {
    let invalid = || ValidationError::new("invalid_date").with_message(Cow::Borrowed("must be a date as YYYY-MM-DD"));
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return Err(invalid());
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<u32>().ok()).unwrap_or(0);
    let (year, month, day) = (num(0..4), num(5..7), num(8..10));
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    if year == 0 || day == 0 || day > days {
        return Err(invalid());
    }
    Ok(())
}

pub(crate) async fn run(tx: &Transaction<'_>, ctx: &ToolContext, args: Args) -> Result<ToolResult, Error> {
    let row = tx
        .query_one(
            "insert into tasks (title, notes, due_date, created_by, source_run_id)
             values ($1, $2, $3::text::date, $4, $5)
             returning id, title, status, to_char(due_date, 'YYYY-MM-DD')",
            &[&args.title, &args.notes, &args.due_date, &ctx.subject, &ctx.run_id],
        )
        .await?;
    let (id, title, status, due_date): (Uuid, String, String, Option<String>) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    Ok(success(json!({"id": id, "title": title, "status": status, "dueDate": due_date}), json!({"taskId": id})))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::parse;

    fn first_issue(text: &str) -> (String, String) {
        let issues = parse::<Args>(text).err().unwrap_or_else(|| panic!("accepted: {text}"));
        (serde_json::to_string(&issues[0].path).unwrap(), issues[0].code.clone())
    }

    #[test]
    fn valid_arguments() {
        let args: Args = parse(r#"{"title": "Call Ana", "notes": "line 1\nline 2", "dueDate": "2028-02-29"}"#).unwrap();
        assert_eq!(args.due_date.as_deref(), Some("2028-02-29"));
        assert!(parse::<Args>(r#"{"title": "x", "notes": null, "dueDate": null}"#).is_ok());
        assert!(
            parse::<Args>(&format!(r#"{{"title": "{}", "notes": "{}"}}"#, "t".repeat(200), "n".repeat(4000))).is_ok()
        );
    }

    #[test]
    fn invalid_arguments() {
        let cases = [
            (r#"{}"#.to_owned(), r#"["title"]"#, "required"),
            (r#"{"title": ""}"#.to_owned(), r#"["title"]"#, "too_short"),
            (format!(r#"{{"title": "{}"}}"#, "t".repeat(201)), r#"["title"]"#, "too_long"),
            (r#"{"title": "a\nb"}"#.to_owned(), r#"["title"]"#, "invalid_string"),
            (format!(r#"{{"title": "x", "notes": "{}"}}"#, "n".repeat(4001)), r#"["notes"]"#, "too_long"),
            (r#"{"title": "x", "notes": "a\u0000"}"#.to_owned(), r#"["notes"]"#, "invalid_string"),
            (r#"{"title": "x", "dueDate": "tomorrow"}"#.to_owned(), r#"["dueDate"]"#, "invalid_date"),
            (r#"{"title": "x", "status": "done"}"#.to_owned(), r#"["status"]"#, "unknown_field"),
            (r#"{"title": 3}"#.to_owned(), r#"["title"]"#, "invalid_type"),
        ];
        for (text, path, code) in cases {
            assert_eq!(first_issue(&text), (path.to_owned(), code.to_owned()), "{text}");
        }
    }

    #[test]
    fn calendar_dates() {
        for ok in ["2026-11-26", "2028-02-29", "2000-02-29", "0001-01-01", "9999-12-31"] {
            assert!(calendar_date(ok).is_ok(), "{ok}");
        }
        for bad in [
            "2026-02-29",
            "1900-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-04-31",
            "0000-01-01",
            "2026-1-01",
            "2026/01/01",
            "2026-01-01T00:00",
            "+026-01-01",
            "２０２６-01-01",
            "",
        ] {
            assert!(calendar_date(bad).is_err(), "{bad}");
        }
    }
}
