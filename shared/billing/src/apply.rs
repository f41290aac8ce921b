//! One Stripe event → its effect, exactly once, in the caller's transaction.

use crate::event::{CheckoutSession, Event, Invoice, Subscription};
use crate::plans::{from_cache, TenantPlan};
use serde::Serialize;
use serde_json::{json, Value};
use tokio_postgres::types::{Json, Type};
use tokio_postgres::{Error, GenericClient, Row};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The effect was written.
    Applied,
    /// Seen before (same event id): nothing done.
    Duplicate,
    /// Older than the state already stored (out-of-order delivery): recorded, not applied.
    Stale,
    /// An event type (or object) we do not act on: recorded, 200, nothing else.
    Ignored,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Applied {
    pub outcome: Outcome,
    /// The tenant whose billing changed, when known: its plan cache must be replaced and a
    /// message published after commit.
    pub tenant: Option<String>,
    /// That tenant's plan after the change (only when applied).
    pub plan: Option<TenantPlan>,
}

/// The statement that applies one event exactly once (parameter: [`event_for_db`], jsonb):
/// the SQL function `apply_stripe_event` records the event first (a concurrent duplicate
/// waits on its primary key until the first transaction ends, then finds the row), writes its
/// effect, and answers the outcome, the tenant and its plan. One statement, so a delivery is
/// one round trip; its rows are read by [`applied_from_rows`].
pub const APPLY_EVENT: &str = "select applied_outcome, applied_tenant, applied_plan from public.apply_stripe_event($1)";

/// Applies `event` in the caller's transaction (see [`APPLY_EVENT`]).
pub async fn apply<C: GenericClient>(client: &C, event: &Event) -> Result<Applied, Error> {
    let rows = client.query_typed(APPLY_EVENT, &[(&event_for_db(event), Type::JSONB)]).await?;
    applied_from_rows(&rows)
}

/// What [`APPLY_EVENT`] answered.
pub fn applied_from_rows(rows: &[Row]) -> Result<Applied, Error> {
    let Some(row) = rows.first() else { return Ok(Applied { outcome: Outcome::Ignored, tenant: None, plan: None }) };
    let outcome = match row.try_get::<_, String>(0)?.as_str() {
        "applied" => Outcome::Applied,
        "duplicate" => Outcome::Duplicate,
        "stale" => Outcome::Stale,
        _ => Outcome::Ignored,
    };
    let tenant: Option<String> = row.try_get(1)?;
    let plan = match (&tenant, row.try_get::<_, Option<Json<Value>>>(2)?) {
        (Some(tenant), Some(Json(plan))) => from_cache(tenant, &plan.to_string()),
        _ => None,
    };
    Ok(Applied { outcome, tenant, plan })
}

/// The event as the SQL function takes it: `{id, type, created, effect}`, where `effect` is
/// what this event changes, parsed and checked here (null when it changes nothing we track).
pub fn event_for_db(event: &Event) -> Value {
    json!({ "id": event.id, "type": event.kind, "created": event.created, "effect": effect(event) })
}

fn effect(event: &Event) -> Value {
    let object = event.data.object.clone();
    match event.kind.as_str() {
        "checkout.session.completed" => {
            let Ok(session) = serde_json::from_value::<CheckoutSession>(object) else { return Value::Null };
            match (session.client_reference_id, session.customer) {
                (Some(tenant), Some(customer)) if valid_tenant(&tenant) => {
                    json!({ "kind": "checkout", "tenant": tenant, "customer": customer })
                }
                _ => Value::Null,
            }
        }
        "customer.subscription.created" | "customer.subscription.updated" | "customer.subscription.deleted" => {
            let Ok(sub) = serde_json::from_value::<Subscription>(object) else { return Value::Null };
            let status =
                if event.kind == "customer.subscription.deleted" { "canceled".to_owned() } else { sub.status.clone() };
            const STATUSES: [&str; 8] =
                ["trialing", "active", "past_due", "canceled", "unpaid", "incomplete", "incomplete_expired", "paused"];
            if !STATUSES.contains(&status.as_str()) {
                return Value::Null;
            }
            let price = sub.price();
            let (start, end) = sub.period();
            json!({
                "kind": "subscription", "id": sub.id, "customer": sub.customer, "status": status,
                "priceId": price.and_then(|p| p.id.clone()), "lookupKey": price.and_then(|p| p.lookup_key.clone()),
                "cancelAtPeriodEnd": sub.cancel_at_period_end, "start": start, "end": end,
            })
        }
        "invoice.paid" => {
            let Ok(invoice) = serde_json::from_value::<Invoice>(object) else { return Value::Null };
            let Some(customer) = invoice.customer.clone() else { return Value::Null };
            match invoice.service_period() {
                Some((start, end)) => {
                    json!({ "kind": "invoice_paid", "id": invoice.id, "customer": customer, "start": start, "end": end })
                }
                None => json!({ "kind": "invoice_paid", "id": invoice.id, "customer": customer }),
            }
        }
        "invoice.payment_failed" => {
            let Ok(invoice) = serde_json::from_value::<Invoice>(object) else { return Value::Null };
            match invoice.customer {
                Some(customer) => json!({ "kind": "payment_failed", "customer": customer }),
                None => Value::Null,
            }
        }
        _ => Value::Null,
    }
}

fn valid_tenant(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
