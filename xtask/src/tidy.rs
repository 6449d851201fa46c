//! Tidy checks in rust-analyzer's style: plain `#[test]`s that read the source tree (std only) and
//! enforce the invariants ARCHITECTURE.md states. Each checker is a function over a small
//! in-memory tree (`Tree`), so the unit tests below prove every checker can fail on a synthetic
//! tree before it is applied to the real one.
//!
//! Enforced here:
//! - the `conformance` crate never depends on the server crate (manifest and source);
//! - in `server/src/oauth/`, only `http.rs` imports axum (the flows return outcomes);
//! - the wall clock (`SystemTime::now`, `Utc::now`, `Local::now`) is read only in `clock.rs`
//!   and the short allow-list [`CLOCK_ALLOWED`];
//! - SQL only in `server/src/store/` and `server/src/knowledge/store.rs`;
//! - no import cycles between files of `server/src` (and `conformance/src`);
//! - no function in `conformance/src` longer than [`MAX_FN_LINES`] lines;
//! - error statuses (any `StatusCode::` but 1xx/2xx/3xx) are named only in `error.rs` and the
//!   short allow-list [`ERROR_STATUS_ALLOWED`]: everywhere else an error reaches HTTP through
//!   `AppError`/`OAuthError`/`BearerChallenge`/`PageError`.
#![cfg(test)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A source tree: path relative to the crate's `src/` (with `/` separators) → contents.
type Tree = BTreeMap<String, String>;

/// Files of `server/src` allowed to read the wall clock, with the reason.
const CLOCK_ALLOWED: &[(&str, &str)] = &[
    (
        "clock.rs",
        "SystemClock: the one production reader of the wall clock",
    ),
    (
        "knowledge/github.rs",
        "GitHub's x-ratelimit-reset is an absolute Unix time on GitHub's clock; the wait is \
         real time for a real remote server, not a token or code expiry (those use Clock)",
    ),
    (
        "tls/acme.rs",
        "a certificate's validity is absolute time set by the CA; renewal is scheduled against \
         the real clock that TLS clients check it with, not a token or code expiry",
    ),
];

const MAX_FN_LINES: usize = 120;

/// Files of `server/src` that may name an error status (4xx/5xx), with the reason. An entry
/// without `.rs` also covers the folder of that name (`mcp/transport` → `mcp/transport/*.rs`).
const ERROR_STATUS_ALLOWED: &[(&str, &str)] = &[
    ("error.rs", "the one place errors become HTTP responses"),
    (
        "mcp/transport",
        "Streamable HTTP prescribes a status per transport rule (403 Origin, 400 version or \
         header mismatch, 404 unknown session, 405, 406, 409, 413, 415); the transport picks it \
         and error.rs renders it (AppError::JsonRpc)",
    ),
    (
        "ops/routes.rs",
        "/readyz answers 503 with its readiness report when a dependency is not ready: the \
         probe's answer (what load balancers and Kubernetes read), not an error of the request",
    ),
];

/// The `StatusCode` constants that are not errors (1xx, 2xx, 3xx): any file may name these.
const NON_ERROR_STATUSES: &[&str] = &[
    "CONTINUE",
    "SWITCHING_PROTOCOLS",
    "PROCESSING",
    "OK",
    "CREATED",
    "ACCEPTED",
    "NON_AUTHORITATIVE_INFORMATION",
    "NO_CONTENT",
    "RESET_CONTENT",
    "PARTIAL_CONTENT",
    "MULTI_STATUS",
    "ALREADY_REPORTED",
    "IM_USED",
    "MULTIPLE_CHOICES",
    "MOVED_PERMANENTLY",
    "FOUND",
    "SEE_OTHER",
    "NOT_MODIFIED",
    "USE_PROXY",
    "TEMPORARY_REDIRECT",
    "PERMANENT_REDIRECT",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn load_tree(dir: &Path) -> Tree {
    fn walk(base: &Path, dir: &Path, out: &mut Tree) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(base, &p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let rel = p.strip_prefix(base).expect("under base");
                let rel = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.insert(rel, std::fs::read_to_string(&p).expect("utf-8 source"));
            }
        }
    }
    let mut out = Tree::new();
    walk(dir, dir, &mut out);
    out
}

