//! Writes seed inputs for the fuzz targets (`fuzz/`): a few valid encodings
//! of each top-level message, drawn from the `testing` strategies with a
//! fixed seed, one folder per target under the directory given (by default
//! `fuzz/seeds`). `scripts/fuzz.sh --grow` merges what the fuzzers find from
//! them into the kept corpus (`fuzz/corpus`).
//!
//! ```sh
//! cargo run -p dyad-messages --features test-util --example fuzz_seeds -- fuzz/seeds
//! ```

use dyad_messages::codec::Encode;
use dyad_messages::testing;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use std::path::{Path, PathBuf};

/// Seeds written per target.
const SEEDS: usize = 8;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/seeds".into()),
    );
    // One runner for all, with proptest's fixed seed: the same files every run.
    let mut runner = TestRunner::deterministic();
    let mut written = 0;
    written += seeds(
        &root,
        "hpke_config_list",
        testing::hpke_config_list(),
        &mut runner,
    )?;
    written += seeds(&root, "hpke_config", testing::hpke_config(), &mut runner)?;
    written += seeds(&root, "report", testing::report(), &mut runner)?;
    written += seeds(
        &root,
        "plaintext_input_share",
        testing::plaintext_input_share(),
        &mut runner,
    )?;
    written += seeds(
        &root,
        "input_share_aad",
        testing::input_share_aad(),
        &mut runner,
    )?;
    written += seeds(
        &root,
        "aggregation_job_init_req",
        testing::aggregation_job_init_req(),
        &mut runner,
    )?;
    written += seeds(
        &root,
        "aggregation_job_resp",
        testing::aggregation_job_resp(),
        &mut runner,
    )?;
    written += seeds(
        &root,
        "aggregation_job_continue_req",
        testing::aggregation_job_continue_req(),
        &mut runner,
    )?;
    written += seeds(
        &root,
        "collection_req",
        testing::collection_req(),
        &mut runner,
    )?;
    written += seeds(&root, "collection", testing::collection(), &mut runner)?;
    written += seeds(
        &root,
        "aggregate_share_req",
        testing::aggregate_share_req(),
        &mut runner,
    )?;
    written += seeds(
        &root,
        "aggregate_share",
        testing::aggregate_share(),
        &mut runner,
    )?;
    written += seeds(
        &root,
        "aggregate_share_aad",
        testing::aggregate_share_aad(),
        &mut runner,
    )?;
    written += seeds(
        &root,
        "taskprov_task_config",
        testing::task_config(),
        &mut runner,
    )?;
    println!("wrote {written} seeds under {}", root.display());
    Ok(())
}

/// Writes [`SEEDS`] encodings of values drawn from `strategy` to
/// `root/target/seed-N`.
fn seeds<T: Encode + std::fmt::Debug>(
    root: &Path,
    target: &str,
    strategy: impl Strategy<Value = T>,
    runner: &mut TestRunner,
) -> Result<usize, Box<dyn std::error::Error>> {
    let dir = root.join(target);
    std::fs::create_dir_all(&dir)?;
    for n in 0..SEEDS {
        let value = strategy
            .new_tree(runner)
            .map_err(|e| format!("{target}: {e}"))?
            .current();
        let bytes = value
            .get_encoded()
            .map_err(|e| format!("{target}: encoding {value:?}: {e}"))?;
        std::fs::write(dir.join(format!("seed-{n}")), bytes)?;
    }
    Ok(SEEDS)
}
