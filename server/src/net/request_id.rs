//! Request ids: `X-Request-Id` on every response and in every log line of the request.
//!
//! A trusted proxy's id is kept (so one id follows a request through the proxy's log and ours);
//! from anyone else, or when the value is not a plausible id, a fresh one is generated. Ids are
//! unique, not secret: a random per-process prefix and a counter, so generating one costs no
//! system call.
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

pub const HEADER: &str = "x-request-id";
/// Longest id accepted from a proxy.
const MAX_LEN: usize = 128;

/// The id of the request being served (a request extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// A fresh id: 16 hex digits of process-random prefix, `-`, a counter.
pub fn generate() -> String {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let prefix = PREFIX.get_or_init(|| crate::secrets::new_id()[..16].to_string());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{n:08x}")
}

/// A proxy-supplied id, if it is 1–128 characters of `A-Z a-z 0-9 - _ . : / + =` (UUIDs,
/// nginx's `$request_id`, AWS and Cloudflare trace ids). Anything else (spaces, quotes, control
/// characters that could forge log structure) is ignored.
pub fn accept(value: &str) -> Option<&str> {
    let ok = (1..=MAX_LEN).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b));
    ok.then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert_eq!(a.len(), 25);
        assert!(accept(&a).is_some());
        assert_eq!(
            accept("4f1c2a6e-8b1d-4c0e-9a8f-3b2d1c0e9f7a"),
            Some("4f1c2a6e-8b1d-4c0e-9a8f-3b2d1c0e9f7a")
        );
        assert_eq!(
            accept("Root=1-5759e988-bd862e3fe1be46a994272793"),
            Some("Root=1-5759e988-bd862e3fe1be46a994272793")
        );
        for bad in ["", "a b", "x\"y", "id\n{\"forged\":1}", &"x".repeat(129)] {
            assert_eq!(accept(bad), None, "{bad:?}");
        }
    }
}
