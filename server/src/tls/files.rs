//! `--tls-cert` / `--tls-key`: PEM files, re-read on SIGHUP and when they change on disk.
//!
//! Changes are noticed by polling the files' metadata (modification time, size, inode) every
//! `--tls-reload-interval` seconds. Polling, unlike inotify, also follows the symlink swaps of
//! certbot's `live/` directory and Kubernetes secret volumes. A pair that does not load (a key
//! that does not match its certificate, a half-written file) is logged and the certificate in
//! use stays; the pair is retried when the files change again.
use super::resolver::CertStore;
use anyhow::{Context, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Loads a certificate chain (leaf first) and its private key (PKCS#8, PKCS#1 or SEC1 PEM).
pub fn load_pair(cert: &Path, key: &Path) -> anyhow::Result<Arc<CertifiedKey>> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing certificates in {}", cert.display()))?;
    if chain.is_empty() {
        bail!("{} holds no PEM certificate", cert.display());
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading a PEM private key from {}", key.display()))?;
    let certified =
        CertifiedKey::from_der(chain, private, &super::cert::provider()).with_context(|| {
            format!(
                "{} and {} do not form a usable pair",
                cert.display(),
                key.display()
            )
        })?;
    Ok(Arc::new(certified))
}

/// What identifies one version of the pair on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp(Vec<(Option<SystemTime>, u64, u64)>);

fn stamp(paths: &[&Path]) -> Option<Stamp> {
    let mut parts = Vec::with_capacity(paths.len());
    for p in paths {
        let meta = std::fs::metadata(p).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        parts.push((meta.modified().ok(), meta.len(), inode));
    }
    Some(Stamp(parts))
}

/// Re-reads the pair on SIGHUP and whenever the files change; runs until the process ends.
pub fn spawn_reloader(store: Arc<CertStore>, cert: PathBuf, key: PathBuf, interval: Duration) {
    tokio::spawn(async move {
        let mut seen = stamp(&[&cert, &key]);
        #[cfg(unix)]
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut tick = tokio::time::interval(interval.max(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            #[cfg(unix)]
            let forced = {
                let hangup = async {
                    match hup.as_mut() {
                        Some(s) => {
                            s.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    _ = hangup => true,
                    _ = tick.tick() => false,
                }
            };
            #[cfg(not(unix))]
            let forced = {
                tick.tick().await;
                false
            };
            let now = stamp(&[&cert, &key]);
            if !forced && (now.is_none() || now == seen) {
                continue;
            }
            seen = now;
            let (c, k) = (cert.clone(), key.clone());
            match tokio::task::spawn_blocking(move || load_pair(&c, &k)).await {
                Ok(Ok(pair)) => {
                    let expiry = super::cert::expiry_text(&pair);
                    store.install(pair);
                    tracing::info!(
                        cert = %cert.display(),
                        not_after = %expiry,
                        trigger = if forced { "SIGHUP" } else { "file change" },
                        "TLS certificate reloaded"
                    );
                }
                Ok(Err(e)) => tracing::error!(
                    error = %format!("{e:#}"),
                    "TLS certificate not reloaded; still serving the previous one"
                ),
                Err(e) => tracing::error!(error = %e, "TLS certificate reload task failed"),
            }
        }
    });
}
