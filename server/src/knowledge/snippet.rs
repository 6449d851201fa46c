//! Snippets without stemming every word of every passage.
//!
//! tantivy's `SnippetGenerator` re-tokenizes a hit's passage with the field's analyzer
//! (`en_stem`: simple tokenizer, long-word removal, lower-casing, English Snowball stemmer) and
//! scores fragments by the tokens equal to a query term. Profiling `search_company_rag` showed
//! the stemmer taking a third of the CPU. A word can only stem to a query term if it starts with
//! that term's first characters (the stemmer rewrites a word's end, never its start; the one
//! exception class, `dying` → `die`, `lying` → `lie`, `tying` → `tie`, still shares the first
//! letter), so [`CandidateTokenizer`] stems only words sharing a term's [`prefix`] and gives the
//! others no text (they cannot equal a term either: a word equal to a term starts with its
//! prefix). It is the analyzer's four steps in one pass, and a word whose first letter no prefix
//! starts with is neither copied nor lower-cased. The tokens that match, their offsets and
//! therefore the snippets are exactly those of the index's analyzer; `tests` checks that over
//! real text and every fixture word. [`Fragments`] then picks the passage's best fragment as
//! tantivy's generator would, without its allocations per word.
use std::collections::BTreeMap;
use std::ops::Range;
use tantivy::tokenizer::{Language, RawTokenizer, Stemmer, TextAnalyzer, Token, TokenStream};

/// tantivy's `en_stem` drops tokens of this many bytes or more.
const LONG_TOKEN: usize = 40;

/// The part of a stemmed term every word stemming to it starts with: all but its last two
/// characters (at least one character).
fn prefix(term: &str) -> &str {
    let n = term.chars().count().saturating_sub(2).max(1);
    match term.char_indices().nth(n) {
        Some((at, _)) => &term[..at],
        None => term,
    }
}

/// The best fragment of a passage for a query, chosen as tantivy's `SnippetGenerator` chooses
/// it (same tokens, same windows, same scores, same tie-break), without what that generator
/// spends per word and per passage: it lower-cases (allocates) every token's text again to look
/// it up, clones its analyzer for each passage and builds highlight ranges, a `Snippet` and its
/// strings that a plain-text snippet never uses. `tests` checks the fragments are the same.
pub struct Fragments {
    /// The query's stemmed terms with tantivy's fragment weights.
    terms: BTreeMap<String, f32>,
    tokenizer: CandidateTokenizer,
    max_chars: usize,
}

impl Fragments {
    /// `terms` are the query's stemmed terms with their weights; a fragment spans at most
    /// `max_chars` bytes of words (tantivy's rule).
    pub fn new(terms: BTreeMap<String, f32>, max_chars: usize) -> Self {
        let prefixes: Vec<String> = terms.keys().map(|t| prefix(t).to_owned()).collect();
        let tokenizer = CandidateTokenizer {
            prefixes,
            stemmer: TextAnalyzer::builder(RawTokenizer::default())
                .filter(Stemmer::new(Language::English))
                .build(),
            token: Token::default(),
            lowered: String::new(),
        };
        Self {
            terms,
            tokenizer,
            max_chars,
        }
    }

    /// The byte range of `text`'s best fragment: the window of words with the highest sum of
    /// matched term weights, the earliest on a tie; `None` when no word matches a term.
    pub fn best(&mut self, text: &str) -> Option<Range<usize>> {
        let (terms, max_chars) = (&self.terms, self.max_chars);
        let mut stream = self.tokenizer.token_stream(text);
        let mut best: Option<(f32, Range<usize>)> = None;
        let mut keep = |score: f32, range: Range<usize>| {
            // Strictly greater: the earlier of two equal fragments stays.
            if score > 0.0 && best.as_ref().is_none_or(|(b, _)| score > *b) {
                best = Some((score, range));
            }
        };
        let (mut start, mut stop, mut score) = (0, 0, 0.0f32);
        while stream.advance() {
            let token = stream.token();
            if token.offset_to - start > max_chars {
                keep(score, start..stop);
                (start, score) = (token.offset_from, 0.0);
            }
            stop = token.offset_to;
            // Only candidate words carry text (already lower-cased and stemmed).
            if !token.text.is_empty()
                && let Some(w) = terms.get(token.text.as_str())
            {
                score += w;
            }
        }
        keep(score, start..stop);
        best.map(|(_, range)| range)
    }
}

/// `en_stem` in one pass, for snippets: the simple tokenizer's words (runs of alphanumeric
/// characters) with their byte offsets, without those of [`LONG_TOKEN`] bytes or more; a word
/// whose lower case starts with one of `prefixes` carries its lower-cased stem, any other word an
/// empty text (it cannot equal a query term, and the snippet only needs its offsets). The
/// separate filters copied and lower-cased every word of every passage through three boxed
/// streams.
struct CandidateTokenizer {
    prefixes: Vec<String>,
    stemmer: TextAnalyzer,
    token: Token,
    lowered: String,
}

impl CandidateTokenizer {
    fn token_stream<'a>(&'a mut self, text: &'a str) -> CandidateStream<'a> {
        self.token.reset();
        CandidateStream {
            text,
            at: 0,
            tokenizer: self,
        }
    }
}

struct CandidateStream<'a> {
    text: &'a str,
    /// Byte offset of the scan.
    at: usize,
    tokenizer: &'a mut CandidateTokenizer,
}

