//! The baseline of `scripts/bench`: the least a Rust Worker can do (an empty 200), built with
//! the same toolchain, profile and `worker` crate as the functions. Every throughput figure of
//! the bench is divided by this Worker's, measured in the same run on the same runtime.

use worker::{event, Context, Env, Request, Response};

#[event(fetch)]
async fn fetch(_req: Request, _env: Env, _ctx: Context) -> worker::Result<Response> {
    Response::empty()
}
