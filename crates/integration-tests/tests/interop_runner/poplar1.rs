//! The interop runner's Poplar1 case: a heavy-hitters walk through the
//! test API, one collection per level, each carrying its aggregation
//! parameter.

use super::*;

/// Poplar1 through the interop API (sections 4.1.1, 4.2.2, 4.4.1 and
/// 4.4.4), dyad in every role: 60 reports of 8-bit strings, three of them
/// popular, walked down the prefix tree one collection per level (each
/// `collection_start` carrying that level's candidate prefixes as its
/// `agg_param`, the batch collected up to `max_batch_query_count` = 8
/// times). Every level's counts equal the plaintext's; the strings left
/// at the end are exactly those measured at least the threshold times.
#[test]
fn poplar1_heavy_hitters_walk_is_exact_at_every_level() {
    use prio::codec::Encode as _;
    use prio::idpf::IdpfInput;
    use prio::vdaf::poplar1::Poplar1AggregationParam;
    use rand::Rng as _;
    const BITS: usize = 8;
    const REPORTS: usize = 60;
    const THRESHOLD: u64 = 8;
    run(async {
        let deployment = Deployment::start().await?;
        let mut spec = TaskSpec::new(
            json!({"type": "Poplar1", "bits": "8"}),
            QueryConfig::TimeInterval,
            REPORTS as u64,
        );
        spec.max_batch_query_count = BITS as u64;
        let task = deployment.provision(&spec).await?;
        let popular = [0b1011_0010u8, 0b0110_1100, 0b1011_0011];
        let mut rng = rand::thread_rng();
        let ms: Vec<Measurement> = (0..REPORTS)
            .map(|i| {
                let byte = if i % 4 == 3 {
                    rng.gen()
                } else {
                    popular[i % 3]
                };
                Measurement::Poplar1((0..BITS).map(|b| byte >> (BITS - 1 - b) & 1 == 1).collect())
            })
            .collect();
        let bucket_start = bucket(1);
        let uploads: Vec<(&InteropTask, Measurement)> =
            ms.iter().map(|m| (&task, m.clone())).collect();
        deployment
            .upload_all(
                &uploads,
                |_| Some(bucket_start + PRECISION / 2),
                CONCURRENCY,
            )
            .await
            .with_context(|| deployment.logs())?;
        let query = time_interval_query(bucket_start, PRECISION);
        let mut candidates: Vec<Vec<bool>> = vec![vec![false], vec![true]];
        for level in 0..BITS {
            let encoded = Poplar1AggregationParam::try_from_prefixes(
                candidates
                    .iter()
                    .map(|p| IdpfInput::from_bools(p))
                    .collect(),
            )?
            .get_encoded()?;
            let reply = deployment
                .collect_with(&task, &query, &encoded, WAIT)
                .await?
                .complete()
                .with_context(|| format!("level {level}\n{}", deployment.logs()))?;
            let want = plaintext_aggregate(
                &task.vdaf,
                &AggregationParam::Poplar1 {
                    prefixes: candidates.clone(),
                },
                &ms,
            )?;
            check_complete(
                &task,
                &reply,
                REPORTS,
                &result_json(&want)?,
                Some((bucket_start, PRECISION)),
            )
            .with_context(|| format!("level {level}"))?;
            let AggregateResult::Poplar1(counts) = want else {
                anyhow::bail!("Poplar1 counts prefixes, not {want:?}");
            };
            let survivors: Vec<Vec<bool>> = candidates
                .into_iter()
                .zip(counts)
                .filter(|(_, count)| *count >= THRESHOLD)
                .map(|(prefix, _)| prefix)
                .collect();
            if level + 1 == BITS {
                let mut truth: Vec<Vec<bool>> = Vec::new();
                for m in &ms {
                    let Measurement::Poplar1(bits) = m else {
                        continue;
                    };
                    let count = ms.iter().filter(|other| *other == m).count() as u64;
                    if count >= THRESHOLD && !truth.contains(bits) {
                        truth.push(bits.clone());
                    }
                }
                truth.sort();
                ensure!(
                    survivors == truth,
                    "heavy hitters {survivors:?}, want {truth:?}"
                );
                ensure!(
                    survivors.len() >= 3,
                    "the popular strings are heavy hitters"
                );
                break;
            }
            candidates = survivors
                .iter()
                .flat_map(|prefix| {
                    [false, true].map(|bit| {
                        let mut child = prefix.clone();
                        child.push(bit);
                        child
                    })
                })
                .collect();
        }
        Ok(())
    });
}
