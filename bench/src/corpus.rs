//! Synthetic company knowledge base in the ingest layout of `gigamcp admin ingest`:
//!
//! ```text
//! OUT/workspace.json                       {"slug": …, "name": …}
//! OUT/wiki/<page>.md                       front matter, headings, paragraphs, lists, code
//! OUT/github/<owner>__<repo>/issues.json   GitHub REST issue objects (labels, user, comments)
//! OUT/needles.json                         known queries and the document each must find first
//! ```
//!
//! Text is drawn from a Zipf-distributed vocabulary (a few hundred real engineering words at the
//! head, then pronounceable synthetic words), so term statistics look like a real wiki: a few
//! words in every passage, a long tail of rare ones. Wiki sections are sized so that each
//! becomes one ~800–1200 character passage, which makes the passage count predictable
//! (about five per document on average: 20,000 documents give ~103,000 passages).
//!
//! **Deterministic.** Every document is generated from its own PRNG stream derived from
//! `(seed, document index)`, with a fixed-algorithm PRNG (SplitMix64) rather than a crate's
//! generator, whose sampling may change between versions: the same `(documents, seed,
//! revision)` always gives byte-identical files. A `revision > 0` rewrites `changed` documents
//! (chosen by the seed and revision) and gives each a revision marker needle, for measuring
//! incremental ingestion.
use serde::Serialize;
use serde_json::json;
use std::fmt::Write as _;
use std::path::Path;

/// The generator's own version: bumped whenever the same [`Spec`] would write different files,
/// so a corpus cached under an older one is not taken for this one (`run::scale_phase` names its
/// cache directory with it).
pub const GENERATION: u32 = 2;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub documents: usize,
    pub seed: u64,
    /// 0 is the base corpus; revision r > 0 changes `changed` documents of it.
    pub revision: u32,
    /// Documents rewritten per revision (clamped to the document count).
    pub changed: usize,
    /// Workspace slug written to `workspace.json`.
    pub workspace: String,
}

impl Spec {
    pub fn new(documents: usize, seed: u64) -> Self {
        Spec {
            documents,
            seed,
            revision: 0,
            changed: 100,
            workspace: "scale".into(),
        }
    }
}

/// A query with exactly one right answer.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Needle {
    pub query: String,
    /// The document id the server gives it (`wiki:<page>` or `github:<owner>/<repo>#<n>`).
    pub doc_id: String,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Summary {
    pub documents: usize,
    pub wiki_pages: usize,
    pub issues: usize,
    pub repos: usize,
    pub bytes: u64,
    /// Passages the server's chunker makes (each generated section is sized to be one).
    pub estimated_passages: usize,
    pub needles: Vec<Needle>,
    /// Documents rewritten for this revision, each with the marker word only its new text
    /// contains (empty for revision 0).
    pub changed: Vec<Needle>,
    /// Frequent-but-not-trivial words, good for search load (deterministic for the seed).
    pub queries: Vec<String>,
}

/// SplitMix64: tiny, fast, and fixed forever (the corpus must not change with a crate update).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0); the tiny modulo bias is irrelevant here.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub fn range(&mut self, lo: usize, hi_inclusive: usize) -> usize {
        lo + self.below(hi_inclusive - lo + 1)
    }
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn stream(seed: u64, kind: u64, index: u64) -> Rng {
    let mut r = Rng::new(seed ^ kind.wrapping_mul(0xD1B5_4A32_D192_ED03));
    r.0 ^= index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    r.next_u64();
    r
}

