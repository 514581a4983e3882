//! A cap on the number of fields a request may write out, aliases included.
//!
//! Depth and complexity (see `build_schema`) bound what resolvers cost, but
//! async-graphql gives `__typename` no complexity, so thousands of aliases of
//! it would pass; and every alias costs validation time and response bytes.
//! This counts the fields written in the document (operations and fragment
//! definitions, not expanded) right after parsing, so the count is linear in
//! the document's size.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult, Variables};

/// Most fields one request may write out.
pub const MAX_FIELDS: usize = 500;

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
    let fields = count_fields(doc);
    if fields > MAX_FIELDS {
        return Err(ServerError::new(
            format!("the query has {fields} fields; at most {MAX_FIELDS} are allowed"),
            None,
        ));
    }
    Ok(())
}

fn count_fields(doc: &ExecutableDocument) -> usize {
    let operations: usize = doc
        .operations
        .iter()
        .map(|(_, op)| count_in(&op.node.selection_set.node))
        .sum();
    let fragments: usize = doc
        .fragments
        .values()
        .map(|f| count_in(&f.node.selection_set.node))
        .sum();
    operations + fragments
}

fn count_in(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => 1 + count_in(&field.node.selection_set.node),
            Selection::FragmentSpread(_) => 1,
            Selection::InlineFragment(inline) => count_in(&inline.node.selection_set.node),
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_aliases_and_fragments_are_counted_once_each() {
        let doc = async_graphql::parser::parse_query(
            "query { a: me { id } b: me { id } ...F ... on Query { c: __typename } } \
             fragment F on Query { d: __typename }",
        )
        .unwrap();
        // a, a.id, b, b.id, ...F, c, d
        assert_eq!(count_fields(&doc), 7);
    }
}
