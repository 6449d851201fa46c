//! Wiki connector: `wiki/<page>.md` files with an optional front matter block
//! (`---` / `title`, `updated`, `author`, `tags` / `---`) followed by markdown.
use super::model::{Source, SourceDoc};
use serde_json::{Map, Value, json};
use std::path::Path;

/// A parsed page, before it becomes a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WikiPage {
    pub page: String,
    pub title: String,
    pub updated: Option<String>,
    pub updated_at: Option<i64>,
    pub author: Option<String>,
    pub tags: Vec<String>,
    pub body: String,
}

/// Largest page accepted; anything bigger is almost certainly not a wiki page.
const MAX_PAGE_BYTES: u64 = 2 * 1024 * 1024;

/// Page names become URIs and URL paths: `[A-Za-z0-9._-]`, not starting with a dot, ≤ 200.
pub fn valid_page_name(name: &str) -> bool {
    (1..=200).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// Parses one page. `page` is the file stem. Errors are human-readable and name no file (the
/// caller adds it).
pub fn parse_page(page: &str, content: &str) -> Result<WikiPage, String> {
    if !valid_page_name(page) {
        return Err(format!(
            "invalid page name {page:?}: use letters, digits, '.', '_' and '-'"
        ));
    }
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    let (front, body) = split_front_matter(content)?;
    let mut p = WikiPage {
        page: page.to_string(),
        title: String::new(),
        updated: None,
        updated_at: None,
        author: None,
        tags: Vec::new(),
        body: body.trim().to_string(),
    };
    if let Some(front) = front {
        let mut list_key: Option<String> = None;
        for (n, line) in front.lines().enumerate() {
            let lineno = n + 2; // the opening `---` is line 1
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            if let Some(item) = t.strip_prefix("- ") {
                match list_key.as_deref() {
                    Some("tags") => {
                        let tag = unquote(item.trim());
                        if !tag.is_empty() {
                            p.tags.push(tag.to_string());
                        }
                    }
                    Some(_) => {}
                    None => {
                        return Err(format!(
                            "front matter line {lineno}: list item without a key"
                        ));
                    }
                }
                continue;
            }
            let Some((key, value)) = t.split_once(':') else {
                return Err(format!(
                    "front matter line {lineno}: expected `key: value`, got {t:?}"
                ));
            };
            let key = key.trim();
            if key.is_empty()
                || !key
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
            {
                return Err(format!("front matter line {lineno}: invalid key {key:?}"));
            }
            let value = unquote(value.trim());
            list_key = value.is_empty().then(|| key.to_string());
            match key {
                "title" => p.title = value.to_string(),
                "author" if !value.is_empty() => p.author = Some(value.to_string()),
                "updated" | "date" if !value.is_empty() => {
                    let ts = parse_datetime(value).ok_or_else(|| {
                        format!("front matter line {lineno}: `{key}` is not a date: {value:?}")
                    })?;
                    p.updated = Some(value.to_string());
                    p.updated_at = Some(ts);
                }
                "tags" => p.tags.extend(parse_inline_list(value)),
                _ => {}
            }
        }
    }
    if p.title.is_empty() {
        p.title = p
            .body
            .lines()
            .find_map(|l| l.strip_prefix("# ").map(|t| t.trim().to_string()))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| page.to_string());
    }
    Ok(p)
}