// ---------------------------------------------------------------------------------------------
// Lexing: separate code from comments and string literals.

/// `src` with comments removed and every string/char literal replaced by `""` / `' '`, plus the
/// contents of the string literals (with their line numbers). Line structure is preserved.
fn lex(src: &str) -> (String, Vec<(usize, String)>) {
    let b: Vec<char> = src.chars().collect();
    let mut code = String::with_capacity(src.len());
    let mut strings = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if b[i] == '\n' {
                        code.push('\n');
                        line += 1;
                    }
                    i += 1;
                }
            }
            continue;
        }
        let prev_ident = i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_');
        // Raw strings: r"…", r#"…"#, br#"…"#.
        if !prev_ident && (c == 'r' || (c == 'b' && next == Some('r'))) {
            let mut j = if c == 'b' { i + 2 } else { i + 1 };
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) == Some(&'"') && (hashes > 0 || j == i + 1 || c == 'b') {
                let start_line = line;
                let mut s = String::new();
                j += 1;
                loop {
                    if j >= b.len() {
                        break;
                    }
                    if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                        j += 1 + hashes;
                        break;
                    }
                    if b[j] == '\n' {
                        line += 1;
                        code.push('\n');
                    }
                    s.push(b[j]);
                    j += 1;
                }
                strings.push((start_line, s));
                code.push_str("\"\"");
                i = j;
                continue;
            }
        }
        if c == '"' {
            let start_line = line;
            let mut s = String::new();
            let mut j = i + 1;
            while j < b.len() && b[j] != '"' {
                if b[j] == '\\' {
                    s.push(b[j]);
                    j += 1;
                }
                if j < b.len() {
                    if b[j] == '\n' {
                        line += 1;
                        code.push('\n');
                    }
                    s.push(b[j]);
                }
                j += 1;
            }
            strings.push((start_line, s));
            code.push_str("\"\"");
            i = j + 1;
            continue;
        }
        if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                let mut j = i + 2;
                while j < b.len() && b[j] != '\'' {
                    j += 1;
                }
                code.push_str("' '");
                i = j + 1;
                continue;
            }
            if b.get(i + 2) == Some(&'\'') {
                code.push_str("' '");
                i += 3;
                continue;
            }
        }
        if c == '\n' {
            line += 1;
        }
        code.push(c);
        i += 1;
    }
    (code, strings)
}

// ---------------------------------------------------------------------------------------------
// The file-level import graph.

