//! Snippets without stemming every word of every passage.
//!
//! tantivy's `SnippetGenerator` re-tokenizes a hit's passage with the field's analyzer
//! (`en_stem`: simple tokenizer, long-word removal, lower-casing, English Snowball stemmer) and
//! scores fragments by the tokens equal to a query term. Profiling `search_company_rag` showed
//! the stemmer taking a third of the CPU. A word can only stem to a query term if it starts with
//! that term's first characters (the stemmer rewrites a word's end, never its start; the one
//! exception class, `dying` → `die`, `lying` → `lie`, `tying` → `tie`, still shares the first
//! letter), so [`Fragments`] stems only words sharing a term's [`prefix`], and each such word
//! once per query: its weight is remembered for the query's other passages. Other words get no
//! weight (they cannot equal a term either: a word equal to a term starts with its prefix), and an
//! ASCII word whose lower case starts with no prefix is neither copied nor lower-cased. An ASCII
//! passage's words are found 64 bytes at a time ([`for_each_word`]). The words that match, their
//! offsets and therefore the snippets are exactly those of the index's analyzer; `tests` checks
//! that over real text and every fixture word. The best fragment is then picked as tantivy's
//! generator picks it, without its allocations per word.
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use tantivy::tokenizer::{Language, RawTokenizer, Stemmer, TextAnalyzer};

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

/// Calls `f` with each word's byte range, in order: `SimpleTokenizer`'s words (runs of
/// `char::is_alphanumeric` characters), long ones included. An ASCII text (most passages) is
/// scanned 64 bytes at a time: a bit per byte says whether it is a word byte, and the words'
/// starts and ends are read off the bits, with no branch per byte. Any other text is scanned
/// character by character.
fn for_each_word(text: &str, mut f: impl FnMut(usize, usize)) {
    if !text.is_ascii() {
        let mut at = 0;
        loop {
            let from = skip(text, at, false);
            if from == text.len() {
                return;
            }
            at = skip(text, from, true);
            f(from, at);
        }
    }
    // `mask`: bit i set when the block's byte i is a word byte; `carry`: the previous block's last
    // byte was one (a word runs on into this block); `start`: where the open word began.
    let (mut carry, mut start) = (0u64, 0);
    for (n, block) in text.as_bytes().chunks(64).enumerate() {
        let base = n * 64;
        let mask = block.iter().enumerate().fold(0u64, |m, (i, b)| {
            m | u64::from(b.is_ascii_alphanumeric()) << i
        });
        let before = mask << 1 | carry;
        // A word starts where a word byte follows a non-word byte, and ends (exclusive) where a
        // non-word byte follows a word byte. Bits past a short last block are 0: a word running
        // to the end of the text ends at its length there.
        let (starts, ends) = (mask & !before, !mask & before);
        let mut marks = starts | ends;
        while marks != 0 {
            let i = marks.trailing_zeros() as usize;
            if starts & 1 << i != 0 {
                start = base + i;
            } else {
                f(start, base + i);
            }
            marks &= marks - 1;
        }
        carry = mask >> 63;
    }
    // A full last block ending in a word byte: the one word no mark ended.
    if carry == 1 {
        f(start, text.len());
    }
}

/// Where the run of characters whose `is_alphanumeric` is `word` that starts at byte `at` ends,
/// or `text.len()`. ASCII bytes are judged without decoding a `char`; `at` is always on a
/// character boundary.
fn skip(text: &str, mut at: usize, word: bool) -> usize {
    let bytes = text.as_bytes();
    while let Some(&b) = bytes.get(at) {
        if b.is_ascii() {
            if b.is_ascii_alphanumeric() != word {
                return at;
            }
            at += 1;
        } else {
            let Some(c) = text.get(at..).and_then(|rest| rest.chars().next()) else {
                return text.len();
            };
            if c.is_alphanumeric() != word {
                return at;
            }
            at += c.len_utf8();
        }
    }
    text.len()
}

/// The best fragment of a passage for a query, chosen as tantivy's `SnippetGenerator` chooses
/// it (same tokens, same windows, same scores, same tie-break), without what that generator
/// spends per word and per passage: it lower-cases (allocates) and stems every token's text, looks
/// it up, clones its analyzer for each passage and builds highlight ranges, a `Snippet` and its
/// strings that a plain-text snippet never uses. `tests` checks the fragments are the same.
pub struct Fragments {
    /// The query's stemmed terms with tantivy's fragment weights.
    terms: BTreeMap<String, f32>,
    /// Each term's [`prefix`]: a word starting with none of them cannot stem to a term.
    prefixes: Vec<String>,
    /// The ASCII first bytes of the prefixes (a bit per byte value).
    first_bytes: u128,
    stemmer: TextAnalyzer,
    /// Candidate words (as written) already weighed for this query: the weight of the term their
    /// stem equals, 0 for none.
    weighed: HashMap<String, f32>,
    lowered: String,
    max_chars: usize,
}

