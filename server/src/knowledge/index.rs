//! One tantivy index per workspace, built from that workspace's documents only: in RAM, or on
//! disk (memory-mapped) under the data directory so a restart opens it instead of rebuilding.
//!
//! An index on disk carries a stamp in its commit payload: the index format, the store's
//! identity, the workspace and the `knowledge_versions` value it reflects. A stamp that does not
//! match is rebuilt; a version behind the store is brought forward by re-indexing only the
//! documents the change log names ([`WorkspaceIndex::apply_changes`]).
//!
//! Isolation is layered: a workspace's index holds nothing but its own chunks, every query is
//! additionally constrained to the workspace term, and every hit's stored workspace is checked
//! before it is returned.
use super::chunk::{chunk_markdown, plain_text, truncate_chars};
use super::model::{SearchHit, Source};
use super::snippet;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::TokenStream;
use tantivy::{
    DocAddress, DocId, DocSet, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TERMINATED,
    Term, doc,
};

/// Bump when the schema, the tokenizer, the chunker or what is stored change: indexes on disk
/// with another format are rebuilt.
pub const INDEX_FORMAT: u32 = 1;
/// Indexing memory (one thread); larger means fewer segments to merge.
const WRITER_BUDGET: usize = 64_000_000;

/// Weight of a title match relative to a body match.
const TITLE_BOOST: f32 = 2.5;
/// Query terms beyond this are ignored (bounds the cost of a pathological query).
const MAX_TERMS: usize = 32;
/// Longest query text looked at.
const MAX_QUERY_CHARS: usize = 1000;
pub const MAX_SNIPPET_CHARS: usize = 300;
pub const MAX_LIMIT: usize = 50;

/// What the index needs of a document.
#[derive(Debug, Clone)]
pub struct IndexDoc {
    pub id: String,
    pub source: Source,
    pub title: String,
    pub url: String,
    pub uri: String,
    pub text: String,
}

#[derive(Clone, Copy)]
struct Fields {
    workspace: Field,
    doc_id: Field,
    source: Field,
    title: Field,
    body: Field,
    url: Field,
    uri: Field,
}

pub struct WorkspaceIndex {
    pub workspace: String,
    /// The `knowledge_versions` value the index was built from (read before the documents).
    pub version: i64,
    pub documents: usize,
    pub chunks: usize,
    /// The generation directory on disk; `None` in RAM.
    pub dir: Option<PathBuf>,
    store_id: String,
    index: Index,
    /// The reader's one view of the index (`ReloadPolicy::Manual`, never reloaded: a change
    /// makes a new `WorkspaceIndex`), so `docs` numbers exactly the segments it searches.
    searcher: Searcher,
    docs: DocTable,
    f: Fields,
}

/// The documents of one view of an index, numbered, and each passage's document number, so
/// hits are deduplicated without reading stored fields. A document's description is read from
/// the store the first time one of its passages is a hit (every passage stores the same one),
/// then kept: a start reads no stored field, and a search reads only the passages of its
/// snippets and of documents it is the first to show.
struct DocTable {
    /// By number: a hit of the document (no snippet, no score) once read; `Some(None)` for a
    /// document whose stored source is not one we know.
    docs: Vec<OnceLock<Option<SearchHit>>>,
    /// Per segment (in the searcher's order), per passage: its document's number, or
    /// [`DocTable::NONE`] for a deleted passage.
    number: Vec<Vec<u32>>,
}

impl DocTable {
    const NONE: u32 = u32::MAX;

    /// Numbers the documents from the live postings of every segment's `doc_id` terms.
    fn build(searcher: &Searcher, f: Fields) -> anyhow::Result<Self> {
        let mut numbers: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut number = Vec::with_capacity(searcher.segment_readers().len());
        for segment in searcher.segment_readers() {
            let mut own = vec![Self::NONE; segment.max_doc() as usize];
            let alive = segment.alive_bitset();
            let inverted = segment.inverted_index(f.doc_id)?;
            let mut terms = inverted.terms().stream()?;
            while terms.advance() {
                let mut postings = inverted
                    .read_postings_from_terminfo(terms.value(), IndexRecordOption::Basic)?;
                let mut doc: DocId = postings.doc();
                while doc != TERMINATED {
                    if alive.is_none_or(|a| a.is_alive(doc)) {
                        let next = numbers.len() as u32;
                        own[doc as usize] = *numbers.entry(terms.key().to_vec()).or_insert(next);
                    }
                    doc = postings.advance();
                }
            }
            number.push(own);
        }
        Ok(Self {
            docs: (0..numbers.len()).map(|_| OnceLock::new()).collect(),
            number,
        })
    }