/// The module path of a file (`mcp/tools/mod.rs` → `["mcp", "tools"]`, `lib.rs` → `[]`).
fn module_of(file: &str) -> Vec<String> {
    let trimmed = file.trim_end_matches(".rs");
    let mut parts: Vec<String> = trimmed.split('/').map(str::to_string).collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The file a module path lives in: the longest prefix of `path` that names a file of the tree.
fn resolve(tree: &Tree, path: &[String], crate_root: &str) -> Option<String> {
    for n in (0..=path.len()).rev() {
        let p = path[..n].join("/");
        if n == 0 {
            return tree
                .contains_key(crate_root)
                .then(|| crate_root.to_string());
        }
        for cand in [format!("{p}.rs"), format!("{p}/mod.rs")] {
            if tree.contains_key(&cand) {
                return Some(cand);
            }
        }
    }
    None
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Expands a `use` tree (`crate::{a::B, c::{D as E}}`) into its paths.
fn expand_use(tree: &str) -> Vec<String> {
    fn squash(s: &str) -> String {
        s.chars().filter(|c| !c.is_whitespace()).collect()
    }
    fn go(prefix: &str, t: &str, out: &mut Vec<String>) {
        let t = t.trim();
        if let Some(open) = t.find('{') {
            let head = squash(&t[..open]);
            let inner: Vec<char> = t[open + 1..t.rfind('}').unwrap_or(t.len())]
                .chars()
                .collect();
            let mut depth = 0;
            let mut start = 0;
            let mut parts = Vec::new();
            for (i, c) in inner.iter().enumerate() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        parts.push(inner[start..i].iter().collect::<String>());
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            parts.push(inner[start..].iter().collect::<String>());
            for p in parts.iter().filter(|p| !p.trim().is_empty()) {
                go(&format!("{prefix}{head}"), p, out);
            }
        } else {
            let leaf = t.split(" as ").next().unwrap_or(t);
            out.push(format!("{prefix}{}", squash(leaf)));
        }
    }
    let mut out = Vec::new();
    go("", tree, &mut out);
    out
}

/// Edges of one file: the files of the same crate it names through `crate::`, `super::`,
/// `self::` or a child module's name. `mod` declarations are not edges.
fn file_edges(tree: &Tree, file: &str, crate_root: &str) -> BTreeSet<String> {
    let (code, _) = lex(&tree[file]);
    let here = module_of(file);
    // Child modules declared in this file (`mod x;`), and the crate's top-level modules.
    let mut children = BTreeSet::new();
    for l in code.lines() {
        let l = l.trim();
        let l = l.strip_prefix("pub(crate) ").unwrap_or(l);
        let l = l.strip_prefix("pub ").unwrap_or(l);
        if let Some(rest) = l.strip_prefix("mod ")
            && let Some(name) = rest.strip_suffix(';')
        {
            children.insert(name.trim().to_string());
        }
    }
    let mut paths: Vec<Vec<String>> = Vec::new();
    // `use` statements (the tree may span lines).
    let mut rest = code.as_str();
    while let Some(pos) = rest.find("use ") {
        let before_ok = pos == 0 || !is_ident(rest[..pos].chars().last().unwrap_or(' '));
        let after = &rest[pos + 4..];
        let end = after.find(';').unwrap_or(after.len());
        if before_ok {
            for p in expand_use(&after[..end]) {
                let p = p.trim_start_matches("::");
                paths.push(p.split("::").map(str::to_string).collect());
            }
        }
        rest = &after[end.min(after.len())..];
    }
    // Paths in code: `crate::a::b`, `super::x`, `self::x`, `child::x`.
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if is_ident(chars[i]) && (i == 0 || (!is_ident(chars[i - 1]) && chars[i - 1] != ':')) {
            let mut j = i;
            let mut segs = vec![String::new()];
            loop {
                while j < chars.len() && is_ident(chars[j]) {
                    segs.last_mut().expect("segment").push(chars[j]);
                    j += 1;
                }
                if j + 1 < chars.len() && chars[j] == ':' && chars[j + 1] == ':' {
                    j += 2;
                    segs.push(String::new());
                } else {
                    break;
                }
            }
            // `crate::{…}` and `super::*` are `use` trees, expanded above.
            if segs.len() > 1 && segs.last().is_some_and(|s| !s.is_empty()) {
                paths.push(segs);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    // Inline modules (`mod tests { … }`) make `super::` mean this file: approximate by
    // treating `super::super::` inside them as we see them; files of this project only use
    // `super::*` in inline test modules, which resolves to the file itself and is dropped.
    let mut out = BTreeSet::new();
    for p in paths {
        let Some(first) = p.first() else { continue };
        let abs: Vec<String> = match first.as_str() {
            "crate" => p[1..].to_vec(),
            "super" => {
                let mut base = here.clone();
                let mut k = 0;
                let mut levels = 0;
                while p.get(k).map(String::as_str) == Some("super") {
                    levels += 1;
                    k += 1;
                }
                // For `foo.rs` (module foo), `super` is foo's parent; in `foo/mod.rs` too.
                for _ in 0..levels {
                    base.pop();
                }
                base.extend(p[k..].iter().cloned());
                base
            }
            "self" => {
                let mut base = here.clone();
                base.extend(p[1..].iter().cloned());
                base
            }
            name if children.contains(name) => {
                let mut base = here.clone();
                base.extend(p.iter().cloned());
                base
            }
            _ => continue,
        };
        if let Some(target) = resolve(tree, &abs, crate_root)
            && target != file
        {
            out.insert(target);
        }
    }
    out
}

/// Files whose `super::` refers to the file itself because it appears only inside an inline
/// `#[cfg(test)] mod tests`: strip those modules before building edges.
fn without_test_modules(src: &str) -> String {
    let mut out = String::new();
    let mut rest = src;
    while let Some(pos) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        // Skip the attribute and the item it guards (through its matching brace or `;`).
        let mut depth = 0;
        let mut end = after.len();
        for (i, c) in after.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                _ => {}
            }
        }
        out.push_str(&"\n".repeat(after[..end].matches('\n').count()));
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn import_graph(tree: &Tree, crate_root: &str) -> BTreeMap<String, BTreeSet<String>> {
    let stripped: Tree = tree
        .iter()
        .map(|(k, v)| (k.clone(), without_test_modules(&lex(v).0)))
        .collect();
    stripped
        .keys()
        .map(|f| (f.clone(), file_edges(&stripped, f, crate_root)))
        .collect()
}

/// Every elementary cycle's representative: for each strongly connected component with more
/// than one file, one cycle through it (as a list of files, first repeated at the end).
fn find_cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Tarjan's SCC.
    struct St<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        on: BTreeSet<&'a str>,
        stack: Vec<&'a str>,
        next: usize,
        sccs: Vec<Vec<&'a str>>,
    }
    fn strong<'a>(s: &mut St<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on.insert(v);
        for w in s.g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.g.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                strong(s, w);
                let lw = s.low[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(lw));
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w);
                if w == v {
                    break;
                }
            }
            s.sccs.push(comp);
        }
    }
    let mut s = St {
        g: graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        on: BTreeSet::new(),
        stack: Vec::new(),
        next: 0,
        sccs: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            strong(&mut s, v);
        }
    }
    let mut cycles = Vec::new();
    for comp in s.sccs.iter().filter(|c| c.len() > 1) {
        let set: BTreeSet<&str> = comp.iter().copied().collect();
        let start = *set.iter().next().expect("non-empty");
        // Shortest path back to `start` inside the component (BFS).
        let mut prev: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        let mut found = None;
        while let Some(v) = queue.pop_front() {
            for w in &graph[v] {
                let w = w.as_str();
                if !set.contains(w) {
                    continue;
                }
                if w == start {
                    found = Some(v);
                    break;
                }
                if !prev.contains_key(w) {
                    prev.insert(w, v);
                    queue.push_back(w);
                }
            }
            if found.is_some() {
                break;
            }
        }
        let mut path = vec![start.to_string()];
        let mut v = found.expect("a component has a cycle through every member");
        let mut back = vec![v.to_string()];
        while v != start {
            v = prev[v];
            if v != start {
                back.push(v.to_string());
            }
        }
        back.reverse();
        path.extend(back);
        path.push(start.to_string());
        let mut members: Vec<String> = set.iter().map(|m| m.to_string()).collect();
        members.retain(|m| !path.contains(m));
        if !members.is_empty() {
            path.push(format!("(same tangle: {})", members.join(", ")));
        }
        cycles.push(path);
    }
    cycles
}

