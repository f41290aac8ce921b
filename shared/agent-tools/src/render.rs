//! `render`: a few fixed HTML templates filled with the LLM's data, every value HTML-escaped
//! (minijinja with auto-escape forced on). The LLM picks a template; it never supplies markup.

use crate::registry::{error, invalid_arguments, success};
use crate::{ToolResult, ToolSpec};
use minijinja::value::Value as TplValue;
use minijinja::{context, AutoEscape, Environment};
use sba_validate::rules::{json_depth_and_size, no_control_chars};
use sba_validate::{check_value, Issue, PathSegment};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use validator::{Validate, ValidationError};

pub(crate) const NAME: &str = "render";
/// The rendered HTML may be at most this long.
pub(crate) const MAX_OUTPUT_BYTES: usize = 64 * 1024;
const MAX_DATA_BYTES: usize = 32 * 1024;
const MAX_DATA_DEPTH: usize = 4;
const MAX_COLUMNS: u64 = 20;
const MAX_ROWS: u64 = 200;
const MAX_CELL_CHARS: usize = 1000;

const TASK_CARD: &str = r#"<article class="sba-task-card"><h3 class="sba-task-title">{{ title }}</h3><p class="sba-task-status sba-task-status-{{ status }}">{{ status }}</p>{% if due_date %}<p class="sba-task-due">Due <time datetime="{{ due_date }}">{{ due_date }}</time></p>{% endif %}</article>"#;
const DOCUMENT_SUMMARY: &str = r#"<article class="sba-document-summary"><h3>{% if url %}<a href="{{ url }}" rel="noopener noreferrer">{{ title }}</a>{% else %}{{ title }}{% endif %}</h3>{% if summary %}<p>{{ summary }}</p>{% endif %}</article>"#;
const TABLE: &str = r#"<table class="sba-table"><thead><tr>{% for c in columns %}<th scope="col">{{ c }}</th>{% endfor %}</tr></thead><tbody>{% for row in rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>{% endfor %}</tbody></table>"#;

pub(crate) fn spec() -> ToolSpec {
    ToolSpec {
        name: NAME,
        description: "Render data as HTML for the user with a built-in template. Templates and their data: \
                      task_card {title, status: open|done, dueDate?}; \
                      document_summary {title, summary?, url? (http/https)}; \
                      table {columns: [string], rows: [[string|number|boolean|null]]}.",
        parameters: json!({
            "type": "object",
            "properties": {
                "template": {"type": "string", "enum": ["task_card", "document_summary", "table"]},
                "data": {"type": "object", "description": "The template's fields, as listed in the description."}
            },
            "required": ["template", "data"],
            "additionalProperties": false
        }),
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Template {
    TaskCard,
    DocumentSummary,
    Table,
}

impl Template {
    fn name(self) -> &'static str {
        match self {
            Template::TaskCard => "task_card",
            Template::DocumentSummary => "document_summary",
            Template::Table => "table",
        }
    }

    fn source(self) -> &'static str {
        match self {
            Template::TaskCard => TASK_CARD,
            Template::DocumentSummary => DOCUMENT_SUMMARY,
            Template::Table => TABLE,
        }
    }
}

#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub(crate) struct Args {
    pub template: Template,
    #[validate(custom(function = data_limits))]
    pub data: Map<String, Value>,
}

fn data_limits(data: &Map<String, Value>) -> Result<(), ValidationError> {
    json_depth_and_size(&Value::Object(data.clone()), MAX_DATA_DEPTH, MAX_DATA_BYTES)
}

#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TaskCard {
    #[validate(length(min = 1, max = 200), custom(function = no_control_chars))]
    title: String,
    status: Status,
    #[validate(custom(function = crate::create_task::calendar_date))]
    due_date: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Open,
    Done,
}

#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DocumentSummary {
    #[validate(length(min = 1, max = 300), custom(function = no_control_chars))]
    title: String,
    /// `headline` is accepted too: searchKb's hits carry one.
    #[serde(alias = "headline")]
    #[validate(length(max = 2000))]
    summary: Option<String>,
    #[validate(length(max = 2048), url, custom(function = http_url))]
    url: Option<String>,
}

/// Only web links: `javascript:` and `data:` URLs are valid URLs but not safe in an `href`.
fn http_url(url: &str) -> Result<(), ValidationError> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        Ok(())
    } else {
        Err(ValidationError::new("invalid_url").with_message(Cow::Borrowed("must be an http or https URL")))
    }
}

#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
struct Table {
    #[validate(length(min = 1, max = "MAX_COLUMNS"), custom(function = column_rules))]
    columns: Vec<String>,
    #[validate(length(max = "MAX_ROWS"))]
    rows: Vec<Vec<Value>>,
}

