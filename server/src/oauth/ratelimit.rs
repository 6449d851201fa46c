//! A small in-memory sliding-window limiter (per key, per process) for client registration.
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

pub struct RateLimiter {
    window: i64,
    max: usize,
    hits: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl RateLimiter {
    pub fn new(max: u32, window_secs: i64) -> Self {
        Self {
            window: window_secs,
            max: max as usize,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Records a hit for `key` at `now`; false when the key is over its limit (the hit is not kept).
    pub fn allow(&self, key: &str, now: i64) -> bool {
        self.check(key, now).is_ok()
    }

    /// Like [`RateLimiter::allow`]; when over the limit, `Err(seconds)` until the oldest hit
    /// leaves the window and a new one would be allowed (at least 1).
    pub fn check(&self, key: &str, now: i64) -> Result<(), u64> {
        let Ok(mut hits) = self.hits.lock() else {
            return Ok(());
        };
        if hits.len() > 10_000 {
            hits.retain(|_, q| q.back().is_some_and(|t| now - t < self.window));
        }
        let q = hits.entry(key.to_owned()).or_default();
        while q.front().is_some_and(|t| now - t >= self.window) {
            q.pop_front();
        }
        if q.len() >= self.max {
            let oldest = q.front().copied().unwrap_or(now);
            return Err((oldest + self.window - now).max(1) as u64);
        }
        q.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn window_slides() {
        let l = super::RateLimiter::new(2, 60);
        assert!(l.allow("a", 0));
        assert!(l.allow("a", 1));
        assert!(!l.allow("a", 2));
        assert!(l.allow("b", 2));
        assert!(l.allow("a", 61));
    }

    #[test]
    fn over_the_limit_says_how_long_to_wait() {
        let l = super::RateLimiter::new(2, 60);
        assert_eq!(l.check("a", 10), Ok(()));
        assert_eq!(l.check("a", 20), Ok(()));
        assert_eq!(l.check("a", 30), Err(40));
        assert_eq!(l.check("a", 69), Err(1));
        assert_eq!(l.check("a", 70), Ok(()));
    }
}
