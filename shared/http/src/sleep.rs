use std::time::Duration;
use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &js_sys::Function, ms: i32) -> wasm_bindgen::JsValue;
}

/// Waits `duration` on the runtime's `setTimeout`.
///
/// Use this, not `worker::Delay`: Delay keeps the waker of its FIRST poll, so inside a
/// streamed response (where each pull of the body is a new task) it wakes a finished task
/// and the stream never moves again — heartbeats and timeouts silently stop. A promise
/// awaited through `JsFuture` always wakes the task that polled it last.
pub async fn sleep(duration: Duration) {
    let ms = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        set_timeout(&resolve, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
