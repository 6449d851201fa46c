//! Running it in public, with the real `gigamcp` binary on loopback:
//! - HTTPS from `--tls-cert/--tls-key`: a replaced certificate is served without a restart
//!   (file change, SIGHUP), while an open keep-alive connection keeps working;
//! - HTTPS from ACME: a certificate from Debian's `pebble` (validated with TLS-ALPN-01 on our
//!   own listener), cached, renewed, then the ChatGPT-profile conformance run over https;
//! - the data directory and database files are private to the service user.
//!
//! The ACME test needs `pebble` (`apt-get install pebble`): without it, it is skipped with a
//! message locally and fails under CI (`CI=true`).
use crate::support::free_port;
use crate::support::process::Proc;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gigamcp");
const DEMO_PASSWORD: &str = "deploy-test-password";

/// A throwaway CA and what it signs.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `localhost` and 127.0.0.1: (chain PEM, key PEM, leaf DER).
    fn leaf(&self) -> (String, String, Vec<u8>) {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem(), cert.der().to_vec())
    }
}

/// Replaces `path` the way deployment tools do: write a sibling, rename it over.
fn replace(path: &Path, contents: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// GET the authorization server metadata over a new connection (a new client: no TLS session
/// to resume, so the handshake shows the certificate served now) trusting only `root_pem`;
/// returns the leaf certificate presented.
async fn served_leaf(root_pem: &str, port: u16) -> Result<Vec<u8>, String> {
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(root_pem.as_bytes()).unwrap()])
        .tls_info(true)
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], port)))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let r = client
        .get(format!(
            "https://localhost:{port}/.well-known/oauth-authorization-server"
        ))
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    if r.status() != 200 {
        return Err(format!("status {}", r.status()));
    }
    let info = r
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .ok_or("no TLS info")?;
    let leaf = info
        .peer_certificate()
        .ok_or("no peer certificate")?
        .to_vec();
    let hsts = r
        .headers()
        .get("strict-transport-security")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(hsts.as_deref(), Some("max-age=31536000"), "HSTS over https");
    let meta: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
    assert_eq!(meta["issuer"], format!("https://localhost:{port}"));
    Ok(leaf)
}

/// A POST to an MCP endpoint over https (the MCP lane of `edge::App`, not the router; this
/// server has no workspace, so 404): its answer carries HSTS like every other response.
async fn mcp_post_has_hsts(root_pem: &str, port: u16) {
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(root_pem.as_bytes()).unwrap()])
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], port)))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let r = client
        .post(format!("https://localhost:{port}/t/acme/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000"),
        "HSTS on the MCP endpoint over https"
    );
}

