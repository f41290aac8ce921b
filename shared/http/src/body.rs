use crate::ApiError;
use futures_util::StreamExt;
use worker::Request;

/// Reads the request body, refusing with 413 as soon as it is known to exceed `limit`: at
/// once from `Content-Length`, or while streaming when the length is absent or understated,
/// so an oversized upload is never buffered whole.
pub async fn read_limited(req: &mut Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    let declared = req.headers().get("content-length").ok().flatten().and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::payload_too_large(limit));
    }
    let Ok(mut stream) = req.stream() else {
        // No body at all (GET-style request): the same as an empty one.
        return Ok(Vec::new());
    };
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(limit as u64) as usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request("body_unreadable", "the request body could not be read").with_cause(e)
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