    /// The number of the document a passage belongs to; `None` for a deleted passage.
    fn number(&self, addr: DocAddress) -> Option<u32> {
        self.number
            .get(addr.segment_ord as usize)?
            .get(addr.doc_id as usize)
            .copied()
            .filter(|&n| n != Self::NONE)
    }
}

/// The commit payload of an index on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    format: u32,
    store_id: String,
    workspace: String,
    version: i64,
    documents: usize,
}

/// A streaming builder: documents are added one at a time (the caller streams them from the
/// store), then [`IndexBuilder::finish`] commits.
pub struct IndexBuilder {
    workspace: String,
    version: i64,
    store_id: String,
    dir: Option<PathBuf>,
    index: Index,
    writer: IndexWriter,
    f: Fields,
    documents: usize,
    chunks: usize,
}

impl IndexBuilder {
    /// A new, empty index: in RAM, or in the fresh directory `dir` (created; must not exist).
    pub fn new(
        workspace: &str,
        version: i64,
        store_id: &str,
        dir: Option<&Path>,
    ) -> anyhow::Result<Self> {
        let (schema, f) = schema();
        let index = match dir {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                Index::create_in_dir(d, schema)?
            }
            None => Index::create_in_ram(schema),
        };
        let writer: IndexWriter = index.writer_with_num_threads(1, WRITER_BUDGET)?;
        Ok(Self {
            workspace: workspace.to_string(),
            version,
            store_id: store_id.to_string(),
            dir: dir.map(Path::to_path_buf),
            index,
            writer,
            f,
            documents: 0,
            chunks: 0,
        })
    }

    pub fn add(&mut self, d: &IndexDoc) -> anyhow::Result<()> {
        self.documents += 1;
        self.chunks += add_doc(&self.writer, self.f, &self.workspace, d)?;
        Ok(())
    }

    pub fn finish(mut self) -> anyhow::Result<WorkspaceIndex> {
        let stamp = Stamp {
            format: INDEX_FORMAT,
            store_id: self.store_id.clone(),
            workspace: self.workspace.clone(),
            version: self.version,
            documents: self.documents,
        };
        commit(&mut self.writer, &stamp)?;
        self.writer.wait_merging_threads()?;
        WorkspaceIndex::from_index(self.index, stamp, self.dir)
    }
}

/// Indexes one document's passages; returns how many.
fn add_doc(
    writer: &IndexWriter,
    f: Fields,
    workspace: &str,
    d: &IndexDoc,
) -> anyhow::Result<usize> {
    let passages = chunk_markdown(&d.text);
    // A document with no body is still findable by its title.
    let passages = if passages.is_empty() {
        vec![String::new()]
    } else {
        passages
    };
    for p in &passages {
        writer.add_document(doc!(
            f.workspace => workspace,
            f.doc_id => d.id.as_str(),
            f.source => d.source.as_str(),
            f.title => d.title.as_str(),
            f.body => plain_text(p),
            f.url => d.url.as_str(),
            f.uri => d.uri.as_str(),
        ))?;
    }
    Ok(passages.len())
}

fn commit(writer: &mut IndexWriter, stamp: &Stamp) -> anyhow::Result<()> {
    let mut prepared = writer.prepare_commit()?;
    prepared.set_payload(&serde_json::to_string(stamp)?);
    prepared.commit()?;
    Ok(())
}

/// How the title and the body are indexed and stored. Snippets rely on it: `en_stem` numbers
/// tokens by `SimpleTokenizer`'s words and the body's positions are indexed (`snippet`).
pub(super) fn text_options() -> TextOptions {
    TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("en_stem")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored()
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = text_options();
    let f = Fields {
        workspace: b.add_text_field("workspace", STRING | STORED),
        doc_id: b.add_text_field("doc_id", STRING | STORED),
        source: b.add_text_field("source", STRING | STORED),
        title: b.add_text_field("title", text.clone()),
        body: b.add_text_field("body", text),
        url: b.add_text_field("url", STORED),
        uri: b.add_text_field("uri", STORED),
    };
    (b.build(), f)
}