impl Fragments {
    /// `terms` are the query's stemmed terms with their weights; a fragment spans at most
    /// `max_chars` bytes of words (tantivy's rule).
    pub fn new(terms: BTreeMap<String, f32>, max_chars: usize) -> Self {
        let prefixes: Vec<String> = terms.keys().map(|t| prefix(t).to_owned()).collect();
        let first_bytes = prefixes
            .iter()
            .filter_map(|p| p.as_bytes().first())
            .filter(|b| b.is_ascii())
            .fold(0u128, |bits, &b| bits | 1 << b);
        Self {
            terms,
            prefixes,
            first_bytes,
            stemmer: TextAnalyzer::builder(RawTokenizer::default())
                .filter(Stemmer::new(Language::English))
                .build(),
            weighed: HashMap::new(),
            lowered: String::new(),
            max_chars,
        }
    }

    /// The byte range of `text`'s best fragment: the window of words with the highest sum of
    /// matched term weights, the earliest on a tie; `None` when no word matches a term.
    pub fn best(&mut self, text: &str) -> Option<Range<usize>> {
        let mut best: Option<(f32, Range<usize>)> = None;
        let mut keep = |score: f32, range: Range<usize>| {
            // Strictly greater: the earlier of two equal fragments stays.
            if score > 0.0 && best.as_ref().is_none_or(|(b, _)| score > *b) {
                best = Some((score, range));
            }
        };
        let (mut start, mut stop, mut score) = (0, 0, 0.0f32);
        for_each_word(text, |from, to| {
            // `en_stem`'s long-word removal: no token at all.
            if to - from >= LONG_TOKEN {
                return;
            }
            if to - start > self.max_chars {
                keep(score, start..stop);
                (start, score) = (from, 0.0);
            }
            stop = to;
            score += self.weight(&text[from..to]);
        });
        keep(score, start..stop);
        best.map(|(_, range)| range)
    }

    /// The weight of the query term `word` (as written) stems to, 0 for none: `en_stem`'s
    /// lower-casing and stemming, for candidate words only, once per word and query.
    fn weight(&mut self, word: &str) -> f32 {
        let (bytes, ascii) = (word.as_bytes(), word.is_ascii());
        if ascii {
            // An ASCII word lower-cases byte by byte: it is a candidate when its lower case starts
            // with a prefix, judged without copying it (most words are not: the common case).
            if self.first_bytes & (1 << bytes[0].to_ascii_lowercase()) == 0
                || !self.prefixes.iter().any(|p| {
                    p.len() <= bytes.len()
                        && bytes
                            .iter()
                            .zip(p.as_bytes())
                            .all(|(b, p)| b.to_ascii_lowercase() == *p)
                })
            {
                return 0.0;
            }
        }
        if let Some(&w) = self.weighed.get(word) {
            return w;
        }
        // `LowerCaser`'s rule: ASCII in place, anything else char by char (no final sigma).
        self.lowered.clear();
        if ascii {
            self.lowered.push_str(word);
            self.lowered.make_ascii_lowercase();
        } else {
            self.lowered
                .extend(word.chars().flat_map(char::to_lowercase));
        }
        // An ASCII word got here as a candidate; any other is judged on its lower case.
        let w = if ascii
            || self
                .prefixes
                .iter()
                .any(|p| self.lowered.starts_with(p.as_str()))
        {
            let mut stream = self.stemmer.token_stream(&self.lowered);
            let stem = stream
                .next()
                .map_or(self.lowered.as_str(), |t| t.text.as_str());
            self.terms.get(stem).copied().unwrap_or(0.0)
        } else {
            0.0
        };
        self.weighed.insert(word.to_owned(), w);
        w
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

    /// The words `SimpleTokenizer` finds in `text`, as byte ranges.
    fn simple_words(text: &str) -> Vec<(usize, usize)> {
        let mut tok = TextAnalyzer::builder(SimpleTokenizer::default()).build();
        let mut s = tok.token_stream(text);
        let mut words = Vec::new();
        while let Some(t) = s.next() {
            words.push((t.offset_from, t.offset_to));
        }
        words
    }

    #[test]
    fn words_are_those_of_the_simple_tokenizer() {
        // Every length up to five blocks of ASCII (words across block edges, a word or a
        // separator at either end, texts of exactly 64 and 128 bytes), from a fixed generator,
        // then real passages with and without non-ASCII characters.
        let alphabet = b"aZ9 -.\nqx";
        let mut seed = 7u64;
        let mut texts = Vec::new();
        for len in 0..=320 {
            for _ in 0..3 {
                let t: String = (0..len)
                    .map(|_| {
                        seed = seed
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        char::from(alphabet[(seed >> 33) as usize % alphabet.len()])
                    })
                    .collect();
                texts.push(t);
            }
        }
        texts.push("a".repeat(64));
        texts.push(format!("{} {}", "b".repeat(63), "c".repeat(64)));
        let chars: Vec<char> = fixture_text().chars().collect();
        texts.extend(
            chars
                .chunks(1000)
                .take(300)
                .map(|c| c.iter().collect::<String>()),
        );
        assert!(texts.iter().any(|t| !t.is_ascii()));
        for t in &texts {
            let mut words = Vec::new();
            for_each_word(t, |from, to| words.push((from, to)));
            assert_eq!(words, simple_words(t), "{t:?}");
        }
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
