//! Progress of long work, on stderr, so that stdout keeps only the answer:
//! a live bar or spinner (indicatif) when stderr is a terminal, plain lines
//! otherwise (a line when a step starts, one when it ends), and in both
//! cases one summary line per finished step.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

/// Prints a line on stderr without garbling a live bar.
pub type Printer = Box<dyn Fn(&str) + Send + Sync>;

/// A [`Printer`] for when no step is running.
pub fn plain_printer() -> Printer {
    Box::new(|line| noteln!("{line}"))
}

/// Whether stderr is a terminal someone watches.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// One step of long work: a counter (`n/total`) or a spinner.
pub struct Step {
    bar: ProgressBar,
    label: &'static str,
    live: bool,
    started: Instant,
}

impl Step {
    /// A step counting `total` `unit`s (e.g. "reports"), with its rate.
    pub fn counter(label: &'static str, total: u64, unit: &str) -> Self {
        let template =
            format!("{{prefix:10}} {{bar:30}} {{pos}}/{{len}} {unit}  {{rate}}  {{elapsed}}");
        Self::start(
            label,
            ProgressBar::new(total),
            &template,
            &format!("{total} {unit}"),
        )
    }

    /// A step of unknown length, showing its message and elapsed time.
    pub fn spinner(label: &'static str, message: &str) -> Self {
        let step = Self::start(
            label,
            ProgressBar::new_spinner(),
            "{prefix:10} {spinner} {msg}  {elapsed}",
            message,
        );
        step.bar.set_message(message.to_owned());
        step.bar.enable_steady_tick(Duration::from_millis(100));
        step
    }

    fn start(label: &'static str, bar: ProgressBar, template: &str, plain: &str) -> Self {
        let live = stderr_is_terminal();
        let bar = if live {
            let style = ProgressStyle::with_template(template)
                .expect("a valid template")
                .with_key(
                    "rate",
                    |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0}/s", state.per_sec());
                    },
                );
            bar.with_style(style).with_prefix(label)
        } else {
            noteln!("{label}: {plain}...");
            bar.with_prefix(label)
        };
        if !live {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        Self {
            bar,
            label,
            live,
            started: Instant::now(),
        }
    }

    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    pub fn set_position(&self, position: u64) {
        self.bar.set_position(position);
    }

    pub fn set_message(&self, message: String) {
        self.bar.set_message(message);
    }

    /// Seconds since the step started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Ends the step with a one-line summary (`label: summary`).
    pub fn finish(self, summary: &str) {
        self.bar.finish_and_clear();
        noteln!("{}: {summary}", self.label);
    }

    /// Ends the step without a summary (the caller reports what happened).
    pub fn abandon(self) {
        self.bar.finish_and_clear();
    }

    /// Whether the step draws live (stderr is a terminal).
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// A [`Printer`] that prints above the live bar (or plainly), e.g.
    /// retry notices from another task.
    pub fn printer(&self) -> Printer {
        let bar = self.bar.clone();
        Box::new(move |line| bar.suspend(|| noteln!("{line}")))
    }
}