impl WorkspaceIndex {
    fn from_index(index: Index, stamp: Stamp, dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let (_, f) = schema();
        let reader: IndexReader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let searcher = reader.searcher();
        let chunks = searcher.num_docs() as usize;
        // Isolation: every live passage belongs to this workspace, or the index is refused.
        let own = searcher.search(
            &TermQuery::new(
                Term::from_field_text(f.workspace, &stamp.workspace),
                IndexRecordOption::Basic,
            ),
            &tantivy::collector::Count,
        )?;
        anyhow::ensure!(
            own == chunks,
            "knowledge index of {:?} holds {} passages of other workspaces",
            stamp.workspace,
            chunks - own.min(chunks)
        );
        let docs = DocTable::build(&searcher, f)?;
        Ok(Self {
            workspace: stamp.workspace,
            version: stamp.version,
            documents: stamp.documents,
            chunks,
            dir,
            store_id: stamp.store_id,
            index,
            searcher,
            docs,
            f,
        })
    }

    /// Opens the index in `dir` if it is this format, this store's and this workspace's;
    /// `Ok(None)` when it must be rebuilt.
    pub fn open(dir: &Path, workspace: &str, store_id: &str) -> anyhow::Result<Option<Self>> {
        let index = match Index::open_in_dir(dir) {
            Ok(i) => i,
            Err(e) => {
                tracing::info!(dir = %dir.display(), error = %e, "knowledge index on disk not usable; rebuilding");
                return Ok(None);
            }
        };
        let stamp: Option<Stamp> = index
            .load_metas()?
            .payload
            .and_then(|p| serde_json::from_str(&p).ok());
        let Some(stamp) = stamp.filter(|s| {
            s.format == INDEX_FORMAT && s.store_id == store_id && s.workspace == workspace
        }) else {
            tracing::info!(dir = %dir.display(), "knowledge index on disk is from another format or store; rebuilding");
            return Ok(None);
        };
        if index.schema() != schema().0 {
            return Ok(None);
        }
        Ok(Some(Self::from_index(
            index,
            stamp,
            Some(dir.to_path_buf()),
        )?))
    }

    /// A new view of this index at `version`: the passages of every document in `changed` are
    /// dropped, and those of `docs` (the changed documents that still exist) indexed again.
    /// `documents` is the workspace's new document count.
    pub fn apply_changes(
        &self,
        version: i64,
        changed: &[String],
        docs: &[IndexDoc],
        documents: usize,
    ) -> anyhow::Result<Self> {
        let mut writer: IndexWriter = self.index.writer_with_num_threads(1, 15_000_000)?;
        for id in changed {
            writer.delete_term(Term::from_field_text(self.f.doc_id, id));
        }
        for d in docs {
            add_doc(&writer, self.f, &self.workspace, d)?;
        }
        let stamp = Stamp {
            format: INDEX_FORMAT,
            store_id: self.store_id.clone(),
            workspace: self.workspace.clone(),
            version,
            documents,
        };
        commit(&mut writer, &stamp)?;
        writer.wait_merging_threads()?;
        Self::from_index(self.index.clone(), stamp, self.dir.clone())
    }

    /// Unique analyzed terms of a free-text query. No query syntax exists, so nothing a user
    /// types can make parsing fail.
    fn terms(&self, query: &str) -> anyhow::Result<Vec<String>> {
        let query: String = query.chars().take(MAX_QUERY_CHARS).collect();
        let mut analyzer = self.index.tokenizer_for_field(self.f.body)?;
        let mut stream = analyzer.token_stream(&query);
        let mut terms: Vec<String> = Vec::new();
        while stream.advance() {
            let t = &stream.token().text;
            if !t.is_empty() && !terms.contains(t) {
                terms.push(t.clone());
                if terms.len() == MAX_TERMS {
                    break;
                }
            }
        }
        Ok(terms)
    }

