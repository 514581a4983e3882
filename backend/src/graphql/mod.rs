//! The GraphQL API: thin resolvers over the domain layer.

mod accounts;
pub mod context;
mod divisions;
pub mod error;
pub mod limits;
mod outbox;
mod outcomes;
mod residency;
mod roles;
mod suggestions;
pub mod topics;
pub mod types;

use async_graphql::{MergedObject, MergedSubscription, Schema};

use crate::domain::Services;

#[derive(MergedObject, Default)]
pub struct Query(
    accounts::AccountsQuery,
    divisions::DivisionsQuery,
    outbox::OutboxQuery,
    outcomes::OutcomesQuery,
    residency::ResidencyQuery,
    roles::RolesQuery,
    suggestions::SuggestionsQuery,
    topics::TopicsQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    accounts::AccountsMutation,
    outbox::OutboxMutation,
    outcomes::OutcomesMutation,
    residency::ResidencyMutation,
    roles::RolesMutation,
    suggestions::SuggestionsMutation,
    topics::TopicsMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(topics::TopicsSubscription);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// Limits that keep one request from costing the server much: nesting,
/// total complexity, recursion while parsing, and fields written out
/// (`limits::MAX_FIELDS`, aliases included).
pub const MAX_DEPTH: usize = 12;
pub const MAX_COMPLEXITY: usize = 1_000;

pub fn build_schema(services: Option<Services>) -> AppSchema {
    let production = services.as_ref().is_some_and(|s| s.settings.production);
    let mut builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .limit_recursive_depth(32)
    .limit_directives(20)
    .extension(limits::FieldLimit);
    if production {
        builder = builder.disable_introspection();
    }
    if let Some(services) = services {
        builder = builder.data(services);
    }
    builder.finish()
}

/// The SDL that `yishi schema` prints and `schema.graphql` holds.
pub fn sdl() -> String {
    build_schema(None).sdl()
}
