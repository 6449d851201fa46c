//! Dynamic Client Registration (RFC 7591 §3).
//!
//! Accepts ChatGPT's body as observed (`client_name`, its redirect URIs, `client_secret_post`, no
//! `scope`), Claude's, and public clients with `none`. Unknown metadata is ignored; unsupported
//! grant or response types are dropped (§3.2.1 lets the server replace values) as long as
//! `authorization_code` / `code` remain. A requested `scope` is ignored: grants take their scopes
//! from the authorization request (quirk Q10).
use super::audit;
use super::context::Ctx;
use super::metadata::CLIENT_AUTH_METHODS;
use crate::error::OAuthError;
use crate::secrets::{CLIENT_SECRET_PREFIX, hash_secret, new_id, new_secret};
use crate::store::audit::AuditEntry;
use crate::store::counters::Reservation;
use crate::store::oauth::ClientRecord;
use serde_json::{Map, Value, json};

const MAX_REDIRECT_URIS: usize = 20;
const MAX_NAME: usize = 200;

fn metadata_error(d: impl Into<String>) -> OAuthError {
    OAuthError::new("invalid_client_metadata", d)
}

/// An optional array-of-strings member of client metadata (DCR bodies and CIMD documents).
pub(super) fn string_list(
    obj: &Map<String, Value>,
    key: &str,
) -> Result<Option<Vec<String>>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{key} must be an array of strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(format!("{key} must be an array of strings")),
    }
}

fn optional_string<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, OAuthError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(metadata_error(format!("{key} must be a string"))),
    }
}

/// The registration rate limit: `registration_rate_per_minute` per client address, counted in the
/// database so it holds across replicas (429 `too_many_requests` with `Retry-After`).
pub async fn admit(ctx: &Ctx<'_>) -> Result<(), OAuthError> {
    let subject = format!("register:ip:{}", ctx.ip.as_deref().unwrap_or("unknown"));
    let limit = i64::from(ctx.config.registration_rate_per_minute.max(1));
    match ctx
        .store
        .reserve(&subject, ctx.now, 60, limit)
        .await
        .map_err(super::context::internal)?
    {
        Reservation::Granted { .. } => Ok(()),
        Reservation::Refused { retry_after, .. } => Err(OAuthError::new(
            "too_many_requests",
            format!(
                "too many client registrations from this address; try again in {} s",
                retry_after.max(1)
            ),
        )
        .with_retry_after(retry_after)),
    }
}

/// Registers a client from a JSON body; returns the RFC 7591 §3.2.1 response document.
pub async fn register(ctx: &Ctx<'_>, body: &[u8]) -> Result<Value, OAuthError> {
    let parsed: Value = serde_json::from_slice(body)
        .map_err(|e| metadata_error(format!("the body must be a JSON object: {e}")))?;
    let Value::Object(obj) = parsed else {
        return Err(metadata_error("the body must be a JSON object"));
    };

    let redirect_uris = string_list(&obj, "redirect_uris")
        .map_err(metadata_error)?
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            OAuthError::new(
                "invalid_redirect_uri",
                "redirect_uris is required and must list at least one URI",
            )
        })?;
    if redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(OAuthError::new(
            "invalid_redirect_uri",
            format!("at most {MAX_REDIRECT_URIS} redirect URIs"),
        ));
    }

    // RFC 7591 §2: the default method is client_secret_basic.
    let method =
        optional_string(&obj, "token_endpoint_auth_method")?.unwrap_or("client_secret_basic");
    if !CLIENT_AUTH_METHODS.contains(&method) {
        return Err(metadata_error(format!(
            "token_endpoint_auth_method {method:?} is not supported (supported: {})",
            CLIENT_AUTH_METHODS.join(", ")
        )));
    }
    // RFC 7591 §3.2.2: one unacceptable URI refuses the registration, and the error names it.
    for uri in &redirect_uris {
        ctx.config
            .redirect
            .validate(uri, method == "none")
            .map_err(|why| OAuthError::new("invalid_redirect_uri", why))?;
    }

    let grant_types =
        supported_grant_types(string_list(&obj, "grant_types").map_err(metadata_error)?);
    if !grant_types.iter().any(|g| g == "authorization_code") {
        return Err(metadata_error(
            "grant_types must include authorization_code (refresh_token is also supported)",
        ));
    }
    let response_types = string_list(&obj, "response_types")
        .map_err(metadata_error)?
        .unwrap_or_else(|| vec!["code".into()]);
    if !response_types.iter().any(|r| r == "code") {
        return Err(metadata_error("response_types must include code"));
    }
    let response_types = vec!["code".to_string()];

    let client_name: String = optional_string(&obj, "client_name")?
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME)
        .collect::<String>()
        .trim()
        .to_string();
    let client_name = if client_name.is_empty() {
        "Unnamed client".to_string()
    } else {
        client_name
    };
    let application_type =
        optional_string(&obj, "application_type")?.filter(|t| matches!(*t, "web" | "native"));

    let client_id = format!("c_{}", new_id());
    let secret = (method != "none").then(|| new_secret(CLIENT_SECRET_PREFIX));
    let mut doc = json!({
        "client_id": client_id,
        "client_id_issued_at": ctx.now,
        "client_name": client_name,
        "redirect_uris": redirect_uris,
        "grant_types": grant_types,
        "response_types": response_types,
        "token_endpoint_auth_method": method,
    });
    if let Some(t) = application_type {
        doc["application_type"] = json!(t);
    }
    let record = ClientRecord {
        client_id: client_id.clone(),
        client_secret_hash: secret.as_deref().map(hash_secret),
        client_name: client_name.clone(),
        kind: "dcr".into(),
        redirect_uris,
        token_endpoint_auth_method: method.into(),
        grant_types,
        response_types,
        metadata: doc.to_string(),
        created_at: ctx.now,
        last_used_at: None,
    };
    ctx.store
        .insert_client(&record)
        .await
        .map_err(super::context::internal)?;
    audit::record(
        ctx,
        AuditEntry {
            client_id: Some(client_id),
            ..AuditEntry::new(
                "client_registered",
                format!("{client_name:?} with {method}"),
            )
        },
    )
    .await;
    if let Some(s) = secret {
        doc["client_secret"] = json!(s);
        doc["client_secret_expires_at"] = json!(0);
    }
    Ok(doc)
}

/// The grant types this server supports out of `requested` (RFC 7591 §2 default:
/// `authorization_code`), in order, without duplicates. Shared by DCR and CIMD clients.
pub(super) fn supported_grant_types(requested: Option<Vec<String>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for g in requested.unwrap_or_else(|| vec!["authorization_code".into()]) {
        if (g == "authorization_code" || g == "refresh_token") && !out.contains(&g) {
            out.push(g);
        }
    }
    out
}
