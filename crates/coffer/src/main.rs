//! `coffer`: the command-line binary. Thin: parses arguments, sets up
//! logging, calls the operations of `coffer-service`, prints their results
//! and maps outcomes to exit codes.

mod access_keys;
mod audit;
mod backup;
mod catalog;
mod cli;
mod context;
mod copy;
mod discover;
mod evidence;
mod get;
mod holds;
mod jobs;
mod keys;
mod metrics;
mod org;
mod output;
mod points;
mod policy;
mod progress;
mod quickstart;
mod render;
mod report;
mod restore;
mod restore_testing;
mod schedule;
mod serve;
mod sweep;
mod vaults;

use std::process::ExitCode;

use clap::Parser;

/// Exit codes: 0 success, 1 failure (invalid input or usage), 2 changes pending
/// (`coffer plan`, like `terraform plan -detailed-exitcode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    ChangesPending,
}

/// A service error for a person at a terminal: `add` rewrites the message
/// of an error of `kind` (to name the flag or the command that helps).
pub fn hint(
    error: coffer_service::Error,
    kind: coffer_service::ErrorKind,
    add: impl FnOnce(&str) -> String,
) -> anyhow::Error {
    if error.kind() == kind {
        anyhow::anyhow!(add(error.message()))
    } else {
        error.into()
    }
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("coffer: internal error: {info}");
        eprintln!("This is a bug in Coffer. Please report it with the command you ran and the output above (run with -vv for more detail).");
    }));
    // clap would exit with 2 on a usage error, which `plan` uses for
    // "changes pending": usage errors exit 1, help and version 0.
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(err) => {
            let code = if err.use_stderr() { 1 } else { 0 };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    // The daemon reports what it does (jobs started and ended, sweeps,
    // checks) at info; one-shot commands only warn.
    let daemon = matches!(args.command, cli::Command::Serve { .. });
    init_tracing(args.global.verbose, daemon);
    // Test builds only (the `failpoints` feature): COFFER_FAILPOINTS arms
    // the named points a crash test stops this process at.
    coffer_engine::failpoints::install_from_env();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("coffer: cannot start the async runtime: {err}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::ChangesPending) => ExitCode::from(2),
        Ok(Outcome::Failure) => ExitCode::from(1),
        Err(err) => {
            eprintln!("coffer: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn init_tracing(verbose: u8, daemon: bool) {
    let default = match verbose {
        0 if daemon => "warn,coffer=info,coffer_engine=info",
        0 => "warn",
        1 => "info,coffer=info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("COFFER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only on a terminal; a log file or journal gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}
