//! Falsifiability: every check runs against a fixture that breaks exactly that requirement
//! (verdict must be fail; warn for a MAY) and against the conforming fixture (must pass).
//! `every_check_has_a_falsifying_fixture` walks the registry and fails for any id missing here.

use super::{cfg, detail, problems, verdict};
use crate::fixture::{self, Fault, Fault::*, Opts};
use gigamcp_conformance::checks::CHECKS;
use gigamcp_conformance::config::Config;
use gigamcp_conformance::model::{Level, Verdict};
use gigamcp_conformance::profile::{self, Profile};
use std::collections::{BTreeMap, HashSet};

/// Conforming setup a case is graded against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Base {
    /// ChatGPT profile, stateless server, 1 h tokens.
    Chatgpt,
    /// Strict (public client) profile against a server that issues sessions.
    StrictSessions,
    /// ChatGPT profile, 1 s tokens (the expired-token check can wait them out).
    ShortTtl,
    /// Claude profile pinned to 2025-03-26 (batches allowed).
    Legacy,
    /// ChatGPT profile with `--registration cimd` (harness-served documents on loopback).
    Cimd,
    /// Cursor profile: its three-URI DCR body with the `cursor://` callback.
    Cursor,
}

impl Base {
    fn opts(self) -> Opts {
        match self {
            Base::Chatgpt | Base::Legacy | Base::Cimd | Base::Cursor => Opts::default(),
            Base::StrictSessions => Opts {
                sessions: true,
                ..Opts::default()
            },
            Base::ShortTtl => Opts {
                ttl: 1,
                ..Opts::default()
            },
        }
    }
    fn profile(self) -> Profile {
        match self {
            Base::StrictSessions => profile::STRICT,
            Base::Legacy => profile::CLAUDE,
            Base::Cursor => profile::CURSOR,
            _ => profile::CHATGPT,
        }
    }
    fn config(self, fx: &fixture::Fixture) -> Config {
        let mut c = cfg(fx, self.profile());
        c.strict = true;
        if self == Base::Legacy {
            c.spec = Some("2025-03-26".into());
        }
        if self == Base::Cimd {
            c.registration = gigamcp_conformance::config::Registration::Cimd { url: None };
        }
        c
    }
}

use Base::*;