/// Polls with fresh connections until the server presents `want`.
async fn wait_for_leaf(root_pem: &str, port: u16, want: &[u8], server: &mut Proc, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = served_leaf(root_pem, port).await;
        if got.as_deref() == Ok(want) {
            return;
        }
        server.assert_running();
        assert!(
            Instant::now() < deadline,
            "{what}: the server never presented the expected certificate (last: {:?})\n{}",
            got.map(|d| d.len()),
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One TLS connection kept open (HTTP/1.1 keep-alive) across certificate swaps.
struct KeptConnection {
    sender: hyper::client::conn::http1::SendRequest<String>,
    leaf: Vec<u8>,
    port: u16,
}

impl KeptConnection {
    async fn open(root_pem: &str, port: u16) -> KeptConnection {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls::pki_types::CertificateDer::from_pem_slice(root_pem.as_bytes()).unwrap())
            .unwrap();
        let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
            .connect(
                rustls::pki_types::ServerName::try_from("localhost").unwrap(),
                tcp,
            )
            .await
            .unwrap();
        let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .unwrap();
        tokio::spawn(conn);
        KeptConnection { sender, leaf, port }
    }

    /// A request on this same connection; fails if the server closed it.
    async fn get(&mut self) -> Result<u16, String> {
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let req = axum::http::Request::get("/.well-known/oauth-authorization-server")
            .header("host", format!("localhost:{}", self.port))
            .body(String::new())
            .unwrap();
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        axum::body::to_bytes(axum::body::Body::new(resp.into_body()), 1 << 20)
            .await
            .map_err(|e| e.to_string())?;
        Ok(status)
    }
}

fn serve_tls(dir: &Path, cert: &Path, key: &Path, port: u16, interval: &str) -> Proc {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--public-url", &format!("https://localhost:{port}")])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--tls-cert")
        .arg(cert)
        .arg("--tls-key")
        .arg(key)
        .args(["--tls-reload-interval", interval])
        .env("RUST_LOG", "info");
    let mut p = Proc::spawn("gigamcp", &mut cmd, dir.join("server.log"));
    p.wait_for_port(port, Duration::from_secs(60));
    p
}

#[tokio::test]
async fn replaced_certificate_files_are_served_without_a_restart_or_dropped_connections() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("deploy test CA");
    let (cert1, key1, der1) = ca.leaf();
    let (cert_file, key_file) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert_file, &cert1).unwrap();
    std::fs::write(&key_file, &key1).unwrap();
    let port = free_port();
    let mut server = serve_tls(dir.path(), &cert_file, &key_file, port, "1");

    // One keep-alive connection, opened before the swap.
    let mut kept = KeptConnection::open(&ca.pem, port).await;
    assert_eq!(kept.leaf, der1);
    assert_eq!(kept.get().await, Ok(200));
    assert_eq!(served_leaf(&ca.pem, port).await.unwrap(), der1);
    mcp_post_has_hsts(&ca.pem, port).await;

    // Replace both files (cert-manager / certbot style); no signal, no restart.
    let (cert2, key2, der2) = ca.leaf();
    assert_ne!(der1, der2);
    replace(&key_file, &key2);
    replace(&cert_file, &cert2);
    wait_for_leaf(
        &ca.pem,
        port,
        &der2,
        &mut server,
        "after replacing the files",
    )
    .await;
    assert!(
        server.log().contains("TLS certificate reloaded"),
        "{}",
        server.log()
    );

    // The connection opened before the swap was not dropped: it still answers.
    for _ in 0..3 {
        assert_eq!(
            kept.get().await,
            Ok(200),
            "the pre-swap keep-alive connection was dropped"
        );
    }
    server.assert_running();
}

#[tokio::test]
async fn sighup_reloads_the_certificate_and_a_bad_pair_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("deploy test CA");
    let (cert1, key1, der1) = ca.leaf();
    let (cert_file, key_file) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert_file, &cert1).unwrap();
    std::fs::write(&key_file, &key1).unwrap();
    let port = free_port();
    // Polling effectively off: only SIGHUP reloads.
    let mut server = serve_tls(dir.path(), &cert_file, &key_file, port, "3600");
    assert_eq!(served_leaf(&ca.pem, port).await.unwrap(), der1);

    // A certificate whose key does not match: refused, the old pair stays in service.
    let (cert2, key2, der2) = ca.leaf();
    replace(&cert_file, &cert2);
    server.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server.log().contains("TLS certificate not reloaded") {
        server.assert_running();
        assert!(
            Instant::now() < deadline,
            "no reload error:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(served_leaf(&ca.pem, port).await.unwrap(), der1);

    // The matching key arrives; SIGHUP again: the new pair is served.
    replace(&key_file, &key2);
    server.signal("-HUP");
    wait_for_leaf(&ca.pem, port, &der2, &mut server, "after SIGHUP").await;
    server.assert_running();
}

#[test]
fn unusable_certificate_files_stop_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("deploy test CA");
    let (cert, _, _) = ca.leaf();
    let (_, other_key, _) = ca.leaf();
    std::fs::write(dir.path().join("tls.crt"), &cert).unwrap();
    std::fs::write(dir.path().join("tls.key"), &other_key).unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--tls-cert")
        .arg(dir.path().join("tls.crt"))
        .arg("--tls-key")
        .arg(dir.path().join("tls.key"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("do not form a usable pair"), "{err}");

    let out = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0", "--tls-cert", "x.pem"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--tls-cert without --tls-key");
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn the_data_directory_and_database_files_are_private_to_the_service_user() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("var/lib/gigamcp");
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .arg("admin")
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["workspace", "create", "acme", "--name", "Acme"]);
    assert_eq!(mode(&data), 0o700, "data directory");
    let db = data.join("gigamcp.db");
    assert_eq!(mode(&db), 0o600, "database file");
    for companion in ["gigamcp.db-wal", "gigamcp.db-shm"] {
        let p = data.join(companion);
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{companion}");
        }
    }

    // A database left world-readable by an older version is tightened on the next start.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    run(&["workspace", "list"]);
    assert_eq!(mode(&db), 0o600, "database file after restart");
}

