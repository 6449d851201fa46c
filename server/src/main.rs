use clap::Parser;

/// mimalloc instead of glibc's malloc: the request path allocates and frees many small buffers
/// across worker threads, where glibc's arenas spent 15–19 % of a cached call's CPU
/// (`docs/performance.md`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The runtime is built after the command line is read, so `serve --worker-threads` can size it.
fn main() -> std::process::ExitCode {
    let cli = gigamcp_server::cli::Cli::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(n) = cli.worker_threads() {
        builder.worker_threads(n);
    }
    let result = builder
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(gigamcp_server::cli::run(cli)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