const HEAD_WORDS: &[&str] = &[
    "the",
    "service",
    "team",
    "deploy",
    "token",
    "request",
    "customer",
    "data",
    "release",
    "incident",
    "database",
    "config",
    "error",
    "user",
    "api",
    "latency",
    "cluster",
    "policy",
    "review",
    "process",
    "support",
    "access",
    "change",
    "owner",
    "queue",
    "metrics",
    "alert",
    "pipeline",
    "schema",
    "backup",
    "region",
    "tenant",
    "billing",
    "invoice",
    "storage",
    "cache",
    "network",
    "gateway",
    "proxy",
    "certificate",
    "secret",
    "rotation",
    "migration",
    "rollback",
    "feature",
    "flag",
    "dashboard",
    "runbook",
    "oncall",
    "escalation",
    "postmortem",
    "timeline",
    "severity",
    "outage",
    "capacity",
    "throughput",
    "budget",
    "quota",
    "limit",
    "retry",
    "timeout",
    "backoff",
    "session",
    "login",
    "password",
    "mfa",
    "audit",
    "compliance",
    "retention",
    "encryption",
    "key",
    "vault",
    "kubernetes",
    "node",
    "pod",
    "container",
    "image",
    "build",
    "test",
    "branch",
    "merge",
    "commit",
    "version",
    "dependency",
    "library",
    "client",
    "server",
    "endpoint",
    "handler",
    "worker",
    "job",
    "scheduler",
    "cron",
    "batch",
    "stream",
    "event",
    "webhook",
    "notification",
    "email",
    "report",
    "export",
    "import",
    "sync",
    "index",
    "search",
    "query",
    "result",
    "page",
    "document",
    "wiki",
    "issue",
    "ticket",
    "sprint",
    "roadmap",
    "quarter",
    "goal",
    "plan",
    "design",
    "proposal",
    "decision",
    "architecture",
    "interface",
    "contract",
    "sla",
    "uptime",
    "availability",
    "durability",
    "consistency",
    "replica",
    "primary",
    "failover",
    "shard",
    "partition",
    "lock",
    "transaction",
    "write",
    "read",
    "load",
    "traffic",
    "spike",
    "peak",
    "cost",
    "vendor",
    "contract",
    "onboarding",
    "training",
    "handbook",
    "guideline",
    "checklist",
    "template",
    "approval",
    "manager",
    "engineer",
    "developer",
    "operator",
    "admin",
    "member",
    "role",
    "permission",
    "scope",
    "grant",
    "consent",
    "redirect",
    "callback",
    "header",
    "payload",
    "response",
    "status",
    "code",
    "log",
    "trace",
    "span",
    "sample",
    "histogram",
    "percentile",
    "p99",
    "slo",
    "error",
    "budget",
    "burn",
    "rate",
    "window",
    "threshold",
    "paging",
    "rotation",
    "handoff",
    "shift",
    "weekend",
    "holiday",
    "vacation",
    "expense",
    "travel",
    "laptop",
    "office",
    "remote",
    "hiring",
    "interview",
    "feedback",
    "promotion",
    "security",
    "vulnerability",
    "patch",
    "upgrade",
    "downgrade",
    "deprecation",
    "sunset",
    "legacy",
    "platform",
    "infrastructure",
    "terraform",
    "ansible",
    "helm",
    "chart",
    "manifest",
    "secretstore",
    "staging",
    "production",
    "canary",
    "blue",
    "green",
    "traffic",
    "shift",
    "health",
    "check",
    "probe",
    "readiness",
    "liveness",
    "restart",
    "crash",
    "memory",
    "cpu",
    "disk",
    "iops",
    "bandwidth",
    "packet",
    "dns",
    "tls",
    "cert",
    "expiry",
    "renewal",
    "oauth",
    "jwt",
    "refresh",
    "scope",
    "audience",
    "issuer",
    "discovery",
    "metadata",
    "registration",
    "client",
    "connector",
    "integration",
];

const FILLER: &[&str] = &[
    "and", "to", "of", "in", "for", "is", "on", "with", "when", "we", "that", "it", "be", "by",
    "this", "are", "from", "after", "before", "every", "each", "should", "must", "can", "not",
    "our", "all", "new", "then", "if", "or", "as", "at", "one", "two", "until", "during",
];

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ra", "ve", "to", "nu", "shi", "dor", "pel", "qua", "zin", "tar", "bel",
    "cor", "fen", "gri", "hal", "jun", "kes", "lum", "mor", "nix", "ost", "pra", "riv", "sol",
    "tem", "ul", "vor", "wyn", "xen", "yar", "zel", "bra", "cli", "dre", "flo", "gla", "ith",
];

