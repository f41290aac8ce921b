use crate::ApiError;
use serde::Serialize;
use worker::Response;

/// A JSON response with the given status.
pub fn json<T: Serialize>(status: u16, body: &T) -> Result<Response, ApiError> {
    Response::from_json(body).map(|r| r.with_status(status)).map_err(ApiError::internal)
}
