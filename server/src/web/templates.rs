//! Template contexts (askama, auto-escaped HTML). One struct per page in `server/templates/`.
use askama::Template;

/// Who is looking at a page (for the header): username and the session's CSRF token.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    pub username: Option<String>,
    pub csrf: String,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub nonce: String,
    pub viewer: Viewer,
    pub title: String,
    pub text: String,
    pub links: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub nonce: String,
    pub viewer: Viewer,
    pub csrf: String,
    pub next: String,
    pub username: String,
    pub error: Option<String>,
    /// True when signing in to approve an application.
    pub for_authorization: bool,
}

pub struct WorkspaceOption {
    pub slug: String,
    pub name: String,
}

pub struct ScopeLine {
    pub scope: String,
    pub description: String,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage {
    pub nonce: String,
    pub viewer: Viewer,
    pub csrf: String,
    pub username: String,
    pub client_name: String,
    pub client_id: String,
    pub self_registered: bool,
    /// CIMD clients: the host serving the client's metadata document.
    pub verified_domain: Option<String>,
    pub localhost_only: bool,
    pub redirect_host: String,
    pub redirect_uri: String,
    /// Where the browser goes after the decision, in plain words.
    pub destination: String,
    /// A known hosted client's site the redirect goes to (host, product name).
    pub verified_host: Option<(String, String)>,
    pub fixed_workspace: Option<WorkspaceOption>,
    pub workspaces: Vec<WorkspaceOption>,
    pub scopes: Vec<ScopeLine>,
    pub carried: Vec<(String, String)>,
    pub switch_url: String,
}

pub struct GrantRow {
    pub id: String,
    pub client_name: String,
    pub self_registered: bool,
    pub username: String,
    pub workspace: String,
    pub scopes: Vec<ScopeLine>,
    pub created: String,
    pub last_used: String,
}

pub struct AdminSection {
    pub workspace: String,
    pub grants: Vec<GrantRow>,
}

#[derive(Template)]
#[template(path = "connected_apps.html")]
pub struct ConnectedAppsPage {
    pub nonce: String,
    pub viewer: Viewer,
    pub notice: Option<String>,
    pub grants: Vec<GrantRow>,
    pub admin: Vec<AdminSection>,
}

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub nonce: String,
    pub viewer: Viewer,
    pub workspaces: Vec<WorkspaceOption>,
}

pub struct Status {
    pub wiki_pages: i64,
    pub github_issues: i64,
    pub repos: Vec<String>,
    pub last_sync: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub nonce: String,
    pub viewer: Viewer,
    pub slug: String,
    pub name: String,
    pub role: String,
    pub is_admin: bool,
    pub mcp_url: String,
    pub status: Option<Status>,
    pub others: Vec<WorkspaceOption>,
}

pub struct AuditRow {
    pub at: String,
    pub event: String,
    pub who: String,
    pub client: String,
    pub ip: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
pub struct AuditPage {
    pub nonce: String,
    pub viewer: Viewer,
    pub slug: String,
    pub name: String,
    pub rows: Vec<AuditRow>,
}

#[derive(Template)]
#[template(path = "document.html")]
pub struct DocumentPage {
    pub nonce: String,
    pub viewer: Viewer,
    pub title: String,
    /// Already sanitised HTML (see `web::markdown`).
    pub body_html: String,
    pub breadcrumb: Vec<(String, String)>,
    pub footer: Option<String>,
}
