//! The `gigamcp` command line: `serve` and the `admin` commands.
//!
//! Admin commands open the same database as `serve` (SQLite in WAL mode, or PostgreSQL) and work
//! while the server runs; their revocations reach a running server through `auth_epoch`.
use crate::auth::pat::issue_personal_token;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::state::AppState;
use crate::store::Store;
use crate::store::settings::PUBLIC_URL;
use crate::store::users::UserError;
use crate::store::workspaces::WorkspaceError;
use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Default password of the demo users when `GIGAMCP_DEMO_PASSWORD` is not set.
pub const DEFAULT_DEMO_PASSWORD: &str = "gigamcp-demo";

#[derive(Parser, Debug)]
#[command(
    name = "gigamcp",
    version,
    about = "Multi-workspace MCP server with a built-in OAuth 2.1 authorization server"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// `serve --worker-threads`, when given: how many workers the runtime gets.
    pub fn worker_threads(&self) -> Option<usize> {
        match &self.command {
            Command::Serve(a) => a.worker_threads.map(usize::from),
            Command::Admin { .. } => None,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct StorageArgs {
    /// Directory for the embedded SQLite database.
    #[arg(long, env = "GIGAMCP_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
    /// Database URL (`sqlite://…` or `postgres://…`); overrides --data-dir.
    #[arg(long, env = "GIGAMCP_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Administer workspaces, users, memberships, tokens and content.
    Admin {
        #[command(flatten)]
        storage: StorageArgs,
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Toggle {
    On,
    Off,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "GIGAMCP_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Externally visible origin (e.g. https://mcp.example.com behind a TLS proxy); used in all
    /// metadata, challenges and token audiences. Default: http://<bind>.
    #[arg(long, env = "GIGAMCP_PUBLIC_URL")]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Seed the demo workspaces, users and knowledge base from fixtures/ (idempotent).
    #[arg(long)]
    pub demo: bool,
    /// Directory holding `knowledge/<workspace>/` fixtures for --demo.
    #[arg(long, env = "GIGAMCP_FIXTURES_DIR")]
    pub fixtures_dir: Option<PathBuf>,
    /// Extra browser origin allowed to call the MCP endpoint (repeatable).
    #[arg(
        long = "allowed-origin",
        env = "GIGAMCP_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// Base URL of the GitHub REST API for the GitHub connector.
    #[arg(
        long,
        env = "GIGAMCP_GITHUB_API_URL",
        default_value = "https://api.github.com"
    )]
    pub github_api_url: String,
    /// Access-token lifetime in seconds.
    #[arg(long, env = "GIGAMCP_ACCESS_TOKEN_TTL", default_value_t = 3600)]
    pub access_token_ttl: i64,
    /// Seconds a rotated refresh token keeps answering with its successor pair.
    #[arg(long, env = "GIGAMCP_REFRESH_GRACE", default_value_t = 30)]
    pub refresh_grace: i64,
    /// Seconds within which a repeated code redemption by the same client is a retry (not revoked).
    #[arg(long, env = "GIGAMCP_DUPLICATE_CODE_WINDOW", default_value_t = 5)]
    pub duplicate_code_window: i64,
    /// Dynamic client registrations allowed per client IP per minute.
    #[arg(long, env = "GIGAMCP_REGISTRATION_RATE_LIMIT", default_value_t = 20)]
    pub registration_rate_limit: u32,
    #[arg(long, env = "GIGAMCP_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Days the audit log keeps an entry; older entries are deleted in the background (0: forever).
    #[arg(long, env = "GIGAMCP_AUDIT_RETENTION_DAYS", default_value_t = 90)]
    pub audit_retention_days: i64,
    /// Client ID Metadata Document fetches allowed per client IP per minute (unless --no-cimd).
    #[arg(long, env = "GIGAMCP_CIMD_FETCH_RATE_LIMIT", default_value_t = 10)]
    pub cimd_fetch_rate_limit: u32,
    /// Refuse Client ID Metadata Documents (URL client ids) and stop advertising
    /// `client_id_metadata_document_supported`; clients then register with DCR.
    #[arg(long, env = "GIGAMCP_NO_CIMD")]
    pub no_cimd: bool,
    /// Accepted for compatibility: CIMD is on by default now (no effect).
    #[arg(long, hide = true, conflicts_with = "no_cimd")]
    pub cimd: bool,
    /// Also accept this private-use redirect scheme for public clients (repeatable), besides
    /// reverse-domain schemes (RFC 8252 §7.1) and the known native MCP clients (cursor, vscode …).
    #[arg(
        long = "allow-redirect-scheme",
        env = "GIGAMCP_ALLOW_REDIRECT_SCHEMES",
        value_delimiter = ','
    )]
    pub allow_redirect_schemes: Vec<String>,
    /// Also accept this exact redirect URI (repeatable), e.g. http://dev.internal:8080/cb.
    /// Dangerous schemes (javascript:, data:, file: …) are refused whatever is listed.
    #[arg(
        long = "allow-redirect-uri",
        env = "GIGAMCP_ALLOW_REDIRECT_URIS",
        value_delimiter = ','
    )]
    pub allow_redirect_uris: Vec<String>,
    /// Also fetch metadata documents from http://127.0.0.1 (SSRF guard relaxed). Default: on
    /// only for `--demo` listening on loopback with a loopback public URL (a local sandbox that
    /// nothing remote can reach, where a harness or client serves its document on 127.0.0.1);
    /// off otherwise. `=false` keeps the guard even then.
    #[arg(long, hide = true, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub cimd_allow_http_loopback: Option<bool>,
    /// A reverse proxy (CIDR or address, repeatable) whose forwarding header names the client;
    /// the right-most hop outside these networks is the client. Without it the TCP peer is the
    /// client and forwarding headers are ignored.
    #[arg(
        long = "trusted-proxy",
        env = "GIGAMCP_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,
    /// The header trusted proxies write: x-forwarded-for, or forwarded (RFC 7239). Only that
    /// one is read.
    #[arg(
        long,
        env = "GIGAMCP_PROXY_HEADER",
        value_enum,
        default_value = "x-forwarded-for"
    )]
    pub proxy_header: crate::net::ProxyHeader,
    /// Prometheus metrics at /metrics.
    #[arg(long, env = "GIGAMCP_METRICS", value_enum, default_value = "on")]
    pub metrics: Toggle,
    /// Serve /metrics on this address (e.g. 127.0.0.1:9090) instead of the main listener.
    #[arg(long, env = "GIGAMCP_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,
    /// Threads that run requests (the async runtime's workers). Default: one per CPU core the
    /// process may use. Fewer suit a machine shared with other busy processes (a database, a
    /// load generator): each worker that parks and is woken again costs CPU
    /// (`docs/performance.md`). Password hashing and large searches run on a separate pool.
    #[arg(long, env = "GIGAMCP_WORKER_THREADS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub worker_threads: Option<u16>,
    #[command(flatten)]
    pub tls: Box<crate::tls::TlsArgs>,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Workspaces.
    Workspace {
        #[command(subcommand)]
        command: WorkspaceCommand,
    },
    /// Users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Workspace memberships.
    Member {
        #[command(subcommand)]
        command: MemberCommand,
    },
    /// Personal access tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// OAuth clients created by an administrator (resource servers).
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Sign-in throttles.
    Throttle {
        #[command(subcommand)]
        command: ThrottleCommand,
    },
    /// Ingest a knowledge directory (`wiki/*.md`, `github/<owner>__<repo>/issues.json`) into a workspace.
    Ingest { slug: String, path: PathBuf },
    /// Sync a repository's issues from the GitHub REST API into a workspace.
    SyncGithub {
        slug: String,
        /// Repository as owner/name.
        #[arg(long)]
        repo: String,
        #[arg(
            long,
            env = "GIGAMCP_GITHUB_API_URL",
            default_value = "https://api.github.com"
        )]
        github_api_url: String,
        /// Token for the GitHub API (read from the environment; never logged).
        #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
        github_token: Option<String>,
        /// Allow an API host name that resolves to private addresses (GitHub Enterprise Server on
        /// an internal network). Without it only globally routable addresses are dialled.
        #[arg(long, env = "GIGAMCP_GITHUB_ALLOW_PRIVATE_NETWORK")]
        allow_private_network: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum WorkspaceCommand {
    /// Create a workspace.
    Create {
        slug: String,
        #[arg(long)]
        name: String,
    },
    /// List workspaces and their MCP URLs.
    List,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        username: String,
        /// Read the password from standard input (required: passwords never go on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum MemberCommand {
    /// Add a user to a workspace (or change their role).
    Add {
        slug: String,
        username: String,
        #[arg(long, value_enum, default_value = "member")]
        role: Role,
    },
    /// Remove a user from a workspace; their grants there are revoked at once.
    Remove { slug: String, username: String },
}

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Create a confidential client; prints its client id and secret once (only a hash is kept).
    Create {
        /// A name for operators and the audit log.
        name: String,
        /// Let this client introspect every token (RFC 7662): for resource servers that accept
        /// this server's tokens. Without it a client may introspect only its own tokens.
        #[arg(long)]
        introspection: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ThrottleCommand {
    /// Clear the sign-in throttles of a user (from every address) and/or of an address.
    Clear {
        /// User name whose throttles to clear.
        #[arg(long, required_unless_present = "address")]
        user: Option<String>,
        /// Client address (as the audit log shows it) whose throttles to clear.
        #[arg(long)]
        address: Option<String>,
    },
    /// List sign-in throttle counters with failures in their current window.
    List,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Issue an access token bound to a workspace's MCP URL (prints only the token).
    Issue {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        user: String,
        #[arg(long, default_value = crate::config::DEFAULT_SCOPES)]
        scope: String,
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
        /// Public URL the token's audience is built from (default: the one `serve` last used).
        #[arg(long, env = "GIGAMCP_PUBLIC_URL")]
        public_url: Option<String>,
    },
}

fn database_url(storage: &StorageArgs) -> anyhow::Result<String> {
    if let Some(url) = &storage.database_url {
        return Ok(url.clone());
    }
    crate::fsperm::prepare_sqlite(&storage.data_dir)?;
    Ok(Store::sqlite_url_for(&storage.data_dir))
}

/// Entry point used by `main`.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Admin { storage, command } => admin(storage, command).await,
    }
}

fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Whether the server listens on loopback only and calls itself by a loopback `http` origin:
/// no remote party can reach it, directly or through a proxy that sets the public URL.
fn local_sandbox(bind: SocketAddr, public_url: &str) -> bool {
    let loopback_origin = url::Url::parse(public_url).is_ok_and(|u| {
        u.scheme() == "http"
            && match u.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(d)) => d == "localhost",
                None => false,
            }
    });
    bind.ip().is_loopback() && loopback_origin
}

/// The fixtures directory: explicit, else the repository's `fixtures/`, else `./fixtures`.
pub fn default_fixtures_dir() -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    if repo.is_dir() {
        repo
    } else {
        PathBuf::from("fixtures")
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| args.tls.default_public_url(args.bind));
    let mut config = Config::new(&public_url, args.storage.data_dir.clone())?;
    config.allowed_origins.extend(
        args.allowed_origins
            .iter()
            .filter(|o| !o.is_empty())
            .cloned(),
    );
    config.github_api_url = args.github_api_url.clone();
    config.access_token_ttl = args.access_token_ttl;
    config.registration_rate_per_minute = args.registration_rate_limit;
    config.audit_retention_days = args.audit_retention_days.max(0);
    config.cimd_fetch_rate_per_minute = args.cimd_fetch_rate_limit;
    config.refresh_grace = args.refresh_grace.max(0);
    config.duplicate_code_window = args.duplicate_code_window.max(0);
    config.cimd = crate::config::CimdPolicy {
        enabled: !args.no_cimd,
        allow_http_loopback: args
            .cimd_allow_http_loopback
            .unwrap_or_else(|| args.demo && local_sandbox(args.bind, &public_url)),
    };
    config.redirect = crate::config::RedirectPolicy {
        schemes: args
            .allow_redirect_schemes
            .iter()
            .map(|s| s.trim().trim_end_matches(':').to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect(),
        uris: args
            .allow_redirect_uris
            .iter()
            .filter(|u| !u.is_empty())
            .cloned()
            .collect(),
    };
    config.trusted_proxies = crate::net::TrustedProxies::new(
        crate::net::TrustedProxies::parse_nets(&args.trusted_proxies)?,
        args.proxy_header,
    );
    config.knowledge_index = crate::KnowledgeIndex::Disk(args.storage.data_dir.join("index"));
    let store = Store::connect(&database_url(&args.storage)?).await?;
    store.set_setting(PUBLIC_URL, config.issuer()).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let state = AppState::new(config, store, clock).await?;
    let mut demo_password_default = false;
    if args.demo {
        let fixtures = args
            .fixtures_dir
            .clone()
            .unwrap_or_else(default_fixtures_dir);
        let (password, defaulted) = match std::env::var("GIGAMCP_DEMO_PASSWORD") {
            Ok(p) if !p.is_empty() => (p, false),
            _ => (DEFAULT_DEMO_PASSWORD.to_owned(), true),
        };
        demo_password_default = defaulted;
        seed_demo(&state, &fixtures, &password).await?;
    }
    state.spawn_background();
    let tls = if args.tls.enabled() {
        Some(crate::tls::Tls::start(&args.tls, &args.storage.data_dir)?)
    } else {
        None
    };
    serve_metrics(&state, &args).await?;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("binding {}", args.bind))?;
    print_banner(
        &state,
        if tls.is_some() { "https" } else { "http" },
        &listener.local_addr()?,
        args.demo,
        demo_password_default,
    )
    .await?;
    let app = crate::app(state);
    if let Some(tls) = tls {
        return crate::tls::serve(listener, app, tls, shutdown_signal()).await;
    }
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app.into_make_service())
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