fn check_no_cycles(tree: &Tree, crate_root: &str) -> Result<(), String> {
    let graph = import_graph(tree, crate_root);
    // `TIDY_GRAPH=1 cargo test -p xtask tidy` prints the file graph (to find where a cycle closes).
    if std::env::var_os("TIDY_GRAPH").is_some() {
        for (f, to) in &graph {
            eprintln!(
                "{f} -> {}",
                to.iter().cloned().collect::<Vec<_>>().join(", ")
            );
        }
    }
    let cycles = find_cycles(&graph);
    if cycles.is_empty() {
        return Ok(());
    }
    Err(cycles
        .iter()
        .map(|c| format!("import cycle: {}", c.join(" -> ")))
        .collect::<Vec<_>>()
        .join("\n"))
}

// ---------------------------------------------------------------------------------------------
// The other checks.

/// (a) The harness never depends on the server crate.
fn check_conformance_independent(manifest: &str, tree: &Tree) -> Result<(), String> {
    let mut errs = Vec::new();
    let manifest_code: String = manifest
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    if manifest_code.contains("gigamcp-server") || manifest_code.contains("path = \"../server") {
        errs.push("conformance/Cargo.toml depends on the server crate".to_string());
    }
    for (file, src) in tree {
        if lex(src).0.contains("gigamcp_server") {
            errs.push(format!("conformance/src/{file} names gigamcp_server"));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("\n"))
    }
}

