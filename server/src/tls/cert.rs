//! Certificate helpers shared by the file and ACME sources: the process's crypto provider and
//! the leaf certificate's validity window (a leaf of the `tls` module graph).

use rustls::sign::CertifiedKey;
use std::time::{Duration, SystemTime};

/// The crypto provider of every TLS config in the process.
pub fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

/// The validity window of the leaf certificate.
pub fn validity(key: &CertifiedKey) -> Option<(SystemTime, SystemTime)> {
    let leaf = key.cert.first()?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
    let at =
        |t: i64| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(u64::try_from(t).ok()?));
    Some((
        at(cert.validity().not_before.timestamp())?,
        at(cert.validity().not_after.timestamp())?,
    ))
}

/// The leaf certificate's expiry as text, for logs.
pub fn expiry_text(key: &CertifiedKey) -> String {
    key.cert
        .first()
        .and_then(|leaf| x509_parser::parse_x509_certificate(leaf.as_ref()).ok())
        .map(|(_, cert)| cert.validity().not_after.to_string())
        .unwrap_or_default()
}
