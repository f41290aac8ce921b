//! `RunLog` against the local Upstash-compatible server (started by scripts/test, found
//! through SBA_REDIS_REST_URL / SBA_REDIS_REST_TOKEN).

use std::time::Duration;

use sba_agui::sse::{event_id, frame};
use sba_agui::{Claim, Event, RunLog};
use sba_redis::RedisRest;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run through scripts/test or set SBA_REDIS_REST_URL and SBA_REDIS_REST_TOKEN")
    })
}

fn rest() -> RedisRest {
    RedisRest::new(env("SBA_REDIS_REST_URL"), env("SBA_REDIS_REST_TOKEN")).with_timeout(Duration::from_secs(5))
}

/// A run id no other test, run or process uses.
fn unique_run(name: &str) -> String {
    sba_testkit::unique(name)
}

fn frames(run_id: &str, n: u64) -> Vec<String> {
    (1..=n)
        .map(|seq| {
            let event = if seq == n {
                Event::RunFinished { thread_id: "t".into(), run_id: run_id.into(), result: None }
            } else {
                Event::TextMessageContent { message_id: "m".into(), delta: format!("part {seq}") }
            };
            frame(&event_id(run_id, seq), &event)
        })
        .collect()
}

#[tokio::test]
async fn claim_is_fresh_once_then_reports_the_holder() {
    if sba_testkit::without_stack() {
        return;
    }
    let run = unique_run("claim");
    let log = RunLog::new(rest(), "tenant-a", &run);
    assert_eq!(log.claim("thread-1", "a1").await.unwrap(), Claim::Fresh);
    assert_eq!(log.claim("thread-1", "a2").await.unwrap(), Claim::Existing { thread_id: "thread-1".into() });
    assert_eq!(log.claim("thread-2", "a3").await.unwrap(), Claim::Existing { thread_id: "thread-1".into() });
    // The same claim sent again (a retry after a timeout that reached Redis) is still fresh.
    assert_eq!(log.claim("thread-1", "a1").await.unwrap(), Claim::Fresh);
    // Another tenant's run of the same id is its own.
    assert_eq!(RunLog::new(rest(), "tenant-b", &run).claim("x", "a4").await.unwrap(), Claim::Fresh);
    let pttl = rest().query(&["PTTL", log.claim_key()]).await.unwrap().as_i64().unwrap();
    assert!(pttl > 0 && pttl <= 3_600_000, "{pttl}");
}

#[tokio::test]
async fn append_read_after_and_finished() {
    if sba_testkit::without_stack() {
        return;
    }
    let run = unique_run("log");
    let client = rest();
    let log = RunLog::new(client.clone(), "tenant-a", &run);
    assert_eq!(log.read_after(None).await.unwrap(), Vec::<String>::new());
    assert!(!log.is_finished().await.unwrap());
    assert_eq!(log.last_seq().await.unwrap(), 0);

    let all = frames(&run, 5);
    log.append(0, &all[..2]).await.unwrap();
    assert!(!log.is_finished().await.unwrap());
    let before = client.round_trips();
    log.append(2, &all[2..]).await.unwrap();
    log.append(2, &[]).await.unwrap();
    assert_eq!(client.round_trips() - before, 1, "one pipeline per append, none for nothing");

    assert_eq!(log.read_after(Some(2)).await.unwrap(), all[2..].to_vec());
    assert_eq!(log.read_after(None).await.unwrap(), all);
    assert_eq!(log.read_after(Some(0)).await.unwrap(), all);
    assert!(log.read_after(Some(5)).await.unwrap().is_empty());
    assert!(log.read_after(Some(u64::MAX)).await.unwrap().is_empty());
    assert_eq!(log.last_seq().await.unwrap(), 5);
    assert!(log.is_finished().await.unwrap());

    let pttl = rest().query(&["PTTL", log.events_key()]).await.unwrap().as_i64().unwrap();
    assert!(pttl > 0 && pttl <= 3_600_000, "{pttl}");
}

