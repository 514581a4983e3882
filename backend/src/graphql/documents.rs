//! Parsed documents, kept by their text.
//!
//! Clients send the same few operations again and again (the app's own
//! queries, with the values in variables), and parsing a document with
//! async-graphql's pest grammar cost an eighth of the submission path.
//! Like Apollo Server's document store, the parsed document is kept by its
//! query text, and a request with a known text starts from a copy of it
//! (a handful of small allocations) instead of parsing again. Validation
//! still runs for every request: it depends on the variables.
//!
//! Only documents that parse are kept, only up to [`MAX_KEPT_QUERY`] bytes,
//! and at most [`KEPT`] of them (least recently used go first), so a client
//! sending endless distinct queries only churns a bounded cache.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;
use lru::LruCache;

/// Documents kept.
const KEPT: usize = 512;
/// Longest query text kept (the app's largest operation is a few KiB).
const MAX_KEPT_QUERY: usize = 16 * 1024;

#[derive(Clone)]
pub struct DocumentCache {
    documents: Arc<Mutex<LruCache<Box<str>, Arc<ExecutableDocument>>>>,
}

impl Default for DocumentCache {
    fn default() -> Self {
        Self {
            documents: Arc::new(Mutex::new(LruCache::new(
                NonZeroUsize::new(KEPT).expect("KEPT is not zero"),
            ))),
        }
    }
}

impl std::fmt::Debug for DocumentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentCache")
            .field("kept", &self.lock().len())
            .finish()
    }
}

impl DocumentCache {
    /// Gives `request` its parsed document: a copy of the kept one when its
    /// text is known, else parsed now (and kept when it parses). A request
    /// that does not parse is left as it is, for execution to report the
    /// syntax error.
    pub fn prepare(&self, request: &mut async_graphql::Request) {
        if request.query.len() > MAX_KEPT_QUERY {
            return;
        }
        let kept = self.lock().get(request.query.as_str()).cloned();
        if let Some(document) = kept {
            request.set_parsed_query(ExecutableDocument::clone(&document));
            return;
        }
        if let Ok(document) = request.parsed_query() {
            let document = Arc::new(document.clone());
            self.lock().put(request.query.as_str().into(), document);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<Box<str>, Arc<ExecutableDocument>>> {
        // The cache holds no invariant a panic could break.
        self.documents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str) -> async_graphql::Request {
        async_graphql::Request::new(query)
    }

    #[test]
    fn a_known_text_gets_the_same_document_without_parsing_again() {
        let cache = DocumentCache::default();
        let text = "mutation($t:ID!){submitOpinion(topicId:$t,stance:SUPPORT){id}}";
        let mut first = request(text);
        cache.prepare(&mut first);
        assert_eq!(cache.len(), 1);
        let mut second = request(text);
        cache.prepare(&mut second);
        assert_eq!(cache.len(), 1);
        assert_eq!(
            format!("{:?}", second.parsed_query().expect("kept document")),
            format!("{:?}", first.parsed_query().expect("parsed document")),
        );
    }

    #[test]
    fn documents_that_do_not_parse_or_are_too_long_are_not_kept() {
        let cache = DocumentCache::default();
        let mut broken = request("query { me { id ");
        cache.prepare(&mut broken);
        assert!(
            broken.parsed_query().is_err(),
            "the syntax error is left for execution"
        );
        let long = format!("query {{ me {{ id }} }} #{}", "x".repeat(MAX_KEPT_QUERY));
        let mut long = request(&long);
        cache.prepare(&mut long);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn the_cache_holds_at_most_its_bound() {
        let cache = DocumentCache::default();
        for i in 0..KEPT + 10 {
            cache.prepare(&mut request(&format!("query {{ a{i}: me {{ id }} }}")));
        }
        assert_eq!(cache.len(), KEPT);
    }
}