impl CandidateStream<'_> {
    /// The next word's byte range (`SimpleTokenizer`'s rule: a run of `char::is_alphanumeric`),
    /// long ones included. ASCII bytes are judged without decoding a `char`.
    fn next_word(&mut self) -> Option<(usize, usize)> {
        let from = self.skip(false)?;
        let to = self.skip(true).unwrap_or(self.text.len());
        Some((from, to))
    }

    /// Moves past the characters whose `is_alphanumeric` is `word`; returns where the first
    /// other one starts (`None` at the end of the text).
    fn skip(&mut self, word: bool) -> Option<usize> {
        let bytes = self.text.as_bytes();
        while let Some(&b) = bytes.get(self.at) {
            let (alnum, len) = if b.is_ascii() {
                (b.is_ascii_alphanumeric(), 1)
            } else {
                let c = self.text[self.at..].chars().next()?;
                (c.is_alphanumeric(), c.len_utf8())
            };
            if alnum != word {
                return Some(self.at);
            }
            self.at += len;
        }
        None
    }
}

impl TokenStream for CandidateStream<'_> {
    fn advance(&mut self) -> bool {
        let (from, to) = loop {
            match self.next_word() {
                None => return false,
                Some((from, to)) if to - from < LONG_TOKEN => break (from, to),
                Some(_) => {}
            }
        };
        let word = &self.text[from..to];
        let t = &mut *self.tokenizer;
        t.token.position = t.token.position.wrapping_add(1);
        t.token.offset_from = from;
        t.token.offset_to = to;
        t.token.text.clear();
        // A word whose first character is ASCII lower-cases to that letter first: no prefix
        // starting with it, no candidate (the common case, without copying the word).
        let first = word.as_bytes()[0];
        if first.is_ascii()
            && !t
                .prefixes
                .iter()
                .any(|p| p.as_bytes().first() == Some(&first.to_ascii_lowercase()))
        {
            return true;
        }
        // `LowerCaser`'s rule: ASCII in place, anything else char by char (no final sigma).
        t.lowered.clear();
        if word.is_ascii() {
            t.lowered.push_str(word);
            t.lowered.make_ascii_lowercase();
        } else {
            t.lowered.extend(word.chars().flat_map(char::to_lowercase));
        }
        if t.prefixes.iter().any(|p| t.lowered.starts_with(p.as_str())) {
            match t.stemmer.token_stream(&t.lowered).next() {
                Some(stemmed) => t.token.text.push_str(&stemmed.text),
                None => t.token.text.push_str(&t.lowered),
            }
        }
        true
    }

    fn token(&self) -> &Token {
        &self.tokenizer.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokenizer.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::schema::{Schema, TEXT};
    use tantivy::snippet::SnippetGenerator;
    use tantivy::tokenizer::{LowerCaser, RemoveLongFilter, SimpleTokenizer};

    fn en_stem() -> TextAnalyzer {
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(LONG_TOKEN))
            .filter(LowerCaser)
            .filter(Stemmer::new(Language::English))
            .build()
    }

    fn stem(a: &mut TextAnalyzer, word: &str) -> Option<String> {
        a.token_stream(word).next().map(|t| t.text.clone())
    }

    /// Every word of the repository's fixtures (wiki pages, issues, the MCP schemas' English
    /// descriptions) plus the stemmer's irregular cases.
    fn vocabulary() -> Vec<String> {
        let text = fixture_text();
        let mut tok = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .build();
        let mut words = Vec::new();
        let mut s = tok.token_stream(&text);
        while let Some(t) = s.next() {
            words.push(t.text.clone());
        }
        words.sort();
        words.dedup();
        words
    }

    fn fixture_text() -> String {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
        let mut text = String::from(
            "dying lying tying skies skis sky news howe atlas cosmos bias andes idly gently ugly \
             early only singly happily generously relational conditional possibility \
             sensitivity organizer organization hopefulness callousness decisiveness \
             agreed proceeding exceeding succeeding inning outing canning herring earring \
             generate generator communism communities arsenal universal Ünïcödé naïve café",
        );
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(t) = std::fs::read_to_string(&p) {
                    text.push(' ');
                    text.push_str(&t);
                }
            }
        }
        text
    }

    #[test]
    fn every_word_starts_with_the_prefix_of_its_stem() {
        let mut a = en_stem();
        let words = vocabulary();
        assert!(words.len() > 2_000, "{} words", words.len());
        for w in &words {
            if let Some(s) = stem(&mut a, w) {
                assert!(w.starts_with(prefix(&s)), "{w:?} stems to {s:?}");
            }
        }
    }

    #[test]
    fn snippets_equal_those_of_the_index_analyzer() {
        let mut b = Schema::builder();
        let body = b.add_text_field("body", TEXT);
        let _ = b.build();
        let mut a = en_stem();
        // Passages of real text (~1,000 characters, as the chunker makes) and of every word.
        let chars: Vec<char> = fixture_text().chars().collect();
        let mut texts: Vec<String> = chars.chunks(1000).map(|c| c.iter().collect()).collect();
        texts.truncate(400);
        texts.extend(vocabulary().chunks(150).map(|c| c.join(" ")));
        let queries = [
            "dying running relational",
            "incident response runbook",
            "token rotation refresh",
            "the skies news",
            "generously organized communities",
            "deployment failures rollback",
            "authorization servers must validate",
        ];
        let mut compared = 0;
        for q in queries {
            let mut terms = BTreeMap::new();
            let mut s = a.token_stream(q);
            while let Some(t) = s.next() {
                terms.insert(t.text.clone(), 0.5);
            }
            let mut fast = Fragments::new(terms.clone(), 280);
            let exact = SnippetGenerator::new(terms, en_stem(), body, 280);
            for text in &texts {
                let e = exact.snippet(text);
                let f = fast.best(text).map(|r| &text[r]).unwrap_or_default();
                assert_eq!(f, e.fragment(), "{q:?}");
                compared += usize::from(!e.is_empty());
            }
        }
        assert!(
            compared > 200,
            "only {compared} non-empty snippets compared"
        );
    }
}