#[tokio::test]
async fn appends_are_exactly_once_and_in_sequence() {
    if sba_testkit::without_stack() {
        return;
    }
    let run = unique_run("once");
    let log = RunLog::new(rest(), "tenant-a", &run);
    let all = frames(&run, 4);
    log.append(0, &all[..2]).await.unwrap();
    // The same append again (a retry after a timeout that did reach Redis) changes nothing.
    log.append(0, &all[..2]).await.unwrap();
    assert_eq!(log.read_after(None).await.unwrap(), all[..2].to_vec());
    // A gap or an overlap is refused and leaves the log as it was.
    assert!(log.append(3, &all[3..]).await.is_err());
    assert!(log.append(1, &all[2..]).await.is_err());
    log.append(2, &all[2..]).await.unwrap();
    assert_eq!(log.read_after(None).await.unwrap(), all);
}

#[tokio::test]
async fn a_run_whose_lease_lapsed_is_ended_once_by_its_reader() {
    if sba_testkit::without_stack() {
        return;
    }
    let run = unique_run("lost");
    let log = RunLog::new(rest(), "tenant-a", &run);
    let lost = Event::RunError { message: "gone".into(), code: Some("run_lost".into()) };
    let started = frame(&event_id(&run, 1), &Event::RunStarted { thread_id: "t".into(), run_id: run.clone() });
    assert_eq!(log.claim("t", "a").await.unwrap(), Claim::Fresh);
    log.append(0, &[started]).await.unwrap();
    // Alive (the append took the lease): never cut.
    assert!(!log.end_if_lost(&run, &lost).await.unwrap());
    rest().query(&["DEL", &log.events_key().replace(":events", ":lease")]).await.unwrap();
    assert!(log.end_if_lost(&run, &lost).await.unwrap());
    assert!(!log.end_if_lost(&run, &lost).await.unwrap(), "a terminal event already ends the log");
    let frames = log.read_after(None).await.unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[1], frame(&event_id(&run, 2), &lost), "numbered after the last frame, framed as the run would");
    assert!(log.is_finished().await.unwrap());
    // An unknown run (never claimed) is not invented.
    let nobody = RunLog::new(rest(), "tenant-a", &unique_run("none"));
    assert!(!nobody.end_if_lost("x", &lost).await.unwrap());
    // A run claimed (which takes the lease) that died before its first event: lost at seq 1
    // once the lease lapses, not before.
    let early = unique_run("early");
    let log = RunLog::new(rest(), "tenant-a", &early);
    assert_eq!(log.claim("t", "a").await.unwrap(), Claim::Fresh);
    assert!(!log.end_if_lost(&early, &lost).await.unwrap(), "the claim holds the lease");
    rest().query(&["DEL", &log.events_key().replace(":events", ":lease")]).await.unwrap();
    assert!(log.end_if_lost(&early, &lost).await.unwrap());
    assert_eq!(log.read_after(None).await.unwrap(), vec![frame(&event_id(&early, 1), &lost)]);
    // A re-POST's claim of the existing run does not renew the lease.
    assert_eq!(log.claim("t", "b").await.unwrap(), Claim::Existing { thread_id: "t".into() });
    let lease = rest().query(&["EXISTS", &log.events_key().replace(":events", ":lease")]).await.unwrap();
    assert_eq!(lease.as_i64(), Some(0));
}

#[tokio::test]
async fn many_leases_are_renewed_in_one_request() {
    if sba_testkit::without_stack() {
        return;
    }
    let client = rest();
    let logs: Vec<RunLog> =
        (0..3).map(|i| RunLog::new(client.clone(), "tenant-a", &unique_run(&format!("lease{i}")))).collect();
    let keys: Vec<String> = logs.iter().map(|l| l.lease_key().to_owned()).collect();
    let before = client.round_trips();
    sba_agui::run_log::renew_leases(&client, &keys).await.unwrap();
    assert_eq!(client.round_trips() - before, 1);
    for key in &keys {
        let pttl = client.query(&["PTTL", key]).await.unwrap().as_i64().unwrap();
        assert!(pttl > 0 && pttl <= sba_agui::run_log::LEASE_MS as i64, "{key}: {pttl}");
    }
}
