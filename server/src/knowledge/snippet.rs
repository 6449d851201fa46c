//! Snippets from the index's positions.
//!
//! tantivy's `SnippetGenerator` re-tokenizes a hit's passage with the field's analyzer
//! (`en_stem`: simple tokenizer, long-word removal, lower-casing, English Snowball stemmer) and
//! scores fragments by the tokens equal to a query term. The index already knows where those
//! tokens are: the body is indexed with positions, and a token's position is the index of its
//! word among `SimpleTokenizer`'s words (the long ones `en_stem` drops still count, as they do in
//! the tokenizer's numbering). So [`positions`] reads each query term's positions in a hit's
//! passage from the postings, and [`best`] walks the passage's words (an ASCII passage 64 bytes at
//! a time, [`for_each_word`]) giving the word at position *k* the weight of the term found there:
//! no word is lower-cased, stemmed or looked up. The fragments are exactly those of tantivy's
//! generator; `tests` checks that over an index of the repository's fixtures.
use std::ops::{ControlFlow, Range};
use tantivy::postings::{Postings, SegmentPostings};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, DocSet, Searcher, Term};

/// tantivy's `en_stem` drops tokens of this many bytes or more.
const LONG_TOKEN: usize = 40;

/// Calls `f` with each word's byte range, in order, until it breaks: `SimpleTokenizer`'s words
/// (runs of `char::is_alphanumeric` characters), long ones included. An ASCII text (most
/// passages) is scanned 64 bytes at a time: a bit per byte says whether it is a word byte, and the
/// words' starts and ends are read off the bits, with no branch per byte. Any other text is
/// scanned character by character.
fn for_each_word(text: &str, mut f: impl FnMut(usize, usize) -> ControlFlow<()>) {
    if !text.is_ascii() {
        let mut at = 0;
        loop {
            let from = skip(text, at, false);
            if from == text.len() {
                return;
            }
            at = skip(text, from, true);
            if f(from, at).is_break() {
                return;
            }
        }
    }
    // `mask`: bit i set when the block's byte i is a word byte; `carry`: the previous block's last
    // byte was one (a word runs on into this block); `start`: where the open word began.
    let (mut carry, mut start) = (0u64, 0);
    for (n, block) in text.as_bytes().chunks(64).enumerate() {
        let base = n * 64;
        let mask = block
            .chunks(8)
            .enumerate()
            .fold(0u64, |m, (k, eight)| m | alnum_bits(eight) << (8 * k));
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
            } else if f(start, base + i).is_break() {
                return;
            }
            marks &= marks - 1;
        }
        carry = mask >> 63;
    }
    // A full last block ending in a word byte: the one word no mark ended.
    if carry == 1 {
        let _ = f(start, text.len());
    }
}

