//! Change signals sent after a commit, coalesced (PostgreSQL).
//!
//! A superseding code redemption must reach the other replicas at once (their cached token
//! validations are of the grant it revoked). Its `pg_notify` used to be part of its own
//! statement; PostgreSQL queues every committing transaction that notified on one lock of its
//! notification queue, so under load the redemptions waited on each other there (leaving the
//! notification out altogether was worth 8 % of the many-clients code grant, this 4–5 %:
//! `docs/performance.md`, eleventh round). Now the redemption commits first and raises a
//! [`Signal`]; one task per signal sends it in a transaction of its own, and every raise that
//! arrives while a send is in flight is covered by one more send after that one. So each raise
//! is followed by a notification sent after its commit, and a burst of raises costs a few
//! notifications instead of one each.
//!
//! As with every change signal (`changes`), the notification is a wake-up only: the receivers
//! re-read the revocation epoch, which the redemption bumped in its own transaction. A signal
//! lost (the process stops between the commit and the send, the database refuses the send) costs
//! one epoch poll interval of latency, never correctness.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub(crate) struct Signal {
    /// Raises not yet covered by a send that began after them; a sender task runs while this is
    /// not zero.
    raised: AtomicU64,
}

impl Signal {
    /// Raises the signal; call after the change's commit. Returns at once: on a task of its
    /// own, `send` runs until no raise is left that began before the last send did.
    pub(crate) fn raise<F, Fut>(self: &Arc<Self>, send: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<(), sqlx::Error>> + Send,
    {
        if self.raised.fetch_add(1, Ordering::SeqCst) != 0 {
            return; // the running sender sends once more after its current send
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.raised.store(0, Ordering::SeqCst);
            return; // no runtime to send from: the pollers see the change
        };
        let me = Arc::clone(self);
        runtime.spawn(async move {
            loop {
                let covered = me.raised.load(Ordering::SeqCst);
                if let Err(e) = send().await {
                    tracing::warn!(error = %e,
                        "sending a change signal (the other replicas' pollers still see the change)");
                }
                // Raised again since `covered` was read: those raises may postdate the send's
                // start, so send once more.
                if me
                    .raised
                    .compare_exchange(covered, 0, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
                {
                    return;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    /// Every raise is followed by a send that began after it, and a burst of raises while a send
    /// is in flight costs one more send, not one each.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_raise_is_followed_by_a_send_begun_after_it_and_bursts_coalesce() {
        let signal = Arc::new(Signal::default());
        // Each event: (is a send start, sequence number).
        let log = Arc::new(Mutex::new(Vec::<(bool, u32)>::new()));
        let seq = Arc::new(AtomicU64::new(0));
        let sender = {
            let (log, seq) = (log.clone(), seq.clone());
            move || {
                let (log, seq) = (log.clone(), seq.clone());
                async move {
                    let n = seq.fetch_add(1, Ordering::SeqCst) as u32;
                    log.lock().unwrap().push((true, n));
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    Ok(())
                }
            }
        };
        let mut raisers = Vec::new();
        for r in 0..4 {
            let (signal, log, seq, sender) =
                (signal.clone(), log.clone(), seq.clone(), sender.clone());
            raisers.push(tokio::spawn(async move {
                for i in 0..250 {
                    let n = seq.fetch_add(1, Ordering::SeqCst) as u32;
                    log.lock().unwrap().push((false, n));
                    signal.raise(sender.clone());
                    if (i + r) % 50 == 0 {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    } else {
                        tokio::task::yield_now().await;
                    }
                }
            }));
        }
        for r in raisers {
            r.await.unwrap();
        }
        // Let the last sends run.
        for _ in 0..200 {
            if signal.raised.load(Ordering::SeqCst) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            signal.raised.load(Ordering::SeqCst),
            0,
            "a sender is still running"
        );
        let mut log = log.lock().unwrap().clone();
        log.sort_by_key(|e| e.1);
        let raises = log.iter().filter(|e| !e.0).count();
        let sends = log.iter().filter(|e| e.0).count();
        assert_eq!(raises, 1000);
        assert!(sends >= 2, "{sends} sends");
        assert!(
            sends < 300,
            "{sends} sends for {raises} raises: not coalesced"
        );
        // No raise after the last send's start: every raise has a send begun after it.
        let last_send = log.iter().rposition(|e| e.0).unwrap();
        assert!(
            log[last_send..].iter().all(|e| e.0),
            "a raise was never followed by a send"
        );
    }
}