/// (check id, the fault that breaks exactly it, the conforming base).
pub const CASES: &[(&str, Fault, Base)] = &[
    ("discovery/challenge/status-401", NoAuthRequired, Chatgpt),
    (
        "discovery/challenge/resource-metadata",
        ChallengeNoResourceMetadata,
        Chatgpt,
    ),
    ("discovery/challenge/scope", ChallengeNoScope, Chatgpt),
    (
        "discovery/challenge/no-error-without-credentials",
        ChallengeErrorWithoutCredentials,
        Chatgpt,
    ),
    ("discovery/challenge/json-body", ChallengeHtmlBody, Chatgpt),
    ("discovery/url/exact-no-redirect", McpRedirects, Chatgpt),
    ("discovery/url/trailing-slash", TrailingSlashHtml, Chatgpt),
    ("discovery/prm/path-inserted", NoPathPrm, Chatgpt),
    ("discovery/prm/json", PrmTextPlain, Chatgpt),
    (
        "discovery/prm/resource-matches",
        PrmResourceTrailingSlash,
        Chatgpt,
    ),
    (
        "discovery/prm/authorization-servers",
        PrmNoAuthServers,
        Chatgpt,
    ),
    ("discovery/prm/root-fallback", RootPrmHtml, Chatgpt),
    ("discovery/asm/found", NoAsMetadata, Chatgpt),
    ("discovery/asm/json", AsmTextPlain, Chatgpt),
    (
        "discovery/asm/issuer-match",
        AsmIssuerTrailingSlash,
        Chatgpt,
    ),
    ("discovery/asm/required-fields", AsmNoResponseTypes, Chatgpt),
    ("discovery/asm/s256", AsmNoS256, Chatgpt),
    ("discovery/asm/head", AsmHead404, Chatgpt),
    ("discovery/oidc/valid-or-absent", PartialOidc, Chatgpt),
    ("registration/dcr/advertised", NoDcr, Chatgpt),
    ("registration/dcr/accepted", DcrReturns200, Chatgpt),
    ("registration/dcr/secret-expiry", DcrNoSecretExpiry, Chatgpt),
    (
        "registration/dcr/reject-http-redirect",
        DcrAcceptsHttp,
        Chatgpt,
    ),
    (
        "registration/dcr/reject-javascript-redirect",
        DcrAcceptsJavascript,
        Chatgpt,
    ),
    (
        "registration/dcr/reject-fragment-redirect",
        DcrAcceptsFragment,
        Chatgpt,
    ),
    ("registration/cimd/advertised", CimdNotAdvertised, Cimd),
    ("registration/cimd/accepted", CimdRejected, Cimd),
    (
        "registration/cimd/client-id-mismatch-rejected",
        CimdClientIdUnchecked,
        Cimd,
    ),
    (
        "registration/cimd/plural-auth-methods",
        CimdSingularOnly,
        Cimd,
    ),
    ("authorize/code-issued", AuthorizeAlwaysDenied, Chatgpt),
    ("authorize/state-echoed", StateNotEchoed, Chatgpt),
    ("authorize/iss-exact", IssWrong, Chatgpt),
    ("authorize/iss-advertised", NoIss, Chatgpt),
    ("authorize/pkce-required", PkceOptional, Chatgpt),
    ("authorize/pkce-plain-rejected", PkcePlainAccepted, Chatgpt),
    (
        "authorize/redirect-uri-mismatch",
        RedirectUriUnchecked,
        Chatgpt,
    ),
    ("authorize/resource-foreign", ResourceUnchecked, Chatgpt),
    (
        "authorize/resource-malformed",
        ResourceFragmentAccepted,
        Chatgpt,
    ),
    ("token/response-json", TokenTextPlain, Chatgpt),
    ("token/no-store", TokenNoStore, Chatgpt),
    ("token/token-type", TokenTypeMac, Chatgpt),
    ("token/expires-in", TokenNoExpiresIn, Chatgpt),
    ("token/pkce-wrong-verifier", VerifierUnchecked, Chatgpt),
    ("token/code-replay", CodeReusable, Chatgpt),
    ("token/code-replay-revokes", ReplayDoesNotRevoke, Chatgpt),
    (
        "token/redirect-uri-mismatch",
        TokenRedirectUnchecked,
        Chatgpt,
    ),
    ("token/errors-json", TokenErrorsHtml, Chatgpt),
    ("rs/token/valid-accepted", RsRejectsAll, Chatgpt),
    ("rs/token/garbage", RsAcceptsGarbage, Chatgpt),
    (
        "rs/token/scheme-case-insensitive",
        RsSchemeCaseSensitive,
        Chatgpt,
    ),
    ("rs/token/query-string", RsAcceptsQueryToken, Chatgpt),
    ("rs/audience/cross-workspace", RsNoAudienceCheck, Chatgpt),
    ("rs/token/expired", RsIgnoresExpiry, ShortTtl),
    ("rs/scope/insufficient-403", ScopeDenied401, Chatgpt),
    ("rs/scope/insufficient-error", ScopeNoErrorCode, Chatgpt),
    ("rs/errors/challenge", RsInvalidTokenNoChallenge, Chatgpt),
    (
        "rs/errors/invalid-token-code",
        RsNoInvalidTokenCode,
        Chatgpt,
    ),
    ("mcp/lifecycle/handshake", InitializeNoServerInfo, Chatgpt),
    ("mcp/lifecycle/version", BogusProtocolVersion, Chatgpt),
    ("mcp/transport/content-type", RpcTextPlain, Chatgpt),
    ("mcp/transport/notification-202", Notification200, Chatgpt),
    (
        "mcp/transport/session-id-ascii",
        SessionIdSpace,
        StrictSessions,
    ),
    (
        "mcp/transport/unknown-session-404",
        UnknownSession400,
        StrictSessions,
    ),
    (
        "mcp/transport/protocol-version-400",
        IgnoreProtocolVersion,
        Chatgpt,
    ),
    ("mcp/transport/get-sse-or-405", Get200Json, Chatgpt),
    ("mcp/transport/origin-403", NoOriginCheck, Chatgpt),
    ("mcp/batch/accepted-2025-03-26", BatchUnsupported, Legacy),
    ("mcp/batch/rejected", BatchAcceptedModern, Chatgpt),
    (
        "mcp/batch/initialize-rejected",
        BatchInitializeAccepted,
        Legacy,
    ),
    (
        "mcp/transport/origin-chatgpt-accepted",
        ChatgptOriginRefused,
        Chatgpt,
    ),
    ("mcp/schema/envelopes", EnvelopeJsonrpc1, Chatgpt),
    ("mcp/errors/method-not-found", UnknownMethod32600, Chatgpt),
    (
        "mcp/modern/version-header-mismatch",
        IgnoreVersionMismatch,
        Chatgpt,
    ),
    (
        "mcp/modern/unsupported-version",
        UnsupportedVersionNoData,
        Chatgpt,
    ),
    ("mcp/modern/unknown-method", UnknownMethodModern200, Chatgpt),
    ("mcp/modern/method-header", IgnoreMcpMethod, Chatgpt),
    ("mcp/modern/name-header", IgnoreMcpName, Chatgpt),
    (
        "mcp/modern/name-header-resource",
        IgnoreMcpNameOnRead,
        Chatgpt,
    ),
    ("mcp/modern/name-header-base64", McpNameNotDecoded, Chatgpt),
    ("mcp/modern/param-header", IgnoreMcpParam, Chatgpt),
    ("mcp/modern/param-header-valid", BadXMcpHeader, Chatgpt),
    ("mcp/modern/get-405", GetSse, Chatgpt),
    ("mcp/modern/result-type", NoResultType, Chatgpt),
    ("mcp/tools/list", ToolsListNoInputSchema, Chatgpt),
    ("mcp/tools/call", CallNoContent, Chatgpt),
    ("mcp/resources/list", ResourcesListBad, Chatgpt),
    ("mcp/resources/read", ReadNoContents, Chatgpt),
    ("mcp/chatgpt/search-contract", SearchTwoItems, Chatgpt),
    ("mcp/chatgpt/fetch-contract", FetchNoUrl, Chatgpt),
    ("mcp/robustness/no-5xx", FuzzServerError, Chatgpt),
    ("mcp/robustness/no-html", FuzzHtmlError, Chatgpt),
    ("mcp/robustness/json-errors", FuzzTextError, StrictSessions),
    ("mcp/robustness/survives", FuzzWedged, Chatgpt),
    ("refresh/rotation", NoRotation, StrictSessions),
    ("refresh/concurrent", RefreshRaceAllWin, Chatgpt),
    ("refresh/replay-rejected", RefreshReplayAccepted, Chatgpt),
    (
        "refresh/replay-revokes-grant",
        ReplayNoFamilyRevoke,
        Chatgpt,
    ),
    (
        "refresh/resource-consistent",
        RefreshResourceUnchecked,
        Chatgpt,
    ),
    ("revocation/advertised", NoRevocation, Chatgpt),
    ("revocation/access-token", RevokeAccess400, Chatgpt),
    ("rs/token/revoked", RevokeNoEffect, Chatgpt),
    ("revocation/refresh-token", RevokeRefreshNoEffect, Chatgpt),
    ("revocation/unknown-token", RevokeUnknown400, Chatgpt),
    (
        "revocation/public-client",
        RevokePublicRequiresSecret,
        Chatgpt,
    ),
    ("token/errors/client-error-status", TokenReplay500, Chatgpt),
    ("token/errors/rfc-code", TokenUnlistedErrorCode, Chatgpt),
    (
        "token/errors/unsupported-grant-type",
        UnknownGrantInvalidRequest,
        Chatgpt,
    ),
    (
        "token/errors/invalid-client",
        BadClientInvalidGrant,
        Chatgpt,
    ),
    (
        "registration/errors/rfc-code",
        DcrUnlistedErrorCode,
        Chatgpt,
    ),
    ("errors/no-5xx-on-mistakes", RsGarbageToken500, Chatgpt),
    ("compat/connects", RefusesCustomSchemeRedirects, Cursor),
];

