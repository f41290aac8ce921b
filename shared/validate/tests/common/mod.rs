//! Realistic request types shared by the integration tests.
#![allow(dead_code)]

use sba_validate::rules::{json_depth_and_size, length_chars, no_control_chars, value_errors};
use sba_validate::{Validate, ValidationError, ValidationErrors};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::LazyLock;

pub static SLUG: LazyLock<regex::Regex> = LazyLock::new(|| regex::Regex::new(r"^[a-z0-9-]+$").expect("slug regex"));

/// POST /kb/documents
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateDocument {
    #[validate(length(min = 1, max = 200), custom(function = "no_control_chars"))]
    pub title: String,
    #[serde(default)]
    #[validate(length(max = 20), nested)]
    pub tags: Vec<Tag>,
    #[validate(nested)]
    pub source: Source,
    #[validate(length(min = 1, max = 50), nested)]
    pub items: Vec<Item>,
    #[validate(range(min = 1, max = 10))]
    pub priority: Option<u8>,
    #[validate(email)]
    pub contact_email: Option<String>,
    #[validate(custom(function = "metadata_limits"))]
    pub metadata: Option<Value>,
    #[serde(default)]
    #[validate(nested)]
    pub sections: BTreeMap<String, Item>,
}

/// One tag: 1..=32 characters, no control characters.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Tag(pub String);

impl Validate for Tag {
    fn validate(&self) -> Result<(), ValidationErrors> {
        value_errors([length_chars(&self.0, 1, 32), no_control_chars(&self.0)])
    }
}

#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    pub kind: SourceKind,
    #[validate(url)]
    pub url: String,
    #[validate(regex(path = *SLUG))]
    pub external_id: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Web,
    Upload,
    Email,
}

#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    #[validate(length(min = 1, max = 200))]
    pub title: String,
    #[validate(range(min = 1, max = 1000))]
    pub quantity: u32,
    #[validate(range(min = 0.0, max = 1.0))]
    pub unit_weight: f64,
}

fn metadata_limits(value: &Value) -> Result<(), ValidationError> {
    json_depth_and_size(value, 4, 1024)
}

/// POST /kb/search: `required`, an exclusive bound and a struct-level rule.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(rename_all = "camelCase")]
#[validate(schema(function = "search_window", skip_on_field_errors = false))]
pub struct Search {
    #[validate(required, length(min = 1, max = 500))]
    pub query: Option<String>,
    #[serde(default = "default_limit")]
    #[validate(range(min = 1, max = 100))]
    pub limit: u32,
    #[validate(range(exclusive_min = 0.0, max = 1.0))]
    pub min_score: Option<f64>,
    pub from_day: Option<u32>,
    pub to_day: Option<u32>,
}

fn default_limit() -> u32 {
    10
}

fn search_window(search: &Search) -> Result<(), ValidationError> {
    match (search.from_day, search.to_day) {
        (Some(from), Some(to)) if from > to => {
            Err(ValidationError::new("invalid_window").with_message("fromDay must not be after toDay".into()))
        }
        _ => Ok(()),
    }
}

/// POST /webhooks/subscriptions: no serde renames, snake_case on the wire.
#[derive(Debug, Deserialize, Serialize, Validate)]
pub struct Subscription {
    #[validate(email(message = "we need an address we can write to"))]
    pub owner_email: String,
    #[validate(url)]
    pub callback_url: String,
    #[validate(length(min = 1, max = 5))]
    pub events: Vec<String>,
    #[serde(rename = "type")]
    #[validate(length(min = 1))]
    pub r#type: String,
}
