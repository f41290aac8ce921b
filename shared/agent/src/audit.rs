//! The audit trail of a run: one row per run, LLM step and tool call, written after the
//! response (waitUntil) in the tenant's RLS transaction, and published on the tenant's agent
//! topic in Redis.

use sba_config::DB_BINDING;
use sba_pg::tokio_postgres::types::{ToSql, Type};
use sba_pg::PgError;
use sba_quota::{tokens_params, RECORD_TOKENS};
use sba_redis::{Cmd, RedisRest};
use sba_rls::Actor;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
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

/// The trail's rows from its entries as JSON (parameters: run id, thread id, entries).
const INSERT_TRAIL: &str = r#"insert into agent_audit (run_id, thread_id, kind, name, arguments_sha256, status, duration_ms, prompt_tokens, completion_tokens, detail)
select $1, $2, e.kind, e.name, e."argumentsSha256", e.status, e."durationMs", e."promptTokens", e."completionTokens", coalesce(e.detail, '{}'::jsonb)
from jsonb_to_recordset($3) as e(kind text, name text, "argumentsSha256" text, status text, "durationMs" integer, "promptTokens" integer, "completionTokens" integer, detail jsonb)"#;

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

    /// Writes the trail and, when `tokens` > 0, adds them to the tenant's period: two
    /// transactions (the trail as the tenant, under RLS; the tokens as `service_role`) sent
    /// together on one connection, one round trip in all. Then publishes the trail.
    pub async fn write(self, env: Env, redis: Option<RedisRest>, tokens: i64) {
        let message =
            json!({ "tenant": self.tenant, "runId": self.run_id, "threadId": self.thread_id, "entries": self.entries });
        let Trail { tenant, claims, thread_id, run_id, entries, .. } = self;
        let entries = serde_json::to_value(&entries).unwrap_or_else(|_| json!([]));
        let tenant_for_db = tenant.clone();
        let result = sba_pg::with_client(&env, DB_BINDING, sba_config::DB_TIMEOUT, |client| async move {
            let as_tenant = Actor::Tenant { claims: &claims, tenant_id: &tenant_for_db };
            let trail_params: [(&(dyn ToSql + Sync), Type); 3] =
                [(&run_id, Type::TEXT), (&thread_id, Type::TEXT), (&entries, Type::JSONB)];
            let trail = sba_rls::one_statement(&client, &as_tenant, INSERT_TRAIL, &trail_params);
            let tenant: &str = &tenant_for_db;
            let usage = async {
                if tokens > 0 {
                    sba_rls::one_statement(&client, &Actor::Service, RECORD_TOKENS, &tokens_params(&tenant, &tokens))
                        .await?;
                }
                Ok::<_, sba_pg::tokio_postgres::Error>(())
            };
            // Both pipelines leave on their first poll, in this order.
            let (trail, usage) = futures_util::future::join(trail, usage).await;
            trail?;
            usage?;
            Ok::<_, PgError>(())
        })
        .await;
        if let Err(e) = result {
            worker::console_log!(
                "{}",
                json!({"level": "error", "msg": "audit write failed", "tenant": tenant, "error": e.to_string()})
            );
        }
        if let Some(redis) = redis {
            let _ = redis.run(&Cmd::new("PUBLISH").arg(format!("sba:agent:{tenant}")).arg(message.to_string())).await;
        }
    }
}