/// `(front matter, body)`. A file whose first line is `---` must close the block.
fn split_front_matter(content: &str) -> Result<(Option<&str>, &str), String> {
    let mut lines = content.split_inclusive('\n');
    let Some(first) = lines.next() else {
        return Ok((None, content));
    };
    if first.trim_end() != "---" {
        return Ok((None, content));
    }
    let start = first.len();
    let mut pos = start;
    for line in lines {
        if matches!(line.trim_end(), "---" | "...") {
            return Ok((Some(&content[start..pos]), &content[pos + line.len()..]));
        }
        pos += line.len();
    }
    Err("front matter opened with `---` is never closed".into())
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

/// `[a, b]` or `a, b` → `["a", "b"]`.
fn parse_inline_list(v: &str) -> Vec<String> {
    let v = v
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(v);
    v.split(',')
        .map(|t| unquote(t.trim()).to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// RFC 3339 (`2026-09-14T10:22:00Z`, offsets, fractions, `t`/space separator) or a bare date
/// (`2026-09-14`, midnight UTC) → unix seconds.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        (!t.is_empty() && t.bytes().all(|c| c.is_ascii_digit())).then(|| t.parse().ok())?
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    if b.len() == 10 {
        return Some(days * 86_400);
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 19 || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset = match &s[i..] {
        "Z" | "z" => 0,
        tz if tz.len() == 6
            && (tz.starts_with('+') || tz.starts_with('-'))
            && tz.as_bytes()[3] == b':' =>
        {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if tz.starts_with('-') { -o } else { o }
        }
        _ => return None,
    };
    Some(days * 86_400 + h * 3600 + mi * 60 + sec.min(59) - offset)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl WikiPage {
    pub(crate) fn into_doc(self, workspace: &str) -> SourceDoc {
        let mut metadata = Map::new();
        metadata.insert("page".into(), json!(self.page));
        metadata.insert(
            "author".into(),
            self.author.map(Value::String).unwrap_or(Value::Null),
        );
        metadata.insert("tags".into(), json!(self.tags));
        metadata.insert(
            "updated".into(),
            self.updated.map(Value::String).unwrap_or(Value::Null),
        );
        SourceDoc {
            id: format!("wiki:{}", self.page),
            source: Source::Wiki,
            title: self.title,
            // Relative: made absolute with the serving process's public URL when read.
            url: format!("/t/{workspace}/wiki/{}", self.page),
            uri: format!("wiki://pages/{}", self.page),
            text: self.body,
            mime_type: "text/markdown".into(),
            metadata,
            updated_at: self.updated_at,
            repo: None,
            state: None,
            number: None,
        }
    }
}

/// Threads that read a wiki directory's pages at once. Reading is mostly waiting for the disk
/// when the pages are not cached: 14,000 pages (131 MiB) took 1.13 s one at a time and 0.38 s
/// eight at a time on the bench machine (`docs/performance.md`, seventeenth round).
const READERS: usize = 8;
/// Fewest pages a reader thread is started for: a small wiki (the demo's dozen pages) is read by
/// one.
const PAGES_PER_READER: usize = 32;

/// Reads every `*.md` page in `dir` (sorted by name; other files and subdirectories ignored),
/// [`READERS`] pages at a time. Any unreadable or malformed page fails the whole read, naming the
/// file: the first such file in name order, however the reads interleave.
pub(crate) fn read_dir(workspace: &str, dir: &Path) -> anyhow::Result<Vec<SourceDoc>> {
    let mut paths = Vec::new();
    for entry in
        std::fs::read_dir(dir).map_err(|e| anyhow::anyhow!("reading {}: {e}", dir.display()))?
    {
        let entry = entry.map_err(|e| anyhow::anyhow!("reading {}: {e}", dir.display()))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || !name.ends_with(".md") || !path.is_file() {
            continue;
        }
        paths.push(path);
    }
    paths.sort();
    let per_reader = paths.len().div_ceil(READERS).max(PAGES_PER_READER);
    std::thread::scope(|s| {
        let readers: Vec<_> = paths
            .chunks(per_reader)
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|path| read_page(workspace, path))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut docs = Vec::with_capacity(paths.len());
        for reader in readers {
            let pages = reader
                .join()
                .map_err(|_| anyhow::anyhow!("reading {}: a reader panicked", dir.display()))?;
            for page in pages {
                docs.push(page?);
            }
        }
        Ok(docs)
    })
}

/// One page: size limit, UTF-8, front matter.
fn read_page(workspace: &str, path: &Path) -> anyhow::Result<SourceDoc> {
    let fail = |msg: String| anyhow::anyhow!("wiki page {}: {msg}", path.display());
    let len = std::fs::metadata(path)
        .map_err(|e| fail(e.to_string()))?
        .len();
    if len > MAX_PAGE_BYTES {
        return Err(fail(format!(
            "{len} bytes is larger than the {MAX_PAGE_BYTES}-byte limit"
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let content = String::from_utf8(bytes).map_err(|_| fail("not valid UTF-8".into()))?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let page = parse_page(&stem, &content).map_err(fail)?;
    Ok(page.into_doc(workspace))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages come back in name order from the parallel readers, and of two bad pages the error
    /// names the first by name, whichever reader got to its page first.
    #[test]
    fn pages_are_read_in_name_order_and_the_first_bad_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let n = READERS * PAGES_PER_READER + 3;
        for i in 0..n {
            let page = format!("---\ntitle: Page {i}\n---\n# Page {i}\n\nBody {i}.\n");
            std::fs::write(dir.path().join(format!("p{i:03}.md")), page).unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), "not a page").unwrap();
        let docs = read_dir("acme", dir.path()).unwrap();
        let titles: Vec<_> = docs.iter().map(|d| d.title.clone()).collect();
        let want: Vec<_> = (0..n).map(|i| format!("Page {i}")).collect();
        assert_eq!(titles, want);

        // A bad page in the first reader's share and one in the last reader's: whichever
        // reader reaches its bad page first, the error names p005.
        std::fs::write(dir.path().join("p005.md"), [0xff, 0xfe]).unwrap();
        std::fs::write(dir.path().join(format!("p{:03}.md", n - 2)), [0xff]).unwrap();
        let err = read_dir("acme", dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("p005.md") && err.contains("not valid UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn front_matter_is_parsed() {
        let p = parse_page(
            "incident-response-runbook",
            "---\ntitle: Incident Response Runbook\nupdated: 2026-09-14T10:22:00Z\nauthor: dana.kim\ntags: incident, on-call, sev1\n---\n# Incident Response Runbook\n\nBody.\n",
        )
        .unwrap();
        assert_eq!(p.title, "Incident Response Runbook");
        assert_eq!(p.author.as_deref(), Some("dana.kim"));
        assert_eq!(p.tags, ["incident", "on-call", "sev1"]);
        assert_eq!(p.updated_at, Some(1_789_381_320));
        assert_eq!(p.body, "# Incident Response Runbook\n\nBody.");
    }

    #[test]
    fn front_matter_variants() {
        let p = parse_page(
            "x",
            "---\ntitle: \"Quoted: yes\"\ntags: [a, 'b']\nextra: ignored\n---\ntext",
        )
        .unwrap();
        assert_eq!(p.title, "Quoted: yes");
        assert_eq!(p.tags, ["a", "b"]);
        let p = parse_page(
            "x",
            "---\r\ntitle: CRLF\r\ntags:\r\n  - one\r\n  - two\r\n---\r\nbody",
        )
        .unwrap();
        assert_eq!(p.title, "CRLF");
        assert_eq!(p.tags, ["one", "two"]);
        assert_eq!(p.body, "body");
        // No front matter: title from the first heading, else the page name.
        assert_eq!(
            parse_page("p", "# Heading\n\ntext").unwrap().title,
            "Heading"
        );
        assert_eq!(parse_page("p", "just text").unwrap().title, "p");
        assert_eq!(parse_page("p", "").unwrap().body, "");
        // A horizontal rule later in the page is not front matter.
        assert_eq!(
            parse_page("p", "text\n---\nmore").unwrap().body,
            "text\n---\nmore"
        );
    }

    #[test]
    fn malformed_front_matter_is_an_error() {
        assert!(
            parse_page("p", "---\ntitle: x\nbody without end")
                .unwrap_err()
                .contains("never closed")
        );
        assert!(
            parse_page("p", "---\nno colon here\n---\n")
                .unwrap_err()
                .contains("line 2")
        );
        assert!(
            parse_page("p", "---\nupdated: yesterday\n---\n")
                .unwrap_err()
                .contains("not a date")
        );
        assert!(parse_page("p", "---\n- orphan\n---\n").is_err());
        assert!(parse_page("bad name", "x").is_err());
        assert!(parse_page(".hidden", "x").is_err());
    }

    #[test]
    fn datetimes() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_datetime("1970-01-01"), Some(0));
        assert_eq!(parse_datetime("2026-11-20T10:06:33Z"), Some(1_795_169_193));
        assert_eq!(
            parse_datetime("2026-11-20T12:06:33.123+02:00"),
            Some(1_795_169_193)
        );
        assert_eq!(
            parse_datetime("2026-11-20 05:06:33-05:00"),
            Some(1_795_169_193)
        );
        assert_eq!(parse_datetime("2024-02-29"), Some(1_709_164_800));
        for bad in [
            "",
            "2023-02-29",
            "2026-13-01",
            "2026-11-20T25:00:00Z",
            "2026-11-20T10:06:33",
            "tomorrow",
            "2026-11-20Tab:cd:efZ",
            "2026-1-1",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }
}
