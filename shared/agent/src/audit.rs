//! The audit trail of a run: one row per run, LLM step and tool call, written after the
//! response (waitUntil) in the tenant's RLS transaction, and published on the tenant's agent
//! topic in Redis.

use sba_config::DB_BINDING;
use sba_pg::PgError;
use sba_redis::{Cmd, RedisRest};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;
use worker::Env;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub kind: &'static str,
    pub name: String,
    pub arguments_sha256: Option<String>,
    pub status: String,
    pub duration_ms: i32,
    pub prompt_tokens: Option<i32>,
    pub completion_tokens: Option<i32>,
    pub detail: Value,
}

pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

pub struct Trail {
    pub tenant: String,
    pub claims: Value,
    pub thread_id: String,
    pub run_id: String,
    pub entries: Vec<Entry>,
}

impl Trail {
    /// Tokens and model wait time over the run's LLM steps (for the metrics data point).
    pub fn llm_usage(&self) -> sba_http::LlmUsage {
        let llm = self.entries.iter().filter(|e| e.kind == "llm");
        let count = |tokens: Option<i32>| u64::try_from(tokens.unwrap_or(0)).unwrap_or(0);
        sba_http::LlmUsage {
            input_tokens: llm.clone().map(|e| count(e.prompt_tokens)).sum(),
            output_tokens: llm.clone().map(|e| count(e.completion_tokens)).sum(),
            duration_ms: llm.map(|e| f64::from(e.duration_ms.max(0))).sum(),
        }
    }

    pub async fn write(self, env: Env, redis: Option<RedisRest>) {
        let message = json!({ "tenant": self.tenant, "runId": self.run_id, "threadId": self.thread_id, "entries": self.entries });
        let Trail { tenant, claims, thread_id, run_id, entries, .. } = self;
        let tenant_for_db = tenant.clone();
        let result = sba_pg::with_client(&env, DB_BINDING, Duration::from_secs(10), |mut client| async move {
            let tx = sba_rls::begin_as_tenant(&mut client, &claims, &tenant_for_db).await?;
            for e in &entries {
                tx.execute(
                    "insert into agent_audit (run_id, thread_id, kind, name, arguments_sha256, status, duration_ms, prompt_tokens, completion_tokens, detail)
                     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    &[&run_id, &thread_id, &e.kind, &e.name, &e.arguments_sha256, &e.status, &e.duration_ms, &e.prompt_tokens, &e.completion_tokens, &e.detail],
                )
                .await?;
            }
            tx.commit().await?;
            Ok::<_, PgError>(())
        })
        .await;
        if let Err(e) = result {
            worker::console_log!("{}", json!({"level": "error", "msg": "audit write failed", "tenant": tenant, "error": e.to_string()}));
        }
        if let Some(redis) = redis {
            let _ = redis.run(&Cmd::new("PUBLISH").arg(format!("sba:agent:{tenant}")).arg(message.to_string())).await;
        }
    }
}
