use crate::ApiError;
use serde::Serialize;
use worker::Response;

/// A JSON response with the given status.
pub fn json<T: Serialize>(status: u16, body: &T) -> Result<Response, ApiError> {
    Response::from_json(body).map(|r| r.with_status(status)).map_err(ApiError::internal)
}

/// A JSON document already serialised (a function's embedded OpenAPI document).
pub fn json_text(document: &'static str) -> Result<Response, ApiError> {
    let mut response = Response::ok(document).map_err(ApiError::internal)?;
    response.headers_mut().set("content-type", "application/json").map_err(ApiError::internal)?;
    Ok(response)
}

/// Adds headers (e.g. the rate limiter's) to a response built by a handler.
pub fn with_headers(mut response: Response, headers: &[(&'static str, String)]) -> Result<Response, ApiError> {
    for (name, value) in headers {
        response.headers_mut().set(name, value).map_err(ApiError::internal)?;
    }
    Ok(response)
}
