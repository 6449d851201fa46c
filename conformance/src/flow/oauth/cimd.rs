//! Client ID Metadata Documents (MCP authorization §2.4.1, 2025-11-25): the main authorization
//! with a URL `client_id`, a document whose `client_id` does not match its URL, and ChatGPT's
//! plural-list shape (quirk Q14).

use crate::flow::common::authz::CallbackParams;
use crate::flow::common::{Client, Run};
use crate::flow::login::AuthzEnd;
use crate::model::Finding::*;

impl Run {
    /// `registration/cimd/accepted`, from how the main authorization went.
    pub(crate) fn grade_cimd_accepted(&mut self, authorized: bool) {
        const ID: &str = "registration/cimd/accepted";
        if !self.via_cimd || self.recorded(ID) {
            return;
        }
        let client_id = self
            .client
            .as_ref()
            .map(|c| c.client_id.clone())
            .unwrap_or_default();
        let f = if authorized {
            Holds(format!(
                "authorized and exchanged a code with client_id={client_id}"
            ))
        } else {
            let why = ["authorize/code-issued", "token/response-json"]
                .iter()
                .filter_map(|k| self.outcome(k))
                .find(|o| o.verdict != crate::model::Verdict::Pass)
                .map(|o| (o.verdict, o.detail.clone()));
            match why {
                Some((crate::model::Verdict::CouldNotRun, d)) => CouldNotRun(d),
                Some((_, d)) => Violated(format!(
                    "the flow with client_id={client_id} did not complete: {d}"
                )),
                None => CouldNotRun("the main authorization did not complete".into()),
            }
        };
        self.rec(ID, f, &[]);
    }

    /// The documents only the harness can serve: a mismatched `client_id` must be refused, and
    /// ChatGPT's plural-list shape (quirk Q14) must be accepted as a public client.
    pub(crate) async fn cimd_checks(&mut self) {
        const MISMATCH: &str = "registration/cimd/client-id-mismatch-rejected";
        const PLURAL: &str = "registration/cimd/plural-auth-methods";
        if !self.via_cimd
            || !self.any_on(&[MISMATCH, PLURAL])
            || (self.recorded(MISMATCH) && self.recorded(PLURAL))
        {
            return;
        }
        let Some(docs) = self.cimd_docs.as_ref() else {
            return;
        };
        let (mismatch_id, plural_id) = (
            docs.url(crate::cimd::MISMATCH_PATH),
            docs.url(crate::cimd::PLURAL_PATH),
        );
        if let Err(why) = self.can_reauthorize() {
            self.rec_all(&[MISMATCH, PLURAL], CouldNotRun(why));
            return;
        }
        let Some(main) = self.client.clone() else {
            return;
        };
        if self.on(MISMATCH) {
            let resource = self.resource_param();
            if let Some((mut a, _)) = self.standard_request(Some(resource), self.scope_param()) {
                a.client_id = mismatch_id.clone();
                let f = match self.attempt(&a, &[]).await {
                    AuthzEnd::Page {
                        status, evidence, ..
                    } => (Holds(format!("refused on an HTTP {status} page")), evidence),
                    AuthzEnd::Callback { location, evidence } => {
                        let cb = CallbackParams::from(&location);
                        match (cb.code, cb.error) {
                            (Some(_), _) => (
                                Violated(format!(
                                    "a code was issued to {mismatch_id} although its document's client_id is {}",
                                    main.client_id
                                )),
                                evidence,
                            ),
                            (None, e) => (
                                Holds(format!("refused with a redirect carrying error={e:?}")),
                                evidence,
                            ),
                        }
                    }
                    AuthzEnd::Broken(e) => (CouldNotRun(e), vec![]),
                };
                self.rec(MISMATCH, f.0, &f.1);
            }
        }
        if self.on(PLURAL) {
            // Quirk Q14 is about the public-client path: no assertion.
            let client = Client {
                client_id: plural_id.clone(),
                auth_method: "none".into(),
                signer: None,
                assertion_aud: None,
                ..main
            };
            let f = match self
                .obtain(
                    "authorize: CIMD document with singular private_key_jwt",
                    Some(self.resource_param()),
                    self.scope_param(),
                    Some(&client),
                )
                .await
            {
                Ok(_) => Holds(format!(
                    "{plural_id} (token_endpoint_auth_method private_key_jwt, methods_supported [none, private_key_jwt]) authorized as a public client"
                )),
                Err(e) => Violated(format!(
                    "the Q14 document was not accepted as a public client (ChatGPT gets invalid_client): {e}"
                )),
            };
            self.rec(PLURAL, f, &[]);
        }
    }
}