    /// BM25 over chunks; the best chunk per document; at most `limit` (clamped to 1..=50) hits.
    /// Without `snippets` the hits' `snippet` is empty and no passage text is read or
    /// highlighted (ChatGPT's `search` returns ids, titles and URLs only).
    pub fn search(
        &self,
        query: &str,
        source: Option<Source>,
        limit: usize,
        snippets: bool,
    ) -> anyhow::Result<Vec<SearchHit>> {
        let limit = limit.clamp(1, MAX_LIMIT);
        let terms = self.terms(query)?;
        if terms.is_empty() || self.chunks == 0 {
            return Ok(Vec::new());
        }
        let query = self.query(&terms, source);
        let query = &*query;

        let searcher = &self.searcher;
        // Several chunks of one document can crowd the top; widen until `limit` documents are
        // found or the matches run out.
        let mut want = (limit * 3).min(self.chunks);
        loop {
            let top = searcher.search(query, &TopDocs::with_limit(want).order_by_score())?;
            let exhausted = top.len() < want || want >= self.chunks;
            // The hits (each document's best passage) and their passages' addresses; stored
            // fields are read only for documents not yet described (`DocTable`).
            let mut hits: Vec<(SearchHit, DocAddress)> = Vec::with_capacity(limit);
            let mut seen: Vec<u32> = Vec::with_capacity(limit);
            for (score, addr) in top {
                let Some(n) = self.docs.number(addr) else {
                    continue;
                };
                if seen.contains(&n) {
                    continue;
                }
                seen.push(n);
                let Some(d) = self.describe(n, addr)? else {
                    continue;
                };
                hits.push((SearchHit { score, ..d.clone() }, addr));
                if hits.len() == limit {
                    break;
                }
            }
            if hits.len() == limit || exhausted {
                if snippets {
                    self.snippets(&terms, &mut hits)?;
                }
                return Ok(hits.into_iter().map(|(h, _)| h).collect());
            }
            want = (want * 4).min(self.chunks);
        }
    }

    /// Document `n`'s description, read from its passage at `addr` the first time; `None` for
    /// a document whose stored source is not one we know (never shown).
    fn describe(&self, n: u32, addr: DocAddress) -> anyhow::Result<Option<&SearchHit>> {
        let cell = &self.docs.docs[n as usize];
        if let Some(known) = cell.get() {
            return Ok(known.as_ref());
        }
        let f = self.f;
        let mut d = self.stored(addr)?;
        let meta = Source::parse(d.get(f.source)).map(|source| SearchHit {
            doc_id: d.take(f.doc_id),
            title: d.take(f.title),
            url: d.take(f.url),
            uri: d.take(f.uri),
            source,
            snippet: String::new(),
            score: 0.0,
        });
        // Two searches may both read it; either's description is the document's.
        Ok(cell.get_or_init(|| meta).as_ref())
    }

    /// The passages' query: BM25 over the title (boosted) and the body for each term, within
    /// `source` when given.
    fn query(&self, terms: &[String], source: Option<Source>) -> Box<dyn Query> {
        let f = self.f;
        let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(terms.len() * 2);
        for t in terms {
            let title = TermQuery::new(
                Term::from_field_text(f.title, t),
                IndexRecordOption::WithFreqs,
            );
            let body = TermQuery::new(
                Term::from_field_text(f.body, t),
                IndexRecordOption::WithFreqs,
            );
            should.push((
                Occur::Should,
                Box::new(BoostQuery::new(Box::new(title), TITLE_BOOST)),
            ));
            should.push((Occur::Should, Box::new(body)));
        }
        let filter = |field: Field, value: &str| -> Box<dyn Query> {
            Box::new(ConstScoreQuery::new(
                Box::new(TermQuery::new(
                    Term::from_field_text(field, value),
                    IndexRecordOption::Basic,
                )),
                0.0,
            ))
        };
        // Without a source filter the query is a pure disjunction of term queries, which
        // tantivy answers with block-max WAND (skipping passages that cannot reach the top)
        // instead of scoring every passage containing a common word. The workspace term adds
        // nothing there: every passage of this index carries it (checked whenever a view of the
        // index is made, see `from_index` and `DocTable::build`).
        let text: Box<dyn Query> = Box::new(BooleanQuery::new(should));
        match source {
            None => text,
            Some(s) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, text),
                (Occur::Must, filter(f.workspace, &self.workspace)),
                (Occur::Must, filter(f.source, s.as_str())),
            ])),
        }
    }

    /// Each hit's snippet: the best fragment of its passage for the query's body terms, weighted
    /// as tantivy's `SnippetGenerator::create` weighs them, found from the terms' positions in
    /// the index (`snippet`).
    fn snippets(
        &self,
        terms: &[String],
        hits: &mut [(SearchHit, DocAddress)],
    ) -> anyhow::Result<()> {
        let searcher = &self.searcher;
        let mut weighted = Vec::with_capacity(terms.len());
        for t in terms {
            let term = Term::from_field_text(self.f.body, t);
            let df = searcher.doc_freq(&term)?;
            if df > 0 {
                weighted.push((term, 1.0 / (1.0 + df as f32)));
            }
        }
        let addrs: Vec<DocAddress> = hits.iter().map(|(_, a)| *a).collect();
        let marks = snippet::positions(searcher, self.f.body, &weighted, &addrs)?;
        for ((hit, addr), marks) in hits.iter_mut().zip(&marks) {
            hit.snippet = snippet_of(&self.stored(*addr)?.take(self.f.body), marks);
        }
        Ok(())
    }

    /// The stored fields of the passage at `addr`, which must be this workspace's.
    fn stored(&self, addr: DocAddress) -> anyhow::Result<Stored> {
        let d: Stored = self.searcher.doc(addr)?;
        // Unreachable by construction (`from_index`); never let it leak if it ever is.
        anyhow::ensure!(
            d.get(self.f.workspace) == self.workspace,
            "foreign passage in the knowledge index of {:?}",
            self.workspace
        );
        Ok(d)
    }
}

