//! The DAP client library (DAP-09 section 4.4): what an application embeds
//! to contribute measurements to a task.
//!
//! A [`Client`] fetches and caches both aggregators' HPKE configurations,
//! shards each measurement with the task's VDAF, seals the two input shares
//! and uploads the report to the Leader, retrying transient failures.
//!
//! ```no_run
//! # async fn example() -> Result<(), dyad_client::ClientError> {
//! use dyad_client::{AnyVdaf, Client};
//! use dyad_core::vdaf::{Measurement, VdafInstance};
//! use dyad_messages::draft09::{Duration, TaskId};
//!
//! let task_id: TaskId = "8BY0RzZMzxvA46_8ymhzycOB9krN-QIGYvg_RsByGec".parse().unwrap();
//! // Typed: any `prio::vdaf::Client<16>`.
//! let client = Client::new(
//!     task_id,
//!     "https://leader.example/".parse().unwrap(),
//!     "https://helper.example/".parse().unwrap(),
//!     Duration::from_seconds(3600),
//!     dyad_core::vdaf::new_prio3_sum(8).unwrap(),
//! )?;
//! client.upload(&42).await?;
//!
//! // Chosen at run time: any catalogue VDAF.
//! let client = Client::new(
//!     task_id,
//!     "https://leader.example/".parse().unwrap(),
//!     "https://helper.example/".parse().unwrap(),
//!     Duration::from_seconds(3600),
//!     AnyVdaf(VdafInstance::Prio3Count),
//! )?;
//! client.upload(&Measurement::Count(true)).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Modules: [`ClientBuilder`] (settings), [`Client`] (uploads),
//! [`ClientVdaf`] and [`AnyVdaf`] (sharding), [`ClientError`] and
//! [`ErrorResponse`] (failures), [`RetryNotice`] (what
//! [`ClientBuilder::on_retry`] is told).
//!
//! # Where is
//!
//! - an upload: HPKE configurations, shard, seal, `PUT` (DAP-09 section 4.4)
//!   -> [`Client::upload`], [`Client::upload_at`];
//! - an `outdatedConfig` answer: refresh, retry once with a new report
//!   (DAP-09 section 4.4.2) -> [`Client::upload_at`];
//! - a report prepared apart from sending it -> [`Client::prepare_report`],
//!   [`Client::upload_report`];
//! - the settings and their checks -> [`ClientBuilder::build`];
//! - sharding, the report ID as the nonce (VDAF-08 section 5.1) ->
//!   [`ClientVdaf::shard_report`];
//! - no supported HPKE configuration (DAP-09 section 4.4.1) ->
//!   [`ClientError::NoSupportedHpkeConfig`];
//! - which failures are retried -> [`ClientError`]'s `Retryable` answer, each
//!   retry told to [`ClientBuilder::on_retry`].

mod builder;
mod client;
mod error;
mod hpke_config;
mod http;
mod report;
mod time_source;
mod vdaf;

pub use builder::ClientBuilder;
pub use client::Client;
pub use error::{ClientError, ErrorResponse};
pub use http::{RetryNotice, RetryObserver};
pub use time_source::{system_time, TimeSource};
pub use vdaf::{AnyVdaf, ClientVdaf};
