//! `dyad task add --api URL`: provisions a task through a management API's
//! `POST /tasks`, with the same flags, files and answer as against a
//! datastore. That API decides some things itself, which shape the flow:
//!
//! - the task ID is SHA-256 of the verify key (so the ID this command
//!   writes into the files is that one);
//! - a Helper makes the Leader→Helper token and answers it once; a Leader
//!   is given that token and the Collector token's hash. So the Helper is
//!   provisioned first (`--generate --role helper`: its `leader-task.yaml`
//!   carries the Helper's token), then the Leader (`--file
//!   leader-task.yaml`: it makes the Collector's token, sends only its
//!   hash, and writes the Collector's and the clients' files);
//! - `--generate --role leader` works too, for a Helper provisioned from
//!   its datastore (`dyad task add --config ... --file helper-task.yaml`);
//! - the aggregator makes its own HPKE keypair and picks its report expiry
//!   age and clock skew: `--hpke-keys global`, `--report-expiry-age` and
//!   `--tolerable-clock-skew` are refused, saying why.
//!
//! Private keys stay where they were: the aggregator's keypair is made
//! inside it, and the Collector's private key is never read.

use super::add::{
    api_task_id, parameters, parse_collector_hpke_config, prepare_out_dir, read_peer_task_file,
    report, write_files, AddArgs, HpkeKeysArg, RoleArg,
};
use crate::management_client::ManagementClient;
use crate::output::OutputFormat;
use crate::provision::{self, LocalPolicy, Provisioned};
use crate::report::hinted;
use crate::task_files::PeerTaskFile;
use anyhow::{bail, Context as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use dyad_aggregator::management::models::{
    AggregatorDescription, AuthTokenHashJson, AuthTokenJson, HpkeConfigJson,
};
use dyad_aggregator::management::task_json::{query_type_json, vdaf_with_dp_json, TaskResponse};
use dyad_aggregator::management::task_request::PostTaskRequest;
use dyad_core::task::Task;
use dyad_messages::draft09::Role;
use reqwest::Method;

pub async fn run(args: AddArgs) -> anyhow::Result<()> {
    if args.format == OutputFormat::Csv {
        bail!("`task add` answers as a table or JSON, not CSV");
    }
    refuse_what_the_api_decides(&args)?;
    let api = args
        .datastore
        .api()?
        .context("`task add` over a management API needs --api")?;
    // Everything that can fail without side effects fails first: the task
    // is posted only once its files can be written.
    let (provisioned, mut peer_file) = match &args.file {
        Some(path) => (imported(path)?, None),
        None => {
            let (provisioned, peer_file) = generated(&args)?;
            (provisioned, Some(peer_file))
        }
    };
    let task = &provisioned.task;
    check_own_url(&api, task).await?;
    let out_dir = prepare_out_dir(&provisioned, peer_file.as_ref(), args.out_dir.as_deref())?;

    let request = post_request(task)?;
    let answer: TaskResponse = api.send(Method::POST, "tasks", &request).await?;
    if answer.task_id != *task.task_id() {
        bail!(
            "the management API stored the task as {}, not {} (SHA-256 of its verify key)",
            answer.task_id,
            task.task_id()
        );
    }
    tracing::info!(task_id = %task.task_id(), role = %task.role(), "added a task over the management API");
    if let Some(peer_file) = peer_file.as_mut().filter(|_| task.role() == Role::Helper) {
        // The Leader presents the token the Helper made.
        peer_file.aggregator_auth_token = answer
            .aggregator_auth_token
            .as_ref()
            .context(
                "the management API answered the new Helper task without its \
                 aggregator_auth_token, which the Leader needs (was the task there already?)",
            )?
            .to_token()
            .map_err(|reason| anyhow::anyhow!("the Helper's aggregator_auth_token: {reason}"))?;
    }
    let written = match out_dir {
        Some(out_dir) => {
            write_files(&out_dir, &provisioned, peer_file.as_ref()).map_err(|error| {
                hinted(
                    format!(
                        "task {} is stored, but its files could not all be written: {error:#}",
                        task.task_id()
                    ),
                    "remove it with `dyad task delete --api ...`, empty --out-dir and add it again",
                )
            })?
        }
        None => Vec::new(),
    };
    report(task, &written, args.format)
}

/// The flags whose value the management API decides itself.
fn refuse_what_the_api_decides(args: &AddArgs) -> anyhow::Result<()> {
    let refused = if args.hpke_keys == HpkeKeysArg::Global {
        "--hpke-keys global"
    } else if args.report_expiry_age.is_some() {
        "--report-expiry-age"
    } else if args.tolerable_clock_skew.is_some() {
        "--tolerable-clock-skew"
    } else {
        return Ok(());
    };
    Err(hinted(
        format!(
            "{refused} cannot be given over the management API: the aggregator decides it \
             (its own HPKE keypair per task, reports kept two weeks, 60 s of clock skew)"
        ),
        format!("leave {refused} out, or add the task to the datastore (--config)"),
    ))
}

/// `--file leader-task.yaml`: the Leader's side of a task its Helper made.
fn imported(path: &std::path::Path) -> anyhow::Result<Provisioned> {
    let peer_file = read_peer_task_file(path)?;
    if peer_file.role != Role::Leader {
        return Err(hinted(
            format!(
                "{} is for a Helper, whose management API makes the Leader→Helper token \
                 itself and cannot take this file's",
                path.display()
            ),
            "provision the Helper first (`dyad task add --api HELPER_API --generate --role \
             helper ...`), then the Leader with the leader-task.yaml it writes; or add this \
             file to the Helper's datastore (--config)",
        ));
    }
    if peer_file.task_id != api_task_id(&peer_file.vdaf_verify_key) {
        return Err(hinted(
            format!(
                "{}: task {} is not SHA-256 of its verify key, the ID a management API gives \
                 a task",
                path.display(),
                peer_file.task_id
            ),
            "add it to the Leader's datastore (--config), or have the Helper generate the \
             task over its management API",
        ));
    }
    provision::import(&peer_file, &LocalPolicy::default())
}

/// `--generate`: the shared values, under the task ID the API derives;
/// this side's task and the other aggregator's file.
fn generated(args: &AddArgs) -> anyhow::Result<(Provisioned, PeerTaskFile)> {
    let role = match args.role.context("give --role")? {
        RoleArg::Leader => Role::Leader,
        RoleArg::Helper => Role::Helper,
    };
    let collector_hpke_config = parse_collector_hpke_config(
        args.collector_hpke_config
            .as_deref()
            .context("give --collector-hpke-config")?,
    )?;
    let generated = provision::generate(
        &parameters(args)?,
        role,
        collector_hpke_config,
        &LocalPolicy::default(),
    )?;
    let mut peer_file = generated.peer_file;
    peer_file.task_id = api_task_id(&peer_file.vdaf_verify_key);
    let own_file = PeerTaskFile {
        role,
        ..peer_file.clone()
    };
    Ok((
        provision::import(&own_file, &LocalPolicy::default())?,
        peer_file,
    ))
}

/// The aggregator's own DAP URL (its `GET /`) must be the one the task
/// gives it: the API stores that one, the files the task's.
async fn check_own_url(api: &ManagementClient, task: &Task) -> anyhow::Result<()> {
    let own = match task.role() {
        Role::Leader => task.leader_aggregator_endpoint(),
        _ => task.helper_aggregator_endpoint(),
    };
    let flag = match task.role() {
        Role::Leader => "--leader",
        _ => "--helper",
    };
    let description: AggregatorDescription = api.get("").await?;
    match description.dap_url {
        None => Err(hinted(
            format!(
                "the aggregator at {} has no DAP URL (management_api.dap_url), which a task \
                 provisioned over its management API needs",
                api.base()
            ),
            "set management_api.dap_url in its config",
        )),
        Some(url) if url != *own => Err(hinted(
            format!(
                "the task gives the {} the URL {own}, but the aggregator at {} says its DAP \
                 URL is {url}",
                task.role(),
                api.base()
            ),
            format!("give {flag} {url}, or fix its management_api.dap_url"),
        )),
        Some(_) => Ok(()),
    }
}

/// The `POST /tasks` body for this side's task: the shared values, and for
/// a Leader the Helper's token and the Collector token's hash (never the
/// Collector's token).
fn post_request(task: &Task) -> anyhow::Result<PostTaskRequest> {
    let config = |config| {
        HpkeConfigJson::from_config(config)
            .context("the Collector's HPKE config uses an algorithm the API cannot name")
    };
    let (role, aggregator_auth_token, collector_auth_token_hash) = match task.role() {
        Role::Leader => (
            "Leader",
            Some(AuthTokenJson::from_token(
                task.aggregator_auth_token()
                    .token()
                    .context("the Leader's task holds no Leader→Helper token")?,
            )),
            Some(AuthTokenHashJson::from_hash(
                &task
                    .collector_auth_token()
                    .context("the Leader's task holds no Collector token")?
                    .hash(),
            )),
        ),
        _ => ("Helper", None, None),
    };
    Ok(PostTaskRequest {
        peer_aggregator_endpoint: task.peer_aggregator_endpoint().clone(),
        query_type: query_type_json(task.batch_mode()),
        vdaf: vdaf_with_dp_json(task.vdaf(), task.dp_strategy()),
        role: role.to_owned(),
        vdaf_verify_key: URL_SAFE_NO_PAD.encode(task.vdaf_verify_key().as_bytes()),
        max_batch_query_count: task.max_batch_query_count(),
        task_expiration: task
            .task_expiration()
            .map(|time| time.as_seconds_since_epoch()),
        min_batch_size: task.min_batch_size(),
        time_precision: task.time_precision().as_seconds(),
        collector_hpke_config: config(task.collector_hpke_config())?,
        aggregator_auth_token,
        collector_auth_token_hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::task::view::fixtures::leader_task;

    #[test]
    fn a_leader_request_carries_the_token_and_only_the_collector_token_hash() {
        let task = leader_task();
        let request = post_request(&task).unwrap();
        assert_eq!(request.role, "Leader");
        assert_eq!(
            request.peer_aggregator_endpoint,
            "https://helper.example/".parse().unwrap()
        );
        let token = request.aggregator_auth_token.as_ref().unwrap();
        assert_eq!(token.token, "leader-to-helper");
        let body = serde_json::to_string(&request).unwrap();
        assert!(!body.contains("collector-token"), "{body}");
        let hash = request
            .collector_auth_token_hash
            .unwrap()
            .to_hash()
            .unwrap();
        assert_eq!(hash, task.collector_auth_token().unwrap().hash());
        assert_eq!(request.vdaf, serde_json::json!("Prio3Count"));
        assert_eq!(request.task_expiration, Some(1_893_456_000));
    }
}
