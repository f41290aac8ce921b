//! The language a text is searched in: which PostgreSQL text search configuration stems its
//! words. English and Indonesian have stemmers (`english`, `indonesian`); `simple` only
//! lower-cases, for anything else.
//!
//! [`detect`] is deliberately simple: it counts a few dozen of each language's most frequent
//! function words. A business document of a few sentences has plenty of them; a text with too
//! few of either gets `None` and the caller's default.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Language {
    #[serde(rename = "en")]
    English,
    #[serde(rename = "id")]
    Indonesian,
    #[serde(rename = "simple")]
    Simple,
}

impl Language {
    /// The PostgreSQL text search configuration.
    pub fn config(self) -> &'static str {
        match self {
            Language::English => "english",
            Language::Indonesian => "indonesian",
            Language::Simple => "simple",
        }
    }

    /// `en`, `id` or `simple` (also the configuration names), for settings.
    pub fn parse(code: &str) -> Option<Self> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" | "english" => Some(Language::English),
            "id" | "indonesian" => Some(Language::Indonesian),
            "simple" => Some(Language::Simple),
            _ => None,
        }
    }
}

const ENGLISH: &[&str] = &[
    "the", "and", "of", "to", "in", "is", "for", "with", "on", "that", "this", "are", "be", "you", "we", "our", "your",
    "it", "or", "by", "from", "at", "as", "will", "can", "an", "have", "not", "if", "all",
];
const INDONESIAN: &[&str] = &[
    "yang", "dan", "di", "ke", "dari", "untuk", "dengan", "ini", "itu", "tidak", "ada", "adalah", "akan", "dalam",
    "pada", "kami", "anda", "atau", "juga", "bisa", "dapat", "kita", "jika", "sudah", "harus", "setiap", "oleh",
    "hari",
];

/// How many words of `text` (its first 4,000 characters) must be function words of a language
/// before it is called that language.
const MIN_HITS: usize = 3;

/// English or Indonesian, when the text says so clearly enough.
pub fn detect(text: &str) -> Option<Language> {
    let sample: String = text.chars().take(4000).collect::<String>().to_lowercase();
    let (mut en, mut id) = (0usize, 0usize);
    for word in sample.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        en += usize::from(ENGLISH.contains(&word));
        id += usize::from(INDONESIAN.contains(&word));
    }
    match (en, id) {
        (en, id) if en >= MIN_HITS && en > id => Some(Language::English),
        (en, id) if id >= MIN_HITS && id > en => Some(Language::Indonesian),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_and_indonesian_business_text_is_told_apart() {
        assert_eq!(
            detect("Refunds are paid within 30 days of the invoice date, to the card you paid with."),
            Some(Language::English)
        );
        assert_eq!(
            detect("Pengembalian dana dilakukan dalam 14 hari kerja setelah barang kami terima, ke rekening yang Anda gunakan."),
            Some(Language::Indonesian)
        );
        assert_eq!(detect("SKU-1234 500g 120000"), None);
        assert_eq!(detect(""), None);
    }

    #[test]
    fn codes_and_configuration_names_parse() {
        assert_eq!(Language::parse(" ID "), Some(Language::Indonesian));
        assert_eq!(Language::parse("english").map(Language::config), Some("english"));
        assert_eq!(Language::parse("fr"), None);
        assert_eq!(serde_json::from_str::<Language>("\"id\"").ok(), Some(Language::Indonesian));
    }
}
