use async_graphql::{Context, Object, Result, ID};

use super::context::{actor, services};
use super::types::{parse_id, Role, RoleAssignment, User};
use crate::domain::roles;

#[derive(Default)]
pub struct RolesQuery;

#[Object]
impl RolesQuery {
    /// Role assignments in the admin's divisions, optionally of one user.
    async fn role_assignments(
        &self,
        ctx: &Context<'_>,
        user_id: Option<ID>,
    ) -> Result<Vec<RoleAssignment>> {
        let actor = actor(ctx).await?;
        let user_id = user_id
            .as_ref()
            .map(|id| parse_id(id, "userId"))
            .transpose()?;
        Ok(roles::list(services(ctx), actor, user_id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Finds an account by exact email, to assign it a role or list it as a
    /// stakeholder: for admins, organisers and supervisors, among the people
    /// of their divisions (an admin also finds accounts tied to no division).
    /// Null both for an unknown address and for an account out of reach.
    async fn user_by_email(&self, ctx: &Context<'_>, email: String) -> Result<Option<User>> {
        let actor = actor(ctx).await?;
        Ok(roles::find_user_by_email(services(ctx), actor, &email)
            .await?
            .map(User))
    }
}

#[derive(Default)]
pub struct RolesMutation;

#[Object]
impl RolesMutation {
    /// Gives a user a role over a division (admins, within their division).
    async fn assign_role(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        role: Role,
        division_code: String,
    ) -> Result<RoleAssignment> {
        let actor = actor(ctx).await?;
        let user_id = parse_id(&user_id, "userId")?;
        Ok(
            roles::assign(services(ctx), actor, user_id, role.into(), &division_code)
                .await?
                .into(),
        )
    }

    async fn revoke_role(&self, ctx: &Context<'_>, id: ID) -> Result<RoleAssignment> {
        let actor = actor(ctx).await?;
        let id = parse_id(&id, "id")?;
        Ok(roles::revoke(services(ctx), actor, id).await?.into())
    }
}
