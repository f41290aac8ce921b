//! Waits on the runtime's timer: tokio natively (tests, benchmarks), `setTimeout` in workerd.
//! Every timeout, backoff and heartbeat in sba-edge sleeps here.
//!
//! Why not `worker::Delay`: it keeps the waker of its FIRST poll, so inside a streamed
//! response (where each pull of the body is a new task) it wakes a finished task and the
//! stream never moves again — heartbeats and timeouts silently stop. A promise awaited
//! through `JsFuture` always wakes the task that polled it last.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

/// `work` if it ends within `limit`, else `None` (and `work` is dropped).
///
/// The clock starts after `work`'s first step (for an HTTP call: once fetch has been called,
/// so time spent waiting for the isolate before that does not count), and when it runs out
/// `work` gets one more turn of the event loop: an answer that arrived while the isolate was
/// busy with other requests still counts. A busy runtime delays timer and answer alike; that
/// is load, not a dead peer. (Not reqwest's own timeout: in workerd it aborts the fetch with
/// an error the runtime logs as uncaught.)
pub async fn within<T>(limit: Duration, work: impl Future<Output = T>) -> Option<T> {
    use futures_util::future::{select, Either};
    let mut work = pin!(work);
    if let Poll::Ready(done) = futures_util::poll!(work.as_mut()) {
        return Some(done);
    }
    let work = match select(work, pin!(sleep(limit))).await {
        Either::Left((done, _)) => return Some(done),
        Either::Right(((), work)) => work,
    };
    match select(work, pin!(sleep(Duration::ZERO))).await {
        Either::Left((done, _)) => Some(done),
        Either::Right(_) => None,
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub async fn sleep(duration: Duration) {
    tokio::time::sleep(duration).await;
}

#[cfg(target_arch = "wasm32")]
pub async fn sleep(duration: Duration) {
    use wasm_bindgen::prelude::wasm_bindgen;

    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(js_name = setTimeout)]
        fn set_timeout(handler: &js_sys::Function, ms: i32) -> wasm_bindgen::JsValue;
    }

    let ms = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        set_timeout(&resolve, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn within_gives_the_result_or_none_past_the_limit() {
        assert_eq!(within(Duration::from_millis(200), async { 7 }).await, Some(7));
        let slow = async {
            sleep(Duration::from_millis(300)).await;
            7
        };
        let started = Instant::now();
        assert_eq!(within(Duration::from_millis(50), slow).await, None);
        assert!(started.elapsed() < Duration::from_millis(250), "gave up at the limit");
        let quick = async {
            sleep(Duration::from_millis(10)).await;
            8
        };
        assert_eq!(within(Duration::from_millis(200), quick).await, Some(8));
    }

    #[tokio::test]
    async fn waits_at_least_the_duration() {
        let started = Instant::now();
        sleep(Duration::from_millis(30)).await;
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}