/// (b) Only the HTTP module of `oauth/` imports axum.
fn check_oauth_axum(tree: &Tree) -> Result<(), String> {
    let bad: Vec<String> = tree
        .iter()
        .filter(|(f, _)| f.starts_with("oauth/") && f.as_str() != "oauth/http.rs")
        .filter(|(_, src)| lex(src).0.contains("axum"))
        .map(|(f, _)| format!("server/src/{f} uses axum (only oauth/http.rs may)"))
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("\n"))
    }
}

/// (c) The wall clock is read only in allowed files. `Instant::now` is monotonic time for
/// latencies and timers (never an expiry decision) and is allowed everywhere.
fn check_clock(tree: &Tree) -> Result<(), String> {
    let mut bad = Vec::new();
    for (file, src) in tree {
        if CLOCK_ALLOWED.iter().any(|(f, _)| f == file) {
            continue;
        }
        let (code, _) = lex(src);
        for (n, l) in code.lines().enumerate() {
            let l: String = l.chars().filter(|c| !c.is_whitespace()).collect();
            for pat in [
                "SystemTime::now",
                "Utc::now",
                "Local::now",
                "OffsetDateTime::now",
            ] {
                if l.contains(pat) {
                    bad.push(format!(
                        "server/src/{file}:{}: reads the wall clock ({pat}); use Clock",
                        n + 1
                    ));
                }
            }
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("\n"))
    }
}

fn is_sql_store(file: &str) -> bool {
    file.starts_with("store/") || file == "knowledge/store.rs"
}

/// Whether a string literal is a SQL statement.
fn looks_like_sql(s: &str) -> bool {
    let u = s.trim_start().to_ascii_uppercase();
    let words: Vec<&str> = u.split_whitespace().collect();
    let first = words.first().copied().unwrap_or("");
    let has = |w: &str| words.contains(&w);
    match first {
        "SELECT" => has("FROM"),
        "INSERT" => has("INTO"),
        "UPDATE" => has("SET"),
        "DELETE" => has("FROM"),
        "CREATE" | "DROP" | "ALTER" => has("TABLE") || has("INDEX"),
        "WITH" => has("AS") && has("SELECT"),
        _ => false,
    }
}

/// (d) SQL only in the store modules.
fn check_sql(tree: &Tree) -> Result<(), String> {
    let mut bad = Vec::new();
    for (file, src) in tree {
        if is_sql_store(file) {
            continue;
        }
        let (code, strings) = lex(src);
        for api in ["sqlx::query", "query_as(", "query_scalar(", "sqlx::raw_sql"] {
            if code.contains(api) {
                bad.push(format!("server/src/{file}: calls {api} outside store/"));
            }
        }
        for (line, s) in strings {
            if looks_like_sql(&s) {
                bad.push(format!(
                    "server/src/{file}:{line}: SQL literal outside store/"
                ));
            }
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("\n"))
    }
}