fn column_rules(columns: &[String]) -> Result<(), ValidationError> {
    match columns.iter().position(|c| c.is_empty() || c.chars().count() > 100 || c.chars().any(char::is_control)) {
        None => Ok(()),
        Some(i) => Err(ValidationError::new("invalid_column")
            .with_message(Cow::Owned(format!("column {i} must be 1 to 100 characters without control characters")))),
    }
}

/// Each row has one cell per column; a cell is a string (≤ 1000 characters), number, boolean or null.
fn row_issues(table: &Table) -> Vec<Issue> {
    let mut issues = Vec::new();
    for (r, row) in table.rows.iter().enumerate() {
        let at = |c: Option<usize>| {
            let mut path: Vec<PathSegment> = vec!["data".into(), "rows".into(), r.into()];
            path.extend(c.map(PathSegment::from));
            path
        };
        if row.len() != table.columns.len() {
            issues.push(
                Issue::new(
                    at(None),
                    "invalid_length",
                    format!("must have {} cells, one per column", table.columns.len()),
                )
                .with_param("expected", json!(table.columns.len())),
            );
        }
        for (c, cell) in row.iter().enumerate() {
            let bad = match cell {
                Value::String(s) => s.chars().count() > MAX_CELL_CHARS,
                Value::Array(_) | Value::Object(_) => true,
                _ => false,
            };
            if bad {
                issues.push(Issue::new(
                    at(Some(c)),
                    "invalid_cell",
                    format!("must be a string of at most {MAX_CELL_CHARS} characters, a number, a boolean or null"),
                ));
            }
        }
    }
    issues
}

fn cell(value: &Value) -> TplValue {
    match value {
        Value::Null => TplValue::from(""),
        Value::String(s) => TplValue::from(s.as_str()),
        other => TplValue::from(other.to_string()),
    }
}

/// Validates the template's data, renders it, and checks the size of the result.
pub(crate) fn run(args: Args) -> ToolResult {
    let data = Value::Object(args.data);
    let context = match build_context(args.template, &data) {
        Ok(context) => context,
        Err(issues) => return invalid_arguments(issues),
    };
    match render_html(args.template, context) {
        Ok(html) if html.len() <= MAX_OUTPUT_BYTES => {
            let bytes = html.len();
            success(json!({ "html": html }), json!({ "template": args.template.name(), "bytes": bytes }))
        }
        Ok(_) => invalid_arguments(vec![Issue::new(
            vec!["data".into()],
            "too_large",
            format!("the rendered HTML would exceed {MAX_OUTPUT_BYTES} bytes; send less data"),
        )
        .with_param("max", json!(MAX_OUTPUT_BYTES))]),
        // The templates are constants tested below; this is a defect, not the LLM's fault.
        Err(_) => error("render_failed", json!({"message": "the template could not be rendered"})),
    }
}

fn build_context(template: Template, data: &Value) -> Result<TplValue, Vec<Issue>> {
    let under_data = |issues: Vec<Issue>| -> Vec<Issue> {
        issues
            .into_iter()
            .map(|mut i| {
                i.path.insert(0, "data".into());
                i
            })
            .collect()
    };
    Ok(match template {
        Template::TaskCard => {
            let d: TaskCard = check_value(data).map_err(under_data)?;
            let status = match d.status {
                Status::Open => "open",
                Status::Done => "done",
            };
            context! { title => d.title, status => status, due_date => d.due_date }
        }
        Template::DocumentSummary => {
            let d: DocumentSummary = check_value(data).map_err(under_data)?;
            context! { title => d.title, summary => d.summary, url => d.url }
        }
        Template::Table => {
            let d: Table = check_value(data).map_err(under_data)?;
            let issues = row_issues(&d);
            if !issues.is_empty() {
                return Err(issues);
            }
            let columns: TplValue = d.columns.iter().map(String::as_str).map(TplValue::from).collect();
            let rows: TplValue = d.rows.iter().map(|row| row.iter().map(cell).collect::<TplValue>()).collect();
            context! { columns => columns, rows => rows }
        }
    })
}

