//! `check`: model-checks the named scenarios of the Redlock debate (see [`redlock_model::cli`]).

use redlock_model::cli::{parse, run, ParseError};
use std::process::ExitCode;

// Model checking allocates and frees small states all the time: mimalloc is much faster at it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Like other Unix tools, stop quietly when the reader of our output goes away (`| head`).
    // SAFETY: setting a signal's disposition to its default at start-up, before any thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let result = match parse(std::env::args_os()) {
        Ok(plan) => run(plan),
        Err(ParseError::Clap(e)) => e.exit(),
        Err(ParseError::Invalid(message)) => Err(message),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}