/// (g) Error statuses only in `error.rs` (and the allow-list). Default-deny: anything after
/// `StatusCode::` that is not a 1xx/2xx/3xx constant counts (`from_u16` included), so a new
/// error status cannot slip past under a name this list does not know. Test modules are exempt.
fn check_error_statuses(tree: &Tree) -> Result<(), String> {
    let allowed = |file: &str| {
        ERROR_STATUS_ALLOWED.iter().any(|(a, _)| {
            file == *a
                || (!a.ends_with(".rs")
                    && (file == format!("{a}.rs") || file.starts_with(&format!("{a}/"))))
        })
    };
    let mut bad = Vec::new();
    for (file, src) in tree {
        if allowed(file) {
            continue;
        }
        let code = without_test_modules(&lex(src).0);
        for (n, l) in code.lines().enumerate() {
            let l: String = l.chars().filter(|c| !c.is_whitespace()).collect();
            for (at, _) in l.match_indices("StatusCode::") {
                let name: String = l[at + "StatusCode::".len()..]
                    .chars()
                    .take_while(|c| is_ident(*c))
                    .collect();
                if !NON_ERROR_STATUSES.contains(&name.as_str()) {
                    bad.push(format!(
                        "server/src/{file}:{}: StatusCode::{name} outside error.rs; return an \
                         AppError (OAuthError, BearerChallenge, JSON-RPC) or, on an HTML page, \
                         web::error_page with a PageError",
                        n + 1
                    ));
                }
            }
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("\n"))
    }
}

/// (f) No function longer than `max` lines (from the `fn` line to its closing brace).
fn check_fn_length(tree: &Tree, max: usize) -> Result<(), String> {
    let mut bad = Vec::new();
    for (file, src) in tree {
        let (code, _) = lex(src);
        let lines: Vec<&str> = code.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let t = lines[i].trim_start();
            let is_fn = t.split_whitespace().take(6).any(|w| w == "fn")
                && !t.starts_with("//")
                && t.contains("fn ");
            if !is_fn {
                i += 1;
                continue;
            }
            // Find the body's opening brace, then its match (a `;` first means no body).
            let mut depth = 0i32;
            let mut opened = false;
            let mut end = None;
            'scan: for (k, l) in lines.iter().enumerate().skip(i) {
                for c in l.chars() {
                    match c {
                        ';' if !opened && depth == 0 => break 'scan,
                        '{' => {
                            depth += 1;
                            opened = true;
                        }
                        '}' => {
                            depth -= 1;
                            if opened && depth == 0 {
                                end = Some(k);
                                break 'scan;
                            }
                        }
                        _ => {}
                    }
                }
            }
            if let Some(end) = end {
                let len = end - i + 1;
                if len > max {
                    let name = t
                        .split("fn ")
                        .nth(1)
                        .and_then(|r| r.split(['(', '<']).next())
                        .unwrap_or("?");
                    bad.push(format!(
                        "conformance/src/{file}:{}: fn {name} is {len} lines (max {max})",
                        i + 1
                    ));
                }
            }
            // Nested functions are measured too: continue on the next line.
            i += 1;
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("\n"))
    }
}

// ---------------------------------------------------------------------------------------------
// The real tree.

fn server_tree() -> Tree {
    load_tree(&root().join("server/src"))
}

fn conformance_tree() -> Tree {
    load_tree(&root().join("conformance/src"))
}

fn ok(r: Result<(), String>) {
    if let Err(e) = r {
        panic!("\n{e}\n");
    }
}

#[test]
fn conformance_never_depends_on_the_server() {
    let manifest =
        std::fs::read_to_string(root().join("conformance/Cargo.toml")).expect("manifest");
    ok(check_conformance_independent(
        &manifest,
        &conformance_tree(),
    ));
}

#[test]
fn only_oauth_http_imports_axum() {
    ok(check_oauth_axum(&server_tree()));
}

#[test]
fn wall_clock_only_where_allowed() {
    ok(check_clock(&server_tree()));
}

#[test]
fn sql_only_in_store_modules() {
    ok(check_sql(&server_tree()));
}

#[test]
fn error_statuses_only_in_error_rs() {
    ok(check_error_statuses(&server_tree()));
}

