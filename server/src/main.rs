use clap::Parser;

/// mimalloc instead of glibc's malloc: the request path allocates and frees many small buffers
/// across worker threads, where glibc's arenas spent 15–19 % of a cached call's CPU
/// (`docs/performance.md`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = gigamcp_server::cli::Cli::parse();
    match gigamcp_server::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
