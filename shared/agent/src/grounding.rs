//! Grounding: before the model's first turn, the tenant's best chunks for the user's latest
//! message go into the prompt as numbered sources (under RLS, the same ranking as
//! `GET /kb/search?match=any`), within a token budget, with the instruction to answer from
//! them and cite `[n]`. When nothing clears the threshold, the prompt says so: the model is
//! to say it does not know rather than invent. The sources also reach the client as a
//! `CUSTOM` event named `sba.sources`, before any text, and stay in the run's log.
//!
//! Settings: `KB_CONTEXT_TOKENS` (the sources' budget, 1,200 tokens at four characters each),
//! `KB_MIN_RANK` (the lowest rank a chunk may have, 0.01), `KB_CONTEXT_CHUNKS` (at most 6).

use sba_kb::store::{passages_from_rows, Passage, SEARCH_ANY};
use sba_pg::tokio_postgres::types::Type;
use sba_rls::Actor;
use serde_json::{json, Value};
use worker::Env;

const DEFAULT_TOKENS: usize = 1_200;
const DEFAULT_MIN_RANK: f32 = 0.01;
const DEFAULT_CHUNKS: i64 = 6;
/// Candidates read before the threshold and the budget pick.
const CANDIDATES: i64 = 12;

/// What grounding found: the sources (numbered from 1) and the text for the system prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Grounding {
    pub sources: Vec<Passage>,
    pub prompt: String,
}

impl Grounding {
    /// The `sba.sources` event's value: what a client shows next to the answer.
    pub fn event_value(&self) -> Value {
        let sources: Vec<Value> = self
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| {
                json!({ "n": i + 1, "documentId": s.document_id, "title": s.title, "chunk": s.chunk, "headingPath": s.heading_path })
            })
            .collect();
        json!({ "sources": sources })
    }
}

pub struct Settings {
    pub tokens: usize,
    pub min_rank: f32,
    pub chunks: usize,
}

impl Settings {
    pub fn from_env(env: &Env) -> Self {
        let get = |name: &str| sba_config::setting(env, name).ok();
        Self {
            tokens: get("KB_CONTEXT_TOKENS").and_then(|v| v.trim().parse().ok()).unwrap_or(DEFAULT_TOKENS),
            min_rank: get("KB_MIN_RANK").and_then(|v| v.trim().parse().ok()).unwrap_or(DEFAULT_MIN_RANK),
            chunks: get("KB_CONTEXT_CHUNKS").and_then(|v| v.trim().parse().ok()).unwrap_or(DEFAULT_CHUNKS as usize),
        }
    }
}

/// The tenant's sources for `question`. A store that cannot be read grounds nothing (the
/// run goes on and the prompt says the knowledge base was not available).
pub async fn retrieve(env: &Env, claims: &Value, tenant: &str, question: &str) -> Result<Vec<Passage>, String> {
    if question.trim().is_empty() {
        return Ok(Vec::new());
    }
    let actor = Actor::Tenant { claims, tenant_id: tenant };
    let question = question.chars().take(1_000).collect::<String>();
    let rows = sba_config::statement(env, &actor, SEARCH_ANY, &[(&question, Type::TEXT), (&CANDIDATES, Type::INT8)])
        .await
        .map_err(|e| e.to_string())?;
    passages_from_rows(&rows).map_err(|e| e.to_string())
}

/// Picks the sources (rank at least `min_rank`, best first, at most `chunks`, their text
/// within `tokens`) and writes the prompt section. Pure.
pub fn ground(candidates: Vec<Passage>, settings: &Settings, available: bool) -> Grounding {
    let mut budget = settings.tokens * 4;
    let mut sources = Vec::new();
    for passage in candidates.into_iter().filter(|p| p.rank >= settings.min_rank) {
        if sources.len() >= settings.chunks || passage.text.len() > budget {
            break;
        }
        budget -= passage.text.len();
        sources.push(passage);
    }
    let prompt = if sources.is_empty() {
        let why = if available { "nothing in it matches this question" } else { "it could not be read just now" };
        format!(
            "\n\nThe company's knowledge base was searched and {why}. If the question is about the company \
             (its policies, products, prices, people), say that you do not know and suggest who could answer; \
             do not guess or invent details."
        )
    } else {
        let mut text = String::from(
            "\n\nAnswer from these sources from the company's knowledge base. Cite the ones you use as [n]. \
             If they do not contain the answer, say that you do not know rather than guessing.\n",
        );
        for (i, s) in sources.iter().enumerate() {
            let place = if s.heading_path.is_empty() {
                String::new()
            } else {
                format!(" — {}", s.heading_path.join(" › "))
            };
            text.push_str(&format!("\n[{}] {}{}\n{}\n", i + 1, s.title, place, s.text.trim()));
        }
        text
    };
    Grounding { sources, prompt }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn passage(title: &str, rank: f32, text: &str) -> Passage {
        Passage {
            document_id: Uuid::nil(),
            title: title.into(),
            chunk: 0,
            heading_path: vec!["Refunds".into()],
            rank,
            text: text.into(),
        }
    }

    #[test]
    fn sources_are_numbered_within_the_budget_and_threshold() {
        let settings = Settings { tokens: 10, min_rank: 0.1, chunks: 6 };
        let found = ground(
            vec![
                passage("Refund policy", 0.9, "Refunds within 30 days."),
                passage("Too long", 0.8, &"x".repeat(100)),
                passage("Weak", 0.01, "y"),
            ],
            &settings,
            true,
        );
        assert_eq!(found.sources.len(), 1);
        assert!(found.prompt.contains("[1] Refund policy — Refunds\nRefunds within 30 days."), "{}", found.prompt);
        assert!(found.prompt.contains("Cite the ones you use as [n]"));
        assert_eq!(found.event_value()["sources"][0]["n"], 1);
        assert_eq!(found.event_value()["sources"][0]["headingPath"], json!(["Refunds"]));
    }

    #[test]
    fn nothing_relevant_says_so_instead_of_grounding_on_noise() {
        let settings = Settings { tokens: 1000, min_rank: 0.5, chunks: 6 };
        let none = ground(vec![passage("Weak", 0.2, "unrelated")], &settings, true);
        assert!(none.sources.is_empty());
        assert!(none.prompt.contains("nothing in it matches this question"));
        assert!(ground(Vec::new(), &settings, false).prompt.contains("could not be read"));
    }
}
