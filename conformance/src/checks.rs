//! The check registry: every requirement the harness grades, with its id, level and references.
//!
//! The logic lives in `flow/`, next to the HTTP steps that exercise it; this table is the single
//! source of truth for `--list`, reports, and the registry test that demands a falsifying fixture
//! for every entry.

use crate::model::{CheckDef, Level};
use Level::{Compat, May, Must, Should};

macro_rules! checks {
    ($( $id:literal, $level:ident, $side:literal, $title:literal, [$($r:literal),+ $(,)?] );+ $(;)?) => {
        /// Every check, in the order a run executes them.
        pub static CHECKS: &[CheckDef] = &[
            $( CheckDef { id: $id, level: $level, title: $title, refs: &[$($r),+], side_effect: $side } ),+
        ];
    };
}

checks! {
    // ---------------------------------------------------------------- discovery
    "discovery/challenge/status-401", Must, false,
        "An unauthenticated MCP request gets HTTP 401",
        ["MCP 2025-11-25 basic/authorization §Token Handling", "RFC 6750 §3"];
    "discovery/challenge/resource-metadata", Must, false,
        "The 401 carries `WWW-Authenticate: Bearer resource_metadata=\"<PRM URL>\"`",
        ["MCP 2025-06-18 basic/authorization §Authorization Server Location", "RFC 9728 §5.1"];
    "discovery/challenge/scope", Should, false,
        "The 401 challenge names the needed scopes in `scope`",
        ["MCP 2025-11-25 basic/authorization §Protected Resource Metadata Discovery Requirements", "RFC 6750 §3"];
    "discovery/challenge/no-error-without-credentials", Should, false,
        "A 401 for a request without credentials carries no `error` code",
        ["RFC 6750 §3.1"];
    "discovery/challenge/json-body", Should, false,
        "The 401 body is not an HTML page",
        ["MCP 2025-11-25 basic/authorization §Error Handling", "RFC 6750 §3"];
    "discovery/url/exact-no-redirect", Should, false,
        "The MCP URL as entered answers without an HTTP redirect",
        ["MCP 2025-11-25 basic/authorization §Canonical Server URI", "RFC 9728 §3.3"];
    "discovery/url/trailing-slash", Should, false,
        "The `/mcp` vs `/mcp/` variant answers the same challenge or a JSON 404/405, never HTML or 5xx",
        ["MCP 2025-11-25 basic/authorization §Canonical Server URI", "RFC 8707 §2"];
    "discovery/prm/path-inserted", Must, false,
        "Protected resource metadata is served at the path-inserted well-known URL",
        ["MCP 2025-11-25 basic/authorization §Protected Resource Metadata Discovery Requirements", "RFC 9728 §3.1"];
    "discovery/prm/json", Must, false,
        "Protected resource metadata is HTTP 200 `application/json`",
        ["RFC 9728 §3.2"];
    "discovery/prm/resource-matches", Must, false,
        "PRM `resource` is identical to the MCP URL",
        ["RFC 9728 §3.3", "MCP 2025-11-25 basic/authorization §Canonical Server URI"];
    "discovery/prm/authorization-servers", Must, false,
        "PRM lists at least one absolute authorization server issuer URL",
        ["RFC 9728 §2", "MCP 2025-06-18 basic/authorization §Authorization Server Location"];
    "discovery/prm/root-fallback", Should, false,
        "The root PRM URL answers JSON (a document or a 404), not HTML, 401 or 5xx",
        ["RFC 9728 §3.1", "MCP 2025-11-25 basic/authorization §Protected Resource Metadata Discovery Requirements"];
    "discovery/asm/found", Must, false,
        "AS metadata is found at an issuer-derived well-known URL, tried in the spec's order",
        ["MCP 2025-11-25 basic/authorization §Authorization Server Metadata Discovery", "RFC 8414 §3.1"];
    "discovery/asm/json", Must, false,
        "AS metadata is HTTP 200 `application/json`",
        ["RFC 8414 §3.2"];
    "discovery/asm/issuer-match", Must, false,
        "AS metadata `issuer` is identical to the issuer the URL was built from",
        ["RFC 8414 §3.3", "MCP 2026-07-28 basic/authorization/authorization-server-discovery"];
    "discovery/asm/required-fields", Must, false,
        "AS metadata has `authorization_endpoint`, `token_endpoint`, `response_types_supported` ∋ `code`",
        ["RFC 8414 §2"];
    "discovery/asm/s256", Must, false,
        "`code_challenge_methods_supported` includes `S256`",
        ["MCP 2025-11-25 basic/authorization §Authorization Code Protection", "RFC 7636 §4.3"];
    "discovery/asm/head", Should, false,
        "HEAD on the AS metadata URL succeeds like GET",
        ["RFC 9110 §9.3.2", "RFC 9110 §9.1"];
    "discovery/oidc/valid-or-absent", Should, false,
        "`/.well-known/openid-configuration` is absent (JSON 404) or a complete document with S256",
        ["MCP 2025-11-25 basic/authorization §Authorization Server Metadata Discovery", "OpenID Connect Discovery 1.0 §4"];
    // ---------------------------------------------------------------- registration
    "registration/dcr/advertised", Should, false,
        "AS metadata advertises a `registration_endpoint`",
        ["MCP 2025-06-18 basic/authorization §Dynamic Client Registration", "RFC 8414 §2"];
    "registration/dcr/accepted", Must, true,
        "The profile's exact DCR body is accepted: 201 JSON with `client_id` and the redirect URIs",
        ["RFC 7591 §3.2.1"];
    "registration/dcr/secret-expiry", Must, true,
        "An issued `client_secret` comes with `client_secret_expires_at`",
        ["RFC 7591 §3.2.1"];
    "registration/dcr/reject-http-redirect", Must, true,
        "DCR rejects an `http:` non-loopback redirect URI with 400 `invalid_redirect_uri`",
        ["MCP 2025-11-25 basic/authorization §Communication Security", "RFC 7591 §3.2.2"];
    "registration/dcr/reject-javascript-redirect", Must, true,
        "DCR rejects a `javascript:` redirect URI with 400 `invalid_redirect_uri`",
        ["OAuth 2.1 §7.12", "RFC 7591 §3.2.2"];
    "registration/dcr/reject-fragment-redirect", Must, true,
        "DCR rejects a redirect URI with a fragment with 400 `invalid_redirect_uri`",
        ["RFC 6749 §3.1.2", "RFC 7591 §3.2.2"];
    "registration/errors/rfc-code", Must, true,
        "Refused registrations are HTTP 400 with an RFC 7591 §3.2.2 `error` code (`invalid_redirect_uri`, `invalid_client_metadata`, …)",
        ["RFC 7591 §3.2.2"];
    "registration/cimd/advertised", Should, false,
        "AS metadata advertises `client_id_metadata_document_supported: true` (2025-11-25 and later)",
        ["MCP 2025-11-25 basic/authorization §Client ID Metadata Documents", "draft-ietf-oauth-client-id-metadata-document-00"];
    "registration/cimd/accepted", Must, true,
        "When CIMD is advertised, the flow completes with a URL `client_id` (the harness's metadata document)",
        ["MCP 2025-11-25 basic/authorization §Client ID Metadata Documents", "draft-ietf-oauth-client-id-metadata-document-00"];
    "registration/cimd/client-id-mismatch-rejected", Must, false,
        "A metadata document whose `client_id` differs from its URL is refused",
        ["MCP 2025-11-25 basic/authorization §Client ID Metadata Documents", "draft-ietf-oauth-client-id-metadata-document-00"];
    "registration/cimd/plural-auth-methods", Should, true,
        "A document whose singular method is `private_key_jwt` but whose `token_endpoint_auth_methods_supported` lists `none` is accepted as a public client (quirk Q14)",
        ["draft-ietf-oauth-client-id-metadata-document-00", "OpenID Connect RP Metadata Choices 1.0"];
    // ---------------------------------------------------------------- authorization endpoint
    "authorize/code-issued", Must, false,
        "Login and consent end in a redirect to the callback carrying `code`",
        ["OAuth 2.1 §4.1.2"];
    "authorize/state-echoed", Must, false,
        "`state` comes back unchanged",
        ["OAuth 2.1 §4.1.2", "RFC 6749 §4.1.2"];
    "authorize/iss-exact", Must, false,
        "When `authorization_response_iss_parameter_supported` is true, `iss` is present and equals the issuer",
        ["RFC 9207 §2", "RFC 9207 §3"];
    "authorize/iss-advertised", Should, false,
        "The AS sends and advertises RFC 9207 `iss`",
        ["MCP 2026-07-28 basic/authorization §Authorization Response Validation", "RFC 9207 §2"];
    "authorize/pkce-required", Must, false,
        "An authorization request without `code_challenge` is refused",
        ["OAuth 2.1 §4.1.1", "MCP 2025-11-25 basic/authorization §Authorization Code Protection"];
    "authorize/pkce-plain-rejected", Should, false,
        "`code_challenge_method=plain` is refused",
        ["OAuth 2.1 §4.1.1", "RFC 7636 §4.2"];
    "authorize/redirect-uri-mismatch", Must, false,
        "An unregistered `redirect_uri` is refused without redirecting to it",
        ["OAuth 2.1 §4.1.2.1", "MCP 2025-11-25 basic/authorization §Open Redirection"];
    "authorize/resource-foreign", Should, false,
        "A `resource` that is not this deployment's gets `invalid_target`",
        ["RFC 8707 §2", "MCP 2025-11-25 basic/authorization §Resource Parameter Implementation"];
    "authorize/resource-malformed", Should, false,
        "A relative or fragment-bearing `resource` gets `invalid_target`",
        ["RFC 8707 §2"];
    // ---------------------------------------------------------------- token endpoint
    "token/response-json", Must, false,
        "The token response is HTTP 200 `application/json` with `access_token`",
        ["OAuth 2.1 §3.2.3", "RFC 6749 §5.1"];
    "token/no-store", Must, false,
        "The token response carries `Cache-Control: no-store`",
        ["OAuth 2.1 §3.2.3", "RFC 6749 §5.1"];
    "token/token-type", Must, false,
        "`token_type` is `Bearer`",
        ["RFC 6749 §5.1", "RFC 6750 §4"];
    "token/expires-in", Should, false,
        "`expires_in` is present",
        ["RFC 6749 §5.1"];
    "token/pkce-wrong-verifier", Must, false,
        "A wrong `code_verifier` gets `invalid_grant`",
        ["RFC 7636 §4.6", "OAuth 2.1 §4.1.3"];
    "token/code-replay", Must, false,
        "A second redemption of the same code gets `invalid_grant`",
        ["OAuth 2.1 §4.1.3", "OAuth 2.1 §4.1.2"];
    "token/code-replay-revokes", Should, true,
        "After a code replay, tokens issued from that code stop working",
        ["OAuth 2.1 §4.1.2", "RFC 6749 §4.1.2"];
    "token/redirect-uri-mismatch", Must, false,
        "A token request with a different `redirect_uri` gets `invalid_grant`",
        ["OAuth 2.1 §4.1.3", "RFC 6749 §4.1.3"];
    "token/errors-json", Must, false,
        "Token endpoint errors are JSON with an `error` code",
        ["RFC 6749 §5.2", "OAuth 2.1 §3.2.4"];
    "token/errors/client-error-status", Must, true,
        "Every token request the harness got wrong on purpose (replayed code, wrong verifier, redirect mismatch, foreign or malformed `resource`, unknown grant type, bad client credentials) is refused with a 4xx, never a 5xx",
        ["RFC 6749 §5.2", "OAuth 2.1 §3.2.4"];
    "token/errors/rfc-code", Must, true,
        "Each of those refusals carries an `error` code defined for the token endpoint (RFC 6749 §5.2, or `invalid_target` from RFC 8707)",
        ["RFC 6749 §5.2", "RFC 8707 §2"];
    "token/errors/unsupported-grant-type", Must, false,
        "An unknown `grant_type` gets 400 `unsupported_grant_type`",
        ["RFC 6749 §5.2"];
    "token/errors/invalid-client", Must, false,
        "Wrong client credentials (an unknown client, or a wrong secret) get `invalid_client` (401, or 400 without HTTP Basic)",
        ["RFC 6749 §5.2", "RFC 6749 §2.3.1"];
    // ---------------------------------------------------------------- resource server
    "rs/token/valid-accepted", Must, false,
        "A token minted by the target's own AS is accepted at the MCP URL",
        ["MCP 2025-11-25 basic/authorization §Token Handling", "OAuth 2.1 §5.2"];
    "rs/token/garbage", Must, false,
        "A garbage bearer token gets 401",
        ["OAuth 2.1 §5.2", "RFC 6750 §3.1"];
    "rs/token/scheme-case-insensitive", Must, false,
        "`Authorization: bearer <token>` (lower-case scheme) is treated like `Bearer`",
        ["RFC 9110 §11.1", "RFC 6750 §2.1"];
    "rs/token/query-string", Must, false,
        "A token in the query string does not authenticate",
        ["MCP 2025-11-25 basic/authorization §Token Requirements", "OAuth 2.1 §5.1"];
    "rs/audience/cross-workspace", Must, false,
        "A token minted for another resource is rejected with 401",
        ["MCP 2025-11-25 basic/authorization §Token Handling", "RFC 8707 §2"];
    "rs/token/expired", Must, false,
        "An expired token gets 401",
        ["OAuth 2.1 §5.2", "MCP 2025-11-25 basic/authorization §Token Handling"];
    "rs/scope/insufficient-403", Must, false,
        "A valid token lacking a needed scope gets 403, not 401 or 200",
        ["MCP 2025-11-25 basic/authorization §Error Handling", "RFC 6750 §3.1"];
    "rs/scope/insufficient-error", Should, false,
        "That 403 carries `error=\"insufficient_scope\"` and the needed `scope`",
        ["MCP 2025-11-25 basic/authorization §Runtime Insufficient Scope Errors", "RFC 6750 §3.1"];
    "rs/errors/challenge", Must, false,
        "Every 401 from the MCP endpoint carries a Bearer `WWW-Authenticate` challenge",
        ["RFC 9110 §15.5.2", "RFC 6750 §3"];
    "rs/errors/invalid-token-code", Should, false,
        "A 401 for a presented but bad token carries `error=\"invalid_token\"`",
        ["RFC 6750 §3.1"];
    // ---------------------------------------------------------------- MCP after authorization
    "mcp/lifecycle/handshake", Must, false,
        "`initialize` (or `server/discover` for 2026-07-28) succeeds with a schema-valid result",
        ["MCP 2025-11-25 basic/lifecycle §Initialization", "MCP 2026-07-28 server/discover"];
    "mcp/lifecycle/version", Must, false,
        "The negotiated protocol version is one the client offered or a known revision",
        ["MCP 2025-11-25 basic/lifecycle §Version Negotiation"];
    "mcp/transport/content-type", Must, false,
        "A POSTed request is answered with `application/json` or `text/event-stream`",
        ["MCP 2025-11-25 basic/transports §Sending Messages to the Server"];
    "mcp/transport/notification-202", Must, false,
        "A POSTed notification gets 202 with an empty body",
        ["MCP 2025-11-25 basic/transports §Sending Messages to the Server"];
    "mcp/transport/session-id-ascii", Must, false,
        "An issued `Mcp-Session-Id` contains only visible ASCII",
        ["MCP 2025-11-25 basic/transports §Session Management"];
    "mcp/transport/unknown-session-404", Must, false,
        "A request with an unknown session id gets 404",
        ["MCP 2025-11-25 basic/transports §Session Management"];
    "mcp/transport/protocol-version-400", Must, false,
        "An unsupported `MCP-Protocol-Version` header gets 400",
        ["MCP 2025-11-25 basic/transports §Protocol Version Header"];
    "mcp/transport/get-sse-or-405", Must, false,
        "GET on the endpoint returns `text/event-stream` or 405",
        ["MCP 2025-11-25 basic/transports §Listening for Messages from the Server"];
    "mcp/transport/origin-403", Must, false,
        "A request with a foreign `Origin` (correct Host) gets 403",
        ["MCP 2025-11-25 basic/transports §Security Warning"];
    "mcp/batch/accepted-2025-03-26", Must, false,
        "2025-03-26: a JSON array of two requests is answered with both responses",
        ["MCP 2025-03-26 basic/index §Batching", "MCP 2025-03-26 basic/transports §Sending Messages to the Server", "JSON-RPC 2.0 §6"];
    "mcp/batch/rejected", Should, false,
        "From 2025-06-18 a JSON array body is rejected with a 4xx (batching was removed; clients MUST NOT send one)",
        ["MCP 2025-06-18 changelog §Major changes (batching removed)", "MCP 2025-06-18 basic/transports §Sending Messages to the Server"];
    "mcp/batch/initialize-rejected", Should, false,
        "An `initialize` inside a batch is refused, not answered with a result",
        ["MCP 2025-03-26 basic/lifecycle §Initialization", "MCP 2025-03-26 basic/index §Batching"];
    "mcp/transport/origin-chatgpt-accepted", Should, false,
        "A request with ChatGPT's browser-side `Origin: https://chatgpt.com` is served, not refused (apart from the foreign-Origin 403)",
        ["MCP 2025-11-25 basic/transports §Security Warning", "RFC 6454 §7.3"];
    "mcp/schema/envelopes", Must, false,
        "Every JSON-RPC response validates against the negotiated revision's schema",
        ["MCP schema.json JSONRPCResponse", "JSON-RPC 2.0 §5"];
    "mcp/errors/method-not-found", Must, false,
        "An unknown method gets JSON-RPC error -32601",
        ["JSON-RPC 2.0 §5.1", "MCP 2025-11-25 basic/index §Responses"];
    // ---------------------------------------------------------------- 2026-07-28 transport
    "mcp/modern/version-header-mismatch", Must, false,
        "2026-07-28: an `MCP-Protocol-Version` header differing from `_meta` protocolVersion gets 400 with JSON-RPC -32020",
        ["MCP 2026-07-28 basic/transports/streamable-http §Protocol Version Header"];
    "mcp/modern/unsupported-version", Must, false,
        "2026-07-28: an unsupported protocol version gets 400 with JSON-RPC -32022 and `data.supported`",
        ["MCP 2026-07-28 basic/transports/streamable-http §Protocol Version Header", "MCP 2026-07-28 basic/versioning"];
    "mcp/modern/unknown-method", Must, false,
        "2026-07-28: an unknown method gets HTTP 404 with JSON-RPC -32601",
        ["MCP 2026-07-28 basic/transports/streamable-http §Sending Messages to the Server", "JSON-RPC 2.0 §5.1"];
    "mcp/modern/method-header", Must, false,
        "2026-07-28: a missing or mismatched `Mcp-Method` header gets 400 with JSON-RPC -32020",
        ["MCP 2026-07-28 basic/transports/streamable-http §Standard Request Headers", "MCP 2026-07-28 basic/transports/streamable-http §Server Validation"];
    "mcp/modern/name-header", Must, false,
        "2026-07-28: `tools/call` with a missing or mismatched `Mcp-Name` header gets 400 with JSON-RPC -32020",
        ["MCP 2026-07-28 basic/transports/streamable-http §Standard Request Headers", "MCP 2026-07-28 basic/transports/streamable-http §Server Validation"];
    "mcp/modern/name-header-resource", Must, false,
        "2026-07-28: `resources/read` with a missing or mismatched `Mcp-Name` header gets 400 with JSON-RPC -32020",
        ["MCP 2026-07-28 basic/transports/streamable-http §Standard Request Headers", "MCP 2026-07-28 basic/transports/streamable-http §Server Validation"];
    "mcp/modern/name-header-base64", Must, false,
        "2026-07-28: an `Mcp-Name` in the `=?base64?…?=` sentinel form is decoded before it is compared, and the request is served",
        ["MCP 2026-07-28 basic/transports/streamable-http §Value Encoding", "MCP 2026-07-28 basic/transports/streamable-http §Server Validation"];
    "mcp/modern/param-header", Must, false,
        "2026-07-28: a `tools/call` whose `x-mcp-header` parameter has a value is served with a matching `Mcp-Param-{Name}`, and gets 400 with JSON-RPC -32020 when that header is missing or differs",
        ["MCP 2026-07-28 basic/transports/streamable-http §Server Behavior for Custom Headers", "MCP 2026-07-28 basic/transports/streamable-http §Server Validation"];
    "mcp/modern/param-header-valid", Must, false,
        "2026-07-28: every `x-mcp-header` annotation is a unique HTTP token on a string, integer or boolean parameter reachable through `properties` (else clients drop the tool)",
        ["MCP 2026-07-28 basic/transports/streamable-http §Schema Extension", "MCP 2026-07-28 server/tools §x-mcp-header"];
    "mcp/modern/get-405", Should, false,
        "2026-07-28: GET on the endpoint gets 405 (no standalone SSE stream)",
        ["MCP 2026-07-28 basic/transports/streamable-http §Earlier Streamable HTTP Revisions"];
    "mcp/modern/result-type", Must, false,
        "2026-07-28: every result carries `resultType`",
        ["MCP 2026-07-28 basic/index §Responses", "MCP 2026-07-28 server/discover"];
    "mcp/tools/list", Must, false,
        "`tools/list` returns a schema-valid `ListToolsResult`",
        ["MCP 2025-11-25 server/tools §Listing Tools", "MCP schema.json ListToolsResult"];
    "mcp/tools/call", Must, false,
        "The chosen `tools/call` returns a schema-valid `CallToolResult`",
        ["MCP 2025-11-25 server/tools §Calling Tools", "MCP schema.json CallToolResult"];
    "mcp/resources/list", Must, false,
        "`resources/list` returns a schema-valid `ListResourcesResult` when resources are declared",
        ["MCP 2025-11-25 server/resources §Listing Resources"];
    "mcp/resources/read", Must, false,
        "`resources/read` of a listed resource returns a schema-valid `ReadResourceResult`",
        ["MCP 2025-11-25 server/resources §Reading Resources"];
    "mcp/chatgpt/search-contract", Should, false,
        "`search` takes `{query}` and returns one text item holding `{results:[{id,title,url}]}`",
        ["OpenAI Apps SDK: Company knowledge compatibility (search)"];
    "mcp/chatgpt/fetch-contract", Should, false,
        "`fetch` takes `{id}` and returns one text item holding `{id,title,text,url}`",
        ["OpenAI Apps SDK: Company knowledge compatibility (fetch)"];
    // ---------------------------------------------------------------- refresh
    "refresh/rotation", Must, false,
        "A refresh returns a new access token and a new refresh token",
        ["MCP 2025-11-25 basic/authorization §Token Theft", "OAuth 2.1 §4.3.1"];
    "refresh/concurrent", Should, false,
        "Concurrent refreshes with one token: exactly one winner, and the grant survives",
        ["OAuth 2.1 §4.14.2"];
    "refresh/replay-rejected", Must, false,
        "A rotated-out refresh token gets `invalid_grant`",
        ["OAuth 2.1 §4.3.1", "OAuth 2.1 §4.14.2"];
    "refresh/replay-revokes-grant", Should, true,
        "Replaying a rotated refresh token revokes the grant",
        ["OAuth 2.1 §4.14.2"];
    "refresh/resource-consistent", Should, false,
        "A refresh asking for a different `resource` is refused",
        ["RFC 8707 §2"];
    // ---------------------------------------------------------------- revocation
    "revocation/advertised", May, false,
        "AS metadata advertises an RFC 7009 `revocation_endpoint`",
        ["RFC 8414 §2", "RFC 7009 §2"];
    "revocation/access-token", Must, true,
        "Revoking an access token answers 200",
        ["RFC 7009 §2.1", "RFC 7009 §2.2"];
    "rs/token/revoked", Must, true,
        "A revoked access token is rejected by the MCP endpoint (time to rejection reported)",
        ["RFC 7009 §2", "OAuth 2.1 §5.2"];
    "revocation/refresh-token", Must, true,
        "Revoking a refresh token answers 200 and the token stops refreshing",
        ["RFC 7009 §2.1"];
    "revocation/unknown-token", Must, false,
        "Revoking an unknown token answers 200",
        ["RFC 7009 §2.2"];
    "revocation/public-client", Must, true,
        "A public client (`token_endpoint_auth_method=none`) can revoke with just `client_id`",
        ["RFC 7009 §2.1", "OAuth 2.1 §2.4"];
    // ---------------------------------------------------------------- robustness (fuzzing)
    "mcp/robustness/no-5xx", Should, false,
        "Generated malformed JSON-RPC bodies and odd headers never get a 5xx",
        ["RFC 9110 §15.5", "JSON-RPC 2.0 §5.1", "MCP 2025-11-25 basic/transports §Sending Messages to the Server"];
    "mcp/robustness/no-html", Should, false,
        "Generated malformed requests never get an HTML body",
        ["MCP 2025-11-25 basic/transports §Sending Messages to the Server", "RFC 6750 §3"];
    "mcp/robustness/json-errors", Should, false,
        "Every error body answering them (4xx, or 200) is JSON: a JSON-RPC error or an OAuth error",
        ["JSON-RPC 2.0 §5.1", "MCP 2025-11-25 basic/transports §Sending Messages to the Server", "RFC 6750 §3"];
    "mcp/robustness/survives", Should, false,
        "After the generated requests, a valid `tools/list` still succeeds",
        ["MCP 2025-11-25 server/tools §Listing Tools", "JSON-RPC 2.0 §5"];
    // ---------------------------------------------------------------- client mistakes, anywhere
    "errors/no-5xx-on-mistakes", Must, true,
        "No request the harness built to be wrong (token endpoint, registration, a bad bearer token at the MCP endpoint) gets a 5xx: a client mistake is a 4xx",
        ["RFC 9110 §15.5", "RFC 9110 §15.6", "RFC 6749 §5.2", "RFC 6750 §3.1"];
    // ---------------------------------------------------------------- client compatibility
    "compat/connects", Compat, true,
        "The run's client, exactly as its profile sends it, can register, authorize and call a tool",
        ["conformance/src/profile.rs (the client's captured flow and its sources)", "MCP 2025-11-25 basic/authorization §Dynamic Client Registration", "RFC 8252 §7"];
}