// --- ACME against pebble -----------------------------------------------------------------------

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// `pebble`, or `None` when the test should be skipped (never under CI).
fn pebble_or_skip() -> Option<PathBuf> {
    if let Some(p) = find_on_path("pebble") {
        return Some(p);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("pebble is not installed (CI=true): .ci/run installs Debian's `pebble` package");
    }
    // Straight to stderr (not `eprintln!`, which the test harness captures), so the skip shows.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED acme_certificate_from_pebble_…: needs Debian's `pebble` ACME test server (apt-get install pebble)"
    );
    None
}

/// The conformance harness binary, built next to `gigamcp` by `cargo test --workspace`.
fn harness_bin() -> PathBuf {
    let bin = Path::new(BIN)
        .with_file_name("gigamcp-conformance")
        .with_extension(std::env::consts::EXE_EXTENSION);
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build --workspace --bins` (or `cargo test --workspace`)",
        bin.display()
    );
    bin
}

struct Pebble {
    proc: Proc,
    dir_url: String,
    /// PEM of the CA that signs pebble's own HTTPS listener.
    tls_ca: PathBuf,
    mgmt_port: u16,
}

fn start_pebble(bin: &Path, dir: &Path, validation_port: u16) -> Pebble {
    let ca = Ca::new("pebble listener CA");
    let (cert, key, _) = ca.leaf();
    let tls_ca = dir.join("pebble-listener-ca.pem");
    std::fs::write(&tls_ca, &ca.pem).unwrap();
    std::fs::write(dir.join("pebble-cert.pem"), cert).unwrap();
    std::fs::write(dir.join("pebble-key.pem"), key).unwrap();
    let (port, mgmt_port) = (free_port(), free_port());
    let config = serde_json::json!({
        "pebble": {
            "listenAddress": format!("127.0.0.1:{port}"),
            "managementListenAddress": format!("127.0.0.1:{mgmt_port}"),
            "certificate": dir.join("pebble-cert.pem"),
            "privateKey": dir.join("pebble-key.pem"),
            // http-01 is not used; TLS-ALPN-01 connects to gigamcp's own listener.
            "httpPort": free_port(),
            "tlsPort": validation_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false
        }
    });
    let config_file = dir.join("pebble.json");
    std::fs::write(&config_file, config.to_string()).unwrap();
    let mut cmd = Command::new(bin);
    cmd.arg("-config")
        .arg(&config_file)
        // Validate at once instead of after a random 0-15 s pause; validation itself is real.
        .env("PEBBLE_VA_NOSLEEP", "1")
        .stdin(Stdio::null());
    let mut proc = Proc::spawn("pebble", &mut cmd, dir.join("pebble.log"));
    proc.wait_for_port(port, Duration::from_secs(60));
    proc.wait_for_port(mgmt_port, Duration::from_secs(60));
    Pebble {
        proc,
        dir_url: format!("https://127.0.0.1:{port}/dir"),
        tls_ca,
        mgmt_port,
    }
}

impl Pebble {
    /// The root pebble issues under (regenerated at every pebble start).
    async fn issuing_root(&self) -> String {
        let ca = std::fs::read(&self.tls_ca).unwrap();
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .build()
            .unwrap();
        let r = client
            .get(format!("https://127.0.0.1:{}/roots/0", self.mgmt_port))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    }
}

fn serve_acme(dir: &Path, pebble: &Pebble, port: u16, extra: &[&str], log: &str) -> Proc {
    serve_acme_at(dir, &pebble.dir_url, &pebble.tls_ca, port, extra, log)
}

fn serve_acme_at(
    dir: &Path,
    directory: &str,
    directory_ca: &Path,
    port: u16,
    extra: &[&str],
    log: &str,
) -> Proc {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--acme-domain", "localhost"])
        .args(["--acme-contact", "ops@example.com"])
        .args(["--acme-directory", directory])
        .arg("--acme-ca-root")
        .arg(directory_ca)
        // As `cargo xtask conformance`: many registrations from one address, 1 s replay windows.
        .args(["--registration-rate-limit", "100000"])
        .args(["--refresh-grace", "1", "--duplicate-code-window", "1"])
        .args(extra)
        .env("GIGAMCP_DEMO_PASSWORD", DEMO_PASSWORD)
        .env("RUST_LOG", "info");
    let mut p = Proc::spawn("gigamcp", &mut cmd, dir.join(log));
    p.wait_for_port(port, Duration::from_secs(60));
    p
}

#[tokio::test]
async fn acme_certificate_from_pebble_then_the_chatgpt_conformance_run_over_https() {
    let Some(pebble_bin) = pebble_or_skip() else {
        return;
    };
    let harness = harness_bin();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let pebble = start_pebble(&pebble_bin, dir.path(), port);
    let root = pebble.issuing_root().await;
    let root_file = dir.path().join("pebble-root.pem");
    std::fs::write(&root_file, &root).unwrap();

    // First start: no certificate yet; the ACME task orders one, answering TLS-ALPN-01 on the
    // listener itself. The default public URL is https://localhost:PORT.
    let mut server = serve_acme(dir.path(), &pebble, port, &[], "server.log");
    let deadline = Instant::now() + Duration::from_secs(90);
    let first = loop {
        match served_leaf(&root, port).await {
            Ok(der) => break der,
            Err(e) => {
                server.assert_running();
                assert!(
                    Instant::now() < deadline,
                    "no certificate from pebble ({e}).\nserver:\n{}\npebble:\n{}",
                    server.log(),
                    pebble.proc.log()
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    };
    assert!(server.log().contains("ACME: certificate obtained"));

    // Without --ca-cert the harness does not trust pebble's root: it cannot proceed (exit 2).
    let untrusted = Command::new(&harness)
        .arg("run")
        .arg(format!("https://localhost:{port}/t/acme/mcp"))
        .args(["--only", "discovery/", "--timeout", "5"])
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&untrusted.stdout),
        String::from_utf8_lossy(&untrusted.stderr)
    );
    assert_eq!(untrusted.status.code(), Some(2), "{said}");
    assert!(said.to_lowercase().contains("certificate"), "{said}");

    // The ChatGPT connector flow over https, trusting pebble's root: every MUST holds.
    let report = dir.path().join("conformance.json");
    let out = Command::new(&harness)
        .arg("run")
        .arg(format!("https://localhost:{port}/t/acme/mcp"))
        .args(["--profile", "chatgpt", "--login", "form"])
        .args(["--username", "alice", "--password", DEMO_PASSWORD])
        .arg("--second-resource")
        .arg(format!("https://localhost:{port}/t/globex/mcp"))
        .args(["--replay-delay", "2"])
        .arg("--ca-cert")
        .arg(&root_file)
        .arg("--report")
        .arg(format!("json={}", report.display()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "conformance over https failed:\n{stdout}\n{}\nserver:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let tally = &summary["tally"];
    assert_eq!(tally["failed"], 0, "{tally}");
    let passed = tally["passed"].as_u64().unwrap();
    assert!(passed >= 40, "only {passed} checks passed:\n{stdout}");
    eprintln!("conformance over https (ACME certificate): {tally}");

    // Account and certificate are cached, private to the service user.
    #[cfg(unix)]
    {
        let acme = dir.path().join("data/acme");
        let cache = std::fs::read_dir(&acme)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        assert_eq!(mode(&cache), 0o700);
        let files: Vec<PathBuf> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(
            files.len(),
            3,
            "account.json, *.cert.pem, *.key.pem: {files:?}"
        );
        for f in &files {
            assert_eq!(mode(f), 0o600, "{}", f.display());
        }
    }
    server.stop();

    // Renewal: a restart that finds the cached certificate due orders a new one with the
    // cached account, and serves it without a restart.
    let mut server = serve_acme(
        dir.path(),
        &pebble,
        port,
        &["--acme-renew-within", "999999999"],
        "server-renew.log",
    );
    let mut renewed = first.clone();
    let deadline = Instant::now() + Duration::from_secs(90);
    while renewed == first {
        server.assert_running();
        assert!(Instant::now() < deadline, "no renewal:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(250)).await;
        renewed = served_leaf(&root, port).await.unwrap_or(first.clone());
    }
    let log = server.log();
    assert!(
        log.contains("ACME: serving the cached certificate"),
        "{log}"
    );
    assert!(
        !log.contains("ACME: account created"),
        "account reused: {log}"
    );
    server.stop();

    // With the CA gone, a restart serves the cached (renewed) certificate immediately.
    let Pebble {
        proc,
        dir_url,
        tls_ca,
        ..
    } = pebble;
    proc.stop();
    let mut server = serve_acme_at(
        dir.path(),
        &dir_url,
        &tls_ca,
        port,
        &[],
        "server-cached.log",
    );
    assert_eq!(served_leaf(&root, port).await.unwrap(), renewed);
    server.assert_running();
}