/// Bit i set when byte i of `bytes` (at most eight, all ASCII) is a letter or a digit: the
/// eight bytes judged at once in a `u64`. A byte `v` below 0x80 plus `0x80 - lo` has its top bit
/// set when `v >= lo`, plus `0x7f - hi` when `v > hi`, and neither sum carries into the next
/// byte; letters are judged in lower case (`| 0x20`). The top bits are then gathered into one
/// byte by a multiplication whose partial products never overlap.
fn alnum_bits(bytes: &[u8]) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOPS: u64 = 0x8080_8080_8080_8080;
    let mut eight = [0u8; 8];
    eight[..bytes.len()].copy_from_slice(bytes);
    let x = u64::from_le_bytes(eight);
    let within = |x: u64, lo: u8, hi: u8| {
        (x + ONES * u64::from(0x80 - lo)) & !(x + ONES * u64::from(0x7f - hi)) & TOPS
    };
    let tops = within(x, b'0', b'9') | within(x | (ONES * 0x20), b'a', b'z');
    (tops >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
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

/// For each of `hits` (distinct documents), the positions of the query's `terms` (of `field`,
/// indexed with positions; each with tantivy's fragment weight) in it, with their terms' weights,
/// in position order. Each segment's postings of a term are opened once and walked forward
/// through that segment's hits in document order.
pub fn positions(
    searcher: &Searcher,
    field: Field,
    terms: &[(Term, f32)],
    hits: &[DocAddress],
) -> tantivy::Result<Vec<Vec<(u32, f32)>>> {
    let mut order: Vec<usize> = (0..hits.len()).collect();
    order.sort_unstable_by_key(|&i| hits[i]);
    let mut out = vec![Vec::new(); hits.len()];
    let mut postings: Vec<(SegmentPostings, f32)> = Vec::with_capacity(terms.len());
    let (mut segment, mut buf) = (None, Vec::new());
    for i in order {
        let DocAddress {
            segment_ord,
            doc_id,
        } = hits[i];
        if segment != Some(segment_ord) {
            let inverted = searcher.segment_reader(segment_ord).inverted_index(field)?;
            postings.clear();
            for (term, weight) in terms {
                let p = inverted.read_postings(term, IndexRecordOption::WithFreqsAndPositions)?;
                postings.extend(p.map(|p| (p, *weight)));
            }
            segment = Some(segment_ord);
        }
        let marks = &mut out[i];
        for (p, weight) in &mut postings {
            if p.doc() < doc_id {
                p.seek(doc_id);
            }
            if p.doc() == doc_id {
                p.positions(&mut buf);
                marks.extend(buf.iter().map(|&at| (at, *weight)));
            }
        }
        marks.sort_unstable_by_key(|&(at, _)| at);
    }
    Ok(out)
}

/// The byte range of `text`'s best fragment, chosen as tantivy's `SnippetGenerator` chooses it:
/// consecutive windows of words spanning at most `max_chars` bytes each, scored by the sum of the
/// weights of the terms at their words' positions (`marks`, from [`positions`]), the highest
/// score winning and the earliest on a tie; `None` when no word is marked. The walk stops at the
/// end of the window holding the last mark: every later window scores 0.
pub fn best(text: &str, marks: &[(u32, f32)], max_chars: usize) -> Option<Range<usize>> {
    let mut best: Option<(f32, Range<usize>)> = None;
    let mut keep = |score: f32, range: Range<usize>| {
        // Strictly greater: the earlier of two equal fragments stays.
        if score > 0.0 && best.as_ref().is_none_or(|(b, _)| score > *b) {
            best = Some((score, range));
        }
    };
    let mut marks = marks.iter().peekable();
    let (mut start, mut stop, mut score, mut position) = (0, 0, 0.0f32, 0u32);
    for_each_word(text, |from, to| {
        let at = position;
        position += 1;
        // `en_stem`'s long-word removal: no token, so in no window (but it keeps its position).
        if to - from >= LONG_TOKEN {
            return ControlFlow::Continue(());
        }
        if to - start > max_chars {
            keep(score, start..stop);
            if marks.peek().is_none() {
                return ControlFlow::Break(());
            }
            (start, score) = (from, 0.0);
        }
        stop = to;
        while let Some(&&(p, weight)) = marks.peek() {
            if p > at {
                break;
            }
            if p == at {
                score += weight;
            }
            marks.next();
        }
        ControlFlow::Continue(())
    });
    keep(score, start..stop);
    best.map(|(_, range)| range)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use tantivy::schema::{Schema, Value};
    use tantivy::snippet::SnippetGenerator;
    use tantivy::tokenizer::{LowerCaser, SimpleTokenizer, TextAnalyzer, TokenStream};
    use tantivy::{Index, TantivyDocument, doc};

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
    fn alnum_bits_judges_every_ascii_byte_in_every_lane() {
        for v in 0u8..0x80 {
            for lane in 0..8 {
                for fill in [b' ', b'a', b'0', b'~'] {
                    let mut eight = [fill; 8];
                    eight[lane] = v;
                    let want = eight.iter().enumerate().fold(0u64, |m, (i, b)| {
                        m | u64::from(b.is_ascii_alphanumeric()) << i
                    });
                    assert_eq!(alnum_bits(&eight), want, "{v:#x} in lane {lane}");
                    assert_eq!(
                        alnum_bits(&eight[..=lane]),
                        want & ((2 << lane) - 1),
                        "{v:#x} ending a short block at {lane}"
                    );
                }
            }
        }
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
            for_each_word(t, |from, to| {
                words.push((from, to));
                ControlFlow::Continue(())
            });
            assert_eq!(words, simple_words(t), "{t:?}");
        }
    }

    /// The snippets of every passage of an index of the fixtures (the body's indexing options,
    /// two segments) for several queries, from the postings' positions, against tantivy's generator re-analyzing the text.
    #[test]
    fn snippets_equal_those_of_the_index_analyzer() {
        let mut b = Schema::builder();
        let body = b.add_text_field("body", super::super::index::text_options());
        let index = Index::create_in_ram(b.build());
        // Passages of real text (~1,000 characters, as the chunker makes; some non-ASCII, some
        // with words of 40 bytes or more), and of every fixture word.
        let chars: Vec<char> = fixture_text().chars().collect();
        let mut texts: Vec<String> = chars.chunks(1000).map(|c| c.iter().collect()).collect();
        texts.truncate(400);
        texts.extend(vocabulary().chunks(150).map(|c| c.join(" ")));
        texts.push(format!(
            "{} runbook {} incident",
            "x".repeat(45),
            "y".repeat(40)
        ));
        assert!(texts.iter().any(|t| !t.is_ascii()));
        let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
        for (n, text) in texts.iter().enumerate() {
            writer.add_document(doc!(body => text.as_str())).unwrap();
            if n == texts.len() / 2 {
                writer.commit().unwrap();
            }
        }
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        assert_eq!(searcher.segment_readers().len(), 2);
        // Every passage, in reverse order (read sorts them by address itself).
        let mut hits: Vec<DocAddress> = Vec::new();
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            hits.extend((0..segment.max_doc()).map(|d| DocAddress::new(ord as u32, d)));
        }
        hits.reverse();
        let stored: Vec<String> = hits
            .iter()
            .map(|&h| {
                let d: TantivyDocument = searcher.doc(h).unwrap();
                d.get_first(body)
                    .and_then(|v| v.as_str())
                    .unwrap()
                    .to_owned()
            })
            .collect();
        let queries = [
            "dying running relational",
            "incident response runbook",
            "token rotation refresh",
            "the skies news",
            "generously organized communities",
            "deployment failures rollback",
            "authorization servers must validate",
            "naïve café Ünïcödé",
        ];
        // The analyzer the index itself runs on the body (`en_stem`), for the queries and for
        // tantivy's generator.
        let mut analyzer = index.tokenizer_for_field(body).unwrap();
        let mut compared = 0;
        for q in queries {
            // Distinct weights, so a word given another term's weight changes the choice.
            let mut weights = BTreeMap::new();
            analyzer.token_stream(q).process(&mut |t| {
                let n = weights.len() as f32;
                weights.insert(t.text.clone(), 1.0 / (2.0 + n));
            });
            let terms: Vec<(Term, f32)> = weights
                .iter()
                .map(|(t, w)| (Term::from_field_text(body, t), *w))
                .collect();
            let marks = positions(&searcher, body, &terms, &hits).unwrap();
            let exact = SnippetGenerator::new(weights, analyzer.clone(), body, 280);
            for (text, marks) in stored.iter().zip(&marks) {
                let e = exact.snippet(text);
                let f = best(text, marks, 280).map(|r| &text[r]).unwrap_or_default();
                assert_eq!(f, e.fragment(), "{q:?}");
                compared += usize::from(!e.is_empty());
            }
        }
        assert!(
            compared > 200,
            "only {compared} non-empty snippets compared"
        );
    }

    #[test]
    fn a_passage_without_marks_has_no_fragment_and_marks_past_its_words_are_ignored() {
        assert_eq!(best("nothing to see here", &[], 280), None);
        assert_eq!(best("", &[(0, 1.0)], 280), None);
        assert_eq!(best("one two", &[(5, 1.0)], 280), None);
        assert_eq!(best("one two three", &[(1, 1.0)], 280), Some(0..13));
        // Windows of at most 8 bytes: "one two" | "three" | "four"; the mark on "four" wins.
        assert_eq!(best("one two three four", &[(3, 1.0)], 8), Some(14..18));
    }
}
