//! The authorization endpoint (RFC 6749 §4.1.1, OAuth 2.1 §4.1, RFC 8707, RFC 9207), without HTTP.
//!
//! [`validate`] checks a request in the order that decides *where* an error may go: the client
//! and redirect URI first (failures there are shown as a page, never redirected), then everything
//! else (failures are redirected back with `error`, `state` and `iss`). [`prepare`] decides what a
//! signed-in user sees; [`decide`] applies the consent form's decision.
use super::context::{Ctx, Params, internal};
use super::{audit, cimd, pkce, redirect, scopes};
use crate::error::OAuthError;
use crate::secrets::{AUTH_CODE_PREFIX, hash_secret, new_secret};
use crate::store::UserRecord;
use crate::store::audit::AuditEntry;
use crate::store::oauth::{ClientRecord, NewAuthCode};

/// Parameters carried from the authorization request through sign-in and consent.
pub const CARRIED_PARAMS: [&str; 8] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "code_challenge",
    "code_challenge_method",
    "resource",
];

/// The workspace a request names with `resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub slug: String,
    pub name: String,
    pub resource: String,
}

/// A request that passed validation.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    pub client: ClientRecord,
    pub redirect_uri: String,
    pub redirect_uri_explicit: bool,
    pub state: Option<String>,
    pub scopes: Vec<String>,
    pub code_challenge: String,
    /// `None` for clients that send no `resource` (2025-03-26): the user picks a workspace.
    pub target: Option<Target>,
    /// `prompt=none`: never show a page; fail with `login_required` / `consent_required`.
    pub prompt_none: bool,
    /// The original parameters worth carrying as hidden fields (first value of each).
    pub carried: Vec<(String, String)>,
}

/// Why a request was refused.
#[derive(Debug, Clone)]
pub enum Rejection {
    /// The client or redirect URI cannot be trusted: show an error page, never redirect.
    Page(String),
    /// The request is wrong in a way RFC 6749 §4.1.2.1 reports to the client. Whether the browser
    /// is sent to `redirect` or shown a page is the error-redirect policy ([`redirect_policy`]).
    ClientError(ClientError),
    /// Over a limit (429) or busy (503): show a page with `Retry-After`.
    Later {
        busy: bool,
        retry_after: i64,
        text: String,
    },
    Internal(OAuthError),
}

/// An error for the client: its code, description, and the error redirect (RFC 6749 §4.1.2.1
/// with `state` and RFC 9207 `iss`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    pub code: String,
    pub description: String,
    pub client_id: String,
    pub redirect: String,
}

/// How an error reaches the client (RFC 9700 §4.11.2: the authorization server must not be an
/// open redirector, so it authenticates the user before any redirect and redirects only where
/// the user agreed to go).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectPolicy {
    /// Send the browser to the client's redirect URI: the signed-in user has a live grant for
    /// this client, i.e. approved it on a consent page that named its redirect host.
    Redirect,
    /// Not signed in: sign in first, then decide again.
    SignInFirst,
    /// Show an error page naming the error, with a link the user may follow back to the client.
    Page,
}

/// The error-redirect policy for an error raised before the user decided anything.
pub async fn redirect_policy(
    ctx: &Ctx<'_>,
    client_id: &str,
    user: Option<&UserRecord>,
    prompt_none: bool,
) -> Result<RedirectPolicy, OAuthError> {
    let Some(user) = user else {
        // `prompt=none` forbids showing a sign-in form.
        return Ok(if prompt_none {
            RedirectPolicy::Page
        } else {
            RedirectPolicy::SignInFirst
        });
    };
    let approved = ctx
        .store
        .user_has_live_grant_for_client(&user.id, client_id)
        .await
        .map_err(internal)?;
    Ok(if approved {
        RedirectPolicy::Redirect
    } else {
        RedirectPolicy::Page
    })
}

/// One of the signed-in user's workspaces offered on the consent page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceChoice {
    pub slug: String,
    pub name: String,
}

/// What the consent page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentView {
    pub client_name: String,
    pub client_id: String,
    /// Registered through DCR: nobody vouched for the name.
    pub self_registered: bool,
    /// A Client ID Metadata Document client: the host that serves its document (AUTH-CIMD-03).
    pub verified_domain: Option<String>,
    /// Every redirect URI of the client is on a loopback host (AUTH-CIMD-03 asks for a warning).
    pub localhost_only: bool,
    pub redirect_host: String,
    /// Where the browser goes after the decision, in plain words ("the Cursor app on this
    /// computer", "chatgpt.com").
    pub destination: String,
    /// The redirect goes to a known hosted client's site (host, product name): only that site can
    /// receive the code, so the client is shown as verified by that domain.
    pub verified_host: Option<(String, String)>,
    pub redirect_uri: String,
    /// One entry when the request named a resource; all the user's workspaces otherwise.
    pub workspaces: Vec<WorkspaceChoice>,
    pub workspace_fixed: bool,
    pub scopes: Vec<(String, &'static str)>,
}

