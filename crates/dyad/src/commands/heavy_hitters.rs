//! `dyad heavy-hitters`: the strings of a Poplar1 task's batch measured at
//! least `--threshold` times, with their counts, found by walking the
//! prefix tree one collection per level (VDAF-08 section 8; the walk is
//! `dyad_collector::heavy_hitters`). Takes the flags of `dyad collect`
//! (task, key, batch, `--timeout` per level, `--format`), shows progress
//! per level and prints a table, JSON or CSV.

use super::collect::{self, CollectArgs};
use crate::hints::{collector_error, with_hint};
use crate::output::{OutputFormat, Table};
use crate::progress::Step;
use clap::Args;
use dyad_collector::{heavy_hitters, tree_levels, CollectorError, HeavyHitters};
use serde_json::json;

#[derive(Debug, Args)]
pub struct HeavyHittersArgs {
    /// Keep the strings (and, on the way down, the prefixes) counted at
    /// least this many times.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    threshold: u64,
    #[command(flatten)]
    collect: CollectArgs,
}

pub async fn run(args: HeavyHittersArgs) -> anyhow::Result<()> {
    let (task, query, collector) = collect::prepare(&args.collect)?;
    let levels = tree_levels(&task.vdaf).map_err(|e| {
        with_hint(
            e.to_string(),
            Some("`dyad collect` collects the other VDAFs".to_owned()),
        )
    })?;
    let step = Step::counter("heavy hitters", levels, "levels");
    let walked = heavy_hitters(&collector, query, args.threshold, |level| {
        step.set_position(level.level + 1);
        step.set_message(format!(
            "level {}: {} of {} prefixes reached {}",
            level.level, level.survivors, level.candidates, args.threshold
        ));
    })
    .await;
    let found = match walked {
        Ok(found) => {
            let summary = format!(
                "{} level{} collected",
                found.levels_collected,
                if found.levels_collected == 1 { "" } else { "s" }
            );
            step.finish(&summary);
            found
        }
        Err(CollectorError::Timeout { job_id, waited }) => {
            step.abandon();
            return Err(collect::timeout_error(
                job_id.to_string(),
                false,
                waited,
                task.min_batch_size,
            ));
        }
        Err(error) => {
            step.abandon();
            return Err(collector_error(error));
        }
    };
    out!(
        "{}",
        render(&found, args.threshold, collect::format(&args.collect))
    )?;
    Ok(())
}

fn bit_string(bits: &[bool]) -> String {
    bits.iter().map(|b| if *b { '1' } else { '0' }).collect()
}

/// The answer in `format`, ending with a line break.
fn render(found: &HeavyHitters, threshold: u64, format: OutputFormat) -> String {
    let mut table = Table::new(["string", "count"]);
    for hitter in &found.hitters {
        table.row([bit_string(&hitter.string), hitter.count.to_string()]);
    }
    match format {
        OutputFormat::Table => format!(
            "{}{} heavy hitter{} (count >= {threshold}) among {} reports\n",
            table.render(),
            found.hitters.len(),
            if found.hitters.len() == 1 { "" } else { "s" },
            found.report_count
        ),
        OutputFormat::Csv => table.render_csv(),
        OutputFormat::Json => {
            let hitters: Vec<_> = found
                .hitters
                .iter()
                .map(|h| json!({"string": bit_string(&h.string), "count": h.count}))
                .collect();
            let mut text = serde_json::to_string_pretty(&json!({
                "threshold": threshold,
                "report_count": found.report_count,
                "levels_collected": found.levels_collected,
                "heavy_hitters": hitters,
            }))
            .expect("JSON values always print");
            text.push('\n');
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_collector::HeavyHitter;

    fn found() -> HeavyHitters {
        HeavyHitters {
            hitters: vec![
                HeavyHitter {
                    string: vec![false, true, true],
                    count: 12,
                },
                HeavyHitter {
                    string: vec![true, false, false],
                    count: 7,
                },
            ],
            report_count: 30,
            levels_collected: 3,
        }
    }

    #[test]
    fn heavy_hitters_print_as_bit_strings_with_counts() {
        let table = render(&found(), 5, OutputFormat::Table);
        assert!(table.contains("011"), "{table}");
        assert!(table.contains("12"), "{table}");
        assert!(
            table.ends_with("2 heavy hitters (count >= 5) among 30 reports\n"),
            "{table}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(&found(), 5, OutputFormat::Json)).unwrap();
        assert_eq!(json["heavy_hitters"][1]["string"], "100");
        assert_eq!(json["heavy_hitters"][1]["count"], 7);
        assert_eq!(json["report_count"], 30);
        assert_eq!(
            render(&found(), 5, OutputFormat::Csv),
            "string,count\n011,12\n100,7\n"
        );
    }
}
