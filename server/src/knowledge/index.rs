//! One in-RAM tantivy index per workspace, built from that workspace's documents only.
//!
//! Isolation is layered: a workspace's index holds nothing but its own chunks, every query is
//! additionally constrained to the workspace term, and every hit's stored workspace is checked
//! before it is returned.
use super::chunk::{chunk_markdown, plain_text, truncate_chars};
use super::model::{SearchHit, Source};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TantivyDocument, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::TokenStream;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Term, doc};

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
    index: Index,
    reader: IndexReader,
    f: Fields,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("en_stem")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
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
    /// Chunks and indexes `docs` (CPU-bound: run it off the async executor).
    pub fn build(workspace: &str, version: i64, docs: &[IndexDoc]) -> anyhow::Result<Self> {
        let (schema, f) = schema();
        let index = Index::create_in_ram(schema);
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000)?;
        let mut chunks = 0;
        for d in docs {
            let passages = chunk_markdown(&d.text);
            // A document with no body is still findable by its title.
            let passages = if passages.is_empty() {
                vec![String::new()]
            } else {
                passages
            };
            for p in passages {
                chunks += 1;
                writer.add_document(doc!(
                    f.workspace => workspace,
                    f.doc_id => d.id.as_str(),
                    f.source => d.source.as_str(),
                    f.title => d.title.as_str(),
                    f.body => plain_text(&p),
                    f.url => d.url.as_str(),
                    f.uri => d.uri.as_str(),
                ))?;
            }
        }
        writer.commit()?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            workspace: workspace.to_string(),
            version,
            documents: docs.len(),
            chunks,
            index,
            reader,
            f,
        })
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
    pub fn search(
        &self,
        query: &str,
        source: Option<Source>,
        limit: usize,
    ) -> anyhow::Result<Vec<SearchHit>> {
        let limit = limit.clamp(1, MAX_LIMIT);
        let terms = self.terms(query)?;
        if terms.is_empty() || self.chunks == 0 {
            return Ok(Vec::new());
        }
        let f = self.f;
        let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(terms.len() * 2);
        for t in &terms {
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
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![
            (Occur::Must, Box::new(BooleanQuery::new(should))),
            (Occur::Must, filter(f.workspace, &self.workspace)),
        ];
        if let Some(s) = source {
            clauses.push((Occur::Must, filter(f.source, s.as_str())));
        }
        let query = BooleanQuery::new(clauses);

        let searcher = self.reader.searcher();
        let mut snippets = SnippetGenerator::create(&searcher, &query, f.body)?;
        snippets.set_max_num_chars(MAX_SNIPPET_CHARS - 20);
        let str_of = |d: &TantivyDocument, field: Field| -> String {
            d.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        // Several chunks of one document can crowd the top; widen until `limit` documents are
        // found or the matches run out.
        let mut want = (limit * 3).min(self.chunks);
        loop {
            let top = searcher.search(&query, &TopDocs::with_limit(want).order_by_score())?;
            let exhausted = top.len() < want || want >= self.chunks;
            let mut hits: Vec<SearchHit> = Vec::new();
            for (score, addr) in top {
                let d: TantivyDocument = searcher.doc(addr)?;
                if str_of(&d, f.workspace) != self.workspace {
                    // Unreachable by construction; never let it leak if it ever is.
                    tracing::error!(workspace = %self.workspace, "foreign document in a workspace index; skipped");
                    continue;
                }
                let doc_id = str_of(&d, f.doc_id);
                if hits.iter().any(|h| h.doc_id == doc_id) {
                    continue;
                }
                let Some(src) = Source::parse(&str_of(&d, f.source)) else {
                    continue;
                };
                let body = str_of(&d, f.body);
                let fragment = snippets.snippet(&body).fragment().to_string();
                let snippet = if fragment.trim().is_empty() {
                    body.as_str()
                } else {
                    fragment.as_str()
                };
                let snippet = snippet.split_whitespace().collect::<Vec<_>>().join(" ");
                hits.push(SearchHit {
                    doc_id,
                    title: str_of(&d, f.title),
                    url: str_of(&d, f.url),
                    uri: str_of(&d, f.uri),
                    source: src,
                    snippet: truncate_chars(&snippet, MAX_SNIPPET_CHARS),
                    score,
                });
                if hits.len() == limit {
                    break;
                }
            }
            if hits.len() == limit || exhausted {
                return Ok(hits);
            }
            want = (want * 4).min(self.chunks);
        }
    }
}
