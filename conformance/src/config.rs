//! Run configuration, independent of the command line so tests and the cucumber runner build it
//! directly.

use crate::profile::Profile;
use std::time::Duration;

/// How the harness obtains a client.
#[derive(Clone, Debug)]
pub enum Registration {
    /// What the profile's client does: its own Client ID Metadata Document when the AS advertises
    /// support and the harness can serve it to the target (a target on this machine), DCR
    /// otherwise (the CLI's default).
    Auto,
    /// RFC 7591 dynamic registration with the profile's exact body.
    Dcr,
    /// A client registered out of band.
    Preregistered {
        client_id: String,
        client_secret: Option<String>,
    },
    /// Client ID Metadata Document: the `client_id` is the URL of a JSON document. `url` is a
    /// document the user hosts; `None` = the harness serves its own on a loopback listener
    /// (only reachable by a target on the same machine).
    Cimd { url: Option<String> },
}

/// How the user's part of the authorization (login, consent) is played.
#[derive(Clone, Debug)]
pub enum Login {
    /// Parse and submit real HTML login and consent forms.
    Form { username: String, password: String },
    /// Run a command: it gets the authorization URL (argument `$1`, env
    /// `GIGAMCP_AUTHORIZATION_URL`, and stdin) and prints the callback URL it was sent to.
    Command(String),
    /// Print the URL, read the pasted callback URL from stdin.
    Manual,
    /// A real Chromium: headless with a login script, or headed for a person (SSO, MFA).
    Browser(crate::flow::browser::BrowserLogin),
    /// No login possible: authorization-server checks could not run.
    None,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub mcp_url: String,
    pub profile: Profile,
    /// `None` = auto.
    pub spec: Option<String>,
    pub registration: Registration,
    pub redirect_uri: Option<String>,
    pub login: Login,
    pub second_resource: Option<String>,
    pub call_tool: Option<String>,
    pub call_args: Option<serde_json::Value>,
    pub only: Vec<String>,
    pub skip: Vec<String>,
    pub strict: bool,
    /// A MUST that could not run does not make the run incomplete (exit 2).
    pub allow_incomplete: bool,
    pub headers: Vec<(String, String)>,
    /// Pre-issued token: resource-server and MCP checks only.
    pub access_token: Option<String>,
    pub timeout: Duration,
    /// PEM files of extra root certificates to trust (a test CA such as pebble's).
    pub ca_certs: Vec<std::path::PathBuf>,
    /// Longest token lifetime the harness will wait out for the expired-token check.
    pub expiry_wait: Duration,
    /// How long a revoked token may keep working before the check fails.
    pub revocation_wait: Duration,
    /// Parallel refreshes in the race check.
    pub race: usize,
    /// Wait before replaying a used code or a rotated refresh token, so a server with a retry or
    /// grace window (for clients that lost a response) is graded on what happens after it.
    pub replay_delay: Duration,
    /// Robustness fuzzing: generated cases, RNG seed (fixed: runs are reproducible), time budget.
    pub fuzz_cases: u32,
    pub fuzz_seed: u64,
    pub fuzz_budget: Duration,
}

impl Config {
    pub fn new(mcp_url: impl Into<String>, profile: Profile) -> Config {
        Config {
            mcp_url: mcp_url.into(),
            profile,
            spec: None,
            registration: Registration::Dcr,
            redirect_uri: None,
            login: Login::None,
            second_resource: None,
            call_tool: None,
            call_args: None,
            only: Vec::new(),
            skip: Vec::new(),
            strict: false,
            allow_incomplete: false,
            headers: Vec::new(),
            access_token: None,
            timeout: Duration::from_secs(20),
            ca_certs: Vec::new(),
            expiry_wait: Duration::from_secs(10),
            revocation_wait: Duration::from_secs(5),
            race: 4,
            replay_delay: Duration::ZERO,
            fuzz_cases: 64,
            fuzz_seed: 0x6d63_7066_757a_7a00,
            fuzz_budget: Duration::from_secs(60),
        }
    }

    /// Is a check selected by `--only` / `--skip`?
    pub fn selected(&self, id: &str) -> bool {
        use crate::checks::matches_prefix;
        (self.only.is_empty() || self.only.iter().any(|p| matches_prefix(id, p)))
            && !self.skip.iter().any(|p| matches_prefix(id, p))
    }
}
