//! The GraphQL API: thin resolvers over the domain layer.

/// `From` both ways between a GraphQL enum and the domain enum it mirrors,
/// variant by variant.
macro_rules! mirror_enum {
    ($gql:ident <=> $domain:path { $($variant:ident),+ $(,)? }) => {
        impl From<$gql> for $domain {
            fn from(v: $gql) -> Self {
                match v { $($gql::$variant => Self::$variant),+ }
            }
        }
        impl From<$domain> for $gql {
            fn from(v: $domain) -> Self {
                match v { $(<$domain>::$variant => Self::$variant),+ }
            }
        }
    };
}

mod accounts;
pub mod context;
mod divisions;
pub mod documents;
pub mod error;
pub mod limits;
pub mod loaders;
mod outbox;
mod outcomes;
mod procedure;
mod referrals;
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
    procedure::ProcedureQuery,
    procedure::NoticeBoardQuery,
    referrals::ReferralsQuery,
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
    procedure::ProcedureMutation,
    referrals::ReferralsMutation,
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
/// (`limits::MAX_FIELDS`, aliases and expanded fragments included).
pub const MAX_DEPTH: usize = 12;
/// Each field costs 1 and each list its selection times the page asked for
/// (`limits::list_cost`). The heaviest query of the resident and admin
/// pages, a village picker's 500 divisions, costs about 3,500; the cap
/// leaves room for that and refuses lists nested under large pages.
pub const MAX_COMPLEXITY: usize = 5_000;

/// The schema for requests over HTTP, whose handler checks the field cap
/// itself ([`limits::check_fields`]) before executing: any extension at all
/// sends every field of every response through async-graphql's extension
/// chain, which a results table of thousands of rows pays for dearly.
pub fn build_schema(services: Option<Services>) -> AppSchema {
    builder(services).finish()
}

/// The schema for subscriptions over WebSocket, where the field cap is an
/// extension, as there is no request to inspect before it runs.
pub fn build_ws_schema(services: Option<Services>) -> AppSchema {
    builder(services).extension(limits::FieldLimit).finish()
}

fn builder(
    services: Option<Services>,
) -> async_graphql::SchemaBuilder<Query, Mutation, Subscription> {
    let production = services.as_ref().is_some_and(|s| s.settings.production);
    let mut builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .limit_recursive_depth(32)
    .limit_directives(20);
    if production {
        builder = builder.disable_introspection();
    }
    if let Some(services) = services {
        builder = builder
            .data(loaders::Loaders::new(&services.db))
            .data(services);
    }
    builder
}

/// The SDL that `yishi schema` prints and `schema.graphql` holds.
pub fn sdl() -> String {
    build_schema(None).sdl()
}
