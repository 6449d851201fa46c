//! Tools (MCP server/tools): `tools/list` and one consented `tools/call`.

use crate::flow::common::{Run, describe};
use crate::model::Finding::*;
use crate::schema;
use serde_json::{Value, json};

impl Run {
    /// `mcp/tools/list`; keeps the tools.
    pub(crate) async fn tools_list(&mut self, token: &str) {
        let rev = self.revision();
        match self
            .rpc("mcp: tools/list", Some(token), "tools/list", json!({}))
            .await
        {
            Some(r) => match r.result().cloned() {
                Some(res) => {
                    let f = match schema::validate(&rev, "ListToolsResult", &res) {
                        Ok(()) => Holds(format!(
                            "{} tools, ListToolsResult valid under {rev}",
                            res["tools"].as_array().map_or(0, Vec::len)
                        )),
                        Err(e) => Violated(format!(
                            "ListToolsResult invalid under {rev}: {}",
                            e.join("; ")
                        )),
                    };
                    self.rec("mcp/tools/list", f, &[r.resp.id]);
                    self.tools = res
                        .get("tools")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                }
                None => self.rec(
                    "mcp/tools/list",
                    Violated(format!("tools/list failed: {}", describe(&r.resp))),
                    &[r.resp.id],
                ),
            },
            None => self.rec(
                "mcp/tools/list",
                CouldNotRun("MCP endpoint unreachable".into()),
                &[],
            ),
        }
    }

    /// `mcp/tools/call`: the `--call-tool`, else the first read-only tool.
    pub(crate) async fn call_tool(&mut self, token: &str) {
        let rev = self.revision();
        let Some((name, args)) = self.chosen_tool() else {
            self.rec("mcp/tools/call", NotApplicable("no tool is marked readOnlyHint and no --call-tool was given (nothing is called without consent)".into()), &[]);
            return;
        };
        let Some(r) = self
            .rpc(
                &format!("mcp: tools/call {name}"),
                Some(token),
                "tools/call",
                json!({"name": name, "arguments": args}),
            )
            .await
        else {
            return;
        };
        let f = match (r.result(), r.resp.status) {
            (Some(res), _) => match schema::validate(&rev, "CallToolResult", res) {
                Ok(()) => Holds(format!(
                    "{name}: CallToolResult valid{}",
                    if res["isError"] == json!(true) {
                        " (isError: true)"
                    } else {
                        ""
                    }
                )),
                Err(e) => Violated(format!(
                    "{name}: CallToolResult invalid under {rev}: {}",
                    e.join("; ")
                )),
            },
            (None, 401) => Violated(format!("{name}: 401 with the token just issued")),
            (None, _) => Violated(format!(
                "{name}: {} {}",
                describe(&r.resp),
                r.message
                    .as_ref()
                    .and_then(|m| m.get("error"))
                    .map(|e| e.to_string())
                    .unwrap_or_default()
            )),
        };
        self.rec("mcp/tools/call", f, &[r.resp.id]);
    }
}
