//! BaseHub's content API, as far as re-ingest needs it: the GraphQL request that reads the
//! entries a change names, and the entries out of its answer. No I/O here.
//!
//! The API is `POST <BASEHUB_API_URL>` (default `https://api.basehub.com/graphql`) with the
//! read token in `x-basehub-token` and a `{query, variables}` body. There is no "block by id"
//! root field: entries are read from a component's instances filtered by `_sys_id`, and the
//! component and its rich-text field are names from the repository's own schema
//! (`BASEHUB_COMPONENT`, `BASEHUB_BODY_FIELD`). An id that matches nothing is not an error:
//! the list comes back empty. A query the schema rejects comes back as `{"errors": […]}`.

use serde_json::{json, Value};

pub const DEFAULT_API_URL: &str = "https://api.basehub.com/graphql";
/// At most this many entries per change are read (a change naming more is a bulk edit).
pub const MAX_ENTRIES: usize = 50;

/// Where and how to read entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentApi {
    pub url: String,
    pub token: String,
    /// The component whose instances are the knowledge-base entries, e.g. `article`.
    pub component: String,
    /// Its rich-text field, read as markdown, e.g. `body`.
    pub body_field: String,
    /// A branch (`x-basehub-ref`); the default branch when absent.
    pub reference: Option<String>,
}

impl ContentApi {
    /// `None` when re-ingest from BaseHub is not set up (no `BASEHUB_COMPONENT`); an error
    /// when it is set up wrongly (no token, a name GraphQL cannot carry).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let value = |name: &str| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let Some(component) = value("BASEHUB_COMPONENT") else { return Ok(None) };
        let body_field = value("BASEHUB_BODY_FIELD").unwrap_or_else(|| "body".to_owned());
        for (name, v) in [("BASEHUB_COMPONENT", &component), ("BASEHUB_BODY_FIELD", &body_field)] {
            if !is_graphql_name(v) {
                return Err(format!("{name} must be a GraphQL name ([A-Za-z_][A-Za-z0-9_]*), got {v:?}"));
            }
        }
        let token =
            value("BASEHUB_TOKEN").ok_or("BASEHUB_TOKEN (a read token) is required when BASEHUB_COMPONENT is set")?;
        Ok(Some(Self {
            url: value("BASEHUB_API_URL").unwrap_or_else(|| DEFAULT_API_URL.to_owned()),
            token,
            component,
            body_field,
            reference: value("BASEHUB_REF"),
        }))
    }

    /// The request's headers (the token among them: never log these).
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-basehub-token".to_owned(), self.token.clone()),
            ("x-basehub-api-version".to_owned(), "4".to_owned()),
        ];
        if let Some(reference) = &self.reference {
            headers.push(("x-basehub-ref".to_owned(), reference.clone()));
        }
        headers
    }

    /// The GraphQL body reading the entries among `ids` (the ids travel as a variable, never
    /// in the query text).
    pub fn request_body(&self, ids: &[String]) -> Value {
        let query = format!(
            "query Reingest($ids: [String!]!) {{ _componentInstances {{ {c}(first: {MAX_ENTRIES}, filter: {{ _sys_id: {{ in: $ids }} }}) {{ items {{ _id _title {b} {{ markdown }} }} }} }} }}",
            c = self.component,
            b = self.body_field,
        );
        json!({ "query": query, "variables": { "ids": ids } })
    }

    /// The entries in an answer, or why the answer is not usable.
    pub fn entries(&self, answer: &Value) -> Result<Vec<Entry>, String> {
        if let Some(errors) = answer.get("errors").and_then(Value::as_array).filter(|e| !e.is_empty()) {
            let first = errors[0].get("message").and_then(Value::as_str).unwrap_or("unnamed error");
            return Err(format!("BaseHub answered with {} GraphQL error(s): {first}", errors.len()));
        }
        let items = answer
            .pointer(&format!("/data/_componentInstances/{}/items", self.component))
            .and_then(Value::as_array)
            .ok_or("BaseHub's answer has no data._componentInstances.<component>.items")?;
        Ok(items
            .iter()
            .filter_map(|item| {
                Some(Entry {
                    id: item.get("_id")?.as_str()?.to_owned(),
                    title: item.get("_title").and_then(Value::as_str).unwrap_or("").to_owned(),
                    markdown: item.get(&self.body_field)?.get("markdown")?.as_str()?.to_owned(),
                })
            })
            .collect())
    }
}

/// One entry as re-ingest stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub title: String,
    pub markdown: String,
}

impl Entry {
    /// The knowledge-base document an entry is stored as: re-ingesting the entry makes a new
    /// version of it.
    pub fn external_id(&self) -> String {
        format!("basehub:{}", self.id)
    }
}

fn is_graphql_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> ContentApi {
        let vars = |name: &str| match name {
            "BASEHUB_COMPONENT" => Some("article".to_owned()),
            "BASEHUB_TOKEN" => Some("bshb_pk_x".to_owned()),
            _ => None,
        };
        ContentApi::from_vars(vars).unwrap().unwrap()
    }

    #[test]
    fn configuration_is_optional_but_checked() {
        assert_eq!(ContentApi::from_vars(|_| None), Ok(None));
        let api = api();
        assert_eq!((api.url.as_str(), api.body_field.as_str()), (DEFAULT_API_URL, "body"));
        let injected = |name: &str| match name {
            "BASEHUB_COMPONENT" => Some("article { secret }".to_owned()),
            "BASEHUB_TOKEN" => Some("t".to_owned()),
            _ => None,
        };
        assert!(ContentApi::from_vars(injected).unwrap_err().contains("GraphQL name"));
        let tokenless = |name: &str| (name == "BASEHUB_COMPONENT").then(|| "article".to_owned());
        assert!(ContentApi::from_vars(tokenless).unwrap_err().contains("BASEHUB_TOKEN"));
    }

    #[test]
    fn the_ids_are_a_variable_and_the_query_names_the_schema() {
        let body = api().request_body(&["a1".into(), "b2".into()]);
        assert_eq!(body["variables"]["ids"], json!(["a1", "b2"]));
        let query = body["query"].as_str().unwrap();
        assert!(query.contains("article(first: 50, filter: { _sys_id: { in: $ids } })"), "{query}");
        assert!(query.contains("body { markdown }"));
    }

    #[test]
    fn entries_come_out_of_the_answer_and_errors_are_errors() {
        let api = api();
        let found = json!({"data": {"_componentInstances": {"article": {"items": [
            {"_id": "a1", "_title": "Refunds", "body": {"markdown": "# Refunds\n30 days"}},
            {"_id": "a2", "_title": "No body"}
        ]}}}});
        assert_eq!(
            api.entries(&found).unwrap(),
            vec![Entry { id: "a1".into(), title: "Refunds".into(), markdown: "# Refunds\n30 days".into() }]
        );
        assert_eq!(api.entries(&json!({"data": {"_componentInstances": {"article": {"items": []}}}})).unwrap(), vec![]);
        let rejected = json!({"data": null, "errors": [{"message": "Cannot query field \"x\""}]});
        assert!(api.entries(&rejected).unwrap_err().contains("Cannot query field"));
        assert!(api.entries(&json!({"data": {}})).is_err());
    }
}
