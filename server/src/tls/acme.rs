//! Automatic certificates over ACME (RFC 8555) with the TLS-ALPN-01 challenge (RFC 8737).
//!
//! The CA validates a domain by opening a TLS connection to it on port 443 (the port gigamcp
//! listens on) with ALPN `acme-tls/1`; [`CertStore`] answers it with a self-signed challenge
//! certificate while the order runs. Nothing else needs to listen: no port 80, no DNS API.
//!
//! Cache, under `<data-dir>/acme/<sha256(directory URL)[..16]>/` (0700; files 0600):
//! `account.json` (the account key and URL) and `<sha256(domains)[..16]>.{cert,key}.pem`. A
//! restart serves the cached certificate at once; the background task orders a new one when no
//! valid certificate is cached or when less than a third of its lifetime remains (30 days for
//! Let's Encrypt's 90), and retries failures with backoff (10 s doubling to 1 h).
use super::resolver::CertStore;
use crate::fsperm;
use anyhow::{Context, anyhow, bail};
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use rcgen::{CertificateParams, CustomExtension, DistinguishedName, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Let's Encrypt's production directory.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

#[derive(Debug, Clone)]
pub struct AcmeConfig {
    pub domains: Vec<String>,
    /// Contact URLs (`mailto:…`).
    pub contact: Vec<String>,
    pub directory: String,
    /// PEM root the directory's own HTTPS certificate chains to (a test CA such as pebble's).
    pub ca_root: Option<PathBuf>,
    pub data_dir: PathBuf,
    /// Renew when this little validity remains; default a third of the certificate's lifetime.
    pub renew_within: Option<Duration>,
    /// How often to look at the certificate's expiry.
    pub check_interval: Duration,
}

fn short_hash(s: &str) -> String {
    hex::encode(&Sha256::digest(s.as_bytes())[..8])
}

impl AcmeConfig {
    fn dir(&self) -> PathBuf {
        self.data_dir.join("acme").join(short_hash(&self.directory))
    }
    fn account_file(&self) -> PathBuf {
        self.dir().join("account.json")
    }
    fn cert_files(&self) -> (PathBuf, PathBuf) {
        let mut domains = self.domains.clone();
        domains.sort();
        let stem = short_hash(&domains.join(","));
        let dir = self.dir();
        (
            dir.join(format!("{stem}.cert.pem")),
            dir.join(format!("{stem}.key.pem")),
        )
    }
}

/// Loads a cached certificate, if any, then keeps it valid in the background.
pub fn start(config: AcmeConfig, store: Arc<CertStore>) {
    let (cert, key) = config.cert_files();
    if cert.is_file() && key.is_file() {
        match super::files::load_pair(&cert, &key) {
            Ok(pair) => {
                tracing::info!(
                    domains = ?config.domains,
                    not_after = %super::cert::expiry_text(&pair),
                    "ACME: serving the cached certificate"
                );
                store.install(pair);
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "ACME: cached certificate unusable; ordering a new one")
            }
        }
    }
    tokio::spawn(run(config, store));
}

async fn run(config: AcmeConfig, store: Arc<CertStore>) {
    let mut account: Option<Account> = None;
    let mut backoff = Duration::from_secs(10);
    loop {
        let wait = match renewal_due(&config, &store) {
            Some(wait) if !wait.is_zero() => wait.min(config.check_interval),
            _ => match obtain(&config, &store, &mut account).await {
                Ok(()) => {
                    backoff = Duration::from_secs(10);
                    match renewal_due(&config, &store) {
                        Some(wait) if !wait.is_zero() => continue,
                        // A renewal window longer than the CA's certificate lifetime: renew
                        // once per check interval, never in a tight loop.
                        _ => {
                            tracing::warn!(
                                "ACME: the new certificate is already due for renewal; next order after the check interval"
                            );
                            config.check_interval
                        }
                    }
                }
                Err(e) => {
                    store.clear_challenges();
                    tracing::error!(
                        error = %format!("{e:#}"),
                        retry_in_secs = backoff.as_secs(),
                        domains = ?config.domains,
                        "ACME: could not obtain a certificate"
                    );
                    let wait = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(3600));
                    wait
                }
            },
        };
        tokio::time::sleep(wait).await;
    }
}

/// Time until the served certificate should be renewed; `None` when there is none.
fn renewal_due(config: &AcmeConfig, store: &CertStore) -> Option<Duration> {
    let current = store.current()?;
    let (not_before, not_after) = super::cert::validity(&current)?;
    let lifetime = not_after.duration_since(not_before).unwrap_or_default();
    let within = config.renew_within.unwrap_or(lifetime / 3);
    let renew_at = not_after.checked_sub(within)?;
    Some(
        renew_at
            .duration_since(SystemTime::now())
            .unwrap_or_default(),
    )
}

