use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Object, Result};

use super::context::services;
use super::types::{Division, DivisionLevel};
use crate::domain::divisions;

#[derive(Default)]
pub struct DivisionsQuery;

#[Object]
impl DivisionsQuery {
    /// One division by code (short or 12-digit form).
    async fn division(&self, ctx: &Context<'_>, code: String) -> Result<Division> {
        Ok(Division(
            divisions::get(services(ctx).db.reader(), &code).await?,
        ))
    }

    /// Divisions by parent, level and name, ordered by code. With no filter,
    /// the provinces.
    #[graphql(complexity = "super::limits::list_cost(first, 50, 500, child_complexity)")]
    async fn divisions(
        &self,
        ctx: &Context<'_>,
        parent_code: Option<String>,
        level: Option<DivisionLevel>,
        name_contains: Option<String>,
        #[graphql(desc = "Page size (default 50).")] first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Division, EmptyFields, EmptyFields>> {
        let filter = divisions::DivisionFilter {
            parent_code,
            level: level.map(Into::into),
            name_contains,
        };
        let first = u64::try_from(first.unwrap_or(50)).unwrap_or(0);
        let rows =
            divisions::list(services(ctx).db.reader(), &filter, first, after.as_deref()).await?;
        Ok(super::types::page(
            rows,
            first,
            after.is_some(),
            |d| d.code.clone(),
            Division,
        ))
    }
}
