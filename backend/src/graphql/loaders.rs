//! Batched lookups for fields asked once per item of a list: a page of 100
//! topics asking each its scope's `pathName` makes one query for all the
//! divisions involved, not one or two per topic.
//!
//! The loaders are schema data, shared by every request, with no cache:
//! each load reads the database, so nothing one request sees outlives it,
//! and concurrent requests only share the batch (each gets its own keys).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, ErrorExtensions as _};

use crate::db::Db;
use crate::domain::{accounts, divisions, opinions, outcomes, suggestions, topics};
use crate::error::Error;

/// A failed batch, shared by every field that waited on it.
type Failed = Arc<Error>;

fn failed(err: Error) -> Failed {
    if let Error::Internal(cause) = &err {
        tracing::error!(error = ?cause, "internal error in a batched lookup");
    }
    Arc::new(err)
}

/// The GraphQL error for a failed batch, with its code and public message
/// (the cause was logged once, when the batch failed).
fn to_gql(err: &Failed) -> async_graphql::Error {
    let code = err.code();
    async_graphql::Error::new(err.public_message()).extend_with(|_, ext| ext.set("code", code))
}

/// Divisions by code.
pub struct DivisionLoader(Db);

impl Loader<String> for DivisionLoader {
    type Value = divisions::Division;
    type Error = Failed;

    async fn load(&self, codes: &[String]) -> Result<HashMap<String, Self::Value>, Self::Error> {
        Ok(divisions::find_many(self.0.reader(), codes)
            .await
            .map_err(failed)?
            .into_iter()
            .map(|d| (d.code.clone(), d))
            .collect())
    }
}

/// Users by id.
pub struct UserLoader(Db);

impl Loader<i32> for UserLoader {
    type Value = accounts::User;
    type Error = Failed;

    async fn load(&self, ids: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        Ok(accounts::find_many(self.0.reader(), ids)
            .await
            .map_err(failed)?
            .into_iter()
            .map(|u| (u.id, u))
            .collect())
    }
}

/// A topic's options, in order, by topic id.
pub struct OptionsLoader(Db);

impl Loader<i64> for OptionsLoader {
    type Value = Arc<Vec<topics::TopicOption>>;
    type Error = Failed;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        Ok(topics::options_of_many(self.0.reader(), ids)
            .await
            .map_err(failed)?
            .into_iter()
            .map(|(id, options)| (id, Arc::new(options)))
            .collect())
    }
}

/// A topic's current outcome, by topic id.
pub struct OutcomeLoader(Db);

impl Loader<i64> for OutcomeLoader {
    type Value = outcomes::Outcome;
    type Error = Failed;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        outcomes::current_of_many(self.0.reader(), ids)
            .await
            .map_err(failed)
    }
}

/// A topic's supervision flags, oldest first, by topic id.
pub struct FlagsLoader(Db);

impl Loader<i64> for FlagsLoader {
    type Value = Arc<Vec<outcomes::Flag>>;
    type Error = Failed;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        Ok(outcomes::flags_of_many(self.0.reader(), ids)
            .await
            .map_err(failed)?
            .into_iter()
            .map(|(id, flags)| (id, Arc::new(flags)))
            .collect())
    }
}

/// Whether a user supports a suggestion, by (user, suggestion); a batch
/// may hold several users' questions, as the loader is shared.
pub struct SupportLoader(Db);

impl Loader<(i32, i64)> for SupportLoader {
    type Value = bool;
    type Error = Failed;

    async fn load(
        &self,
        keys: &[(i32, i64)],
    ) -> Result<HashMap<(i32, i64), Self::Value>, Self::Error> {
        let mut by_user: HashMap<i32, Vec<i64>> = HashMap::new();
        for (user, suggestion) in keys {
            by_user.entry(*user).or_default().push(*suggestion);
        }
        let mut answers: HashMap<(i32, i64), bool> = keys.iter().map(|k| (*k, false)).collect();
        for (user, ids) in by_user {
            for id in suggestions::supported_among(self.0.reader(), user, &ids)
                .await
                .map_err(failed)?
            {
                answers.insert((user, id), true);
            }
        }
        Ok(answers)
    }
}

/// A user's current opinion on a topic, by (user, topic): the home page's
/// "已发表" on each card is one query for the page, not one per card.
pub struct MyOpinionLoader(Db);

impl Loader<(i32, i64)> for MyOpinionLoader {
    type Value = opinions::Opinion;
    type Error = Failed;

    async fn load(
        &self,
        keys: &[(i32, i64)],
    ) -> Result<HashMap<(i32, i64), Self::Value>, Self::Error> {
        let mut by_user: HashMap<i32, Vec<i64>> = HashMap::new();
        for (user, topic) in keys {
            by_user.entry(*user).or_default().push(*topic);
        }
        let mut found = HashMap::new();
        for (user, topic_ids) in by_user {
            for opinion in opinions::mine_among(self.0.reader(), user, &topic_ids)
                .await
                .map_err(failed)?
            {
                found.insert((user, opinion.topic_id), opinion);
            }
        }
        Ok(found)
    }
}