/// Looks a check up by id.
pub fn find(id: &str) -> Option<&'static CheckDef> {
    CHECKS.iter().find(|c| c.id == id)
}

/// Prefix selection for `--only` / `--skip`: a prefix matches whole path segments
/// (`rs/token` matches `rs/token/garbage`, not `rs/tokens`).
pub fn matches_prefix(id: &str, prefix: &str) -> bool {
    let p = prefix.trim_end_matches('/');
    id == p || id.strip_prefix(p).is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_hierarchical_and_referenced() {
        let mut seen = HashSet::new();
        for c in CHECKS {
            assert!(seen.insert(c.id), "duplicate id {}", c.id);
            assert!(c.id.split('/').count() >= 2, "{} is not hierarchical", c.id);
            assert!(!c.refs.is_empty(), "{} lacks a reference", c.id);
            assert!(
                c.id.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "/-".contains(ch)),
                "{} has odd characters",
                c.id
            );
        }
    }

    #[test]
    fn prefix_matches_whole_segments() {
        assert!(matches_prefix("rs/token/garbage", "rs/token"));
        assert!(matches_prefix("rs/token/garbage", "rs/token/"));
        assert!(matches_prefix("rs/token/garbage", "rs/token/garbage"));
        assert!(!matches_prefix("rs/tokens/x", "rs/token"));
        assert!(!matches_prefix("rs/token/garbage", "rs/token/garb"));
    }
}
