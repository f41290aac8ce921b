//! Waits on the runtime's timer: tokio natively (tests, benchmarks), `setTimeout` in workerd.
//! Every timeout, backoff and heartbeat in sba-edge sleeps here.
//!
//! Why not `worker::Delay`: it keeps the waker of its FIRST poll, so inside a streamed
//! response (where each pull of the body is a new task) it wakes a finished task and the
//! stream never moves again — heartbeats and timeouts silently stop. A promise awaited
//! through `JsFuture` always wakes the task that polled it last.

use std::time::Duration;

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
    async fn waits_at_least_the_duration() {
        let started = Instant::now();
        sleep(Duration::from_millis(30)).await;
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}
