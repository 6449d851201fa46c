//! 2026-07-28 (stateless) transport rules: header/`_meta` consistency, version errors, the
//! `Mcp-Method`/`Mcp-Name` routing headers, 404 for unknown methods, GET → 405 and `resultType`.
//!
//! Applicable when the target speaks 2026-07-28, i.e. `server/discover` succeeded (probed here
//! if the profile did not probe it). Each probe mutates exactly one thing of a request that a
//! control probe showed to be accepted, so a rejection is attributable to that one thing.

mod control;
mod params;
mod routing;
mod version;

use crate::flow::common::{Run, Session};
use crate::model::Finding::*;
use control::{IDS, MODERN};

impl Run {
    /// Runs the 2026-07-28 transport checks with `token` (after the main handshake).
    pub(crate) async fn modern_checks(&mut self, token: &str) {
        if !self.any_on(&IDS) {
            return;
        }
        if let Some(s) = self.cfg.spec.clone()
            && s != MODERN
        {
            self.rec_all(
                &IDS,
                NotApplicable(format!(
                    "--spec {s}: the 2026-07-28 transport rules do not apply"
                )),
            );
            return;
        }
        let saved = self.session.replace(Session {
            revision: MODERN.into(),
            session_id: None,
        });
        self.modern_inner(token).await;
        self.session = saved;
    }

    /// Each check, if selected, with the main token.
    async fn modern_inner(&mut self, token: &str) {
        if !self.speaks_modern(token).await {
            return;
        }
        let auth = format!("Bearer {token}");
        if !self.modern_control(&auth).await {
            return;
        }
        if self.on("mcp/modern/version-header-mismatch") {
            self.version_header_mismatch(&auth).await;
        }
        if self.on("mcp/modern/unsupported-version") {
            self.unsupported_version(&auth).await;
        }
        if self.on("mcp/modern/unknown-method") {
            self.modern_unknown_method(&auth).await;
        }
        if self.on("mcp/modern/method-header") {
            self.method_header(&auth).await;
        }
        if self.on("mcp/modern/name-header") {
            self.name_header(&auth).await;
        }
        if self.on("mcp/modern/name-header-resource") {
            self.name_header_resource(&auth).await;
        }
        if self.on("mcp/modern/name-header-base64") {
            self.name_header_base64(&auth).await;
        }
        if self.on("mcp/modern/param-header-valid") {
            let f = self.param_annotations_valid();
            self.rec("mcp/modern/param-header-valid", f, &[]);
        }
        if self.on("mcp/modern/param-header") {
            self.param_header_check(&auth).await;
        }
        if self.on("mcp/modern/get-405") {
            self.modern_get_405(&auth).await;
        }
    }
}
