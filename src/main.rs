//! The `traceseal` binary: see `traceseal --help`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    traceseal::cli::run(traceseal::cli::Cli::parse())
}
