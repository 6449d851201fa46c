//! Personal access tokens minted by `gigamcp admin token issue`: an ordinary grant for the
//! built-in `gigamcp-admin-cli` client, so they show up (and can be revoked) in Connected apps.
use crate::config::Config;
use crate::config::SUPPORTED_SCOPES;
use crate::store::tokens::IssuedToken;
use crate::store::{Store, parse_scopes};

pub const ADMIN_CLI_CLIENT_ID: &str = "gigamcp-admin-cli";

#[derive(Debug, thiserror::Error)]
pub enum PatError {
    #[error("no workspace {0:?}")]
    UnknownWorkspace(String),
    #[error("no user {0:?}")]
    UnknownUser(String),
    #[error("user {0:?} is not a member of workspace {1:?}")]
    NotMember(String, String),
    #[error("unknown scope {0:?} (supported: mcp:read mcp:tools)")]
    UnknownScope(String),
    #[error("ttl must be between 60 and 31536000 seconds")]
    BadTtl,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Issues an access token for `username` bound to workspace `slug`'s MCP URL.
pub async fn issue_personal_token(
    store: &Store,
    config: &Config,
    slug: &str,
    username: &str,
    scope: &str,
    ttl: i64,
    now: i64,
) -> Result<IssuedToken, PatError> {
    if !(60..=31_536_000).contains(&ttl) {
        return Err(PatError::BadTtl);
    }
    let scopes = parse_scopes(scope);
    if let Some(bad) = scopes
        .iter()
        .find(|s| !SUPPORTED_SCOPES.contains(&s.as_str()))
    {
        return Err(PatError::UnknownScope(bad.clone()));
    }
    store
        .workspace(slug)
        .await?
        .ok_or_else(|| PatError::UnknownWorkspace(slug.into()))?;
    let user = store
        .user_by_username(username)
        .await?
        .ok_or_else(|| PatError::UnknownUser(username.into()))?;
    store
        .membership(slug, &user.id)
        .await?
        .ok_or_else(|| PatError::NotMember(username.into(), slug.into()))?;
    let grant = store
        .create_grant(
            ADMIN_CLI_CLIENT_ID,
            &user.id,
            slug,
            &config.mcp_url(slug),
            &scopes,
            now,
        )
        .await?;
    Ok(store.issue_access_token(&grant, &scopes, now, ttl).await?)
}