#[test]
fn every_check_has_a_falsifying_fixture() {
    let covered: HashSet<&str> = CASES.iter().map(|(id, _, _)| *id).collect();
    let missing: Vec<&str> = CHECKS
        .iter()
        .map(|c| c.id)
        .filter(|id| !covered.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "checks without a falsifying fixture: {missing:?}"
    );
    let unknown: Vec<&str> = covered
        .iter()
        .copied()
        .filter(|id| !CHECKS.iter().any(|c| c.id == *id))
        .collect();
    assert!(
        unknown.is_empty(),
        "fixture cases for unknown ids: {unknown:?}"
    );
    assert_eq!(
        covered.len(),
        CASES.len(),
        "a check id appears twice in CASES"
    );
    let faults: HashSet<Fault> = CASES.iter().map(|(_, f, _)| *f).collect();
    assert_eq!(
        faults.len(),
        CASES.len(),
        "each case must break a distinct requirement"
    );
}

/// Conforming runs: every case id passes in its base; nothing fails, warns or is skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conforming_fixture_passes_every_check() {
    let mut by_base: BTreeMap<Base, Vec<&str>> = BTreeMap::new();
    for (id, _, base) in CASES {
        by_base.entry(*base).or_default().push(id);
    }
    for (base, ids) in by_base {
        let fx = fixture::start(base.opts()).await;
        let r = gigamcp_conformance::flow::run(base.config(&fx))
            .await
            .unwrap();
        assert!(problems(&r).is_empty(), "{base:?}: {:#?}", problems(&r));
        for id in ids {
            assert_eq!(
                verdict(&r, id),
                Verdict::Pass,
                "{base:?} {id}: {}",
                detail(&r, id)
            );
        }
    }
}

