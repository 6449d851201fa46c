//! HTTPS in the binary: rustls (on aws-lc-rs, like reqwest) with a certificate from files
//! (`--tls-cert`/`--tls-key`, reloaded without a restart) or from an ACME CA (`--acme-domain`).
//!
//! - [`resolver`]: the swappable certificate every handshake reads, and TLS-ALPN-01 answers.
//! - [`files`]: PEM loading, reload on SIGHUP and on change.
//! - [`acme`]: account, orders, cache in the data directory, renewal.
//!
//! [`serve`] accepts TCP, completes the handshake (10 s limit) and hands the stream to hyper
//! (HTTP/1.1 and HTTP/2 by ALPN), the app knowing the client's address
//! ([`crate::edge::App::with_peer`]), exactly as the plain-HTTP listener does.
pub mod acme;
pub mod cert;
pub mod files;
pub mod resolver;

pub use cert::{expiry_text, provider, validity};

use anyhow::{Context, bail};
use clap::Args;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use resolver::{ACME_TLS_ALPN, CertStore};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// TLS options of `gigamcp serve`.
#[derive(Args, Debug, Clone, Default)]
pub struct TlsArgs {
    /// Serve HTTPS with this PEM certificate chain (leaf first); re-read on SIGHUP and when the
    /// file changes.
    #[arg(
        long,
        env = "GIGAMCP_TLS_CERT",
        requires = "tls_key",
        conflicts_with = "acme_domains"
    )]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "GIGAMCP_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Seconds between checks of --tls-cert/--tls-key for changes.
    #[arg(long, env = "GIGAMCP_TLS_RELOAD_INTERVAL", default_value_t = 10)]
    pub tls_reload_interval: u64,
    /// Serve HTTPS with a certificate for this domain from an ACME CA (repeatable). The CA
    /// validates with TLS-ALPN-01 on this listener, so --bind must be reachable as DOMAIN:443.
    #[arg(
        long = "acme-domain",
        env = "GIGAMCP_ACME_DOMAINS",
        value_delimiter = ','
    )]
    pub acme_domains: Vec<String>,
    /// Contact for the ACME account (an e-mail address or a mailto: URL; repeatable).
    #[arg(long, env = "GIGAMCP_ACME_CONTACT", value_delimiter = ',')]
    pub acme_contact: Vec<String>,
    /// ACME directory URL (default: Let's Encrypt production).
    #[arg(long, env = "GIGAMCP_ACME_DIRECTORY", default_value = acme::LETS_ENCRYPT)]
    pub acme_directory: String,
    /// PEM root certificate to trust for the ACME directory's own HTTPS (a test CA such as
    /// pebble's); by default the system's roots.
    #[arg(long, env = "GIGAMCP_ACME_CA_ROOT")]
    pub acme_ca_root: Option<PathBuf>,
    /// Renew when less than this many seconds of validity remain (default: a third of the
    /// certificate's lifetime).
    #[arg(long, hide = true)]
    pub acme_renew_within: Option<u64>,
    /// Seconds between expiry checks of the ACME certificate.
    #[arg(long, hide = true, default_value_t = 3600)]
    pub acme_check_interval: u64,
}

impl TlsArgs {
    /// Whether `serve` terminates TLS itself.
    pub fn enabled(&self) -> bool {
        self.tls_cert.is_some() || !self.acme_domains.is_empty()
    }

    /// The public URL when --public-url is not given: https on the first ACME domain (with the
    /// port unless 443), https on the bind address with files, else http on the bind address.
    pub fn default_public_url(&self, bind: SocketAddr) -> String {
        match self.acme_domains.first() {
            Some(domain) if bind.port() == 443 => format!("https://{domain}"),
            Some(domain) => format!("https://{domain}:{}", bind.port()),
            None if self.tls_cert.is_some() => format!("https://{bind}"),
            None => format!("http://{bind}"),
        }
    }
}

/// A configured TLS listener: the certificate source is running, the acceptor is ready.
pub struct Tls {
    pub store: Arc<CertStore>,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl Tls {
    /// Loads the certificate files (failing fast when they are unusable) or starts ACME.
    /// `data_dir` holds the ACME cache. Call inside the runtime.
    pub fn start(args: &TlsArgs, data_dir: &std::path::Path) -> anyhow::Result<Tls> {
        let store = CertStore::new();
        let mut alpn: Vec<Vec<u8>> = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
            store.install(files::load_pair(cert, key)?);
            files::spawn_reloader(
                store.clone(),
                cert.clone(),
                key.clone(),
                Duration::from_secs(args.tls_reload_interval.max(1)),
            );
        } else if !args.acme_domains.is_empty() {
            let mut domains = Vec::new();
            for d in &args.acme_domains {
                let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
                if d.is_empty() || d.contains(['/', ':', ' ']) {
                    bail!("--acme-domain {d:?} is not a domain name");
                }
                if !domains.contains(&d) {
                    domains.push(d);
                }
            }
            let contact = args
                .acme_contact
                .iter()
                .filter(|c| !c.is_empty())
                .map(|c| {
                    if c.contains(':') {
                        c.clone()
                    } else {
                        format!("mailto:{c}")
                    }
                })
                .collect();
            alpn.push(ACME_TLS_ALPN.to_vec());
            acme::start(
                acme::AcmeConfig {
                    domains,
                    contact,
                    directory: args.acme_directory.clone(),
                    ca_root: args.acme_ca_root.clone(),
                    data_dir: data_dir.to_owned(),
                    renew_within: args.acme_renew_within.map(Duration::from_secs),
                    check_interval: Duration::from_secs(args.acme_check_interval.max(1)),
                },
                store.clone(),
            );
        } else {
            bail!("TLS needs --tls-cert and --tls-key, or --acme-domain");
        }
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_cert_resolver(store.clone());
        config.alpn_protocols = alpn;
        Ok(Tls {
            store,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        })
    }
}

/// Serves `app` over TLS on `listener` until `shutdown` completes, then waits (at most 30 s) for
/// open connections to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: crate::edge::App,
    tls: Tls,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = tls.acceptor.clone();
        let app = app.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let stream =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
            if stream.get_ref().1.alpn_protocol() == Some(ACME_TLS_ALPN) {
                // A TLS-ALPN-01 validation: the handshake was the whole exchange.
                return;
            }
            let service = app.with_peer(peer);
            let builder = auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection_with_upgrades(
                TokioIo::new(stream),
                TowerToHyperService::new(service),
            );
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after 30 s; closing them");
    }
    Ok(())
}
