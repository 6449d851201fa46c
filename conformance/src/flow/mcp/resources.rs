//! Resources (MCP server/resources): `resources/list` and reading the first listed resource.

use crate::flow::common::{Run, describe};
use crate::model::Finding::*;
use crate::schema;
use serde_json::{Value, json};

impl Run {
    /// `mcp/resources/list` and `mcp/resources/read`, when the server declares resources.
    pub(crate) async fn resources(&mut self, token: &str) {
        let rev = self.revision();
        if self.server_capabilities.get("resources").is_none() {
            let na = NotApplicable("the server does not declare the resources capability".into());
            self.rec_all(&["mcp/resources/list", "mcp/resources/read"], na);
            return;
        }
        let Some(r) = self
            .rpc(
                "mcp: resources/list",
                Some(token),
                "resources/list",
                json!({}),
            )
            .await
        else {
            return;
        };
        let Some(res) = r.result().cloned() else {
            self.rec(
                "mcp/resources/list",
                Violated(format!("resources/list failed: {}", describe(&r.resp))),
                &[r.resp.id],
            );
            self.rec(
                "mcp/resources/read",
                CouldNotRun("resources/list failed".into()),
                &[],
            );
            return;
        };
        let f = match schema::validate(&rev, "ListResourcesResult", &res) {
            Ok(()) => Holds("ListResourcesResult valid".into()),
            Err(e) => Violated(format!(
                "ListResourcesResult invalid under {rev}: {}",
                e.join("; ")
            )),
        };
        self.rec("mcp/resources/list", f, &[r.resp.id]);
        match res
            .get("resources")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(|x| x.get("uri"))
            .and_then(Value::as_str)
        {
            None => self.rec(
                "mcp/resources/read",
                NotApplicable("resources/list returned no resources".into()),
                &[],
            ),
            Some(uri) => self.resource_read(token, uri.to_string()).await,
        }
    }

    /// `mcp/resources/read` of `uri`; keeps it as the first resource.
    async fn resource_read(&mut self, token: &str, uri: String) {
        let rev = self.revision();
        self.first_resource = Some(uri.clone());
        let Some(rr) = self
            .rpc(
                "mcp: resources/read",
                Some(token),
                "resources/read",
                json!({"uri": uri}),
            )
            .await
        else {
            return;
        };
        let f = match rr.result() {
            Some(res) => match schema::validate(&rev, "ReadResourceResult", res) {
                Ok(()) => Holds(format!("read {uri}")),
                Err(e) => Violated(format!(
                    "ReadResourceResult invalid under {rev}: {}",
                    e.join("; ")
                )),
            },
            None => Violated(format!(
                "resources/read {uri} failed: {}",
                describe(&rr.resp)
            )),
        };
        self.rec("mcp/resources/read", f, &[rr.resp.id]);
    }
}