async fn account(config: &AcmeConfig) -> anyhow::Result<Account> {
    let builder = match &config.ca_root {
        Some(root) => Account::builder_with_root(root)
            .with_context(|| format!("trusting {} for the ACME directory", root.display()))?,
        None => Account::builder()?,
    };
    let file = config.account_file();
    if let Ok(bytes) = std::fs::read(&file) {
        let creds: AccountCredentials = serde_json::from_slice(&bytes)
            .with_context(|| format!("parsing {}", file.display()))?;
        return builder
            .from_credentials(creds)
            .await
            .context("restoring the ACME account");
    }
    let contact: Vec<&str> = config.contact.iter().map(String::as_str).collect();
    let (account, creds) = builder
        .create(
            &NewAccount {
                contact: &contact,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            config.directory.clone(),
            None,
        )
        .await
        .with_context(|| format!("creating an ACME account at {}", config.directory))?;
    fsperm::write_private(&file, &serde_json::to_vec_pretty(&creds)?)?;
    tracing::info!(directory = %config.directory, account = %account.id(), "ACME: account created");
    Ok(account)
}

/// One order: TLS-ALPN-01 for every domain, a fresh P-256 key, the chain cached and installed.
async fn obtain(
    config: &AcmeConfig,
    store: &CertStore,
    cached: &mut Option<Account>,
) -> anyhow::Result<()> {
    if cached.is_none() {
        *cached = Some(account(config).await?);
    }
    let account = cached.as_ref().expect("account set above");
    tracing::info!(domains = ?config.domains, directory = %config.directory, "ACME: ordering a certificate");
    let identifiers: Vec<Identifier> = config
        .domains
        .iter()
        .map(|d| Identifier::Dns(d.clone()))
        .collect();
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .context("creating the order")?;
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.context("fetching an authorization")?;
        match authz.status {
            AuthorizationStatus::Pending => {}
            AuthorizationStatus::Valid => continue,
            other => bail!("authorization is {other:?}"),
        }
        let mut challenge = authz
            .challenge(ChallengeType::TlsAlpn01)
            .ok_or_else(|| anyhow!("the CA offers no tls-alpn-01 challenge"))?;
        let domain = challenge.identifier().to_string();
        let digest = challenge.key_authorization().digest();
        store.set_challenge(&domain, challenge_certificate(&domain, digest.as_ref())?);
        challenge
            .set_ready()
            .await
            .with_context(|| format!("answering the challenge for {domain}"))?;
    }
    let patience = RetryPolicy::new()
        .initial_delay(Duration::from_millis(500))
        .timeout(Duration::from_secs(120));
    let status = order.poll_ready(&patience).await;
    store.clear_challenges();
    match status.context("waiting for validation")? {
        OrderStatus::Ready => {}
        other => bail!("order is {other:?} after validation"),
    }
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(config.domains.clone())?;
    params.distinguished_name = DistinguishedName::new();
    let csr = params.serialize_request(&key)?;
    order
        .finalize_csr(csr.der())
        .await
        .context("finalizing the order")?;
    let chain = order
        .poll_certificate(&patience)
        .await
        .context("downloading the certificate")?;
    let (cert_file, key_file) = config.cert_files();
    fsperm::write_private(&key_file, key.serialize_pem().as_bytes())?;
    fsperm::write_private(&cert_file, chain.as_bytes())?;
    let pair = super::files::load_pair(&cert_file, &key_file)?;
    tracing::info!(
        domains = ?config.domains,
        not_after = %super::cert::expiry_text(&pair),
        "ACME: certificate obtained"
    );
    store.install(pair);
    Ok(())
}

/// The self-signed certificate RFC 8737 §3 asks for: the domain as its only SAN and the
/// critical `acmeIdentifier` extension holding SHA-256 of the key authorization.
fn challenge_certificate(domain: &str, digest: &[u8]) -> anyhow::Result<Arc<CertifiedKey>> {
    let mut params = CertificateParams::new(vec![domain.to_owned()])?;
    params.distinguished_name = DistinguishedName::new();
    params.custom_extensions = vec![CustomExtension::new_acme_identifier(digest)];
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    // `CertifiedKey::from_der` would check the pair by parsing the certificate with webpki,
    // which rejects the critical acmeIdentifier extension; the pair is ours by construction.
    let signing_key =
        super::cert::provider()
            .key_provider
            .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                key.serialize_der(),
            )))?;
    Ok(Arc::new(CertifiedKey::new(
        vec![CertificateDer::from(cert.der().to_vec())],
        signing_key,
    )))
}
