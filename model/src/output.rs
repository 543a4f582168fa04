//! Writing to standard output without panicking.
//!
//! `println!` panics when stdout is closed or full. The `check` binary writes through
//! [`out!`](crate::out) and [`outln!`](crate::outln) instead, which return an error that ends
//! the program with a one-line message (exit status 2). A reader that goes away (`| head`)
//! ends it quietly: the binary restores the default `SIGPIPE` disposition at start-up.

use std::io::Write;

/// Writes formatted text to stdout, flushed, or says why it could not.
pub fn write(args: std::fmt::Arguments<'_>) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_fmt(args).and_then(|()| stdout.flush()).map_err(|e| format!("cannot write the output: {e}"))
}

/// `print!` that returns `Err(String)` from the enclosing function instead of panicking.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write(format_args!($($arg)*))? };
}

/// `println!` that returns `Err(String)` from the enclosing function instead of panicking.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::write(format_args!("\n"))? };
    ($($arg:tt)*) => { $crate::output::write(format_args!("{}\n", format_args!($($arg)*)))? };
}

/// Says on the terminal which cell is being checked, on one line that the next cell's or
/// [`progress_done`] replaces; nothing when stderr is not a terminal (a pipe, a log, a test), so
/// that no output a program reads ever changes. A long cell (16 s for `redlock` sync in a dev
/// build) is then not a silent one.
pub fn progress(what: std::fmt::Arguments<'_>) {
    on_terminal(format_args!("\r\x1b[2Kchecking {what} ..."));
}

/// Clears the line [`progress`] wrote.
pub fn progress_done() {
    on_terminal(format_args!("\r\x1b[2K"));
}

fn on_terminal(text: std::fmt::Arguments<'_>) {
    use std::io::IsTerminal;
    let mut stderr = std::io::stderr().lock();
    if stderr.is_terminal() {
        // Errors are ignored: progress is a courtesy, and the output proper reports its own.
        let _ = stderr.write_fmt(text).and_then(|()| stderr.flush());
    }
}
