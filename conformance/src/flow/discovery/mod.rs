//! Discovery: the unauthenticated probe and its 401 challenge (`challenge`), protected resource
//! metadata (`prm`, RFC 9728), authorization server metadata (`asm`, RFC 8414 / OIDC) in the
//! spec's order.

mod asm;
mod challenge;
mod prm;

use crate::flow::common::Run;
use crate::model::Finding::*;
use prm::Stop;

impl Run {
    pub(crate) async fn discovery(&mut self) -> Result<(), String> {
        let (probe, header_prm) = self.probe().await?;
        self.trailing_slash().await;
        let found = match self.protected_resource(&probe, header_prm).await {
            Ok(valid) => self.authorization_server(&valid).await,
            Err(e) => Err(e),
        };
        match found {
            Ok(()) => Ok(()),
            Err(Stop::Fatal(e)) => Err(e),
            Err(Stop::Blocked(why)) => self.discovery_blocked(&why),
        }
    }

    /// Discovery could not finish: every later check that needs it could not run.
    fn discovery_blocked(&mut self, why: &str) -> Result<(), String> {
        for def in crate::checks::CHECKS {
            if !def.id.starts_with("discovery/")
                && !def.id.starts_with("mcp/")
                && !def.id.starts_with("rs/")
            {
                self.rec(def.id, CouldNotRun(format!("discovery failed: {why}")), &[]);
            }
        }
        if self.cfg.access_token.is_some() {
            return Ok(());
        }
        for def in crate::checks::CHECKS {
            if !def.id.starts_with("discovery/") {
                self.rec(def.id, CouldNotRun(format!("discovery failed: {why}")), &[]);
            }
        }
        Ok(())
    }
}
