//! MCP after authorization: the checks that diagnose "token issued but never used", run with
//! the new token at the URL as entered: the handshake (`handshake`), Streamable HTTP rules
//! (`transport`), tools (`tools`), ChatGPT's search/fetch contract (`chatgpt`), resources
//! (`resources`), JSON-RPC batches (`batch`) and the 2026-07-28 transport rules (`modern`).

mod batch;
mod chatgpt;
mod handshake;
mod modern;
mod resources;
mod tools;
mod transport;

use crate::flow::common::Run;
use crate::model::Finding::*;

impl Run {
    /// Everything a host does after authorization, with the new token, at the URL as entered.
    pub(crate) async fn mcp_after_auth(&mut self) {
        let Some(token) = self.grant.as_ref().map(|g| g.access_token.clone()) else {
            return;
        };
        if !self.handshake(&token).await {
            return;
        }
        self.rec(
            "rs/token/valid-accepted",
            Holds("handshake succeeded with the new token".into()),
            &[],
        );
        self.transport_checks(&token).await;
        self.tools_list(&token).await;
        self.call_tool(&token).await;
        self.search_fetch(&token).await;
        self.resources(&token).await;
        // JSON-RPC batches (accepted in 2025-03-26, removed since).
        self.batch_checks(&token).await;
        // 2026-07-28 transport rules (when the target speaks it).
        self.modern_checks(&token).await;
    }
}
