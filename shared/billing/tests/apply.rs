//! Stripe events applied to the real Postgres of the local stack (SBA_POSTGRES_URL, migrations
//! applied by scripts/test), as the webhooks Worker does: one service-role transaction each.

use sba_billing::{apply, plan_for_tenant, Event, Outcome};
use sba_rls::begin_as_service;
use sba_testkit::{postgres, unique};
use serde_json::{json, Value};
use tokio_postgres::Client;

/// `invoice.paid` for one invoice of `customer`, opening a 30-day period.
fn invoice_paid(invoice_id: &str, customer: &str) -> Event {
    event(
        &unique("evt"),
        "invoice.paid",
        1_700_000_600,
        json!({"id": invoice_id, "object": "invoice", "customer": customer,
        "lines": {"data": [{"period": {"start": 1_700_000_000, "end": 1_702_592_000}}]}}),
    )
}

fn event(id: &str, kind: &str, created: i64, object: Value) -> Event {
    serde_json::from_value(
        json!({"id": id, "type": kind, "created": created, "object": "event", "data": {"object": object}}),
    )
    .unwrap()
}

fn subscription(id: &str, customer: &str, status: &str, lookup_key: &str, start: i64) -> Value {
    json!({"id": id, "object": "subscription", "customer": customer, "status": status, "cancel_at_period_end": false,
           "items": {"object": "list", "data": [{"price": {"id": format!("price_{lookup_key}"), "lookup_key": lookup_key},
                                                  "current_period_start": start, "current_period_end": start + 2_592_000}]}})
}

async fn run(client: &mut Client, event: &Event) -> sba_billing::Applied {
    let tx = begin_as_service(client).await.unwrap();
    let applied = apply(&tx, event).await.unwrap();
    tx.commit().await.unwrap();
    applied
}

async fn link(client: &mut Client, tenant: &str, customer: &str) {
    let checkout = event(
        &unique("evt"),
        "checkout.session.completed",
        1_700_000_000,
        json!({"object": "checkout.session", "client_reference_id": tenant, "customer": customer, "mode": "subscription"}),
    );
    assert_eq!(run(client, &checkout).await.outcome, Outcome::Applied);
}

#[tokio::test]
async fn checkout_then_subscription_sets_the_tenants_plan() {
    if sba_testkit::without_stack() {
        return;
    }
    let mut client = postgres().await;
    let (tenant, customer, sub) = (unique("t"), unique("cus"), unique("sub"));
    assert_eq!(plan_for_tenant(&client, &tenant).await.unwrap().plan, "free");
    link(&mut client, &tenant, &customer).await;
    let created = event(
        &unique("evt"),
        "customer.subscription.created",
        1_700_000_100,
        subscription(&sub, &customer, "active", "pro", 1_700_000_000),
    );
    let applied = run(&mut client, &created).await;
    assert_eq!(applied.outcome, Outcome::Applied);
    assert_eq!(applied.tenant.as_deref(), Some(tenant.as_str()));
    let plan = plan_for_tenant(&client, &tenant).await.unwrap();
    assert_eq!((plan.plan.as_str(), plan.status.as_str(), plan.agent_requests_per_minute), ("pro", "active", 120));

    let deleted = event(
        &unique("evt"),
        "customer.subscription.deleted",
        1_700_000_200,
        subscription(&sub, &customer, "canceled", "pro", 1_700_000_000),
    );
    assert_eq!(run(&mut client, &deleted).await.outcome, Outcome::Applied);
    assert_eq!(plan_for_tenant(&client, &tenant).await.unwrap().plan, "free");
}

#[tokio::test]
async fn out_of_order_deliveries_keep_the_newest_state() {
    if sba_testkit::without_stack() {
        return;
    }
    let mut client = postgres().await;
    let (tenant, customer, sub) = (unique("t"), unique("cus"), unique("sub"));
    // The subscription events arrive before the checkout that links the customer.
    let updated = event(
        &unique("evt"),
        "customer.subscription.updated",
        1_700_000_300,
        subscription(&sub, &customer, "active", "business", 1_700_000_000),
    );
    let created = event(
        &unique("evt"),
        "customer.subscription.created",
        1_700_000_100,
        subscription(&sub, &customer, "active", "pro", 1_700_000_000),
    );
    let old_update = event(
        &unique("evt"),
        "customer.subscription.updated",
        1_700_000_200,
        subscription(&sub, &customer, "past_due", "pro", 1_700_000_000),
    );
    assert_eq!(run(&mut client, &updated).await.outcome, Outcome::Applied);
    assert_eq!(run(&mut client, &created).await.outcome, Outcome::Stale);
    assert_eq!(run(&mut client, &old_update).await.outcome, Outcome::Stale);
    link(&mut client, &tenant, &customer).await;
    let plan = plan_for_tenant(&client, &tenant).await.unwrap();
    assert_eq!((plan.plan.as_str(), plan.status.as_str()), ("business", "active"));
}

#[tokio::test]
async fn duplicates_do_nothing_and_unknown_types_are_recorded() {
    if sba_testkit::without_stack() {
        return;
    }
    let mut client = postgres().await;
    let (tenant, customer) = (unique("t"), unique("cus"));
    link(&mut client, &tenant, &customer).await;
    let failed = event(
        &unique("evt"),
        "invoice.payment_failed",
        1_700_000_500,
        json!({"id": unique("in"), "object": "invoice", "customer": customer}),
    );
    assert_eq!(run(&mut client, &failed).await.outcome, Outcome::Applied);
    assert_eq!(run(&mut client, &failed).await.outcome, Outcome::Duplicate);
    assert!(plan_for_tenant(&client, &tenant).await.unwrap().delinquent);

    let invoice_id = unique("in");
    let paid = invoice_paid(&invoice_id, &customer);
    assert_eq!(run(&mut client, &paid).await.outcome, Outcome::Applied);
    assert!(!plan_for_tenant(&client, &tenant).await.unwrap().delinquent);
    let periods: i64 = client
        .query_one("select count(*) from usage_periods where invoice_id = $1", &[&invoice_id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(periods, 1);

    let unknown_id = unique("evt");
    let unknown = event(&unknown_id, "customer.tax_id.created", 1_700_000_700, json!({"id": "txi_1"}));
    assert_eq!(run(&mut client, &unknown).await.outcome, Outcome::Ignored);
    let outcome: String = client
        .query_one("select outcome from webhook_events where event_id = $1", &[&unknown_id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(outcome, "ignored");
}

#[tokio::test]
async fn fifty_concurrent_deliveries_of_one_event_apply_once() {
    if sba_testkit::without_stack() {
        return;
    }
    let mut client = postgres().await;
    let (tenant, customer) = (unique("t"), unique("cus"));
    link(&mut client, &tenant, &customer).await;
    let invoice_id = unique("in");
    let paid = invoice_paid(&invoice_id, &customer);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let paid = paid.clone();
            tokio::spawn(async move {
                let mut client = postgres().await;
                run(&mut client, &paid).await.outcome
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| **o == Outcome::Applied).count(), 1);
    assert_eq!(outcomes.iter().filter(|o| **o == Outcome::Duplicate).count(), 49);
    let rows: i64 = client
        .query_one("select count(*) from usage_periods where invoice_id = $1", &[&invoice_id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);
}