/// Each fault turns exactly its check red.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_fails_its_check() {
    let mut set = tokio::task::JoinSet::new();
    // Bounded parallelism: request timeouts must not fire because 100 runs share two cores.
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(12));
    for (id, fault, base) in CASES.iter().copied() {
        let permits = permits.clone();
        set.spawn(async move {
            let mut opts = base.opts();
            opts.faults.push(fault);
            let _permit = permits.acquire().await.unwrap();
            let fx = fixture::start(opts).await;
            let mut c = base.config(&fx);
            // The fuzzer only matters for its own cases; elsewhere it would only add load.
            if !id.starts_with("mcp/robustness/") {
                c.skip.push("mcp/robustness".into());
            }
            let r = gigamcp_conformance::flow::run(c).await.unwrap();
            let level = CHECKS.iter().find(|c| c.id == id).unwrap().level;
            let want = if level == Level::May {
                Verdict::Warn
            } else {
                Verdict::Fail
            };
            let got = verdict(&r, id);
            if got == want {
                None
            } else {
                Some(format!(
                    "{id} with {fault:?}: expected {want}, got {}",
                    detail(&r, id)
                ))
            }
        });
    }
    let mut wrong = Vec::new();
    while let Some(res) = set.join_next().await {
        if let Some(w) = res.unwrap() {
            wrong.push(w);
        }
    }
    wrong.sort();
    assert!(
        wrong.is_empty(),
        "{} checks were not falsified:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
