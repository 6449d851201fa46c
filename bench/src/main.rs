//! `gigamcp-bench run | corpus | echo` (see the library documentation).
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "gigamcp-bench",
    about = "Load generator and corpus generator for gigamcp"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start gigamcp (release build next to this binary) and run every scenario.
    Run(gigamcp_bench::run::RunArgs),
    /// Write a synthetic workspace in the `gigamcp admin ingest` layout.
    Corpus {
        #[arg(long)]
        documents: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
        /// 0: the base corpus; r > 0: `--changed` documents rewritten.
        #[arg(long, default_value_t = 0)]
        revision: u32,
        #[arg(long, default_value_t = 100)]
        changed: usize,
        /// Workspace slug written to workspace.json.
        #[arg(long, default_value = "scale")]
        workspace: String,
    },
    /// The baseline server: a bare axum JSON echo at POST /echo.
    #[command(hide = true)]
    Echo {
        #[arg(long)]
        bind: String,
        /// The runtime's workers (default: one per core).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
        worker_threads: Option<u16>,
    },
    /// The floor probe: the least work an authenticated MCP `ping` needs, at POST
    /// /t/{workspace}/mcp; its credentials from GIGAMCP_BENCH_FLOOR_TOKEN, _SESSION, _WORKSPACE.
    #[command(hide = true)]
    Floor {
        #[arg(long)]
        bind: String,
        /// The runtime's workers (default: one per core).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
        worker_threads: Option<u16>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Cmd::Echo {
        worker_threads: Some(n),
        ..
    }
    | Cmd::Floor {
        worker_threads: Some(n),
        ..
    } = &cli.command
    {
        builder.worker_threads(usize::from(*n));
    }
    let rt = match builder.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gigamcp-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Cmd::Run(args) => gigamcp_bench::run::main(args).await,
            Cmd::Corpus {
                documents,
                seed,
                out,
                revision,
                changed,
                workspace,
            } => {
                let spec = gigamcp_bench::corpus::Spec {
                    documents,
                    seed,
                    revision,
                    changed,
                    workspace,
                };
                let t = std::time::Instant::now();
                let s = gigamcp_bench::corpus::generate(&spec, &out)?;
                println!(
                    "wrote {} documents ({} wiki pages, {} issues in {} repos, ~{} passages, {:.1} MiB) to {} in {:.1} s; needles: {}",
                    s.documents,
                    s.wiki_pages,
                    s.issues,
                    s.repos,
                    s.estimated_passages,
                    s.bytes as f64 / 1048576.0,
                    out.display(),
                    t.elapsed().as_secs_f64(),
                    out.join("needles.json").display()
                );
                Ok(true)
            }
            Cmd::Echo { bind, .. } => gigamcp_bench::procs::serve_echo(&bind).await.map(|_| true),
            Cmd::Floor { bind, .. } => {
                let creds = gigamcp_bench::floor::Credentials::from_env()?;
                gigamcp_bench::floor::serve(&bind, &creds)
                    .await
                    .map(|_| true)
            }
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("gigamcp-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
