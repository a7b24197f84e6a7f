//! [`ManagementState`]: what the management handlers and the guard share.

use dyad_datastore::Datastore;
use std::fmt;
use std::sync::Arc;

/// The datastore, the tokens that open the API and the DAP URL `GET /`
/// reports. `Debug` never shows the tokens.
#[derive(Clone)]
pub struct ManagementState {
    pub datastore: Arc<dyn Datastore>,
    /// The bearer tokens any of which opens the API.
    pub tokens: Arc<[String]>,
    /// This aggregator's public DAP URL, for `GET /`.
    pub dap_url: Option<url::Url>,
}

impl fmt::Debug for ManagementState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagementState")
            .field("tokens", &format_args!("[{} redacted]", self.tokens.len()))
            .field("dap_url", &self.dap_url)
            .finish_non_exhaustive()
    }
}
