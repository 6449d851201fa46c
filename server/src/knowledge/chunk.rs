//! Passages: markdown split on headings and paragraphs into ~800–1200 character chunks with a
//! small overlap, and the plain text the index and snippets see.
//!
//! Chunking is a pure function of the document text, so chunks are not stored: the index is
//! rebuilt from the documents table and comes out identical on every backend and process.

/// A chunk that reached this size ends at the next heading.
pub const TARGET_MIN: usize = 800;
/// No chunk grows past this by appending a block (overlap excluded).
pub const MAX: usize = 1200;
/// Oversized paragraphs are cut into pieces of at most this size.
const PIECE: usize = 1000;
/// Characters of the previous chunk repeated at the start of the next one within a section.
pub const OVERLAP: usize = 150;

struct Block {
    text: String,
    starts_section: bool,
}

/// Splits markdown into passages. Empty or whitespace-only input gives no passages.
pub fn chunk_markdown(text: &str) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    // Length of the overlap prefix currently at the start of `current` (not "real" content).
    let mut prefix_len = 0;
    for block in blocks(text) {
        let content_len = current.len() - prefix_len;
        let would = content_len + 2 + block.text.len();
        if content_len > 0 && ((block.starts_section && content_len >= TARGET_MIN) || would > MAX) {
            let done = std::mem::take(&mut current);
            if !block.starts_section {
                current = overlap_tail(&done, OVERLAP).to_string();
            }
            prefix_len = current.len();
            chunks.push(done);
        }
        if !current.is_empty() {
            current.push_str("\n\n");
        }
        current.push_str(&block.text);
    }
    if current.len() > prefix_len {
        chunks.push(current);
    }
    chunks
}

/// Paragraph-level blocks. A heading is glued to the block that follows it, code fences stay
/// whole (then cut like any oversized block), and blocks longer than [`PIECE`] are cut at line,
/// sentence or word boundaries.
fn blocks(text: &str) -> Vec<Block> {
    let mut raw: Vec<(String, bool)> = Vec::new(); // (text, is_heading)
    let mut cur = String::new();
    let mut in_fence = false;
    let flush = |cur: &mut String, raw: &mut Vec<(String, bool)>| {
        let t = cur.trim_end();
        if !t.trim().is_empty() {
            raw.push((t.to_string(), false));
        }
        cur.clear();
    };
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            if !in_fence {
                flush(&mut cur, &mut raw);
            }
            in_fence = !in_fence;
            cur.push_str(line);
            cur.push('\n');
            if !in_fence {
                flush(&mut cur, &mut raw);
            }
            continue;
        }
        if in_fence {
            cur.push_str(line);
            cur.push('\n');
            continue;
        }
        if is_heading(trimmed) {
            flush(&mut cur, &mut raw);
            raw.push((trimmed.trim_end().to_string(), true));
            continue;
        }
        if trimmed.is_empty() {
            flush(&mut cur, &mut raw);
            continue;
        }
        cur.push_str(line.trim_end());
        cur.push('\n');
    }
    flush(&mut cur, &mut raw);

    let mut out: Vec<Block> = Vec::new();
    let mut pending_heading: Option<String> = None;
    for (t, heading) in raw {
        if heading {
            if let Some(h) = pending_heading.take() {
                // Consecutive headings: keep them together.
                pending_heading = Some(format!("{h}\n{t}"));
            } else {
                pending_heading = Some(t);
            }
            continue;
        }
        let mut pieces = split_long(&t, PIECE).into_iter();
        let first = pieces.next().unwrap_or_default();
        match pending_heading.take() {
            Some(h) => out.push(Block {
                text: format!("{h}\n\n{first}"),
                starts_section: true,
            }),
            None => out.push(Block {
                text: first,
                starts_section: false,
            }),
        }
        out.extend(pieces.map(|p| Block {
            text: p,
            starts_section: false,
        }));
    }
    if let Some(h) = pending_heading {
        out.push(Block {
            text: h,
            starts_section: true,
        });
    }
    out
}

fn is_heading(line: &str) -> bool {
    let hashes = line.bytes().take_while(|b| *b == b'#').count();
    (1..=6).contains(&hashes) && line[hashes..].starts_with([' ', '\t'])
}

/// Cuts `text` into pieces of at most `max` bytes, preferring a newline, then a sentence end,
/// then whitespace in the second half of the window; never splits a UTF-8 character.
fn split_long(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while rest.len() > max {
        let window_end = floor_boundary(rest, max);
        let window = &rest[..window_end];
        let half = window_end / 2;
        let cut = window
            .rfind('\n')
            .filter(|&i| i >= half)
            .or_else(|| window.rfind(". ").filter(|&i| i >= half).map(|i| i + 1))
            .or_else(|| window.rfind(char::is_whitespace).filter(|&i| i >= half))
            .unwrap_or(window_end);
        let cut = if cut == 0 {
            window_end.max(next_boundary(rest, 1))
        } else {
            cut
        };
        let piece = rest[..cut].trim();
        if !piece.is_empty() {
            out.push(piece.to_string());
        }
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() {
        out.push(rest.to_string());
    }
    out
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn next_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i.min(s.len())
}

/// The last ~`n` bytes of `s`, starting at a word boundary.
fn overlap_tail(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let start = next_boundary(s, s.len() - n);
    let tail = &s[start..];
    match tail.find(char::is_whitespace) {
        Some(i) if i < tail.len() / 2 => tail[i..].trim_start(),
        _ => tail,
    }
}

/// Markdown → plain text for indexing and snippets: drops heading marks, emphasis, code fences,
/// table rules and link targets; keeps line structure.
pub fn plain_text(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    for line in markdown.lines() {
        let t = line.trim();
        if t.starts_with("```") || t.starts_with("~~~") {
            continue;
        }
        if t.starts_with('|') && t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ')) {
            continue;
        }
        let mut t = t.trim_start_matches('#').trim_start();
        t = t.strip_prefix("> ").unwrap_or(t);
        if let Some(rest) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
            t = rest;
        }
        let line = strip_inline(t);
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&line);
    }
    out
}

