//! Presenting the token (RFC 6750 §2.1, §2.3; RFC 9110 §11.1): a garbage token, the scheme
//! in lower case, a token in the query string.

use crate::flow::common::Run;
use crate::model::Finding::{self, *};

/// 401 expected for a token that must not be accepted.
pub(crate) fn expect_401(status: Option<u16>, what: &str) -> Finding {
    match status {
        Some(401) => Holds("401".into()),
        Some(s) if (200..300).contains(&s) => Violated(format!("{what} was accepted ({s})")),
        Some(s) => Violated(format!("{what} got {s}; expected 401")),
        None => CouldNotRun("MCP endpoint unreachable".into()),
    }
}

impl Run {
    /// `rs/token/garbage`.
    pub(crate) async fn rs_garbage_token(&mut self) {
        let url = self.mcp_url.to_string();
        let (s, ev) = self
            .probe_auth(
                "rs: garbage token",
                &url,
                Some("Bearer conformance-garbage-token-0123456789"),
                true,
            )
            .await;
        if let (Some(status), Some(&exchange)) = (s, ev.first()) {
            self.mistakes.push(crate::flow::common::run::Mistake {
                endpoint: crate::flow::common::run::Endpoint::Mcp,
                what: "rs: garbage token".into(),
                exchange,
                status,
                error: None,
            });
        }
        self.rec("rs/token/garbage", expect_401(s, "a garbage token"), &ev);
    }

    /// `rs/token/scheme-case-insensitive`.
    pub(crate) async fn rs_scheme_case(&mut self, token: &str) {
        let url = self.mcp_url.to_string();
        let (s, ev) = self
            .probe_auth(
                "rs: lower-case scheme",
                &url,
                Some(&format!("bearer {token}")),
                true,
            )
            .await;
        let f = match s {
            Some(s) if (200..300).contains(&s) => Holds(format!("`bearer` accepted ({s})")),
            Some(s) => Violated(format!(
                "`bearer <valid token>` got {s}: auth schemes are case-insensitive"
            )),
            None => CouldNotRun("MCP endpoint unreachable".into()),
        };
        self.rec("rs/token/scheme-case-insensitive", f, &ev);
    }

    /// `rs/token/query-string`: a token in the query string must not authenticate.
    pub(crate) async fn rs_query_string(&mut self, token: &str) {
        let mut u = self.mcp_url.clone();
        u.query_pairs_mut().append_pair("access_token", token);
        let (s, ev) = self
            .probe_auth("rs: token in query string", u.as_str(), None, false)
            .await;
        let f = match s {
            Some(s) if (200..300).contains(&s) => {
                Violated("a token in the query string authenticated the request".into())
            }
            Some(s) if (400..500).contains(&s) => Holds(format!("not accepted ({s})")),
            Some(s) => Violated(format!("got {s}")),
            None => CouldNotRun("MCP endpoint unreachable".into()),
        };
        self.rec("rs/token/query-string", f, &ev);
    }
}
