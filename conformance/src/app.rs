//! The binary's entry point: every subcommand, `matrix` and `run --profile all` included. [`crate::matrix`] builds on
//! [`crate::cli`] (it parses each deployment's `run` options there), so the dispatch to both lives
//! here, above them.

use crate::cli::{Cli, Command};

/// Runs the command line; returns the process exit code.
pub async fn main_with(cli: Cli) -> i32 {
    match cli.command {
        Command::Matrix(m) => crate::matrix::main_with(*m).await,
        Command::Run(a) if a.profile.eq_ignore_ascii_case("all") => {
            crate::matrix::profile_all(*a).await
        }
        command => crate::cli::main_with(Cli { command }).await,
    }
}
