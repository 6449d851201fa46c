//! Whether the 2026-07-28 rules apply: the `server/discover` probe, then a control request that
//! must be served before any one-thing-changed probe is attributable.

use crate::flow::common::{Run, describe};
use crate::model::Finding::*;
use serde_json::{Value, json};

pub(crate) const MODERN: &str = "2026-07-28";

pub(crate) const IDS: [&str; 11] = [
    "mcp/modern/version-header-mismatch",
    "mcp/modern/unsupported-version",
    "mcp/modern/unknown-method",
    "mcp/modern/method-header",
    "mcp/modern/name-header",
    "mcp/modern/name-header-resource",
    "mcp/modern/name-header-base64",
    "mcp/modern/param-header",
    "mcp/modern/param-header-valid",
    "mcp/modern/get-405",
    "mcp/modern/result-type",
];
/// The first `CONTROLLED` ids mutate a request that the control probe showed to be served.
const CONTROLLED: usize = 9;

impl Run {
    /// Does the target speak 2026-07-28 (`server/discover`, probed here if the handshake did not)?
    /// If not, every check is not applicable.
    pub(crate) async fn speaks_modern(&mut self, token: &str) -> bool {
        if self.discover.is_none() {
            let r = self
                .rpc(
                    "mcp: server/discover probe (2026-07-28 checks)",
                    Some(token),
                    "server/discover",
                    json!({}),
                )
                .await;
            self.discover = Some(match r {
                Some(r) => match r.result() {
                    Some(res) => Ok(res.clone()),
                    None => Err(format!("server/discover got {}", describe(&r.resp))),
                },
                None => Err("server/discover: MCP endpoint unreachable".into()),
            });
        }
        if let Some(Err(why)) = self.discover.clone() {
            self.rec_all(
                &IDS,
                NotApplicable(format!("the target does not speak 2026-07-28 ({why})")),
            );
            return false;
        }

        true
    }

    /// A well-formed 2026-07-28 `tools/list` must be served (keeps its tools); if not, the
    /// controlled checks could not run.
    pub(crate) async fn modern_control(&mut self, auth: &str) -> bool {
        let url = self.mcp_url.to_string();
        let (control, id) = self.rpc_req(
            "mcp: 2026-07-28 control tools/list",
            &url,
            Some(auth),
            "tools/list",
            json!({}),
            false,
        );
        match self.send_rpc(control.clone(), &id).await {
            Some(r) if r.result().is_some() => {
                self.modern_tools = r
                    .result()
                    .and_then(|res| res.get("tools"))
                    .and_then(Value::as_array)
                    .cloned();
            }
            Some(r) => {
                let why = format!(
                    "a well-formed 2026-07-28 tools/list got {}",
                    describe(&r.resp)
                );
                for id in &IDS[..CONTROLLED] {
                    self.rec(id, CouldNotRun(why.clone()), &[r.resp.id]);
                }
                return false;
            }
            None => {
                self.rec_all(
                    &IDS[..CONTROLLED],
                    CouldNotRun("MCP endpoint unreachable".into()),
                );
                return false;
            }
        }
        true
    }
}
