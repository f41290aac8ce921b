//! Run quotas against the real Postgres of the local stack (SBA_POSTGRES_URL).

use sba_quota::{charge_run, record_tokens, QuotaError};
use sba_rls::begin_as_service;
use sba_testkit::{postgres, unique};

fn tenant() -> String {
    unique("q")
}

#[tokio::test]
async fn runs_are_charged_until_the_quota_is_used_up() {
    if sba_testkit::without_stack() {
        return;
    }
    let mut client = postgres().await;
    let t = tenant();
    for _ in 0..2 {
        let tx = begin_as_service(&mut client).await.unwrap();
        charge_run(&tx, &t, 2, 1000).await.unwrap();
        tx.commit().await.unwrap();
    }
    let tx = begin_as_service(&mut client).await.unwrap();
    match charge_run(&tx, &t, 2, 1000).await {
        Err(QuotaError::Exceeded { quota, limit, reset_epoch_secs }) => {
            assert_eq!((quota, limit), ("agentRuns", 2));
            assert!(reset_epoch_secs > 0);
            let error = QuotaError::Exceeded { quota, limit, reset_epoch_secs }.into_api_error(0).unwrap();
            assert_eq!((error.status, error.code.as_ref()), (429, "quota_exceeded"));
        }
        other => panic!("expected the quota to be exceeded, got {other:?}"),
    }
}

#[tokio::test]
async fn tokens_count_against_the_period() {
    if sba_testkit::without_stack() {
        return;
    }
    let mut client = postgres().await;
    let t = tenant();
    let tx = begin_as_service(&mut client).await.unwrap();
    record_tokens(&tx, &t, 500).await.unwrap();
    tx.commit().await.unwrap();
    let tx = begin_as_service(&mut client).await.unwrap();
    assert!(matches!(charge_run(&tx, &t, 10, 500).await, Err(QuotaError::Exceeded { quota: "llmTokens", .. })));
    assert!(charge_run(&tx, &t, 10, 501).await.is_ok());
}

/// The charge is exact under concurrency: 12 at once against a quota of 5 charge 5.
#[tokio::test]
async fn concurrent_charges_never_exceed_the_quota() {
    if sba_testkit::without_stack() {
        return;
    }
    let t = tenant();
    let mut clients = Vec::new();
    for _ in 0..12 {
        clients.push(postgres().await);
    }
    let charges = clients.iter().map(|client| {
        let t = t.clone();
        async move {
            let rows = sba_rls::one_statement(
                client,
                &sba_rls::Actor::Service,
                sba_quota::CHARGE_RUN,
                &sba_quota::charge_params(&t.as_str(), &5, &1000),
            )
            .await
            .unwrap();
            sba_quota::charged(&rows).is_ok()
        }
    });
    let outcomes = futures_util::future::join_all(charges).await;
    assert_eq!(outcomes.iter().filter(|ok| **ok).count(), 5, "{outcomes:?}");
}
