//! Request ids: `X-Request-Id` on every response and in every log line of the request.
//!
//! A trusted proxy's id is kept (so one id follows a request through the proxy's log and ours);
//! from anyone else, or when the value is not a plausible id, a fresh one is generated. Ids are
//! unique, not secret: a random per-process prefix and a counter, so generating one costs no
//! system call, and no formatting: the digits go straight into the header value's one buffer.
use axum::http::{HeaderName, HeaderValue};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// A constant name, so looking it up or inserting it parses no string.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// Longest id accepted from a proxy.
const MAX_LEN: usize = 128;
/// Hex digits of a generated id's process prefix.
const PREFIX_LEN: usize = 16;

/// A fresh id: 16 hex digits of process-random prefix, `-`, the counter in lower-case hex (at
/// least 8 digits, as `{:08x}` would write it).
pub fn generate() -> HeaderValue {
    static PREFIX: OnceLock<[u8; PREFIX_LEN]> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let prefix = PREFIX.get_or_init(|| {
        let id = crate::secrets::new_id();
        let mut p = [0u8; PREFIX_LEN];
        p.copy_from_slice(&id.as_bytes()[..PREFIX_LEN]);
        p
    });
    compose(prefix, COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// `prefix`, `-`, `n` in lower-case hex of at least 8 digits, in one buffer.
fn compose(prefix: &[u8; PREFIX_LEN], n: u64) -> HeaderValue {
    let digits = (16 - n.leading_zeros() as usize / 4).max(8);
    let mut buf = [0u8; PREFIX_LEN + 1 + 16];
    buf[..PREFIX_LEN].copy_from_slice(prefix);
    buf[PREFIX_LEN] = b'-';
    let tail = &mut buf[PREFIX_LEN + 1..PREFIX_LEN + 1 + digits];
    for (i, b) in tail.iter_mut().rev().enumerate() {
        *b = b"0123456789abcdef"[((n >> (4 * i)) & 0xf) as usize];
    }
    // Hex digits and `-` are always a valid header value; the fallback is never taken.
    HeaderValue::from_bytes(&buf[..PREFIX_LEN + 1 + digits])
        .unwrap_or(HeaderValue::from_static("invalid-request-id"))
}

/// Whether a proxy-supplied id is acceptable: 1–128 characters of `A-Z a-z 0-9 - _ . : / + =` (UUIDs,
/// nginx's `$request_id`, AWS and Cloudflare trace ids). Anything else (spaces, quotes, control
/// characters that could forge log structure) is ignored.
pub fn acceptable(value: &str) -> bool {
    (1..=MAX_LEN).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digits are what `format!("{prefix}-{n:08x}")` wrote before.
    #[test]
    fn composed_ids_read_as_formatted_ones() {
        let prefix = *b"0123456789abcdef";
        for n in [
            0,
            1,
            0xf,
            0x10,
            0xdead_beef,
            0xffff_ffff,
            0x1_0000_0000,
            0x1234_5678_9abc,
            u64::MAX,
        ] {
            assert_eq!(
                compose(&prefix, n).to_str().unwrap(),
                format!("0123456789abcdef-{n:08x}"),
            );
        }
    }

    #[test]
    fn ids() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert_eq!(a.len(), 25);
        assert!(acceptable(a.to_str().unwrap()));
        assert!(acceptable("4f1c2a6e-8b1d-4c0e-9a8f-3b2d1c0e9f7a"));
        assert!(acceptable("Root=1-5759e988-bd862e3fe1be46a994272793"));
        for bad in ["", "a b", "x\"y", "id\n{\"forged\":1}", &"x".repeat(129)] {
            assert!(!acceptable(bad), "{bad:?}");
        }
    }
}
