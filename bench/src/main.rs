//! `yishi-bench`: bench-only tools behind `make bench` (see bench/run.sh).
//!
//! - `seed`: bulk-load a fresh database with residents, topics and opinions,
//!   and mint access tokens for the load generator;
//! - `baseline`: a minimal axum + SQL opinion insert to compare Yishi with.

mod baseline;
mod seed;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "yishi-bench",
    about = "Bench-only seeding and raw baseline for Yishi"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Seed a fresh database for the benchmark.
    Seed(seed::SeedArgs),
    /// Serve the raw baseline opinion insert.
    Baseline(baseline::BaselineArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Seed(args) => seed::run(args).await,
        Command::Baseline(args) => baseline::run(args).await,
    }
}
