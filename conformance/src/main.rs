//! `gigamcp-conformance`: see the library docs.

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = gigamcp_conformance::cli::Cli::parse();
    let code = gigamcp_conformance::app::main_with(cli).await;
    std::process::exit(code);
}