/// `[text](target)` → `text`; removes `**`, `__`, backticks; table pipes become spaces.
fn strip_inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '`' => {}
            '|' => out.push(' '),
            '*' | '_' if s[i + 1..].starts_with(c) => {
                chars.next();
            }
            ']' if s[i + 1..].starts_with('(') => {
                // Skip the link target up to the matching ')'.
                if let Some(close) = s[i + 1..].find(')') {
                    let end = i + 1 + close;
                    while chars.peek().is_some_and(|(j, _)| *j <= end) {
                        chars.next();
                    }
                }
            }
            '[' => {}
            _ => out.push(c),
        }
    }
    out
}

/// Cuts `s` to at most `max` characters at a word boundary, appending "…" when cut.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let end = s
        .char_indices()
        .nth(max.saturating_sub(1))
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    let cut = &s[..end];
    let cut = match cut.rfind(char::is_whitespace) {
        Some(i) if i > end / 2 => &cut[..i],
        _ => cut,
    };
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn para(word: &str, n: usize) -> String {
        std::iter::repeat_n(word, n).collect::<Vec<_>>().join(" ") + "."
    }

    #[test]
    fn small_document_is_one_chunk() {
        let c = chunk_markdown("# Title\n\nHello world.\n\nSecond paragraph.");
        assert_eq!(c, vec!["# Title\n\nHello world.\n\nSecond paragraph."]);
        assert!(chunk_markdown("").is_empty());
        assert!(chunk_markdown("  \n\n \n").is_empty());
    }

    #[test]
    fn chunks_respect_bounds_and_split_on_headings() {
        let mut doc = String::new();
        for s in 0..6 {
            doc.push_str(&format!("## Section {s}\n\n"));
            for p in 0..4 {
                doc.push_str(&para(&format!("s{s}p{p}"), 80));
                doc.push_str("\n\n");
            }
        }
        let chunks = chunk_markdown(&doc);
        assert!(chunks.len() > 6, "{}", chunks.len());
        for c in &chunks {
            assert!(c.len() <= MAX + OVERLAP + 2, "too long: {}", c.len());
        }
        // Every chunk but the last is at least a few hundred characters: no crumbs.
        for c in &chunks[..chunks.len() - 1] {
            assert!(c.len() >= 400, "too short: {}", c.len());
        }
        // Headings start chunks (no heading stranded at the end of a chunk).
        for c in &chunks {
            assert!(
                !c.trim_end().lines().last().unwrap().starts_with('#'),
                "{c}"
            );
        }
        // Every paragraph survives somewhere.
        for s in 0..6 {
            for p in 0..4 {
                let needle = format!("s{s}p{p} s{s}p{p}");
                assert!(chunks.iter().any(|c| c.contains(&needle)), "{needle}");
            }
        }
    }

    #[test]
    fn overlap_within_a_section() {
        let doc = (0..6)
            .map(|i| para(&format!("w{i}"), 150))
            .collect::<Vec<_>>()
            .join("\n\n");
        let chunks = chunk_markdown(&doc);
        assert!(chunks.len() >= 2);
        for pair in chunks.windows(2) {
            let tail: String = pair[0]
                .chars()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            assert!(pair[1].contains(tail.trim()), "no overlap between chunks");
        }
    }

    #[test]
    fn long_paragraphs_and_multibyte_text_are_cut_safely() {
        let doc = "é".repeat(5000) + "\n\n" + &"日本語 ".repeat(800);
        let chunks = chunk_markdown(&doc);
        assert!(chunks.len() >= 4);
        for c in &chunks {
            assert!(c.len() <= MAX + OVERLAP + 2);
        }
    }

    #[test]
    fn code_fences_stay_together() {
        let doc = "Intro.\n\n```sh\nkubectl rollout undo\n\nkubectl get pods\n```\n\nAfter.";
        let chunks = chunk_markdown(doc);
        assert_eq!(chunks.len(), 1);
        assert!(chunks[0].contains("undo\n\nkubectl get pods"));
    }

    #[test]
    fn plain_text_strips_markdown() {
        let md = "## Declaring an incident\n\nSee the **[Service catalog](service-catalog)** and `kubectl`.\n\n| a | b |\n|---|---|\n| x | y |\n\n```sh\nrun\n```";
        assert_eq!(
            plain_text(md),
            "Declaring an incident\nSee the Service catalog and kubectl.\na b\nx y\nrun"
        );
    }

    #[test]
    fn truncation() {
        assert_eq!(truncate_chars("short", 10), "short");
        let t = truncate_chars(&"word ".repeat(100), 50);
        assert!(t.chars().count() <= 50 && t.ends_with('…'), "{t}");
        let t = truncate_chars(&"é".repeat(100), 10);
        assert_eq!(t.chars().count(), 10);
    }
}