#[test]
fn no_import_cycles_in_server() {
    ok(check_no_cycles(&server_tree(), "lib.rs"));
}

// Enabled once the harness refactor lands (issue 7's conformance/src half, another branch).
#[test]
fn no_import_cycles_in_conformance() {
    ok(check_no_cycles(&conformance_tree(), "lib.rs"));
}

// Enabled once the harness refactor lands (issue 7's conformance/src half, another branch).
#[test]
fn no_long_functions_in_conformance() {
    ok(check_fn_length(&conformance_tree(), MAX_FN_LINES));
}

// ---------------------------------------------------------------------------------------------
// Each checker fails on a synthetic tree (a check that cannot fail is a defect).

fn tree(files: &[(&str, &str)]) -> Tree {
    files
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn cycle_checker_reports_a_two_file_cycle() {
    let t = tree(&[
        ("lib.rs", "pub mod a;\npub mod b;\n"),
        ("a.rs", "use crate::b::B;\npub struct A;\n"),
        ("b.rs", "pub struct B;\nfn f() { let _ = crate::a::A; }\n"),
    ]);
    let err = check_no_cycles(&t, "lib.rs").unwrap_err();
    assert!(err.contains("a.rs -> b.rs -> a.rs"), "{err}");
}

#[test]
fn cycle_checker_reports_a_loop_through_a_parent_and_ignores_tests() {
    let t = tree(&[
        ("lib.rs", "pub mod m;\npub mod c;\n"),
        ("m/mod.rs", "mod x;\nmod y;\npub use x::X;\n"),
        ("m/x.rs", "use super::y::Y;\npub struct X;\n"),
        (
            "m/y.rs",
            "pub struct Y;\n#[cfg(test)]\nmod tests { use crate::m::X; }\n",
        ),
        ("c.rs", "use crate::{m::{X}, lib_thing};\n"),
    ]);
    assert!(check_no_cycles(&t, "lib.rs").is_ok());
    let mut t = t;
    t.insert("m/y.rs".into(), "use crate::m::X;\npub struct Y;\n".into());
    let err = check_no_cycles(&t, "lib.rs").unwrap_err();
    assert!(
        err.contains("m/mod.rs -> m/x.rs -> m/y.rs -> m/mod.rs"),
        "{err}"
    );
}

#[test]
fn cycle_checker_sees_the_crate_root() {
    let t = tree(&[
        ("lib.rs", "pub mod a;\npub struct State(a::A);\n"),
        ("a.rs", "pub struct A;\nfn f(_: crate::State) {}\n"),
    ]);
    let err = check_no_cycles(&t, "lib.rs").unwrap_err();
    assert!(err.contains("a.rs -> lib.rs -> a.rs"), "{err}");
}

#[test]
fn comments_and_strings_are_not_code() {
    let t = tree(&[
        ("lib.rs", "pub mod a;\npub mod b;\n"),
        (
            "a.rs",
            "// crate::b::B\nconst S: &str = \"crate::b::B\";\nuse crate::b::B;\n",
        ),
        (
            "b.rs",
            "/* crate::a */ const R: &str = r#\"crate::a::A\"#; const C: char = '\"';\n",
        ),
    ]);
    assert!(check_no_cycles(&t, "lib.rs").is_ok());
}

#[test]
fn conformance_independence_checker_fails() {
    let clean = tree(&[("lib.rs", "// gigamcp_server is a black box\n")]);
    assert!(check_conformance_independent("[dependencies]\nserde = \"1\"\n", &clean).is_ok());
    let dep = "[dependencies]\ngigamcp-server = { path = \"../server\" }\n";
    assert!(check_conformance_independent(dep, &clean).is_err());
    let used = tree(&[("lib.rs", "use gigamcp_server::AppState;\n")]);
    assert!(check_conformance_independent("", &used).is_err());
}

#[test]
fn oauth_axum_checker_fails() {
    let t = tree(&[
        ("oauth/http.rs", "use axum::Router;\n"),
        ("web/mod.rs", "use axum::Router;\n"),
    ]);
    assert!(check_oauth_axum(&t).is_ok());
    let t = tree(&[("oauth/token.rs", "fn f() -> axum::Json<()> { todo!() }\n")]);
    assert!(check_oauth_axum(&t).is_err());
}

#[test]
fn clock_checker_fails() {
    let t = tree(&[
        ("clock.rs", "fn now() { std::time::SystemTime::now(); }\n"),
        (
            "lib.rs",
            "fn t() { std::time::Instant::now(); }\n// SystemTime::now\n",
        ),
    ]);
    assert!(check_clock(&t).is_ok());
    let t = tree(&[(
        "oauth/token.rs",
        "fn f() { let _ = SystemTime :: now(); }\n",
    )]);
    let err = check_clock(&t).unwrap_err();
    assert!(err.contains("oauth/token.rs:1"), "{err}");
}

#[test]
fn sql_checker_fails() {
    let t = tree(&[
        (
            "store/users.rs",
            "const Q: &str = \"SELECT id FROM users\";\n",
        ),
        (
            "knowledge/store.rs",
            "fn f() { sqlx::query(\"DELETE FROM chunks\"); }\n",
        ),
        (
            "web/mod.rs",
            "const S: &str = \"Select the scopes, then update your settings\";\n",
        ),
    ]);
    assert!(check_sql(&t).is_ok());
    let t = tree(&[(
        "mcp/tools/mod.rs",
        "const Q: &str = \"\n  update grants set x = 1\";\n",
    )]);
    assert!(check_sql(&t).unwrap_err().contains("mcp/tools/mod.rs:1"));
    let t = tree(&[("oauth/token.rs", "fn f(q: &str) { sqlx::query(q); }\n")]);
    assert!(check_sql(&t).is_err());
}

#[test]
fn fn_length_checker_fails() {
    let short = "fn a() {\n    let x = 1;\n}\n";
    let long = format!("fn b() {{\n{}}}\n", "    let y = '}';\n".repeat(130));
    assert!(check_fn_length(&tree(&[("flow/x.rs", short)]), MAX_FN_LINES).is_ok());
    let err = check_fn_length(&tree(&[("flow/x.rs", &long)]), MAX_FN_LINES).unwrap_err();
    assert!(err.contains("fn b is 132 lines"), "{err}");
}

#[test]
fn error_status_checker_fails() {
    let t = tree(&[
        (
            "error.rs",
            "fn s() -> StatusCode { StatusCode::BAD_REQUEST }\n",
        ),
        (
            "mcp/transport/post.rs",
            "fn s() { let _ = StatusCode::UNSUPPORTED_MEDIA_TYPE; }\n",
        ),
        (
            "web/mod.rs",
            "// StatusCode::FORBIDDEN\nfn f() { let _ = (StatusCode::OK, StatusCode::SEE_OTHER); \
             let _ = \"StatusCode::NOT_FOUND\"; }\n#[cfg(test)]\nmod tests { \
             fn t() { assert_eq!(s, StatusCode::NOT_FOUND); } }\n",
        ),
    ]);
    assert!(check_error_statuses(&t).is_ok());
    let t = tree(&[(
        "web/login.rs",
        "fn f() {\n    page(axum::http::StatusCode :: FORBIDDEN);\n}\n",
    )]);
    let err = check_error_statuses(&t).unwrap_err();
    assert!(
        err.contains("web/login.rs:2: StatusCode::FORBIDDEN"),
        "{err}"
    );
    let t = tree(&[("lib.rs", "fn f() { StatusCode::from_u16(418); }\n")]);
    assert!(check_error_statuses(&t).unwrap_err().contains("from_u16"));
    let t = tree(&[(
        "mcp/transport_extra.rs",
        "fn f() { StatusCode::CONFLICT; }\n",
    )]);
    assert!(check_error_statuses(&t).is_err());
}