/// The vocabulary, most frequent first: real words, then synthetic ones.
fn vocabulary(size: usize) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut v: Vec<String> = Vec::with_capacity(size);
    for w in HEAD_WORDS {
        if seen.insert(w.to_string()) {
            v.push(w.to_string());
        }
    }
    let n = SYLLABLES.len();
    let mut i = 0usize;
    while v.len() < size {
        // Two to four syllables, enumerated in a fixed order.
        let (a, b, c) = (i % n, (i / n) % n, (i / (n * n)) % n);
        let len = 2 + (i / (n * n * n)) % 3;
        let mut w = String::new();
        w.push_str(SYLLABLES[a]);
        w.push_str(SYLLABLES[b]);
        if len >= 3 {
            w.push_str(SYLLABLES[c]);
        }
        if len == 4 {
            w.push_str(SYLLABLES[(a + b + c) % n]);
        }
        if seen.insert(w.clone()) {
            v.push(w);
        }
        i += 1;
    }
    v
}

/// Zipf(s) over ranks via the cumulative distribution and binary search.
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n);
        let mut acc = 0.0;
        for r in 1..=n {
            acc += 1.0 / (r as f64).powf(s);
            cdf.push(acc);
        }
        for c in &mut cdf {
            *c /= acc;
        }
        Zipf { cdf }
    }
    fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

struct Words {
    vocab: Vec<String>,
    zipf: Zipf,
}

impl Words {
    fn new() -> Self {
        let vocab = vocabulary(30_000);
        let zipf = Zipf::new(vocab.len(), 1.05);
        Words { vocab, zipf }
    }
    fn word(&self, rng: &mut Rng) -> &str {
        // One word in four is a function word, as in prose.
        if rng.below(4) == 0 {
            let w: &&str = rng.pick(FILLER);
            w
        } else {
            &self.vocab[self.zipf.sample(rng)]
        }
    }
    /// A mid-frequency content word (titles, tags, queries).
    fn topic(&self, rng: &mut Rng) -> &str {
        &self.vocab[rng.range(20, 2_000)]
    }
    fn sentence(&self, rng: &mut Rng, out: &mut String) {
        let n = rng.range(7, 18);
        for i in 0..n {
            let w = self.word(rng);
            if i == 0 {
                let mut c = w.chars();
                if let Some(f) = c.next() {
                    out.extend(f.to_uppercase());
                    out.push_str(c.as_str());
                }
            } else {
                out.push(' ');
                if rng.below(40) == 0 {
                    let _ = write!(out, "`{w}`");
                } else {
                    out.push_str(w);
                }
            }
        }
        out.push_str(". ");
    }
    /// Sentences until `len` bytes are reached.
    fn paragraph(&self, rng: &mut Rng, len: usize, out: &mut String) {
        let start = out.len();
        while out.len() - start < len {
            self.sentence(rng, out);
        }
        while out.ends_with(' ') {
            out.pop();
        }
    }
}

