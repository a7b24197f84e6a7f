//! The reports of one aggregation job prepared on every core: each job
//! step's per-report work (HPKE open, share decoding, VDAF preparation) is
//! independent from report to report, so [`map_in_chunks`] cuts the job's
//! reports into one contiguous chunk per thread of rayon's pool and joins
//! the results back in the reports' order. The outcome is the same, byte
//! for byte, whatever the number of threads; only the wall time changes.
//!
//! The crypto limit `dyad bench` divides by is one core's:
//! [`on_one_core`] runs work in a pool of one thread, where the same code
//! runs sequentially.
//!
//! ## Where is
//!
//! - a job's reports split over the cores, in order → [`map_in_chunks`]
//! - one core only (the crypto limit) → [`on_one_core`]

use rayon::prelude::*;

/// Fewest reports worth a chunk of their own: below it, the hand-off
/// between threads costs more than it saves.
pub const MIN_CHUNK: usize = 8;

/// `per_chunk` over contiguous chunks of `items`, one chunk per thread of
/// the current rayon pool (at least [`MIN_CHUNK`] items each), the results
/// concatenated in the items' order. The first error (in chunk order)
/// wins.
pub fn map_in_chunks<T, R, E, F>(items: &[T], per_chunk: F) -> Result<Vec<R>, E>
where
    T: Sync,
    R: Send,
    E: Send,
    F: Fn(&[T]) -> Result<Vec<R>, E> + Sync,
{
    let threads = rayon::current_num_threads().max(1);
    if threads == 1 || items.len() < 2 * MIN_CHUNK {
        return per_chunk(items);
    }
    let size = items.len().div_ceil(threads).max(MIN_CHUNK);
    let chunks: Vec<Result<Vec<R>, E>> = items.par_chunks(size).map(&per_chunk).collect();
    let mut out = Vec::with_capacity(items.len());
    for chunk in chunks {
        out.extend(chunk?);
    }
    Ok(out)
}

/// Runs `work` in a rayon pool of one thread, so that everything
/// [`map_in_chunks`] does inside it runs on one core.
pub fn on_one_core<R: Send>(
    work: impl FnOnce() -> R + Send,
) -> Result<R, rayon::ThreadPoolBuildError> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    Ok(pool.install(work))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doubled(chunk: &[u32]) -> Result<Vec<u32>, String> {
        Ok(chunk.iter().map(|x| x * 2).collect())
    }

    #[test]
    fn results_keep_the_order_of_the_items_on_any_number_of_threads() {
        let items: Vec<u32> = (0..1000).collect();
        let expected: Vec<u32> = items.iter().map(|x| x * 2).collect();
        for threads in [1, 2, 3, 8] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let got = pool.install(|| map_in_chunks(&items, doubled)).unwrap();
            assert_eq!(got, expected, "{threads} threads");
        }
    }

    #[test]
    fn chunks_are_split_over_threads_but_never_below_the_minimum() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        let sizes = |n: usize| {
            let items = vec![0u8; n];
            pool.install(|| map_in_chunks(&items, |chunk| Ok::<_, ()>(vec![chunk.len()])))
                .unwrap()
        };
        assert_eq!(sizes(10), vec![10]);
        assert_eq!(sizes(100), vec![25, 25, 25, 25]);
        assert_eq!(sizes(20), vec![8, 8, 4]);
    }

    #[test]
    fn the_first_failing_chunk_in_order_is_the_error() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        let items: Vec<u32> = (0..100).collect();
        let failed = pool.install(|| {
            map_in_chunks(&items, |chunk| {
                if chunk[0] >= 50 {
                    Err(chunk[0])
                } else {
                    Ok(chunk.to_vec())
                }
            })
        });
        assert_eq!(failed, Err(50));
    }

    #[test]
    fn on_one_core_runs_the_chunks_one_after_another() {
        let items = vec![0u8; 100];
        let sizes = on_one_core(|| map_in_chunks(&items, |chunk| Ok::<_, ()>(vec![chunk.len()])))
            .unwrap()
            .unwrap();
        assert_eq!(sizes, vec![100]);
    }
}
