use serde::{Deserialize, Serialize};

/// What a document's body is, as the ingest request declares it.
///
/// It decides how [`chunk`](crate::chunk) reads the text: `Text` is paragraphs only,
/// `Markdown` also tracks headings, list items and code fences, and `Html` is first reduced
/// with [`html_to_text`](crate::html_to_text) and then read as Markdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentType {
    #[default]
    Text,
    Markdown,
    Html,
}

#[cfg(test)]
mod tests {
    use super::ContentType;

    #[test]
    fn serde_names_are_lowercase() {
        for (value, name) in
            [(ContentType::Text, "\"text\""), (ContentType::Markdown, "\"markdown\""), (ContentType::Html, "\"html\"")]
        {
            assert_eq!(serde_json::to_string(&value).unwrap(), name);
            assert_eq!(serde_json::from_str::<ContentType>(name).unwrap(), value);
        }
        assert!(serde_json::from_str::<ContentType>("\"HTML\"").is_err());
    }
}
