//! What one request may cost: a cap on the fields it writes out, and the
//! complexity of list fields.
//!
//! Depth and complexity (see `build_schema`) bound what resolvers cost, and
//! [`list_cost`] makes a list's cost grow with the page the client asks for.
//! The field cap bounds the rest: every alias costs validation time and
//! response bytes, `__typename` included. Fields are counted right after
//! parsing, with each fragment counted at every place it is spread, as
//! execution would expand it; each fragment is counted once and remembered,
//! so the count stays linear in the document's size, and it stops as soon as
//! it passes the cap.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{ErrorExtensionValues, Name, Positioned, ServerError, ServerResult, Variables};

/// Most fields one request may write out, fragments expanded.
pub const MAX_FIELDS: usize = 500;

/// Fragments spread inside fragments deeper than this are refused: no page
/// nests them more than a few levels, and the count recurses on them.
const MAX_FRAGMENT_NESTING: usize = 32;

/// The complexity of a list field: the selection under it once per item the
/// client may get back (`first`, or `default` when not given, at most
/// `max`, the largest page the list serves), so `first: 500` costs 500 times
/// what one item does.
#[must_use]
pub fn list_cost(first: Option<i32>, default: i32, max: i32, child_complexity: usize) -> usize {
    let items = first.unwrap_or(default).clamp(1, max.max(1));
    usize::try_from(items)
        .unwrap_or(1)
        .saturating_mul(child_complexity.max(1))
        .saturating_add(1)
}

pub struct FieldLimit;

impl ExtensionFactory for FieldLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(FieldLimitExtension)
    }
}

struct FieldLimitExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for FieldLimitExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        within_cap(&doc)?;
        Ok(doc)
    }
}

/// The field cap for a request about to be executed: parses it (the parsed
/// document is kept in the request, so it is not parsed twice) and refuses
/// it when it writes out too many fields. A request that does not parse
/// passes, for execution to report the syntax error.
///
/// # Errors
/// The error to answer with when the cap is exceeded.
pub fn check_fields(request: &mut async_graphql::Request) -> ServerResult<()> {
    match request.parsed_query() {
        Ok(doc) => within_cap(doc),
        Err(_) => Ok(()),
    }
}

fn within_cap(doc: &ExecutableDocument) -> ServerResult<()> {
    if count_fields(doc) > MAX_FIELDS {
        let mut error = ServerError::new(
            format!(
                "the query has more than {MAX_FIELDS} fields (fragments counted where they are \
                 spread, __typename included)"
            ),
            None,
        );
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", "GRAPHQL_VALIDATION_FAILED");
        error.extensions = Some(extensions);
        return Err(error);
    }
    Ok(())
}

/// The fields `doc` writes out with its fragments expanded; any number above
/// [`MAX_FIELDS`] only means "too many".
fn count_fields(doc: &ExecutableDocument) -> usize {
    let mut counter = Counter {
        fragments: &doc.fragments,
        counted: HashMap::new(),
        open: HashSet::new(),
    };
    let mut total = 0usize;
    for (_, op) in doc.operations.iter() {
        total = total.saturating_add(counter.count(&op.node.selection_set.node));
        if total > MAX_FIELDS {
            break;
        }
    }
    total
}

struct Counter<'d> {
    fragments: &'d HashMap<Name, Positioned<FragmentDefinition>>,
    /// Fields of each fragment already counted, by name.
    counted: HashMap<&'d str, usize>,
    /// Fragments being counted now, to stop at a cycle.
    open: HashSet<&'d str>,
}

impl<'d> Counter<'d> {
    fn count(&mut self, set: &'d SelectionSet) -> usize {
        let mut total = 0usize;
        for item in &set.items {
            let n = match &item.node {
                Selection::Field(field) => {
                    1usize.saturating_add(self.count(&field.node.selection_set.node))
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(spread.node.fragment_name.node.as_str())
                }
                Selection::InlineFragment(inline) => self.count(&inline.node.selection_set.node),
            };
            total = total.saturating_add(n);
            if total > MAX_FIELDS {
                break;
            }
        }
        total
    }

    /// The fields a spread of `name` writes out; at least one, so that no
    /// spread is free.
    fn fragment(&mut self, name: &'d str) -> usize {
        if let Some(&n) = self.counted.get(name) {
            return n.max(1);
        }
        // An unknown fragment or a cycle: validation refuses either, after.
        let Some(definition) = self.fragments.get(name) else {
            return 1;
        };
        if self.open.len() >= MAX_FRAGMENT_NESTING {
            return MAX_FIELDS + 1;
        }
        if !self.open.insert(name) {
            return 1;
        }
        let n = self.count(&definition.node.selection_set.node);
        self.open.remove(name);
        self.counted.insert(name, n);
        n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(query: &str) -> usize {
        count_fields(&async_graphql::parser::parse_query(query).unwrap())
    }

    #[test]
    fn fragments_are_counted_at_every_spread_and_typename_counts() {
        // a, a.id, b, b.id, c, and F's one field twice.
        assert_eq!(
            count(
                "query { a: me { id } b: me { id } ...F ... on Query { c: __typename } ...F } \
                 fragment F on Query { d: __typename }"
            ),
            7
        );
        // A fragment spread inside a fragment spread three times.
        assert_eq!(
            count(
                "query { me { ...U ...U ...U } } fragment U on User { id ...V } \
                 fragment V on User { email displayName }"
            ),
            1 + 3 * 3
        );
    }

    #[test]
    fn a_fragment_bomb_is_over_the_cap_without_being_walked() {
        // Each fragment spreads the previous one twice: 2^60 fields.
        let mut bomb = String::from("query { ...F60 } fragment F0 on Query { __typename }");
        for i in 1..=60 {
            bomb.push_str(&format!(
                " fragment F{i} on Query {{ ...F{p} ...F{p} }}",
                p = i - 1
            ));
        }
        let started = std::time::Instant::now();
        assert!(count(&bomb) > MAX_FIELDS);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn cycles_unknown_fragments_and_deep_chains_end() {
        assert_eq!(
            count("query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }"),
            1
        );
        assert_eq!(count("query { ...Missing me { id } }"), 3);
        // A long chain of fragments, each spreading the next.
        let mut chain = String::from("query { ...F0 }");
        for i in 0..5_000 {
            chain.push_str(&format!(" fragment F{i} on Query {{ ...F{} }}", i + 1));
        }
        chain.push_str(" fragment F5000 on Query { __typename }");
        assert!(count(&chain) > MAX_FIELDS);
    }

    #[test]
    fn five_hundred_typenames_pass_and_one_more_does_not() {
        let fields = |n: usize| {
            (0..n)
                .map(|i| format!("t{i}: __typename "))
                .collect::<String>()
        };
        assert_eq!(count(&format!("{{ {} }}", fields(MAX_FIELDS))), MAX_FIELDS);
        assert!(count(&format!("{{ {} }}", fields(MAX_FIELDS + 1))) > MAX_FIELDS);
    }

    #[test]
    fn a_list_costs_its_items_times_the_page() {
        assert_eq!(list_cost(Some(500), 50, 500, 7), 3_501);
        assert_eq!(list_cost(None, 50, 500, 7), 351);
        // Out of range pages are refused by the list itself; they cost the
        // most it serves.
        assert_eq!(list_cost(Some(i32::MAX), 50, 500, 7), 3_501);
        assert_eq!(list_cost(Some(-5), 50, 500, 7), 8);
        assert_eq!(list_cost(Some(10), 50, 500, usize::MAX), usize::MAX);
    }
}