/// The best fragment of a passage (or the passage, when no word of it matches), whitespace
/// collapsed, at most [`MAX_SNIPPET_CHARS`] characters.
fn snippet_of(body: &str, marks: &[(u32, f32)]) -> String {
    let text = match snippet::best(body, marks, MAX_SNIPPET_CHARS - 20).map(|r| &body[r]) {
        Some(fragment) if !fragment.trim().is_empty() => fragment,
        _ => body,
    };
    let mut collapsed = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !collapsed.is_empty() {
            collapsed.push(' ');
        }
        collapsed.push_str(word);
    }
    truncate_chars(&collapsed, MAX_SNIPPET_CHARS)
}

/// A hit's stored fields, each read once into its own string (not built into a
/// `TantivyDocument` and copied out of it). Every stored field of the schema is text.
struct Stored(Vec<(Field, String)>);

impl Stored {
    fn get(&self, field: Field) -> &str {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The field's value, moved out (a field is taken once).
    fn take(&mut self, field: Field) -> String {
        self.0
            .iter_mut()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| std::mem::take(v))
            .unwrap_or_default()
    }
}

impl tantivy::schema::document::DocumentDeserialize for Stored {
    fn deserialize<'de, D>(mut d: D) -> Result<Self, tantivy::schema::document::DeserializeError>
    where
        D: tantivy::schema::document::DocumentDeserializer<'de>,
    {
        let mut fields = Vec::with_capacity(d.size_hint());
        while let Some(field) = d.next_field::<String>()? {
            fields.push(field);
        }
        Ok(Self(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document of `parts` sections, one passage each; every passage says `word` and
    /// `common`, the second says `word` three times.
    fn document(id: &str, source: Source, title: &str, parts: usize, word: &str) -> IndexDoc {
        let text = (0..parts)
            .map(|i| {
                let times = if i == 1 { 3 } else { 1 };
                format!(
                    "## Part {i}\n\n{} {} common\n",
                    "filler words about nothing much ".repeat(28),
                    vec![word; times].join(" ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        IndexDoc {
            id: id.into(),
            source,
            title: title.into(),
            url: format!("https://example.com/{id}"),
            uri: format!("kb://acme/{id}"),
            text,
        }
    }

    /// The hits as the search made them before `DocTable`: every passage ranked, each read
    /// from the store, the first passage of each document kept, its snippet made from it.
    fn from_the_store(
        ix: &WorkspaceIndex,
        query: &str,
        source: Option<Source>,
        limit: usize,
    ) -> Vec<SearchHit> {
        let terms = ix.terms(query).unwrap();
        let top = ix
            .searcher
            .search(
                &*ix.query(&terms, source),
                &TopDocs::with_limit(ix.chunks).order_by_score(),
            )
            .unwrap();
        let mut hits: Vec<(SearchHit, DocAddress)> = Vec::new();
        for (score, addr) in top {
            let mut d: Stored = ix.searcher.doc(addr).unwrap();
            let doc_id = d.take(ix.f.doc_id);
            if hits.len() == limit || hits.iter().any(|(h, _)| h.doc_id == doc_id) {
                continue;
            }
            let hit = SearchHit {
                doc_id,
                title: d.take(ix.f.title),
                url: d.take(ix.f.url),
                uri: d.take(ix.f.uri),
                source: Source::parse(d.get(ix.f.source)).unwrap(),
                snippet: String::new(),
                score,
            };
            hits.push((hit, addr));
        }
        ix.snippets(&terms, &mut hits).unwrap();
        hits.into_iter().map(|(h, _)| h).collect()
    }

    fn same_as_the_store(ix: &WorkspaceIndex) {
        for query in [
            "common",
            "alpha",
            "beta gamma",
            "delta common",
            "zeta",
            "nothing",
        ] {
            for source in [None, Some(Source::Wiki), Some(Source::Github)] {
                for limit in [1, 2, 3, 5, 8] {
                    let want = from_the_store(ix, query, source, limit);
                    assert!(want.iter().all(|h| !h.snippet.is_empty()));
                    let with = ix.search(query, source, limit, true).unwrap();
                    assert_eq!(with, want, "{query:?} {source:?} {limit}");
                    let without = ix.search(query, source, limit, false).unwrap();
                    let want: Vec<SearchHit> = want
                        .into_iter()
                        .map(|h| SearchHit {
                            snippet: String::new(),
                            ..h
                        })
                        .collect();
                    assert_eq!(without, want, "{query:?} {source:?} {limit}");
                }
            }
        }
    }

    /// Hits are deduplicated and described from the document table, across segments and
    /// deletions, exactly as reading every passage's stored fields would.
    #[test]
    fn hits_are_those_of_the_stored_fields_across_segments_and_changes() {
        let mut b = IndexBuilder::new("acme", 1, "store", None).unwrap();
        let docs = [
            document("wiki:a", Source::Wiki, "Alpha guide", 4, "alpha"),
            document("wiki:b", Source::Wiki, "Beta notes", 3, "beta"),
            document("github:o/r#1", Source::Github, "Gamma bug", 5, "gamma"),
            document("github:o/r#2", Source::Github, "Delta feature", 2, "delta"),
            document("wiki:c", Source::Wiki, "Alpha and beta", 3, "alpha beta"),
        ];
        for d in &docs {
            b.add(d).unwrap();
        }
        let ix = b.finish().unwrap();
        assert!(ix.chunks > docs.len() * 2, "documents of several passages");
        same_as_the_store(&ix);

        // A second segment: wiki:b rewritten (its old passages deleted), github:o/r#1 removed,
        // a new document.
        let changed = [
            "wiki:b".to_string(),
            "github:o/r#1".to_string(),
            "wiki:z".to_string(),
        ];
        let new = [
            document(
                "wiki:b",
                Source::Wiki,
                "Beta notes, rewritten",
                4,
                "beta zeta",
            ),
            document("wiki:z", Source::Wiki, "Zeta", 2, "zeta gamma"),
        ];
        let ix = ix.apply_changes(2, &changed, &new, 5).unwrap();
        assert_eq!(ix.searcher.segment_readers().len(), 2);
        same_as_the_store(&ix);
        let beta = ix.search("beta", None, 10, false).unwrap();
        let b = beta.iter().find(|h| h.doc_id == "wiki:b").unwrap();
        assert_eq!(b.title, "Beta notes, rewritten");
        assert!(
            ix.search("gamma", None, 10, false)
                .unwrap()
                .iter()
                .all(|h| h.doc_id != "github:o/r#1")
        );

        // A document in two segments (its passages added again without the old ones deleted,
        // which `apply_changes`' callers never do) is still one hit.
        let ix = ix
            .apply_changes(
                3,
                &[],
                &[document("wiki:a", Source::Wiki, "Alpha guide", 4, "alpha")],
                5,
            )
            .unwrap();
        assert_eq!(ix.searcher.segment_readers().len(), 3);
        let alpha = ix.search("alpha", None, 10, true).unwrap();
        assert_eq!(alpha.iter().filter(|h| h.doc_id == "wiki:a").count(), 1);
        same_as_the_store(&ix);
    }
}
