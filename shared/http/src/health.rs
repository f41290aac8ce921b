use crate::{json, ApiError, Service};
use serde_json::{json, Map, Value};
use std::future::Future;
use std::pin::Pin;
use worker::Response;

/// `GET /healthz`: liveness only. Answers without touching any dependency, so a load
/// balancer never takes a healthy Worker out because Postgres blinked.
pub fn health(service: &Service) -> Result<Response, ApiError> {
    json(
        200,
        &json!({
            "status": "ok",
            "function": service.name,
            "version": service.version,
            "buildId": service.build_id,
        }),
    )
}

/// One dependency check for `/readyz`: a name and a future that reports details or a reason.
pub struct Probe {
    pub name: &'static str,
    pub check: Pin<Box<dyn Future<Output = Result<Value, String>>>>,
}

impl Probe {
    pub fn new(name: &'static str, check: impl Future<Output = Result<Value, String>> + 'static) -> Self {
        Self { name, check: Box::pin(check) }
    }
}

/// `GET /readyz`: runs every probe (one after another: the runtime gives a request few
/// connections) and answers 200 when all pass, 503 with each failure named otherwise.
pub async fn readiness(service: &Service, probes: Vec<Probe>) -> Result<Response, ApiError> {
    let mut checks = Map::new();
    let mut ready = true;
    for probe in probes {
        let outcome = match probe.check.await {
            Ok(detail) => json!({ "ok": true, "detail": detail }),
            Err(reason) => {
                ready = false;
                json!({ "ok": false, "reason": reason })
            }
        };
        checks.insert(probe.name.to_owned(), outcome);
    }
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "function": service.name,
        "checks": checks,
    });
    let mut response = json(if ready { 200 } else { 503 }, &body)?;
    if !ready {
        response.headers_mut().set("Retry-After", "5").map_err(ApiError::internal)?;
    }
    Ok(response)
}