/// Installs the metrics recorder unless `--metrics off`; with `--metrics-bind`, serves
/// `/metrics` on a listener of its own (and not on the main one).
async fn serve_metrics(state: &AppState, args: &ServeArgs) -> anyhow::Result<()> {
    if args.metrics == Toggle::Off {
        return Ok(());
    }
    let handle = crate::ops::metrics::install()?;
    state
        .ops
        .enable_metrics(handle, args.metrics_bind.is_none());
    if let Some(addr) = args.metrics_bind {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the metrics listener {addr}"))?;
        println!("  metrics: http://{}/metrics", listener.local_addr()?);
        let router = crate::ops::routes::metrics_router(state.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "metrics listener failed");
            }
        });
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

async fn print_banner(
    state: &AppState,
    scheme: &str,
    addr: &SocketAddr,
    demo: bool,
    default_password: bool,
) -> anyhow::Result<()> {
    let c = &state.config;
    println!(
        "gigamcp {} listening on {scheme}://{addr}",
        env!("CARGO_PKG_VERSION")
    );
    println!("  public URL (OAuth issuer): {}", c.issuer());
    println!(
        "  worker threads: {}",
        crate::ops::metrics::worker_threads()
    );
    println!(
        "  authorization server metadata: {}/.well-known/oauth-authorization-server",
        c.issuer()
    );
    let workspaces = state.store.list_workspaces().await?;
    if workspaces.is_empty() {
        println!(
            "  no workspaces yet: `gigamcp admin workspace create SLUG --name NAME`, or run with --demo"
        );
    }
    for ws in workspaces {
        println!(
            "  workspace {:<12} MCP URL: {}",
            ws.slug,
            c.mcp_url(&ws.slug)
        );
    }
    if demo {
        println!("  demo users: alice (acme admin, globex member), bob (globex member)");
        if default_password {
            println!(
                "  WARNING: demo users have the documented default password {DEFAULT_DEMO_PASSWORD:?}; set GIGAMCP_DEMO_PASSWORD before exposing this server"
            );
        } else {
            println!("  demo password: from GIGAMCP_DEMO_PASSWORD");
        }
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct WorkspaceFixture {
    slug: String,
    name: String,
}

/// Seeds the demo once: workspaces from `fixtures/knowledge/*/workspace.json`, users `alice` and
/// `bob`, their memberships, and the knowledge base. Re-running never duplicates or loses data:
/// existing rows are kept (passwords are not reset) and ingestion is incremental.
pub async fn seed_demo(state: &AppState, fixtures: &Path, password: &str) -> anyhow::Result<()> {
    let now = state.clock.now();
    let store = &state.store;
    let knowledge = fixtures.join("knowledge");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&knowledge)
        .with_context(|| format!("reading demo fixtures in {}", knowledge.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("workspace.json").is_file())
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        bail!(
            "no workspace fixtures (knowledge/<slug>/workspace.json) under {}",
            fixtures.display()
        );
    }
    for dir in &dirs {
        let file = dir.join("workspace.json");
        let ws: WorkspaceFixture = serde_json::from_slice(&std::fs::read(&file)?)
            .with_context(|| format!("parsing {}", file.display()))?;
        match store.create_workspace(&ws.slug, &ws.name, now).await {
            Ok(_) | Err(WorkspaceError::Duplicate(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let users = [
        ("alice", &[("acme", "admin"), ("globex", "member")][..]),
        ("bob", &[("globex", "member")][..]),
    ];
    for (username, memberships) in users {
        let user = match store.user_by_username(username).await? {
            Some(u) => u,
            None => {
                let hash = crate::auth::password::hash_password(password.to_owned()).await?;
                match store.create_user(username, &hash, now).await {
                    Ok(u) => u,
                    Err(UserError::Duplicate(_)) => store
                        .user_by_username(username)
                        .await?
                        .context("user vanished")?,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        for (slug, role) in memberships {
            if store.workspace(slug).await?.is_some()
                && store.membership(slug, &user.id).await?.is_none()
            {
                store.add_member(slug, &user.id, role, now).await?;
            }
        }
    }
    for dir in &dirs {
        let slug = dir
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let report = state.knowledge.ingest_dir(&slug, dir, now).await?;
        tracing::info!(workspace = %slug, %report, "demo knowledge ingested");
    }
    Ok(())
}

async fn admin_state(storage: &StorageArgs, public_url: Option<&str>) -> anyhow::Result<AppState> {
    let store = Store::connect(&database_url(storage)?).await?;
    let public_url = match public_url {
        Some(u) => u.to_owned(),
        None => store
            .setting(PUBLIC_URL)
            .await?
            .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned()),
    };
    let mut config = Config::new(&public_url, storage.data_dir.clone())?;
    // Admin commands write the store; running servers bring their indexes up to date.
    config.knowledge_index = crate::KnowledgeIndex::Off;
    AppState::new(config, store, Arc::new(SystemClock)).await
}

async fn admin(storage: StorageArgs, command: AdminCommand) -> anyhow::Result<()> {
    init_logging(LogFormat::Text);
    let public_url = match &command {
        AdminCommand::Token {
            command: TokenCommand::Issue { public_url, .. },
        } => public_url.clone(),
        _ => None,
    };
    let state = admin_state(&storage, public_url.as_deref()).await?;
    let store = &state.store;
    let now = state.clock.now();
    match command {
        AdminCommand::Workspace {
            command: WorkspaceCommand::Create { slug, name },
        } => {
            let ws = store.create_workspace(&slug, &name, now).await?;
            println!(
                "created workspace {} ({}); MCP URL: {}",
                ws.slug,
                ws.name,
                state.config.mcp_url(&ws.slug)
            );
        }
        AdminCommand::Workspace {
            command: WorkspaceCommand::List,
        } => {
            for ws in store.list_workspaces().await? {
                println!(
                    "{}\t{}\t{}",
                    ws.slug,
                    ws.name,
                    state.config.mcp_url(&ws.slug)
                );
            }
        }
        AdminCommand::User {
            command:
                UserCommand::Create {
                    username,
                    password_stdin: _,
                },
        } => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("reading password from stdin")?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.chars().count() < 8 {
                bail!("password must be at least 8 characters");
            }
            let hash = crate::auth::password::hash_password(password.to_owned()).await?;
            let user = store.create_user(&username, &hash, now).await?;
            println!("created user {}", user.username);
        }
        AdminCommand::Member {
            command:
                MemberCommand::Add {
                    slug,
                    username,
                    role,
                },
        } => {
            let (ws, user) = workspace_and_user(store, &slug, &username).await?;
            store.add_member(&ws, &user, role.as_str(), now).await?;
            println!("{username} is now {} of {slug}", role.as_str());
        }
        AdminCommand::Member {
            command: MemberCommand::Remove { slug, username },
        } => {
            let (ws, user) = workspace_and_user(store, &slug, &username).await?;
            if !store.remove_member(&ws, &user, now).await? {
                bail!("{username} is not a member of {slug}");
            }
            println!("removed {username} from {slug}; their grants there are revoked");
        }
        AdminCommand::Token {
            command:
                TokenCommand::Issue {
                    workspace,
                    user,
                    scope,
                    ttl,
                    ..
                },
        } => {
            let issued =
                issue_personal_token(store, &state.config, &workspace, &user, &scope, ttl, now)
                    .await?;
            eprintln!(
                "access token for {user} on {} (expires in {ttl} s); send it as `Authorization: Bearer <token>`",
                state.config.mcp_url(&workspace)
            );
            println!("{}", issued.token);
        }
        AdminCommand::Client {
            command:
                ClientCommand::Create {
                    name,
                    introspection,
                },
        } => {
            let created = create_admin_client(store, &name, introspection, now).await?;
            println!("client_id: {}", created.0);
            println!("client_secret: {}", created.1);
            eprintln!(
                "created client {name:?}{}; the secret is shown only now (authenticate with HTTP Basic or client_secret_post)",
                if introspection {
                    " allowed to introspect every token"
                } else {
                    ""
                }
            );
        }
        AdminCommand::Throttle {
            command: ThrottleCommand::Clear { user, address },
        } => {
            let n = crate::oauth::login::clear_throttle(store, user.as_deref(), address.as_deref())
                .await?;
            println!("cleared {n} sign-in throttle counter(s)");
        }
        AdminCommand::Throttle {
            command: ThrottleCommand::List,
        } => {
            for c in store.counters("login:", 1000).await? {
                if c.window_start + crate::oauth::login::THROTTLE_WINDOW > now {
                    println!(
                        "{}\t{} failure(s)\t{} refused\twindow ends in {} s",
                        c.subject,
                        c.hits,
                        c.refused,
                        c.window_start + crate::oauth::login::THROTTLE_WINDOW - now
                    );
                }
            }
        }
        AdminCommand::Ingest { slug, path } => {
            require_workspace(store, &slug).await?;
            let report = state.knowledge.ingest_dir(&slug, &path, now).await?;
            println!("ingested {} into {slug}: {report}", path.display());
        }
        AdminCommand::SyncGithub {
            slug,
            repo,
            github_api_url,
            github_token,
            allow_private_network,
        } => {
            require_workspace(store, &slug).await?;
            let opts = crate::knowledge::FetchOptions {
                allow_private_network,
                ..Default::default()
            };
            let report = state
                .knowledge
                .sync_github_with(
                    &slug,
                    &github_api_url,
                    github_token.as_deref(),
                    &repo,
                    now,
                    &opts,
                )
                .await?;
            println!("synced {repo} into {slug}: {report}");
        }
    }
    Ok(())
}

/// Creates a confidential client (kind `resource_server`, no redirect URIs, so it cannot be used
/// at the authorization endpoint); returns its id and secret.
pub async fn create_admin_client(
    store: &Store,
    name: &str,
    introspection: bool,
    now: i64,
) -> anyhow::Result<(String, String)> {
    use crate::secrets::{CLIENT_SECRET_PREFIX, hash_secret, new_id, new_secret};
    let name = crate::limits::clip(name.trim(), crate::limits::MAX_CLIENT_NAME);
    if name.is_empty() {
        bail!("give the client a name");
    }
    let client_id = format!("rs_{}", new_id());
    let secret = new_secret(CLIENT_SECRET_PREFIX);
    let record = crate::store::oauth::ClientRecord {
        client_id: client_id.clone(),
        client_secret_hash: Some(hash_secret(&secret)),
        client_name: name.clone(),
        kind: "resource_server".into(),
        redirect_uris: vec![],
        token_endpoint_auth_method: "client_secret_basic".into(),
        grant_types: vec![],
        response_types: vec![],
        metadata: serde_json::json!({ "client_name": name, "introspection": introspection })
            .to_string(),
        created_at: now,
        last_used_at: None,
    };
    store.insert_client(&record).await?;
    if introspection {
        store.set_client_may_introspect(&client_id, true).await?;
    }
    Ok((client_id, secret))
}

async fn require_workspace(store: &Store, slug: &str) -> anyhow::Result<()> {
    if store.workspace(slug).await?.is_none() {
        bail!(
            "no workspace {slug:?} (create it with `gigamcp admin workspace create {slug} --name NAME`)"
        );
    }
    Ok(())
}

async fn workspace_and_user(
    store: &Store,
    slug: &str,
    username: &str,
) -> anyhow::Result<(String, String)> {
    require_workspace(store, slug).await?;
    let user = store
        .user_by_username(username)
        .await?
        .with_context(|| format!("no user {username:?} (create it with `gigamcp admin user create {username} --password-stdin`)"))?;
    Ok((slug.to_owned(), user.id))
}

#[cfg(test)]
mod tests {
    use super::local_sandbox;

    #[test]
    fn only_a_loopback_listener_with_a_loopback_http_origin_is_a_local_sandbox() {
        let lo = "127.0.0.1:8080".parse().unwrap();
        let lo6 = "[::1]:8080".parse().unwrap();
        let any = "0.0.0.0:8080".parse().unwrap();
        assert!(local_sandbox(lo, "http://127.0.0.1:8080"));
        assert!(local_sandbox(lo6, "http://[::1]:8080"));
        assert!(local_sandbox(lo, "http://localhost:8080"));
        // Reachable from elsewhere, or published through a proxy.
        assert!(!local_sandbox(any, "http://127.0.0.1:8080"));
        assert!(!local_sandbox(lo, "https://mcp.example.com"));
        assert!(!local_sandbox(lo, "http://mcp.example.com"));
        assert!(!local_sandbox(lo, "https://127.0.0.1:8443"));
        assert!(!local_sandbox(lo, "not a url"));
    }
}
