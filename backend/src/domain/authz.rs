//! Who may do what where. Every role is bound to a division and reaches that
//! division's whole subtree (by code prefix). Resolvers never decide access
//! themselves: they ask [`Actor::require`].

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::divisions;
use crate::entities::role_assignments;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Organiser,
    Supervisor,
    Expert,
    Admin,
}

impl Role {
    pub const ALL: [Self; 4] = [Self::Organiser, Self::Supervisor, Self::Expert, Self::Admin];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Organiser => "organiser",
            Self::Supervisor => "supervisor",
            Self::Expert => "expert",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The one table of which role may do what.
    pub const fn allows(self, action: Action) -> bool {
        use Action::*;
        match self {
            Self::Admin => true,
            Self::Organiser => matches!(
                action,
                ReviewResidency | ManageTopics | ReadOpinions | ViewAuditLog
            ),
            Self::Supervisor => matches!(action, ReadOpinions | Supervise | ViewAuditLog),
            Self::Expert => matches!(action, Assess),
        }
    }
}

/// Things an actor may be allowed to do within a division.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Approve or reject residents of villages in the division.
    ReviewResidency,
    /// Create and run topics scoped to the division.
    ManageTopics,
    /// Read individual opinions of topics in the division.
    ReadOpinions,
    /// Flag outcomes for correction.
    Supervise,
    /// Publish expert assessments.
    Assess,
    ViewAuditLog,
    /// Assign and revoke roles.
    AssignRoles,
    /// Import and edit divisions, change settings, read the outbox.
    Administer,
}

impl Action {
    const fn describe(self) -> &'static str {
        match self {
            Self::ReviewResidency => "review residency requests",
            Self::ManageTopics => "manage topics",
            Self::ReadOpinions => "read opinions",
            Self::Supervise => "supervise outcomes",
            Self::Assess => "publish assessments",
            Self::ViewAuditLog => "read the audit log",
            Self::AssignRoles => "assign roles",
            Self::Administer => "administer",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub role: Role,
    pub division_code: String,
}

/// An authenticated user and the roles they hold.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: i32,
    pub assignments: Vec<Assignment>,
}

impl Actor {
    /// Loads the roles of `user_id`.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn load(db: &impl ConnectionTrait, user_id: i32) -> Result<Self> {
        let assignments = role_assignments::Entity::find()
            .filter(role_assignments::Column::UserId.eq(user_id))
            .all(db)
            .await?
            .into_iter()
            .filter_map(|a| {
                Role::parse(&a.role).map(|role| Assignment {
                    role,
                    division_code: a.division_code,
                })
            })
            .collect();
        Ok(Self {
            user_id,
            assignments,
        })
    }

    /// Whether the actor may do `action` within division `code`.
    ///
    /// Only a code of digits can be inside a division: an empty or odd
    /// string from a caller that forgot to normalise is refused here rather
    /// than matched by prefix.
    pub fn may(&self, action: Action, code: &str) -> bool {
        let well_formed = !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit());
        well_formed
            && self.assignments.iter().any(|a| {
                a.role.allows(action)
                    && !a.division_code.is_empty()
                    && divisions::contains(&a.division_code, code)
            })
    }

    /// Like [`Actor::may`], as a `FORBIDDEN` error.
    ///
    /// # Errors
    /// `FORBIDDEN` naming the action and division.
    pub fn require(&self, action: Action, code: &str) -> Result<()> {
        if self.may(action, code) {
            Ok(())
        } else {
            Err(Error::forbidden(format!(
                "you may not {} in division {code}",
                action.describe()
            )))
        }
    }

    /// The divisions where the actor may do `action` (to scope list queries).
    pub fn scopes(&self, action: Action) -> Vec<&str> {
        self.assignments
            .iter()
            .filter(|a| a.role.allows(action))
            .map(|a| a.division_code.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role, code: &str) -> Actor {
        Actor {
            user_id: 1,
            assignments: vec![Assignment {
                role,
                division_code: code.into(),
            }],
        }
    }

    #[test]
    fn an_organiser_acts_in_its_subtree_only() {
        let township = actor(Role::Organiser, "620102001");
        assert!(township.may(Action::ReviewResidency, "620102001001"));
        assert!(township.may(Action::ManageTopics, "620102001"));
        assert!(!township.may(Action::ReviewResidency, "620102002001"));
        assert!(!township.may(Action::ReviewResidency, "620102"));
        assert!(!township.may(Action::AssignRoles, "620102001001"));
    }

    #[test]
    fn a_supervisor_reads_but_does_not_manage() {
        let s = actor(Role::Supervisor, "6201");
        assert!(s.may(Action::ReadOpinions, "620102001001"));
        assert!(s.may(Action::Supervise, "620102"));
        assert!(!s.may(Action::ManageTopics, "620102"));
    }

    #[test]
    fn a_malformed_code_is_inside_no_division() {
        let county = actor(Role::Admin, "620123");
        assert!(!county.may(Action::Administer, ""));
        assert!(!county.may(Action::Administer, "620123%"));
        assert!(!county.may(Action::Administer, "620123 "));
        let nowhere = actor(Role::Admin, "");
        assert!(!nowhere.may(Action::Administer, "620123"));
    }

    #[test]
    fn an_admin_may_everything_in_its_division_only() {
        let a = actor(Role::Admin, "62");
        assert!(a.may(Action::AssignRoles, "620102001001"));
        assert!(!a.may(Action::AssignRoles, "63"));
        assert!(a.require(Action::Administer, "11").is_err());
    }
}
