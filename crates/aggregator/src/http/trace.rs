//! One tracing span per request, with a request ID that is also returned in
//! the `X-Request-Id` response header, so a peer's report of a failure can
//! be matched with this aggregator's logs. The span records the method, the
//! path, and the IDs the path names (`task_id`, `aggregation_job_id`,
//! `collection_job_id`: public values, on every event of the request);
//! bodies, query strings and headers (which may carry tokens) are never
//! logged. Each answered request is counted and timed by its route
//! template, method and status ([`crate::telemetry::instruments::http_request`]).

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::field::Empty;
use tracing::Instrument;

/// The response header carrying the request ID.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The route label of a request no route took.
const UNMATCHED: &str = "unmatched";

/// The routes' templates and their `route` labels: the template with
/// `:name` for `{name}`, since braces inside a label value trip some
/// Prometheus tooling. A template not listed here is labelled `other`.
const ROUTES: &[(&str, &str)] = &[
    ("/hpke_config", "/hpke_config"),
    ("/tasks/{task_id}/reports", "/tasks/:task_id/reports"),
    (
        "/tasks/{task_id}/collection_jobs/{collection_job_id}",
        "/tasks/:task_id/collection_jobs/:collection_job_id",
    ),
    (
        "/tasks/{task_id}/aggregation_jobs/{aggregation_job_id}",
        "/tasks/:task_id/aggregation_jobs/:aggregation_job_id",
    ),
    (
        "/tasks/{task_id}/aggregate_shares",
        "/tasks/:task_id/aggregate_shares",
    ),
];

/// Longest path segment recorded as an ID (a DAP ID in base64url is 22 or
/// 43 characters; anything longer is not one).
const MAX_ID_CHARS: usize = 64;

/// Middleware: runs the request inside its span and logs its outcome.
pub async fn trace_request(request: Request, next: Next) -> Response {
    let request_id = format!("{:016x}", rand::random::<u64>());
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_owned());
    let route = route_label(template.as_deref());
    let method = request.method().clone();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        path = %request.uri().path(),
        task_id = Empty,
        aggregation_job_id = Empty,
        collection_job_id = Empty,
    );
    if let Some(template) = &template {
        for (name, value) in path_ids(template, request.uri().path()) {
            span.record(name, value);
        }
    }
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let took = started.elapsed();
    let status = response.status();
    crate::telemetry::instruments::http_request(route, method.as_str(), status, took);
    span.in_scope(|| {
        tracing::debug!(
            status = status.as_u16(),
            elapsed_ms = took.as_millis() as u64,
            "answered"
        )
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

fn route_label(template: Option<&str>) -> &'static str {
    match template {
        None => UNMATCHED,
        Some(template) => ROUTES
            .iter()
            .find(|(route, _)| *route == template)
            .map_or("other", |(_, label)| label),
    }
}

/// The `{name}` segments of `template` with the matching segments of
/// `path`, for the span's ID fields; a segment too long or not base64url
/// is left out (it is no ID, and a log line is no place for it).
fn path_ids<'p>(template: &str, path: &'p str) -> Vec<(&'static str, &'p str)> {
    let mut ids = Vec::new();
    for (name, value) in template.split('/').zip(path.split('/')) {
        let field = match name {
            "{task_id}" => "task_id",
            "{aggregation_job_id}" => "aggregation_job_id",
            "{collection_job_id}" => "collection_job_id",
            _ => continue,
        };
        let plausible = !value.is_empty()
            && value.len() <= MAX_ID_CHARS
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if plausible {
            ids.push((field, value));
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_ids_come_from_the_template_and_skip_what_is_no_id() {
        let template = "/tasks/{task_id}/aggregation_jobs/{aggregation_job_id}";
        assert_eq!(
            path_ids(template, "/tasks/abc_-1/aggregation_jobs/XYZ"),
            vec![("task_id", "abc_-1"), ("aggregation_job_id", "XYZ")]
        );
        let long = "a".repeat(65);
        assert_eq!(
            path_ids(template, &format!("/tasks/{long}/aggregation_jobs/x%20y")),
            vec![]
        );
    }

    #[test]
    fn routes_are_labelled_by_template() {
        assert_eq!(route_label(None), "unmatched");
        assert_eq!(
            route_label(Some("/tasks/{task_id}/reports")),
            "/tasks/:task_id/reports"
        );
        assert_eq!(route_label(Some("/elsewhere")), "other");
    }
}
