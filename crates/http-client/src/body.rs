//! Reading an answer's body under a cap, chunk by chunk, so that a peer
//! cannot make the reader hold more than it expects.
//!
//! # Where is
//!
//! - a declared `Content-Length` over the cap refused before reading, and
//!   the cap checked at every chunk -> [`read_body`].

use reqwest::Response;

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// The body is longer than `limit` bytes.
    TooLarge { limit: usize },
    /// The body did not arrive whole (the connection was lost, say).
    Http(reqwest::Error),
}

/// Reads a whole body of at most `limit` bytes.
pub async fn read_body(mut response: Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Http)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