/// Every loader, registered as schema data by `build_schema`.
pub struct Loaders {
    divisions: DataLoader<DivisionLoader>,
    users: DataLoader<UserLoader>,
    options: DataLoader<OptionsLoader>,
    outcomes: DataLoader<OutcomeLoader>,
    flags: DataLoader<FlagsLoader>,
    supports: DataLoader<SupportLoader>,
    my_opinions: DataLoader<MyOpinionLoader>,
}

impl Loaders {
    pub fn new(db: &Db) -> Self {
        Self {
            divisions: DataLoader::new(DivisionLoader(db.clone()), tokio::spawn),
            users: DataLoader::new(UserLoader(db.clone()), tokio::spawn),
            options: DataLoader::new(OptionsLoader(db.clone()), tokio::spawn),
            outcomes: DataLoader::new(OutcomeLoader(db.clone()), tokio::spawn),
            flags: DataLoader::new(FlagsLoader(db.clone()), tokio::spawn),
            supports: DataLoader::new(SupportLoader(db.clone()), tokio::spawn),
            my_opinions: DataLoader::new(MyOpinionLoader(db.clone()), tokio::spawn),
        }
    }
}

fn loaders<'c>(ctx: &Context<'c>) -> &'c Loaders {
    ctx.data_unchecked::<Loaders>()
}

/// The division with `code`, if there is one.
///
/// # Errors
/// When the batch fails (database errors).
pub async fn division(
    ctx: &Context<'_>,
    code: &str,
) -> async_graphql::Result<Option<divisions::Division>> {
    loaders(ctx)
        .divisions
        .load_one(code.to_owned())
        .await
        .map_err(|e| to_gql(&e))
}

/// The division with `code`.
///
/// # Errors
/// `NOT_FOUND` when there is none; when the batch fails.
pub async fn division_required(
    ctx: &Context<'_>,
    code: &str,
) -> async_graphql::Result<divisions::Division> {
    division(ctx, code)
        .await?
        .ok_or_else(|| Error::not_found(format!("division {code}")).into())
}

/// The divisions above `code`, province first.
///
/// # Errors
/// When the batch fails.
pub async fn ancestors(
    ctx: &Context<'_>,
    code: &str,
) -> async_graphql::Result<Vec<divisions::Division>> {
    let codes = divisions::ancestor_codes(code);
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = loaders(ctx)
        .divisions
        .load_many(codes.iter().cloned())
        .await
        .map_err(|e| to_gql(&e))?;
    // ancestor_codes lists them from the province down.
    Ok(codes.iter().filter_map(|c| found.remove(c)).collect())
}

/// The user with `id`.
///
/// # Errors
/// `NOT_FOUND` when there is none; when the batch fails.
pub async fn user(ctx: &Context<'_>, id: i32) -> async_graphql::Result<accounts::User> {
    loaders(ctx)
        .users
        .load_one(id)
        .await
        .map_err(|e| to_gql(&e))?
        .ok_or_else(|| Error::not_found(format!("user {id}")).into())
}

/// The options of topic `id`, in order.
///
/// # Errors
/// When the batch fails.
pub async fn topic_options(
    ctx: &Context<'_>,
    id: i64,
) -> async_graphql::Result<Arc<Vec<topics::TopicOption>>> {
    Ok(loaders(ctx)
        .options
        .load_one(id)
        .await
        .map_err(|e| to_gql(&e))?
        .unwrap_or_default())
}

/// The current outcome of topic `id`, if it has one.
///
/// # Errors
/// When the batch fails.
pub async fn current_outcome(
    ctx: &Context<'_>,
    id: i64,
) -> async_graphql::Result<Option<outcomes::Outcome>> {
    loaders(ctx)
        .outcomes
        .load_one(id)
        .await
        .map_err(|e| to_gql(&e))
}

/// The supervision flags of topic `id`, oldest first.
///
/// # Errors
/// When the batch fails.
pub async fn flags(ctx: &Context<'_>, id: i64) -> async_graphql::Result<Arc<Vec<outcomes::Flag>>> {
    Ok(loaders(ctx)
        .flags
        .load_one(id)
        .await
        .map_err(|e| to_gql(&e))?
        .unwrap_or_default())
}

/// Whether `user` supports suggestion `id`.
///
/// # Errors
/// When the batch fails.
pub async fn supports(ctx: &Context<'_>, user: i32, id: i64) -> async_graphql::Result<bool> {
    Ok(loaders(ctx)
        .supports
        .load_one((user, id))
        .await
        .map_err(|e| to_gql(&e))?
        .unwrap_or(false))
}

/// `user`'s current opinion on topic `id`, if any.
///
/// # Errors
/// When the batch fails.
pub async fn my_opinion(
    ctx: &Context<'_>,
    user: i32,
    id: i64,
) -> async_graphql::Result<Option<opinions::Opinion>> {
    loaders(ctx)
        .my_opinions
        .load_one((user, id))
        .await
        .map_err(|e| to_gql(&e))
}
