//! How commands write their answers to stdout: `out!` and `outln!`,
//! `print!` and `println!` that return the write's error instead of
//! panicking, and [`closed_by_reader`], which tells `main` that a command
//! stopped because its reader went away (`dyad decode ... | head`): a normal
//! end, exit status 0 and nothing on stderr, as for any Unix filter.
//! Notes and progress on stderr go through `note!` and `noteln!`, which
//! drop what cannot be written (`2>&1 | head`) rather than panic.

use std::io::Write as _;

/// Writes `args` to stdout and flushes it.
pub fn write(args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_fmt(args)?;
    stdout.flush()
}

/// Like `print!`, but a failed write is returned (`?` turns it into the
/// command's error) rather than a panic.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!($($arg)*))
    };
}

/// Like `println!`, but a failed write is returned rather than a panic.
macro_rules! outln {
    () => {
        $crate::stdout::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Writes `args` to stderr, best effort: stderr is for notes and progress,
/// and a closed stderr must not stop the command.
pub fn note(args: std::fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// Like `eprint!`, without the panic when stderr is closed.
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::stdout::note(format_args!($($arg)*))
    };
}

/// Like `eprintln!`, without the panic when stderr is closed.
macro_rules! noteln {
    ($($arg:tt)*) => {
        $crate::stdout::note(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Whether a command failed only because whoever read its output closed the
/// pipe (EPIPE): any cause in the chain is a broken-pipe IO error.
pub fn closed_by_reader(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_pipe_anywhere_in_the_chain_is_the_reader_going_away() {
        let pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let error = anyhow::Error::new(pipe).context("printing the table");
        assert!(closed_by_reader(&error));
        let other = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::NotFound));
        assert!(!closed_by_reader(&other));
        assert!(!closed_by_reader(&anyhow::anyhow!("broken pipe")));
    }
}
