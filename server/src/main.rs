use clap::Parser;

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
