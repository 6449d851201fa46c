//! The main authorization: the one a real host performs (RFC 6749 §4.1 with PKCE, RFC 8707
//! `resource`, RFC 9207 `iss`), and the token response it yields.

use crate::flow::common::authz::CallbackParams;
use crate::flow::common::token::{Redeem, grant_from};
use crate::flow::common::{Run, describe};
use crate::flow::login::AuthzEnd;
use crate::http::Resp;
use crate::model::Finding::*;
use serde_json::Value;

impl Run {
    /// The main authorization: the one a real host performs.
    pub(crate) async fn authorize_main(&mut self) -> bool {
        if self.client.is_none() || self.asm.is_none() {
            return false;
        }
        let resource = self.resource_param();
        let Some((a, verifier)) = self.standard_request(Some(resource.clone()), self.scope_param())
        else {
            return false;
        };
        let end = self.attempt(&a, &[]).await;
        let (cb, ev) = match end {
            AuthzEnd::Callback { location, evidence } => {
                (CallbackParams::from(&location), evidence)
            }
            AuthzEnd::Page {
                status,
                body,
                evidence,
            } => {
                let snippet: String = body.chars().take(200).collect();
                self.rec(
                    "authorize/code-issued",
                    Violated(format!(
                        "authorization stopped on an HTTP {status} page: {snippet}"
                    )),
                    &evidence,
                );
                return false;
            }
            AuthzEnd::Broken(e) => {
                self.rec("authorize/code-issued", CouldNotRun(e), &[]);
                return false;
            }
        };
        let Some(code) = self.grade_callback(&cb, &a.state, &ev) else {
            return false;
        };
        let Some(r) = self
            .exchange(
                "token: exchange code",
                Redeem::new(&code, &a.redirect_uri).full(&verifier, &resource),
            )
            .await
        else {
            self.rec(
                "token/response-json",
                CouldNotRun("token endpoint unreachable".into()),
                &[],
            );
            return false;
        };
        let tev = [r.id];
        let doc = r.json().unwrap_or_default();
        let ok = r.status == 200
            && r.is_json_type()
            && doc.get("access_token").and_then(Value::as_str).is_some();
        self.rec(
            "token/response-json",
            if ok {
                Holds("200 application/json with access_token".into())
            } else {
                Violated(describe(&r))
            },
            &tev,
        );
        if !ok {
            return false;
        }
        self.grade_token_response(&r, &doc);
        self.grant = grant_from(&r, Some(resource));
        self.grant.is_some()
    }

    /// `authorize/{code-issued,state-echoed,iss-exact,iss-advertised}` (RFC 6749 §4.1.2;
    /// RFC 9207 §2); returns the code.
    fn grade_callback(&mut self, cb: &CallbackParams, state: &str, ev: &[usize]) -> Option<String> {
        let Some(code) = cb.code.clone() else {
            self.rec(
                "authorize/code-issued",
                Violated(format!("callback without code: error={:?}", cb.error)),
                ev,
            );
            return None;
        };
        self.rec(
            "authorize/code-issued",
            Holds("callback carries a code".into()),
            ev,
        );
        self.rec(
            "authorize/state-echoed",
            if cb.state.as_deref() == Some(state) {
                Holds("state echoed".into())
            } else {
                Violated(format!("state came back as {:?}", cb.state))
            },
            ev,
        );
        let issuer = self.issuer.clone().unwrap_or_default();
        let advertised = self.iss_supported();
        let f = match (&cb.iss, advertised) {
            (Some(i), _) if *i == issuer => Holds(format!("iss={i}")),
            (Some(i), _) => Violated(format!("iss={i:?} but the issuer is {issuer:?}")),
            (None, true) => Violated("authorization_response_iss_parameter_supported is true but the callback has no iss".into()),
            (None, false) => NotApplicable("RFC 9207 not advertised and no iss sent".into()),
        };
        self.rec("authorize/iss-exact", f, ev);
        self.rec(
            "authorize/iss-advertised",
            if advertised && cb.iss.is_some() {
                Holds("advertised and sent".into())
            } else {
                Violated(format!(
                    "advertised={advertised}, iss sent={}",
                    cb.iss.is_some()
                ))
            },
            ev,
        );
        Some(code)
    }

    /// `token/{no-store,token-type,expires-in}` of the successful token response (RFC 6749 §5.1).
    fn grade_token_response(&mut self, r: &Resp, doc: &Value) {
        let tev = [r.id];
        let cc = r.header("cache-control").unwrap_or("").to_ascii_lowercase();
        self.rec(
            "token/no-store",
            if cc.contains("no-store") {
                Holds(format!("Cache-Control: {cc}"))
            } else {
                Violated(format!("Cache-Control: {cc:?}"))
            },
            &tev,
        );
        let tt = doc.get("token_type").and_then(Value::as_str).unwrap_or("");
        self.rec(
            "token/token-type",
            if tt.eq_ignore_ascii_case("bearer") {
                Holds(format!("token_type={tt}"))
            } else {
                Violated(format!("token_type={tt:?}"))
            },
            &tev,
        );
        self.rec(
            "token/expires-in",
            if doc.get("expires_in").is_some_and(Value::is_u64) {
                Holds(format!("expires_in={}", doc["expires_in"]))
            } else {
                Violated("no numeric expires_in".into())
            },
            &tev,
        );
    }
}
