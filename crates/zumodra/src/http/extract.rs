//! Extractors whose rejections speak the error contract: JSON bodies (400/413/415),
//! query strings (422), integer ids in paths (404) and the client's address.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::http::error::ApiError;
use crate::state::AppState;

/// A JSON body: `Content-Type: application/json` (or `+json`) required (else 415),
/// over the body limit → 413, not JSON of the expected shape → 400 `invalid_json`.
pub struct Json<T>(pub T);

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

async fn body_bytes(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::InvalidJson("the body could not be read".into())
        }
    })
}

/// The deepest nesting of arrays and objects a body may have. serde_json stops at 128
/// levels in the fields it reads, but skips unknown fields at any depth; this limit
/// holds for the whole body, so every endpoint refuses a deep body alike.
pub const MAX_JSON_DEPTH: usize = 64;

/// Does the JSON text nest arrays and objects deeper than [`MAX_JSON_DEPTH`]? Brackets
/// inside strings do not count. One pass over the bytes, no allocation.
fn too_deep(bytes: &[u8]) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// A JSON body as the [`Json`] extractor reads it; public for the fuzz targets.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if too_deep(bytes) {
        return Err(ApiError::InvalidJson(format!(
            "nested deeper than {MAX_JSON_DEPTH} levels"
        )));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        // serde's messages name JSON positions and the API's own field names only.
        ApiError::InvalidJson(e.to_string())
    })
}

impl<T: DeserializeOwned> FromRequest<AppState> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = body_bytes(req, state).await?;
        parse(&bytes).map(Json)
    }
}

/// An optional JSON body: an empty body is `None`; anything else is a [`Json`].
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned> FromRequest<AppState> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let json = is_json(req.headers());
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        parse(&bytes).map(|v| Self(Some(v)))
    }
}

/// A query string; one that does not fit the endpoint → 422 on `query`.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded_compat(query)
            .map(Query)
            .map_err(|e| ApiError::field("query", e))
    }
}

fn serde_urlencoded_compat<T: DeserializeOwned>(query: &str) -> Result<T, String> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{query}")
            .parse()
            .map_err(|_| "not a valid query string".to_owned())?,
    )
    .map(|q| q.0)
    .map_err(|e| e.body_text())
}

/// The integer id of a path like `/jobs/{id}`. Anything else is an object that does
/// not exist: 404 `not_found`, the same as a missing id.
pub struct PathId(pub i64);

impl FromRequestParts<AppState> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::NotFound)?;
        raw.parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(PathId)
            .ok_or(ApiError::NotFound)
    }
}

/// A path's single text segment (such as a tenant slug).
pub struct PathText(pub String);

impl FromRequestParts<AppState> for PathText {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| PathText(p.0))
            .map_err(|_| ApiError::NotFound)
    }
}

/// The client's address: the TCP peer, or — when the peer is a trusted proxy — the
/// last address in `X-Forwarded-For` that is not itself a trusted proxy.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    pub fn from_parts(parts: &Parts, state: &AppState) -> Self {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        Self(client_ip(peer, &parts.headers, state))
    }
}

/// See [`ClientAddr`].
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, state: &AppState) -> IpAddr {
    let trusted = |ip: IpAddr| {
        state
            .settings
            .trusted_proxies
            .iter()
            .any(|c| c.contains(ip))
    };
    if !trusted(peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !trusted(*ip))
        .unwrap_or(peer)
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts, state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_brackets_outside_strings_only() {
        let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(!too_deep(nest(MAX_JSON_DEPTH).as_bytes()));
        assert!(too_deep(nest(MAX_JSON_DEPTH + 1).as_bytes()));
        assert!(too_deep("{\"a\":".repeat(10_000).as_bytes()));
        let quoted = format!("{{\"a\": \"{}\\\"{}\"}}", "[".repeat(500), "{".repeat(500));
        assert!(!too_deep(quoted.as_bytes()));
        // Many siblings are not depth.
        assert!(!too_deep("[[],[],[]]".repeat(1000).as_bytes()));
    }
}
