//! One Stripe event → its effect, exactly once, in the caller's transaction.

use crate::event::{CheckoutSession, Event, Invoice, Subscription};
use serde::Serialize;
use tokio_postgres::{Error, Transaction};

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
    /// The tenant whose billing changed, when known: its plan cache must be dropped and a
    /// message published after commit.
    pub tenant: Option<String>,
}

/// Records the event and applies it. The `webhook_events` insert comes first: a concurrent
/// duplicate blocks on its primary key until this transaction ends, then finds the row.
pub async fn apply(tx: &Transaction<'_>, event: &Event) -> Result<Applied, Error> {
    let first = tx
        .query_opt(
            "insert into webhook_events (provider, event_id, event_type, outcome) values ('stripe', $1, $2, 'pending')
             on conflict (provider, event_id) do nothing returning 1",
            &[&event.id, &event.kind],
        )
        .await?;
    if first.is_none() {
        return Ok(Applied { outcome: Outcome::Duplicate, tenant: None });
    }
    let applied = match event.kind.as_str() {
        "checkout.session.completed" => checkout_completed(tx, event).await?,
        "customer.subscription.created" | "customer.subscription.updated" | "customer.subscription.deleted" => {
            subscription_changed(tx, event).await?
        }
        "invoice.paid" => invoice_paid(tx, event).await?,
        "invoice.payment_failed" => payment_failed(tx, event).await?,
        _ => ignored(),
    };
    let outcome = match applied.outcome {
        Outcome::Applied => "applied",
        Outcome::Stale => "stale",
        _ => "ignored",
    };
    tx.execute("update webhook_events set outcome = $2 where provider = 'stripe' and event_id = $1", &[&event.id, &outcome])
        .await?;
    Ok(applied)
}

fn ignored() -> Applied {
    Applied { outcome: Outcome::Ignored, tenant: None }
}

fn valid_tenant(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

async fn checkout_completed(tx: &Transaction<'_>, event: &Event) -> Result<Applied, Error> {
    let Ok(session) = serde_json::from_value::<CheckoutSession>(event.data.object.clone()) else { return Ok(ignored()) };
    let (Some(tenant), Some(customer)) = (session.client_reference_id, session.customer) else { return Ok(ignored()) };
    if !valid_tenant(&tenant) {
        return Ok(ignored());
    }
    // A tenant re-subscribing with a new customer moves its link; a customer never changes tenant.
    tx.execute("delete from billing_customers where tenant_id = $1 and stripe_customer_id <> $2", &[&tenant, &customer]).await?;
    tx.execute(
        "insert into billing_customers (stripe_customer_id, tenant_id) values ($1, $2)
         on conflict (stripe_customer_id) do nothing",
        &[&customer, &tenant],
    )
    .await?;
    Ok(Applied { outcome: Outcome::Applied, tenant: Some(tenant) })
}

async fn subscription_changed(tx: &Transaction<'_>, event: &Event) -> Result<Applied, Error> {
    let Ok(sub) = serde_json::from_value::<Subscription>(event.data.object.clone()) else { return Ok(ignored()) };
    let status = if event.kind == "customer.subscription.deleted" { "canceled".to_owned() } else { sub.status.clone() };
    const STATUSES: [&str; 8] = ["trialing", "active", "past_due", "canceled", "unpaid", "incomplete", "incomplete_expired", "paused"];
    if !STATUSES.contains(&status.as_str()) {
        return Ok(ignored());
    }
    let price = sub.price();
    let (price_id, lookup_key) = (price.and_then(|p| p.id.clone()), price.and_then(|p| p.lookup_key.clone()));
    let (start, end) = sub.period();
    // Newest state wins: an older event (by Stripe's `created`) never overwrites a newer one.
    let written = tx
        .execute(
            "insert into billing_subscriptions as s (stripe_subscription_id, stripe_customer_id, status, price_id, price_lookup_key,
                 cancel_at_period_end, current_period_start, current_period_end, source_event_id, source_event_created)
             values ($1, $2, $3, $4, $5, $6, to_timestamp($7::bigint), to_timestamp($8::bigint), $9, $10)
             on conflict (stripe_subscription_id) do update set
                 status = excluded.status, price_id = excluded.price_id, price_lookup_key = excluded.price_lookup_key,
                 cancel_at_period_end = excluded.cancel_at_period_end,
                 current_period_start = excluded.current_period_start, current_period_end = excluded.current_period_end,
                 source_event_id = excluded.source_event_id, source_event_created = excluded.source_event_created,
                 updated_at = now()
             where s.source_event_created <= excluded.source_event_created",
            &[&sub.id, &sub.customer, &status, &price_id, &lookup_key, &sub.cancel_at_period_end, &start, &end, &event.id, &event.created],
        )
        .await?;
    let tenant = tenant_of(tx, &sub.customer).await?;
    Ok(Applied { outcome: if written == 1 { Outcome::Applied } else { Outcome::Stale }, tenant })
}

async fn invoice_paid(tx: &Transaction<'_>, event: &Event) -> Result<Applied, Error> {
    let Ok(invoice) = serde_json::from_value::<Invoice>(event.data.object.clone()) else { return Ok(ignored()) };
    let Some(customer) = invoice.customer.clone() else { return Ok(ignored()) };
    tx.execute("update billing_customers set delinquent = false, updated_at = now() where stripe_customer_id = $1", &[&customer])
        .await?;
    let tenant = tenant_of(tx, &customer).await?;
    if let (Some(tenant), Some((start, end))) = (&tenant, invoice.service_period()) {
        tx.execute(
            "insert into usage_periods (tenant_id, period_start, period_end, invoice_id)
             values ($1, to_timestamp($2::bigint), to_timestamp($3::bigint), $4)
             on conflict do nothing",
            &[tenant, &start, &end, &invoice.id],
        )
        .await?;
    }
    Ok(Applied { outcome: if tenant.is_some() { Outcome::Applied } else { Outcome::Ignored }, tenant })
}

async fn payment_failed(tx: &Transaction<'_>, event: &Event) -> Result<Applied, Error> {
    let Ok(invoice) = serde_json::from_value::<Invoice>(event.data.object.clone()) else { return Ok(ignored()) };
    let Some(customer) = invoice.customer else { return Ok(ignored()) };
    let marked = tx
        .execute("update billing_customers set delinquent = true, updated_at = now() where stripe_customer_id = $1", &[&customer])
        .await?;
    let tenant = tenant_of(tx, &customer).await?;
    Ok(Applied { outcome: if marked > 0 { Outcome::Applied } else { Outcome::Ignored }, tenant })
}

async fn tenant_of(tx: &Transaction<'_>, customer: &str) -> Result<Option<String>, Error> {
    Ok(tx
        .query_opt("select tenant_id from billing_customers where stripe_customer_id = $1", &[&customer])
        .await?
        .map(|r| r.get(0)))
}
