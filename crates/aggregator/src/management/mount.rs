//! The management API on the DAP listener, under a path prefix
//! (`management_api.path_prefix`, e.g. `/api/`), for a deployment that
//! wants one listener: [`under_prefix`] sends a request whose path is the
//! prefix, or begins with it, to the management router (its guard
//! included), with the prefix taken off; every other request goes to the
//! DAP router unchanged. The configuration refuses a prefix whose first
//! segment is one of the DAP API's ([`crate::config::DAP_PATH_ROOTS`]), so
//! the prefix never shadows a DAP route.

use axum::extract::Request;
use axum::http::Uri;
use axum::Router;
use std::sync::Arc;
use tower::ServiceExt as _;

/// One router: `management` under `prefix` (`/seg/.../`, checked by the
/// configuration), `dap` for everything else.
pub fn under_prefix(dap: Router, prefix: &str, management: Router) -> Router {
    let prefix: Arc<str> = prefix.trim_end_matches('/').into();
    let dispatch = tower::service_fn(move |request: Request| {
        let (dap, management, prefix) = (dap.clone(), management.clone(), prefix.clone());
        async move {
            match strip_prefix(&prefix, request.uri()) {
                Some(uri) => {
                    let (mut parts, body) = request.into_parts();
                    parts.uri = uri;
                    management.oneshot(Request::from_parts(parts, body)).await
                }
                None => dap.oneshot(request).await,
            }
        }
    });
    Router::new().fallback_service(dispatch)
}

/// `uri` with `prefix` (no trailing `/`) taken off its path, if the path
/// is the prefix or continues it at a segment boundary: `/api` and `/api/`
/// become `/`, `/api/task_ids?x` becomes `/task_ids?x`; `/apix` is not
/// under `/api`.
fn strip_prefix(prefix: &str, uri: &Uri) -> Option<Uri> {
    let rest = uri.path().strip_prefix(prefix)?;
    let path = match rest {
        "" => "/",
        rest if rest.starts_with('/') => rest,
        _ => return None,
    };
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    path_and_query.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_taken_off_only_at_a_segment_boundary() {
        let cases = [
            ("/api", Some("/")),
            ("/api/", Some("/")),
            (
                "/api/task_ids?pagination_token=x",
                Some("/task_ids?pagination_token=x"),
            ),
            (
                "/api/tasks/abc/metrics/uploads",
                Some("/tasks/abc/metrics/uploads"),
            ),
            ("/apix/tasks", None),
            ("/tasks/abc/reports", None),
            ("/hpke_config", None),
        ];
        for (path, expected) in cases {
            let uri: Uri = path.parse().unwrap();
            assert_eq!(
                strip_prefix("/api", &uri).map(|uri| uri.to_string()),
                expected.map(str::to_owned),
                "{path}"
            );
        }
        let nested: Uri = "/admin/v1/hpke_configs".parse().unwrap();
        assert_eq!(
            strip_prefix("/admin/v1", &nested).unwrap().to_string(),
            "/hpke_configs"
        );
    }
}
