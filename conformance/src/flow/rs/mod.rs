//! Resource-server negative matrix with real tokens from the target's own AS: presenting the
//! token (`token`), audience (`audience`), insufficient scope (`scope`). Status codes are graded
//! here; error codes and challenges are graded apart in `rs/errors/*` (`common::aggregates`).

mod audience;
mod scope;
mod token;

use crate::flow::common::Run;

impl Run {
    pub(crate) async fn rs_matrix(&mut self) {
        let Some(token) = self.grant.as_ref().map(|g| g.access_token.clone()) else {
            return;
        };
        if self.on("rs/token/garbage") {
            self.rs_garbage_token().await;
        }
        if self.on("rs/token/scheme-case-insensitive") {
            self.rs_scheme_case(&token).await;
        }
        if self.on("rs/token/query-string") {
            self.rs_query_string(&token).await;
        }
        if self.on("rs/audience/cross-workspace")
            && self.cfg.access_token.is_none()
            && let Some(second) = self.cfg.second_resource.clone()
        {
            self.rs_cross_workspace(second).await;
        }
        if self.any_on(&["rs/scope/insufficient-403", "rs/scope/insufficient-error"])
            && self.cfg.access_token.is_none()
        {
            self.rs_insufficient_scope().await;
        }
    }
}
