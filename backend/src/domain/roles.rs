//! Assigning and revoking roles. Only an admin may, and only within the
//! admin's own division.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter,
    QueryOrder,
};

use super::authz::{Action, Actor, Role};
use super::residency::Status;
use super::{accounts, audit, divisions, Services};
use crate::entities::{residencies, role_assignments};
use crate::error::{conflict_on_unique, Error, Result};

pub use role_assignments::Model as RoleAssignment;

/// Gives `user_id` the role `role` over `division_code`.
///
/// # Errors
/// `FORBIDDEN` outside the admin's division; `NOT_FOUND` for an unknown user
/// or division; `CONFLICT` when the user already holds it.
pub async fn assign(
    svc: &Services,
    actor: &Actor,
    user_id: i32,
    role: Role,
    division_code: &str,
) -> Result<RoleAssignment> {
    let code = divisions::normalize_code(division_code, "divisionCode")?;
    actor.require(Action::AssignRoles, &code)?;
    let now = svc.now();
    let txn = svc.db.begin().await?;
    divisions::get(&txn, &code).await?;
    accounts::get(&txn, user_id).await?;
    let row = insert_assignment(&txn, user_id, role, code, Some(actor.user_id), now).await?;
    txn.commit().await?;
    Ok(row)
}

/// Removes a role assignment.
///
/// # Errors
/// `NOT_FOUND`; `FORBIDDEN` outside the admin's division; `CONFLICT` when an
/// admin would remove their own last admin role.
pub async fn revoke(svc: &Services, actor: &Actor, assignment_id: i32) -> Result<RoleAssignment> {
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let row = role_assignments::Entity::find_by_id(assignment_id)
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found(format!("role assignment {assignment_id}")))?;
    actor.require(Action::AssignRoles, &row.division_code)?;
    let own_admin_roles = actor
        .assignments
        .iter()
        .filter(|a| a.role == Role::Admin)
        .count();
    if row.user_id == actor.user_id && row.role == Role::Admin.as_str() && own_admin_roles <= 1 {
        return Err(Error::conflict(
            "you cannot remove your own last admin role",
        ));
    }
    role_assignments::Entity::delete_by_id(assignment_id)
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "role.revoke",
            subject_type: "user",
            subject_id: row.user_id.to_string(),
            division_code: Some(row.division_code.clone()),
            detail: serde_json::json!({ "role": row.role, "assignment_id": row.id }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

/// Role assignments within the divisions the actor administers, optionally
/// only those of `user_id`.
///
/// # Errors
/// `FORBIDDEN` when the actor administers nothing.
pub async fn list(
    svc: &Services,
    actor: &Actor,
    user_id: Option<i32>,
) -> Result<Vec<RoleAssignment>> {
    let scopes = actor.scopes(Action::AssignRoles);
    if scopes.is_empty() {
        return Err(Error::forbidden("you may not list role assignments"));
    }
    let mut scope = Condition::any();
    for code in scopes {
        scope = scope.add(role_assignments::Column::DivisionCode.starts_with(code));
    }
    let mut query = role_assignments::Entity::find().filter(scope);
    if let Some(user_id) = user_id {
        query = query.filter(role_assignments::Column::UserId.eq(user_id));
    }
    Ok(query
        .order_by_asc(role_assignments::Column::Id)
        .all(svc.db.reader())
        .await?)
}

/// The divisions whose people a staff member deals with: where it reviews
/// residents, runs or supervises topics, or assigns roles.
fn staff_scopes(actor: &Actor) -> Vec<&str> {
    let mut scopes: Vec<&str> = [
        Action::AssignRoles,
        Action::ReviewResidency,
        Action::ManageTopics,
        Action::ReadOpinions,
    ]
    .into_iter()
    .flat_map(|action| actor.scopes(action))
    .collect();
    scopes.sort_unstable();
    scopes.dedup();
    scopes
}

/// Finds an account by exact email, if it is within the actor's reach: it
/// lives (approved or asking to be) or holds a role inside one of the
/// divisions where the actor reviews residents, runs or supervises topics,
/// or assigns roles. An admin also finds accounts tied to no division at all
/// (no residency, no request, no role): whom it brings in for a first role.
///
/// An account out of reach reads exactly as an unknown address (`None`), so
/// the lookup cannot be used to learn who has an account elsewhere. Staff
/// who need someone from outside their reach ask for the user's number or
/// an admin above both divisions.
///
/// # Errors
/// `FORBIDDEN` for anyone who is not staff anywhere (residents, experts).
pub async fn find_user_by_email(
    svc: &Services,
    actor: &Actor,
    email: &str,
) -> Result<Option<accounts::User>> {
    let scopes = staff_scopes(actor);
    if scopes.is_empty() {
        return Err(Error::forbidden(
            "only administrators, organisers and supervisors may look up accounts",
        ));
    }
    let db = svc.db.reader();
    let Some(user) = accounts::find_by_email(db, email).await? else {
        return Ok(None);
    };
    let attached = [Status::Approved.as_str(), Status::Pending.as_str()];
    let mut homes = Condition::any();
    let mut roles_inside = Condition::any();
    for code in &scopes {
        homes = homes.add(divisions::within(residencies::Column::DivisionCode, code));
        roles_inside = roles_inside.add(divisions::within(
            role_assignments::Column::DivisionCode,
            code,
        ));
    }
    let lives_inside = residencies::Entity::find()
        .filter(residencies::Column::UserId.eq(user.id))
        .filter(residencies::Column::Status.is_in(attached))
        .filter(homes)
        .one(db)
        .await?
        .is_some();
    let serves_inside = role_assignments::Entity::find()
        .filter(role_assignments::Column::UserId.eq(user.id))
        .filter(roles_inside)
        .one(db)
        .await?
        .is_some();
    if lives_inside || serves_inside {
        return Ok(Some(user));
    }
    if actor.scopes(Action::AssignRoles).is_empty() {
        return Ok(None);
    }
    let lives_anywhere = residencies::Entity::find()
        .filter(residencies::Column::UserId.eq(user.id))
        .filter(residencies::Column::Status.is_in(attached))
        .one(db)
        .await?
        .is_some();
    let serves_anywhere = role_assignments::Entity::find()
        .filter(role_assignments::Column::UserId.eq(user.id))
        .one(db)
        .await?
        .is_some();
    Ok((!lives_anywhere && !serves_anywhere).then_some(user))
}

/// Assigns a role without an acting admin (bootstrap: `create-admin`, demo).
///
/// # Errors
/// `NOT_FOUND` for an unknown division; `CONFLICT` when already held.
pub async fn bootstrap(
    svc: &Services,
    user_id: i32,
    role: Role,
    division_code: &str,
) -> Result<RoleAssignment> {
    let code = divisions::normalize_code(division_code, "division")?;
    let now = svc.now();
    let txn = svc.db.begin().await?;
    divisions::get(&txn, &code).await?;
    let row = insert_assignment(&txn, user_id, role, code, None, now).await?;
    txn.commit().await?;
    Ok(row)
}

/// Inserts an assignment and its audit row (`role.assign` by an admin,
/// `role.bootstrap` from the command line).
async fn insert_assignment(
    db: &impl sea_orm::ConnectionTrait,
    user_id: i32,
    role: Role,
    code: String,
    assigned_by: Option<i32>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<RoleAssignment> {
    let row = role_assignments::ActiveModel {
        user_id: Set(user_id),
        role: Set(role.as_str().to_owned()),
        division_code: Set(code.clone()),
        created_at: Set(now),
        created_by: Set(assigned_by),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|e| {
        conflict_on_unique(e, || {
            format!("the user is already {} of division {code}", role.as_str())
        })
    })?;
    audit::record(
        db,
        audit::Entry {
            actor_user_id: assigned_by,
            action: if assigned_by.is_some() {
                "role.assign"
            } else {
                "role.bootstrap"
            },
            subject_type: "user",
            subject_id: user_id.to_string(),
            division_code: Some(row.division_code.clone()),
            detail: serde_json::json!({ "role": role.as_str(), "assignment_id": row.id }),
        },
        now,
    )
    .await?;
    Ok(row)
}