/// What a signed-in user gets for a valid request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    /// Send the browser here (a code, or an error after the user's own decision).
    Redirect(String),
    /// An error the user did not cause by a decision (`consent_required`): subject to
    /// [`redirect_policy`].
    Error(ClientError),
    Consent(ConsentView),
    /// The user is not a member of the requested workspace.
    NotMember {
        slug: String,
        name: String,
    },
    /// The user belongs to no workspace at all.
    NoWorkspace,
}

/// The consent form's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Deny,
}

/// Appends `pairs` to a redirect URI's query.
pub fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut u) => {
            u.query_pairs_mut().extend_pairs(pairs);
            u.to_string()
        }
        Err(_) => redirect_uri.to_string(),
    }
}

/// An error redirect: `error`, `error_description`, `state` (if any) and `iss`.
pub fn error_redirect(
    ctx: &Ctx<'_>,
    redirect_uri: &str,
    state: Option<&str>,
    code: &str,
    description: &str,
) -> String {
    let mut pairs = vec![("error", code), ("error_description", description)];
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", ctx.config.issuer()));
    redirect_with(redirect_uri, &pairs)
}

/// Validates an authorization request (see module docs for the order).
pub async fn validate(ctx: &Ctx<'_>, params: &Params) -> Result<AuthorizeRequest, Rejection> {
    let page = |e: OAuthError| Rejection::Page(e.description);
    let client_id = params
        .get("client_id")
        .map_err(page)?
        .ok_or_else(|| Rejection::Page("The request has no client_id.".into()))?;
    let client = if cimd::is_url_client_id(client_id) {
        match cimd::resolve(ctx, client_id).await {
            Ok(c) => Some(c),
            Err(cimd::CimdError::Refused(why)) => return Err(Rejection::Page(why)),
            Err(cimd::CimdError::Later {
                busy,
                retry_after,
                text,
            }) => {
                return Err(Rejection::Later {
                    busy,
                    retry_after,
                    text,
                });
            }
            Err(cimd::CimdError::Internal(e)) => return Err(Rejection::Internal(e)),
        }
    } else {
        ctx.store
            .client(client_id)
            .await
            .map_err(|e| Rejection::Internal(internal(e)))?
            .filter(|c| c.kind != "builtin" && c.kind != "cimd")
    };
    let client = client
        .ok_or_else(|| {
            Rejection::Page(format!(
                "The application that sent you here is not registered with this server (client_id {client_id:?}). \
                 Remove the connector in the application and add it again so it can register."
            ))
        })?;
    let (redirect_uri, explicit) = match params.get("redirect_uri").map_err(page)? {
        Some(r) => match redirect::find_match(&client.redirect_uris, r) {
            Some(_) => (r.to_string(), true),
            None => {
                return Err(Rejection::Page(format!(
                    "The redirect_uri {r:?} is not registered for the application {:?}, so this server will not send you there.",
                    client.client_name
                )));
            }
        },
        None if client.redirect_uris.len() == 1 => (client.redirect_uris[0].clone(), false),
        None => {
            return Err(Rejection::Page(
                "The request has no redirect_uri and the client registered several.".into(),
            ));
        }
    };

    // From here on, errors go back to the client.
    let state = params
        .0
        .iter()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.clone())
        .filter(|s| !s.is_empty());
    // An over-long state is refused, and not echoed.
    let state_too_long = state
        .as_ref()
        .is_some_and(|s| s.len() > crate::limits::MAX_STATE);
    let state = state.filter(|_| !state_too_long);
    let client_id = client.client_id.clone();
    let fail = |code: &str, d: &str| {
        Rejection::ClientError(ClientError {
            code: code.to_string(),
            description: d.to_string(),
            client_id: client_id.clone(),
            redirect: error_redirect(ctx, &redirect_uri, state.as_deref(), code, d),
        })
    };
    let get = |name: &str| {
        params
            .get(name)
            .map_err(|e| fail("invalid_request", &e.description))
    };

    if state_too_long {
        return Err(fail(
            "invalid_request",
            &format!("state is longer than {} bytes", crate::limits::MAX_STATE),
        ));
    }
    if get("scope")?.is_some_and(|v| v.len() > crate::limits::MAX_SCOPE) {
        return Err(fail(
            "invalid_scope",
            &format!("scope is longer than {} bytes", crate::limits::MAX_SCOPE),
        ));
    }
    match get("response_type")? {
        Some("code") => {}
        None => return Err(fail("invalid_request", "missing response_type")),
        Some(_) => {
            return Err(fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
    }
    get("state")?;
    let Some(challenge) = get("code_challenge")? else {
        return Err(fail(
            "invalid_request",
            "PKCE is required: send code_challenge with code_challenge_method=S256",
        ));
    };
    if get("code_challenge_method")? != Some("S256") {
        return Err(fail(
            "invalid_request",
            "code_challenge_method must be S256",
        ));
    }
    if !pkce::valid_challenge(challenge) {
        return Err(fail(
            "invalid_request",
            "code_challenge must be a base64url SHA-256 (43 characters)",
        ));
    }
    if params.count("resource") > 1 {
        return Err(fail("invalid_target", "only one resource may be requested"));
    }
    let target = match get("resource")? {
        None => None,
        Some(resource) => {
            let invalid = || {
                fail(
                    "invalid_target",
                    "resource must be the MCP URL of a workspace on this server",
                )
            };
            let slug = ctx.config.slug_for_resource(resource).ok_or_else(invalid)?;
            let ws = ctx
                .store
                .workspace(slug)
                .await
                .map_err(|e| Rejection::Internal(internal(e)))?
                .ok_or_else(invalid)?;
            Some(Target {
                slug: ws.slug,
                name: ws.name,
                resource: resource.to_string(),
            })
        }
    };
    let scopes =
        scopes::resolve_requested(get("scope")?).map_err(|e| fail(e.code, &e.description))?;
    let prompt_none =
        get("prompt")?.is_some_and(|p| p.split_ascii_whitespace().any(|v| v == "none"));
    let carried = CARRIED_PARAMS
        .iter()
        .filter_map(|k| params.0.iter().find(|(n, _)| n == k).cloned())
        .collect();
    Ok(AuthorizeRequest {
        client,
        redirect_uri,
        redirect_uri_explicit: explicit,
        state,
        scopes,
        code_challenge: challenge.to_string(),
        target,
        prompt_none,
        carried,
    })
}

impl AuthorizeRequest {
    pub fn client_error(&self, ctx: &Ctx<'_>, code: &str, description: &str) -> ClientError {
        ClientError {
            code: code.into(),
            description: description.into(),
            client_id: self.client.client_id.clone(),
            redirect: self.error_redirect(ctx, code, description),
        }
    }

    pub fn error_redirect(&self, ctx: &Ctx<'_>, code: &str, description: &str) -> String {
        error_redirect(
            ctx,
            &self.redirect_uri,
            self.state.as_deref(),
            code,
            description,
        )
    }
}

/// Issues a code for `slug`, audited as `authorization_approved` with `detail` in the same
/// transaction, and returns the success redirect (`code`, `state`, `iss`).
async fn issue_code(
    ctx: &Ctx<'_>,
    req: &AuthorizeRequest,
    user: &UserRecord,
    slug: &str,
    detail: String,
) -> Result<String, OAuthError> {
    if req.client.kind == "cimd" {
        // The first code of a metadata-document client is what creates its row.
        cimd::persist(ctx, &req.client).await?;
    }
    let code = new_secret(AUTH_CODE_PREFIX);
    let resource = ctx.config.mcp_url(slug);
    let approved = audit::prepare(
        ctx,
        entry(req, user, Some(slug), "authorization_approved", detail),
    );
    ctx.store
        .insert_auth_code(
            &NewAuthCode {
                code_hash: hash_secret(&code),
                client_id: req.client.client_id.clone(),
                user_id: user.id.clone(),
                workspace_slug: slug.to_string(),
                resource,
                scopes: req.scopes.clone(),
                redirect_uri: req.redirect_uri.clone(),
                redirect_uri_explicit: req.redirect_uri_explicit,
                code_challenge: req.code_challenge.clone(),
                created_at: ctx.now,
                expires_at: ctx.now + ctx.config.auth_code_ttl,
            },
            &approved,
        )
        .await
        .map_err(internal)?;
    audit::announce(&approved);
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = &req.state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", ctx.config.issuer()));
    Ok(redirect_with(&req.redirect_uri, &pairs))
}

fn entry(
    req: &AuthorizeRequest,
    user: &UserRecord,
    slug: Option<&str>,
    event: &str,
    detail: String,
) -> AuditEntry {
    AuditEntry {
        user_id: Some(user.id.clone()),
        username: Some(user.username.clone()),
        workspace_slug: slug.map(str::to_owned),
        client_id: Some(req.client.client_id.clone()),
        ..AuditEntry::new(event, detail)
    }
}

/// Decides what a signed-in user sees. An existing live grant of this client on this workspace
/// covering the requested scopes skips consent (quirk Q16: reconnects land here).
pub async fn prepare(
    ctx: &Ctx<'_>,
    req: &AuthorizeRequest,
    user: &UserRecord,
) -> Result<Prepared, OAuthError> {
    let workspaces: Vec<WorkspaceChoice> = match &req.target {
        Some(t) => {
            if ctx
                .store
                .membership(&t.slug, &user.id)
                .await
                .map_err(internal)?
                .is_none()
            {
                return Ok(Prepared::NotMember {
                    slug: t.slug.clone(),
                    name: t.name.clone(),
                });
            }
            vec![WorkspaceChoice {
                slug: t.slug.clone(),
                name: t.name.clone(),
            }]
        }
        None => ctx
            .store
            .memberships_of(&user.id)
            .await
            .map_err(internal)?
            .into_iter()
            .map(|m| WorkspaceChoice {
                slug: m.workspace_slug,
                name: m.workspace_name,
            })
            .collect(),
    };
    if workspaces.is_empty() {
        return Ok(Prepared::NoWorkspace);
    }
    if workspaces.len() == 1 {
        let slug = &workspaces[0].slug;
        if ctx
            .store
            .live_grant_covering(&req.client.client_id, &user.id, slug, &req.scopes)
            .await
            .map_err(internal)?
        {
            let detail = format!("consent remembered; scopes {}", req.scopes.join(" "));
            let to = issue_code(ctx, req, user, slug, detail).await?;
            return Ok(Prepared::Redirect(to));
        }
    }
    if req.prompt_none {
        return Ok(Prepared::Error(req.client_error(
            ctx,
            "consent_required",
            "the user has not approved this client",
        )));
    }
    let dest = redirect::destination(&req.redirect_uri);
    Ok(Prepared::Consent(ConsentView {
        client_name: req.client.client_name.clone(),
        client_id: req.client.client_id.clone(),
        self_registered: req.client.kind == "dcr" && dest.known_host.is_none(),
        verified_domain: (req.client.kind == "cimd")
            .then(|| redirect::host_of(&req.client.client_id)),
        destination: dest.words,
        verified_host: dest.known_host.map(|(h, n)| (h, n.to_string())),
        localhost_only: req.client.kind == "cimd"
            && req
                .client
                .redirect_uris
                .iter()
                .all(|u| redirect::is_loopback_uri(u)),
        redirect_host: redirect::host_of(&req.redirect_uri),
        redirect_uri: req.redirect_uri.clone(),
        workspace_fixed: req.target.is_some(),
        workspaces,
        scopes: req
            .scopes
            .iter()
            .map(|s| (s.clone(), scopes::describe(s)))
            .collect(),
    }))
}

/// Applies the consent decision. `workspace` is the slug chosen on the page when the request
/// named no resource. Returns where to send the browser.
pub async fn decide(
    ctx: &Ctx<'_>,
    req: &AuthorizeRequest,
    user: &UserRecord,
    decision: Decision,
    workspace: Option<&str>,
) -> Result<Prepared, OAuthError> {
    let slug = match (&req.target, workspace) {
        (Some(t), _) => t.slug.clone(),
        (None, Some(w)) => w.to_string(),
        (None, None) if decision == Decision::Deny => String::new(),
        (None, None) => {
            return Ok(Prepared::Redirect(req.error_redirect(
                ctx,
                "invalid_request",
                "no workspace was chosen",
            )));
        }
    };
    if decision == Decision::Deny {
        audit::record(
            ctx,
            entry(
                req,
                user,
                Some(&slug).filter(|s| !s.is_empty()).map(String::as_str),
                "authorization_denied",
                "the user denied access".into(),
            ),
        )
        .await;
        return Ok(Prepared::Redirect(req.error_redirect(
            ctx,
            "access_denied",
            "the user denied the request",
        )));
    }
    let Some(m) = ctx
        .store
        .membership(&slug, &user.id)
        .await
        .map_err(internal)?
    else {
        let name = ctx
            .store
            .workspace(&slug)
            .await
            .map_err(internal)?
            .map(|w| w.name)
            .unwrap_or_else(|| slug.clone());
        return Ok(Prepared::NotMember { slug, name });
    };
    let detail = format!("approved scopes {}", req.scopes.join(" "));
    let to = issue_code(ctx, req, user, &m.workspace_slug, detail).await?;
    Ok(Prepared::Redirect(to))
}