fn render_html(template: Template, context: TplValue) -> Result<String, minijinja::Error> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.add_template(template.name(), template.source())?;
    env.get_template(template.name())?.render(context)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::parse;

    fn render(arguments: Value) -> ToolResult {
        match parse::<Args>(&arguments.to_string()) {
            Ok(args) => run(args),
            Err(issues) => invalid_arguments(issues),
        }
    }

    fn html(arguments: Value) -> String {
        let r = render(arguments);
        assert!(!r.is_error, "{}", r.content);
        serde_json::from_str::<Value>(&r.content).unwrap()["html"].as_str().unwrap().to_owned()
    }

    fn issues(arguments: Value) -> Vec<(Value, String)> {
        let r = render(arguments);
        assert!(r.is_error);
        let v: Value = serde_json::from_str(&r.content).unwrap();
        assert_eq!(v["error"]["code"], "invalid_arguments");
        v["error"]["issues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["path"].clone(), i["code"].as_str().unwrap().to_owned()))
            .collect()
    }

    #[test]
    fn every_template_renders() {
        let card = html(
            json!({"template": "task_card", "data": {"title": "Call Ana", "status": "open", "dueDate": "2026-12-01"}}),
        );
        assert!(card.contains(">Call Ana</h3>") && card.contains(r#"datetime="2026-12-01""#), "{card}");
        let card = html(json!({"template": "task_card", "data": {"title": "Call Ana", "status": "done"}}));
        assert!(!card.contains("Due"), "{card}");
        let summary = html(
            json!({"template": "document_summary", "data": {"title": "Guide", "headline": "About **refunds**", "url": "https://example.com/a?b=1&c=2"}}),
        );
        assert!(summary.contains("About **refunds**") && summary.contains("&amp;c=2"), "{summary}");
        let table = html(
            json!({"template": "table", "data": {"columns": ["Name", "Qty"], "rows": [["Pens", 3], ["Ink", null], [true, 2.5]]}}),
        );
        assert_eq!(table.matches("<tr>").count(), 4, "{table}");
        assert!(
            table.contains("<td>3</td>")
                && table.contains("<td></td>")
                && table.contains("<td>true</td>")
                && table.contains("<td>2.5</td>"),
            "{table}"
        );
    }

    #[test]
    fn script_in_data_is_escaped() {
        let evil = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>";
        for args in [
            json!({"template": "task_card", "data": {"title": evil, "status": "open"}}),
            json!({"template": "document_summary", "data": {"title": evil, "summary": evil, "url": format!("https://e.com/\"{evil}")}}),
            json!({"template": "table", "data": {"columns": [evil], "rows": [[evil]]}}),
        ] {
            let out = html(args);
            assert!(!out.contains("<script") && !out.contains("<img") && !out.contains("alert(1)>"), "{out}");
            assert!(out.contains("&lt;script&gt;") && out.contains("&quot;&gt;&lt;img"), "{out}");
        }
    }

    #[test]
    fn unsafe_links_are_refused() {
        for url in ["javascript:alert(1)", "data:text/html,<b>x</b>", "//evil.example", "ftp://x.example/"] {
            assert_eq!(
                issues(json!({"template": "document_summary", "data": {"title": "t", "url": url}}))
                    .first()
                    .map(|i| i.0.clone()),
                Some(json!(["data", "url"])),
                "{url}"
            );
        }
    }

    #[test]
    fn bad_template_or_data_are_invalid_arguments() {
        assert_eq!(
            issues(json!({"template": "raw_html", "data": {}})),
            [(json!(["template"]), "unknown_variant".to_owned())]
        );
        assert_eq!(issues(json!({"template": "table"})), [(json!(["data"]), "required".to_owned())]);
        assert_eq!(issues(json!({"template": "table", "data": []})), [(json!(["data"]), "invalid_type".to_owned())]);
        assert_eq!(
            issues(json!({"template": "task_card", "data": {"title": "x"}})),
            [(json!(["data", "status"]), "required".to_owned())]
        );
        assert_eq!(
            issues(json!({"template": "task_card", "data": {"title": "x", "status": "late"}})),
            [(json!(["data", "status"]), "unknown_variant".to_owned())]
        );
        assert_eq!(
            issues(json!({"template": "task_card", "data": {"title": "x", "status": "open", "html": "<b>"}})),
            [(json!(["data", "html"]), "unknown_field".to_owned())]
        );
        assert_eq!(
            issues(json!({"template": "table", "data": {"columns": ["a", "b"], "rows": [["x"], ["x", {"y": 1}]]}})),
            [
                (json!(["data", "rows", 0]), "invalid_length".to_owned()),
                (json!(["data", "rows", 1, 1]), "invalid_cell".to_owned())
            ]
        );
        assert_eq!(
            issues(json!({"template": "table", "data": {"columns": [], "rows": []}})),
            [(json!(["data", "columns"]), "too_short".to_owned())]
        );
        assert_eq!(
            issues(json!({"template": "table", "data": {"a": [[[[[1]]]]]}})),
            [(json!(["data"]), "too_deep".to_owned())]
        );
    }

    #[test]
    fn output_is_capped_at_64_kb() {
        // 20 columns × 200 rows of quotes: under the data limit, but escaping grows it past 64 KB.
        let row: Vec<Value> = (0..20).map(|_| json!("\"'\"'")).collect();
        let rows: Vec<Value> = (0..150).map(|_| Value::Array(row.clone())).collect();
        let columns: Vec<Value> = (0..20).map(|i| json!(format!("c{i}"))).collect();
        let data = json!({"columns": columns, "rows": rows});
        assert!(data.to_string().len() <= MAX_DATA_BYTES, "{}", data.to_string().len());
        assert_eq!(issues(json!({"template": "table", "data": data})), [(json!(["data"]), "too_large".to_owned())]);
    }
}
