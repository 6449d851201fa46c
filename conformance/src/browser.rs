//! A real Chromium, driven over the Chrome DevTools Protocol (`chromiumoxide`).
//!
//! Used by the `browser` login driver (`flow::browser`) and by tests that look at HTML in a real
//! browser (our server's pages, the HTML report). It never downloads a browser: it runs the
//! Chromium or Chrome already installed (`--chromium PATH`, `GIGAMCP_CHROMIUM`, else the usual
//! install paths), with a fresh profile directory that is deleted afterwards.
//!
//! A [`Tab`] records what a page did: console messages and uncaught exceptions, every request
//! the page made (to prove a page fetches nothing from the network), and top-level navigations
//! with their responses (evidence for the report). [`Tab::intercept`] pauses requests to given
//! callback URLs before they leave the browser and fails them, handing the URL to the caller:
//! the browser never delivers an authorization code to the client's real callback.

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::fetch::{
    self, ContinueRequestParams, EventRequestPaused, FailRequestParams, RequestPattern,
    RequestStage,
};
use chromiumoxide::cdp::browser_protocol::network::{
    ErrorReason, EventLoadingFailed, EventRequestWillBeSent, EventResponseReceived, ResourceType,
};
use chromiumoxide::cdp::browser_protocol::page::CaptureScreenshotFormat;
use chromiumoxide::cdp::js_protocol::runtime::{EventConsoleApiCalled, EventExceptionThrown};
use chromiumoxide::page::{Page, ScreenshotParams};
use futures::StreamExt;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

/// Where Chromium or Chrome is usually installed, in the order tried.
const CANDIDATES: &[&str] = &[
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
    "/snap/bin/chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
];

/// The installed browser to use: `explicit`, else `$GIGAMCP_CHROMIUM`, else a usual path, else
/// `chromium`/`google-chrome` on `PATH`. `None` when there is none (nothing is downloaded).
pub fn find_chromium(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return p.is_file().then(|| p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("GIGAMCP_CHROMIUM").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    for c in CANDIDATES {
        let p = Path::new(c);
        if p.is_file() {
            return Some(p.to_path_buf());
        }
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome", "chrome"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// How to start the browser.
#[derive(Clone, Debug)]
pub struct Options {
    pub executable: Option<PathBuf>,
    /// Show a window (a person signs in); default headless.
    pub headed: bool,
    pub window: (u32, u32),
}

impl Default for Options {
    fn default() -> Options {
        Options {
            executable: None,
            headed: false,
            window: (1100, 900),
        }
    }
}

/// A running browser with its own throw-away profile.
pub struct Chromium {
    browser: Browser,
    handler: JoinHandle<()>,
    _profile: tempfile::TempDir,
}

impl Chromium {
    pub async fn launch(opts: &Options) -> Result<Chromium, String> {
        let exe = find_chromium(opts.executable.as_deref()).ok_or_else(|| {
            "no Chromium or Chrome found (install the `chromium` package, or pass --chromium PATH / set GIGAMCP_CHROMIUM)".to_string()
        })?;
        let profile = tempfile::Builder::new()
            .prefix("gigamcp-chromium-")
            .tempdir()
            .map_err(|e| format!("creating a browser profile directory: {e}"))?;
        let mut b = BrowserConfig::builder()
            .chrome_executable(&exe)
            .user_data_dir(profile.path())
            .window_size(opts.window.0, opts.window.1)
            .viewport(None)
            .launch_timeout(Duration::from_secs(30))
            .request_timeout(Duration::from_secs(30))
            .args([
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-domain-reliability",
                "--metrics-recording-only",
            ]);
        // Root (CI containers) cannot use Chromium's sandbox.
        if is_root() {
            b = b.no_sandbox();
        }
        // Headless unless a person signs in (the builder's default is headless).
        if opts.headed {
            b = b.with_head();
        }
        let config = b.build()?;
        let (browser, mut handler) = Browser::launch(config)
            .await
            .map_err(|e| format!("starting {}: {e}", exe.display()))?;
        let handler = tokio::spawn(async move {
            while let Some(ev) = handler.next().await {
                // Messages this client version does not know are not fatal; a closed
                // connection ends the loop.
                if let Err(chromiumoxide::error::CdpError::Ws(_)) = ev {
                    break;
                }
            }
        });
        Ok(Chromium {
            browser,
            handler,
            _profile: profile,
        })
    }

    /// A new tab on `about:blank`, recording console, requests and navigations from the start.
    pub async fn tab(&self) -> Result<Tab, String> {
        let page = self
            .browser
            .new_page("about:blank")
            .await
            .map_err(|e| format!("opening a tab: {e}"))?;
        Tab::attach(page).await
    }

    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.browser.close()).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.browser.wait()).await;
        self.handler.abort();
    }
}

