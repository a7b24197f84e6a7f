//! [`PeerView`]: a taskprov peer aggregator as `dyad taskprov-peer` prints
//! it, from the datastore or from a management API alike: no secret.

use crate::output::{OutputFormat, Table};
use dyad_aggregator::management::taskprov_peers::{role_name, PeerAggregatorJson};
use dyad_core::taskprov::PeerAggregator;
use serde::Serialize;

/// What is printed of a peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(super) struct PeerView {
    pub endpoint: String,
    /// The peer's role: "Leader" or "Helper".
    pub role: String,
    pub collector_hpke_config_id: u8,
    pub report_expiry_age_secs: Option<u64>,
    pub tolerable_clock_skew_secs: u64,
}

impl PeerView {
    /// The view of a stored peer.
    pub fn of(peer: &PeerAggregator) -> Self {
        Self {
            endpoint: peer.endpoint().to_string(),
            role: role_name(peer.role()).to_owned(),
            collector_hpke_config_id: peer.collector_hpke_config().id.0,
            report_expiry_age_secs: peer.report_expiry_age().map(|d| d.as_seconds()),
            tolerable_clock_skew_secs: peer.tolerable_clock_skew().as_seconds(),
        }
    }

    /// The view of a peer as a management API lists it.
    pub fn of_api(peer: &PeerAggregatorJson) -> Self {
        Self {
            endpoint: peer.endpoint.clone(),
            role: peer.role.clone(),
            collector_hpke_config_id: peer.collector_hpke_config.id,
            report_expiry_age_secs: peer.report_expiry_age,
            tolerable_clock_skew_secs: peer.tolerable_clock_skew,
        }
    }
}

/// The peers as `format` prints them.
pub(super) fn render(views: &[PeerView], format: OutputFormat) -> anyhow::Result<String> {
    if format == OutputFormat::Json {
        return Ok(serde_json::to_string_pretty(views)? + "\n");
    }
    if views.is_empty() && format == OutputFormat::Table {
        return Ok(
            "No taskprov peer aggregators (add one with `dyad taskprov-peer add`).\n".into(),
        );
    }
    let mut table = Table::new([
        "ENDPOINT",
        "ROLE",
        "COLLECTOR HPKE CONFIG",
        "REPORT EXPIRY",
        "CLOCK SKEW",
    ]);
    for view in views {
        table.row([
            view.endpoint.clone(),
            view.role.clone(),
            view.collector_hpke_config_id.to_string(),
            view.report_expiry_age_secs
                .map_or_else(|| "never".to_owned(), |s| format!("{s} s")),
            format!("{} s", view.tolerable_clock_skew_secs),
        ]);
    }
    Ok(match format {
        OutputFormat::Csv => table.render_csv(),
        _ => table.render(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(endpoint: &str, role: &str) -> PeerView {
        PeerView {
            endpoint: endpoint.to_owned(),
            role: role.to_owned(),
            collector_hpke_config_id: 7,
            report_expiry_age_secs: None,
            tolerable_clock_skew_secs: 60,
        }
    }

    #[test]
    fn table_has_one_aligned_row_per_peer_and_json_is_an_array() {
        let views = [
            view("https://leader.example/", "Leader"),
            view("https://h.example/", "Helper"),
        ];
        assert_eq!(
            render(&views, OutputFormat::Table).unwrap(),
            "\
ENDPOINT                 ROLE    COLLECTOR HPKE CONFIG  REPORT EXPIRY  CLOCK SKEW
https://leader.example/  Leader  7                      never          60 s
https://h.example/       Helper  7                      never          60 s
"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(&views, OutputFormat::Json).unwrap()).unwrap();
        assert_eq!(json[1]["role"], "Helper");
        assert_eq!(json[0]["report_expiry_age_secs"], serde_json::Value::Null);
        let empty = render(&[], OutputFormat::Table).unwrap();
        assert!(empty.contains("dyad taskprov-peer add"), "{empty}");
        assert_eq!(render(&[], OutputFormat::Json).unwrap(), "[]\n");
    }
}
