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
        let Ok(mut hits) = self.hits.lock() else {
            return true;
        };
        if hits.len() > 10_000 {
            hits.retain(|_, q| q.back().is_some_and(|t| now - t < self.window));
        }
        let q = hits.entry(key.to_owned()).or_default();
        while q.front().is_some_and(|t| now - t >= self.window) {
            q.pop_front();
        }
        if q.len() >= self.max {
            return false;
        }
        q.push_back(now);
        true
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
}