fn is_root() -> bool {
    #[cfg(unix)]
    {
        // SAFETY-free: read the effective uid from /proc when available, else from `id -u`.
        if let Ok(s) = std::fs::read_to_string("/proc/self/status")
            && let Some(line) = s.lines().find(|l| l.starts_with("Uid:"))
        {
            return line.split_whitespace().nth(2) == Some("0");
        }
        std::process::Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// A console message or uncaught exception seen on a page.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ConsoleEntry {
    /// `error`, `warning`, `log`, …, or `exception`.
    pub level: String,
    pub text: String,
}

/// One top-level navigation the page made (a document request) and how it was answered.
#[derive(Clone, Debug, Default)]
pub struct Navigation {
    pub method: String,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    pub request_body: Option<String>,
    pub status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    pub error: Option<String>,
    pub started: Option<Instant>,
    pub elapsed_ms: u128,
}

#[derive(Default)]
struct Recorded {
    console: Vec<ConsoleEntry>,
    requests: Vec<String>,
    /// Finished navigations, in order.
    navigations: Vec<Navigation>,
    /// Document requests in flight, by network request id.
    pending: HashMap<String, Navigation>,
}

/// One page and what it did.
pub struct Tab {
    pub page: Page,
    navigated: std::sync::atomic::AtomicBool,
    rec: Arc<Mutex<Recorded>>,
    tasks: Vec<JoinHandle<()>>,
}

fn headers_of(v: &serde_json::Value) -> Vec<(String, String)> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.to_ascii_lowercase(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A console message (or the description of its arguments) as recorded.
fn console_entry(ev: &EventConsoleApiCalled) -> ConsoleEntry {
    let text = ev
        .args
        .iter()
        .map(|a| {
            a.value
                .as_ref()
                .map(|v| v.as_str().map(str::to_string).unwrap_or(v.to_string()))
                .or_else(|| a.description.clone())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ");
    let level = serde_json::to_value(&ev.r#type)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "log".into());
    ConsoleEntry { level, text }
}

/// A document request just sent: its method, URL, headers and (decoded) form body.
fn navigation_started(ev: &EventRequestWillBeSent) -> Navigation {
    Navigation {
        method: ev.request.method.clone(),
        url: ev.request.url.clone(),
        request_headers: headers_of(ev.request.headers.inner()),
        request_body: ev.request.post_data_entries.as_ref().map(|entries| {
            entries
                .iter()
                .filter_map(|e| e.bytes.as_ref())
                .filter_map(|b| {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD
                        .decode(b.as_ref() as &str)
                        .ok()
                })
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .collect::<String>()
        }),
        started: Some(Instant::now()),
        ..Navigation::default()
    }
}

impl Tab {
    async fn attach(page: Page) -> Result<Tab, String> {
        let rec = Arc::new(Mutex::new(Recorded::default()));
        let mut tasks = Vec::new();
        let err = |e: chromiumoxide::error::CdpError| format!("listening to the page: {e}");

        let mut console = page
            .event_listener::<EventConsoleApiCalled>()
            .await
            .map_err(err)?;
        let r = rec.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(ev) = console.next().await {
                let entry = console_entry(&ev);
                r.lock().expect("tab lock").console.push(entry);
            }
        }));

        let mut exceptions = page
            .event_listener::<EventExceptionThrown>()
            .await
            .map_err(err)?;
        let r = rec.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(ev) = exceptions.next().await {
                let d = &ev.exception_details;
                let text = d
                    .exception
                    .as_ref()
                    .and_then(|e| e.description.clone())
                    .unwrap_or_else(|| d.text.clone());
                r.lock().expect("tab lock").console.push(ConsoleEntry {
                    level: "exception".into(),
                    text,
                });
            }
        }));

        let mut sent = page
            .event_listener::<EventRequestWillBeSent>()
            .await
            .map_err(err)?;
        let r = rec.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(ev) = sent.next().await {
                let mut g = r.lock().expect("tab lock");
                g.requests.push(ev.request.url.clone());
                let id = ev.request_id.inner().clone();
                // A redirect ends the previous hop of this request with the redirect response.
                if let Some(resp) = &ev.redirect_response
                    && let Some(mut nav) = g.pending.remove(&id)
                {
                    nav.status = u16::try_from(resp.status).ok();
                    nav.response_headers = headers_of(resp.headers.inner());
                    nav.elapsed_ms = nav.started.map(|s| s.elapsed().as_millis()).unwrap_or(0);
                    g.navigations.push(nav);
                }
                if ev.r#type == Some(ResourceType::Document) {
                    g.pending.insert(id, navigation_started(&ev));
                }
            }
        }));

        let mut received = page
            .event_listener::<EventResponseReceived>()
            .await
            .map_err(err)?;
        let r = rec.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(ev) = received.next().await {
                let mut g = r.lock().expect("tab lock");
                if let Some(mut nav) = g.pending.remove(ev.request_id.inner()) {
                    nav.status = u16::try_from(ev.response.status).ok();
                    nav.response_headers = headers_of(ev.response.headers.inner());
                    nav.elapsed_ms = nav.started.map(|s| s.elapsed().as_millis()).unwrap_or(0);
                    g.navigations.push(nav);
                }
            }
        }));

        let mut failed = page
            .event_listener::<EventLoadingFailed>()
            .await
            .map_err(err)?;
        let r = rec.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(ev) = failed.next().await {
                let mut g = r.lock().expect("tab lock");
                if let Some(mut nav) = g.pending.remove(ev.request_id.inner()) {
                    nav.error = Some(ev.error_text.clone());
                    nav.elapsed_ms = nav.started.map(|s| s.elapsed().as_millis()).unwrap_or(0);
                    g.navigations.push(nav);
                }
            }
        }));

        Ok(Tab {
            page,
            navigated: std::sync::atomic::AtomicBool::new(false),
            rec,
            tasks,
        })
    }

    /// Navigates to `url` and waits (at most `timeout`) until a new document has loaded.
    ///
    /// The navigation starts from the page (`location.assign`) and is watched by polling:
    /// chromiumoxide's own navigation wait can hang for good once a navigation was aborted
    /// (which is what [`Tab::intercept`] does to callbacks).
    pub async fn goto(&self, url: &str, timeout: Duration) -> Result<(), String> {
        // From the blank start page (which may not navigate itself to file: URLs), the first
        // navigation goes through CDP; nothing was aborted yet, so its wait is sound.
        if !self
            .navigated
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return match tokio::time::timeout(timeout, self.page.goto(url)).await {
                Err(_) => Err(format!("loading {url} took longer than {timeout:?}")),
                Ok(Err(e)) if e.to_string().contains("ERR_ABORTED") => Ok(()),
                Ok(Err(e)) => Err(format!("loading {url}: {e}")),
                Ok(Ok(_)) => Ok(()),
            };
        }
        // The old document carries a marker; a new one does not.
        let js = format!(
            "window.__gigamcpOldDocument = true; window.location.assign({})",
            serde_json::to_string(url).map_err(|e| e.to_string())?
        );
        self.page
            .evaluate(js)
            .await
            .map_err(|e| format!("navigating to {url}: {e}"))?;
        let deadline = Instant::now() + timeout;
        let mut last;
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let probe = tokio::time::timeout(
                Duration::from_secs(2),
                self.page.evaluate(
                    "window.__gigamcpOldDocument === undefined && document.readyState === 'complete'",
                ),
            )
            .await;
            match probe.map(|r| r.map(|v| v.into_value::<bool>().unwrap_or(false))) {
                Ok(Ok(true)) => return Ok(()),
                Ok(Ok(false)) => last = "the old document is still shown".into(),
                Ok(Err(e)) => last = e.to_string(),
                Err(_) => last = "the page did not answer".into(),
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "loading {url} took longer than {timeout:?} ({last})"
                ));
            }
        }
    }

    /// Waits until `selector` matches an element (polling), at most `timeout`.
    pub async fn wait_for(&self, selector: &str, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.page.find_element(selector).await.is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("no element matches {selector:?} after {timeout:?}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The page's current URL.
    pub async fn url(&self) -> Option<String> {
        self.page.url().await.ok().flatten()
    }

    /// Types `text` into the element matching `selector` (after clearing it).
    pub async fn fill(&self, selector: &str, text: &str) -> Result<(), String> {
        let el = self
            .page
            .find_element(selector)
            .await
            .map_err(|_| format!("no element matches {selector:?}"))?;
        el.call_js_fn("function() { this.value = ''; }", false)
            .await
            .map_err(|e| format!("clearing {selector:?}: {e}"))?;
        el.click()
            .await
            .map_err(|e| format!("focusing {selector:?}: {e}"))?;
        el.type_str(text)
            .await
            .map_err(|e| format!("typing into {selector:?}: {e}"))?;
        Ok(())
    }

    /// An attribute of the element matching `selector`.
    pub async fn attribute(&self, selector: &str, name: &str) -> Result<Option<String>, String> {
        let el = self
            .page
            .find_element(selector)
            .await
            .map_err(|_| format!("no element matches {selector:?}"))?;
        el.attribute(name)
            .await
            .map_err(|e| format!("reading {name} of {selector:?}: {e}"))
    }

    /// Clicks the element matching `selector`.
    pub async fn click(&self, selector: &str) -> Result<(), String> {
        let el = self
            .page
            .find_element(selector)
            .await
            .map_err(|_| format!("no element matches {selector:?}"))?;
        el.click()
            .await
            .map_err(|e| format!("clicking {selector:?}: {e}"))?;
        Ok(())
    }

    /// The visible text of the page.
    pub async fn text(&self) -> String {
        self.page
            .evaluate("document.body ? document.body.innerText : ''")
            .await
            .ok()
            .and_then(|v| v.into_value::<String>().ok())
            .unwrap_or_default()
    }

    /// Evaluates a JavaScript expression and returns its JSON value.
    pub async fn eval(&self, js: &str) -> Result<serde_json::Value, String> {
        self.page
            .evaluate(js)
            .await
            .map_err(|e| format!("evaluating script: {e}"))?
            .into_value::<serde_json::Value>()
            .map_err(|e| format!("script result: {e}"))
    }

    /// Saves a PNG screenshot of the viewport, or of the whole page.
    pub async fn screenshot(&self, path: &Path, full_page: bool) -> Result<(), String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let png = self
            .page
            .screenshot(
                ScreenshotParams::builder()
                    .format(CaptureScreenshotFormat::Png)
                    .full_page(full_page)
                    .build(),
            )
            .await
            .map_err(|e| format!("screenshot: {e}"))?;
        std::fs::write(path, png).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Console messages and exceptions so far.
    pub fn console(&self) -> Vec<ConsoleEntry> {
        self.rec.lock().expect("tab lock").console.clone()
    }

    /// Console errors and uncaught exceptions so far.
    pub fn console_errors(&self) -> Vec<ConsoleEntry> {
        self.console()
            .into_iter()
            .filter(|c| matches!(c.level.as_str(), "error" | "exception" | "assert"))
            .collect()
    }

    /// Every URL the page requested so far (documents, scripts, images, fetches…).
    pub fn requests(&self) -> Vec<String> {
        self.rec.lock().expect("tab lock").requests.clone()
    }

    /// Document navigations so far, finished ones first, then those still in flight.
    pub fn navigations(&self) -> Vec<Navigation> {
        let g = self.rec.lock().expect("tab lock");
        let mut v = g.navigations.clone();
        let mut pending: Vec<_> = g.pending.values().cloned().collect();
        pending.sort_by_key(|n| n.started);
        v.extend(pending);
        v
    }

    /// Pauses every request to one of `callbacks` before it leaves the browser, fails it, and
    /// publishes its URL on the returned channel. Other requests go on untouched.
    pub async fn intercept(
        &mut self,
        callbacks: &[Url],
    ) -> Result<watch::Receiver<Option<Url>>, String> {
        let patterns: Vec<RequestPattern> = callbacks
            .iter()
            .map(|cb| {
                let mut prefix = cb.clone();
                prefix.set_query(None);
                prefix.set_fragment(None);
                RequestPattern::builder()
                    .url_pattern(format!("{}*", glob_escape(prefix.as_str())))
                    .request_stage(RequestStage::Request)
                    .build()
            })
            .collect();
        let mut paused = self
            .page
            .event_listener::<EventRequestPaused>()
            .await
            .map_err(|e| format!("listening for requests: {e}"))?;
        self.page
            .execute(fetch::EnableParams::builder().patterns(patterns).build())
            .await
            .map_err(|e| format!("enabling request interception: {e}"))?;
        let (tx, rx) = watch::channel(None);
        let page = self.page.clone();
        let callbacks = callbacks.to_vec();
        self.tasks.push(tokio::spawn(async move {
            while let Some(ev) = paused.next().await {
                let hit = Url::parse(&ev.request.url)
                    .ok()
                    .filter(|u| callbacks.iter().any(|cb| crate::urls::is_callback(u, cb)));
                match hit {
                    Some(u) => {
                        let _ = page
                            .execute(FailRequestParams::new(
                                ev.request_id.clone(),
                                ErrorReason::Aborted,
                            ))
                            .await;
                        let _ = tx.send(Some(u));
                    }
                    None => {
                        let _ = page
                            .execute(ContinueRequestParams::new(ev.request_id.clone()))
                            .await;
                    }
                }
            }
        }));
        Ok(rx)
    }
}

impl Drop for Tab {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Escapes the wildcard characters of a CDP URL pattern (`*`, `?` and `\`).
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_escape_wildcards() {
        assert_eq!(glob_escape("https://a/b?c*d\\"), "https://a/b\\?c\\*d\\\\");
    }

    #[test]
    fn an_explicit_path_that_does_not_exist_finds_nothing() {
        assert_eq!(
            find_chromium(Some(Path::new("/nonexistent/chromium"))),
            None
        );
    }
}