fn title_case(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

const TITLE_KINDS: &[&str] = &[
    "Runbook",
    "Policy",
    "Guide",
    "Overview",
    "Playbook",
    "Design",
    "Handbook",
    "FAQ",
    "Checklist",
    "Postmortem",
    "Proposal",
    "Standards",
];
const SECTION_NAMES: &[&str] = &[
    "Overview",
    "Background",
    "Scope",
    "Procedure",
    "Ownership",
    "Escalation",
    "Monitoring",
    "Rollout",
    "Rollback",
    "Known issues",
    "Security considerations",
    "FAQ",
    "References",
    "Timeline",
    "Action items",
    "Requirements",
    "Alternatives considered",
    "Costs",
];
const AUTHORS: &[&str] = &[
    "dana.kim",
    "li.wei",
    "sam.ortiz",
    "priya.n",
    "jo.schmidt",
    "alex.m",
    "r.okafor",
    "mina.s",
];
const LABELS: &[&str] = &[
    "bug",
    "enhancement",
    "docs",
    "security",
    "performance",
    "oauth",
    "billing",
    "infra",
    "good first issue",
    "regression",
];
const OWNER: &str = "synth-corp";
const REPOS: &[&str] = &[
    "auth-service",
    "billing-api",
    "gateway",
    "notifier",
    "web-console",
    "data-pipeline",
    "search-indexer",
    "mobile-app",
];

/// Rare, unambiguous words that occur nowhere else: each needle's query hits exactly one
/// document, so the right answer is known.
const NEEDLE_WORDS: &[(&str, &str)] = &[
    ("quartzwillow", "heliotrope"),
    ("marmalune", "vexillary"),
    ("copperfinch", "isotherm"),
    ("obsidianlark", "tessellate"),
    ("glimmerfox", "quantaloom"),
    ("saffronwharf", "periapsis"),
    ("brambleknot", "zeolite"),
    ("cobaltmoth", "anemometer"),
];

fn date(rng: &mut Rng, base_days: u64) -> String {
    // Days since 2024-01-01, spread over two years.
    let day = base_days + rng.below(700) as u64;
    let (y, m, d) = civil_from_days(19_723 + day as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rng.below(24),
        rng.below(60),
        rng.below(60)
    )
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u64;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i64 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// One section of ~850–1150 bytes (one passage): heading, then paragraphs, a list or code.
fn section(words: &Words, rng: &mut Rng, heading: &str, out: &mut String) {
    let _ = write!(out, "## {heading}\n\n");
    let start = out.len();
    let target = rng.range(880, 1100);
    while out.len() - start < target {
        let left = target - (out.len() - start);
        match rng.below(6) {
            0 if left > 200 => {
                for _ in 0..rng.range(3, 5) {
                    out.push_str("- ");
                    let mut item = String::new();
                    let len = rng.range(30, 70);
                    words.paragraph(rng, len, &mut item);
                    out.push_str(&item);
                    out.push('\n');
                }
                out.push('\n');
            }
            1 if left > 200 => {
                let _ = writeln!(out, "```sh");
                for _ in 0..rng.range(2, 4) {
                    let _ = writeln!(
                        out,
                        "{} --{} {}",
                        words.topic(rng),
                        words.topic(rng),
                        words.topic(rng)
                    );
                }
                out.push_str("```\n\n");
            }
            _ => {
                words.paragraph(rng, left.clamp(80, 420), out);
                out.push_str("\n\n");
            }
        }
    }
}

struct Planned {
    changed: std::collections::HashSet<usize>,
    needles: Vec<(usize, usize)>, // (document index, needle index)
}

fn plan(spec: &Spec) -> Planned {
    let n = spec.documents;
    let mut needles = Vec::new();
    if n > 0 {
        let mut r = stream(spec.seed, 7, 0);
        let mut used = std::collections::HashSet::new();
        for k in 0..NEEDLE_WORDS.len().min(n) {
            let mut i = r.below(n);
            while !used.insert(i) {
                i = (i + 1) % n;
            }
            needles.push((i, k));
        }
    }
    let mut changed = std::collections::HashSet::new();
    if spec.revision > 0 && n > 0 {
        let want = spec.changed.min(n);
        let mut r = stream(spec.seed, 11, spec.revision as u64);
        while changed.len() < want {
            changed.insert(r.below(n));
        }
    }
    Planned { changed, needles }
}

/// Writes the corpus into `out` (created; existing generated files are overwritten).
pub fn generate(spec: &Spec, out: &Path) -> anyhow::Result<Summary> {
    let words = Words::new();
    let plan = plan(spec);
    let wiki_dir = out.join("wiki");
    std::fs::create_dir_all(&wiki_dir)?;
    std::fs::write(
        out.join("workspace.json"),
        serde_json::to_vec_pretty(&json!({
            "slug": spec.workspace,
            "name": format!("Synthetic corpus ({} documents, seed {})", spec.documents, spec.seed),
        }))?,
    )?;
    // 70 % wiki pages, 30 % issues spread over the repos.
    let wiki_count = spec.documents * 7 / 10;
    let mut issues: Vec<Vec<serde_json::Value>> = vec![Vec::new(); REPOS.len()];
    let mut summary = Summary {
        documents: spec.documents,
        wiki_pages: wiki_count,
        issues: spec.documents - wiki_count,
        repos: REPOS.len().min(spec.documents - wiki_count),
        bytes: 0,
        estimated_passages: 0,
        needles: Vec::new(),
        changed: Vec::new(),
        queries: Vec::new(),
    };
    let needle_of = |i: usize| plan.needles.iter().find(|(d, _)| *d == i).map(|(_, k)| *k);
    for i in 0..spec.documents {
        let mut rng = stream(spec.seed, 1, i as u64);
        let changed = plan.changed.contains(&i);
        let needle = needle_of(i);
        if i < wiki_count {
            let kind = *rng.pick(TITLE_KINDS);
            let t: Vec<&str> = (0..rng.range(2, 3))
                .map(|_| words.topic(&mut rng))
                .collect();
            let title = format!("{} {kind}", title_case(&t));
            let page = format!("{}-{i}", title.to_ascii_lowercase().replace(' ', "-"));
            let mut md = String::with_capacity(6_000);
            let _ = write!(
                md,
                "---\ntitle: {title}\nupdated: {}\nauthor: {}\ntags: {}, {}\n---\n# {title}\n\n",
                date(&mut rng, 0),
                rng.pick(AUTHORS),
                words.topic(&mut rng),
                words.topic(&mut rng)
            );
            let sections = rng.range(4, 9);
            for _ in 0..sections {
                let name = *rng.pick(SECTION_NAMES);
                section(&words, &mut rng, name, &mut md);
            }
            if let Some(k) = needle {
                let (a, b) = NEEDLE_WORDS[k];
                let _ = write!(
                    md,
                    "## Field notes\n\nThe {a} {b} procedure applies only to this system: \
                     when the {a} check fails, page the owner and follow the {b} steps in order. \
                     Nothing else in the wiki describes {a}.\n\n"
                );
                summary.needles.push(Needle {
                    query: format!("{a} {b}"),
                    doc_id: format!("wiki:{page}"),
                });
            }
            if changed {
                let _ = write!(
                    md,
                    "## Revision {r} notes\n\nUpdated in revision {r}: revmarker{r}x{i} replaces the \
                     previous {} guidance.\n\n",
                    words.topic(&mut rng),
                    r = spec.revision
                );
                summary.changed.push(Needle {
                    query: format!("revmarker{}x{i}", spec.revision),
                    doc_id: format!("wiki:{page}"),
                });
            }
            summary.estimated_passages += sections + usize::from(needle.is_some() || changed);
            summary.bytes += md.len() as u64;
            std::fs::write(wiki_dir.join(format!("{page}.md")), md)?;
        } else {
            let j = i - wiki_count;
            let repo_ix = j % REPOS.len();
            let number = (j / REPOS.len() + 1) as i64;
            let repo = format!("{OWNER}/{}", REPOS[repo_ix]);
            let t: Vec<&str> = (0..rng.range(3, 6))
                .map(|_| words.topic(&mut rng))
                .collect();
            let title = {
                let s = t.join(" ");
                let mut c = s.chars();
                match c.next() {
                    Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                    None => s,
                }
            };
            let mut body = String::with_capacity(3_000);
            let parts = rng.range(1, 3);
            for (p, h) in ["Summary", "Steps to reproduce", "Proposed fix"]
                .iter()
                .take(parts)
                .enumerate()
            {
                if p > 0 {
                    let _ = write!(body, "### {h}\n\n");
                }
                let len = rng.range(700, 1000);
                words.paragraph(&mut rng, len, &mut body);
                body.push_str("\n\n");
            }
            let id = format!("github:{repo}#{number}");
            if let Some(k) = needle {
                let (a, b) = NEEDLE_WORDS[k];
                let _ = write!(
                    body,
                    "### Error\n\nThe job fails with {a} {b} on every retry; {a} appears in no other report.\n"
                );
                summary.needles.push(Needle {
                    query: format!("{a} {b}"),
                    doc_id: id.clone(),
                });
            }
            if changed {
                let _ = write!(
                    body,
                    "\n### Update (revision {r})\n\nrevmarker{r}x{i}: reproduced again after the {} change.\n",
                    words.topic(&mut rng),
                    r = spec.revision
                );
                summary.changed.push(Needle {
                    query: format!("revmarker{}x{i}", spec.revision),
                    doc_id: id.clone(),
                });
            }
            let created = date(&mut rng, 0);
            let updated = if changed {
                format!("2026-0{}-15T12:00:00Z", 1 + spec.revision % 9)
            } else {
                created.clone()
            };
            let closed = rng.below(3) == 0;
            let labels: Vec<serde_json::Value> = (0..rng.range(0, 3))
                .map(|_| json!({ "name": rng.pick(LABELS) }))
                .collect();
            summary.estimated_passages += parts;
            summary.bytes += body.len() as u64;
            issues[repo_ix].push(json!({
                "url": format!("https://api.github.com/repos/{repo}/issues/{number}"),
                "html_url": format!("https://github.com/{repo}/issues/{number}"),
                "number": number,
                "title": title,
                "user": { "login": rng.pick(AUTHORS).replace('.', "-") },
                "labels": labels,
                "state": if closed { "closed" } else { "open" },
                "comments": rng.below(12),
                "created_at": created,
                "updated_at": updated,
                "closed_at": if closed { json!(updated) } else { json!(null) },
                "body": body,
            }));
        }
    }
    for (k, list) in issues.into_iter().enumerate() {
        if list.is_empty() {
            continue;
        }
        let dir = out.join("github").join(format!("{OWNER}__{}", REPOS[k]));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("issues.json"), serde_json::to_vec(&list)?)?;
    }
    let mut q = stream(spec.seed, 13, 0);
    summary.queries = (0..64)
        .map(|_| {
            let n = q.range(1, 3);
            (0..n)
                .map(|_| words.vocab[q.range(15, 600)].clone())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    summary.needles.sort_by(|a, b| a.query.cmp(&b.query));
    std::fs::write(
        out.join("needles.json"),
        serde_json::to_vec_pretty(&summary)?,
    )?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes_and_revisions_change_only_their_documents() {
        let a = tempdir("a");
        let b = tempdir("b");
        let r1 = tempdir("r1");
        let s = Spec::new(60, 42);
        let sa = generate(&s, &a).unwrap();
        generate(&s, &b).unwrap();
        assert_eq!(read_all(&a), read_all(&b));
        assert_eq!(sa.needles.len(), NEEDLE_WORDS.len());
        assert!(sa.changed.is_empty());

        let mut rev = s.clone();
        rev.revision = 1;
        rev.changed = 5;
        let sr = generate(&rev, &r1).unwrap();
        assert_eq!(sr.changed.len(), 5);
        let (fa, fr) = (read_all(&a), read_all(&r1));
        let differing: Vec<_> = fa
            .iter()
            .zip(&fr)
            .filter(|(x, y)| x != y)
            .map(|(x, _)| x.0.clone())
            .collect();
        // Changed wiki pages differ; issues.json files containing a changed issue differ.
        assert!(!differing.is_empty());
        assert!(differing.len() <= 10, "{differing:?}");
        let _ = [a, b, r1].map(std::fs::remove_dir_all);
    }

    #[test]
    fn vocabulary_is_unique_and_dates_are_valid() {
        let v = vocabulary(5_000);
        let set: std::collections::HashSet<_> = v.iter().collect();
        assert_eq!(set.len(), v.len());
        for (w, _) in NEEDLE_WORDS {
            assert!(!set.contains(&w.to_string()));
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    }

    fn tempdir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "gigamcp-corpus-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn read_all(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.file_name().unwrap() != "needles.json" {
                    out.push((
                        p.strip_prefix(dir).unwrap().display().to_string(),
                        std::fs::read(&p).unwrap(),
                    ));
                }
            }
        }
        out.sort();
        out
    }
}
