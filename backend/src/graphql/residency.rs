use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Object, Result, ID};

use super::context::{actor, services, user_id};
use super::types::{parse_id, Residency, ResidencyStatus};
use crate::domain::residency;

#[derive(Default)]
pub struct ResidencyQuery;

#[Object]
impl ResidencyQuery {
    /// My residency requests and their outcomes, newest first.
    async fn my_residency_requests(&self, ctx: &Context<'_>) -> Result<Vec<Residency>> {
        Ok(residency::history(services(ctx).db.reader(), user_id(ctx)?)
            .await?
            .into_iter()
            .map(Residency)
            .collect())
    }

    /// Requests to review in the organiser's divisions, oldest first.
    #[graphql(complexity = "super::limits::list_cost(first, 50, 200, child_complexity)")]
    async fn residency_requests(
        &self,
        ctx: &Context<'_>,
        division_code: Option<String>,
        #[graphql(default_with = "Some(ResidencyStatus::Pending)")] status: Option<ResidencyStatus>,
        #[graphql(desc = "Page size (default 50).")] first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Residency, EmptyFields, EmptyFields>> {
        let actor = actor(ctx).await?;
        let after_id = super::types::parse_cursor::<i32>(after.as_deref())?;
        let first = u64::try_from(first.unwrap_or(50)).unwrap_or(0);
        let rows = residency::list_for_review(
            services(ctx),
            actor,
            division_code.as_deref(),
            status.map(Into::into),
            first,
            after_id,
        )
        .await?;
        Ok(super::types::page(
            rows,
            first,
            after.is_some(),
            |r| r.id.to_string(),
            Residency,
        ))
    }
}

#[derive(Default)]
pub struct ResidencyMutation;

#[Object]
impl ResidencyMutation {
    /// Asks to be recognised as a resident of a village or community; an
    /// organiser of that division decides.
    async fn request_residency(
        &self,
        ctx: &Context<'_>,
        village_code: String,
        note: Option<String>,
    ) -> Result<Residency> {
        Ok(Residency(
            residency::request(services(ctx), user_id(ctx)?, &village_code, note).await?,
        ))
    }

    /// Withdraws my pending request.
    async fn cancel_residency_request(&self, ctx: &Context<'_>) -> Result<bool> {
        residency::cancel(services(ctx), user_id(ctx)?).await?;
        Ok(true)
    }

    async fn approve_residency(&self, ctx: &Context<'_>, id: ID) -> Result<Residency> {
        let actor = actor(ctx).await?;
        let id = parse_id(&id, "id")?;
        Ok(Residency(
            residency::decide(services(ctx), actor, id, residency::Decision::Approve).await?,
        ))
    }

    async fn reject_residency(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> Result<Residency> {
        let actor = actor(ctx).await?;
        let id = parse_id(&id, "id")?;
        Ok(Residency(
            residency::decide(
                services(ctx),
                actor,
                id,
                residency::Decision::Reject { reason: &reason },
            )
            .await?,
        ))
    }
}
