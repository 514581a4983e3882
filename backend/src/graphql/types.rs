//! GraphQL output types. Each wraps a domain model; schema and storage never
//! share a struct.

use async_graphql::{ComplexObject, Context, Enum, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::context::services;
use crate::domain::{accounts, authz, divisions, residency, roles, topics};

/// Parses an `ID` argument that names a numeric row id (`i32` or `i64`).
///
/// # Errors
/// `BAD_USER_INPUT` on `field`.
pub fn parse_id<T>(id: &ID, field: &'static str) -> crate::error::Result<T>
where
    T: std::str::FromStr + PartialOrd + Default,
{
    id.parse::<T>()
        .ok()
        .filter(|n| *n > T::default())
        .ok_or_else(|| {
            crate::error::Error::bad_input(field, format!("{:?} is not a valid id", id.as_str()))
        })
}

/// The id a page starts after, from a cursor this API handed out.
///
/// # Errors
/// `BAD_USER_INPUT` on `after` for anything else.
pub fn parse_cursor<T: std::str::FromStr>(after: Option<&str>) -> crate::error::Result<Option<T>> {
    after
        .map(|a| {
            a.parse::<T>()
                .map_err(|_| crate::error::Error::bad_input("after", "not a cursor from this list"))
        })
        .transpose()
}

/// A page from rows fetched with one extra, which only says that a next
/// page exists; each row's cursor is its id.
pub fn page<R, N: async_graphql::OutputType>(
    mut rows: Vec<R>,
    first: u64,
    after_given: bool,
    cursor: impl Fn(&R) -> String,
    node: impl Fn(R) -> N,
) -> async_graphql::connection::Connection<String, N> {
    let has_next = rows.len() as u64 > first;
    rows.truncate(usize::try_from(first).unwrap_or(usize::MAX));
    let mut connection = async_graphql::connection::Connection::new(after_given, has_next);
    connection.edges.extend(
        rows.into_iter()
            .map(|r| async_graphql::connection::Edge::new(cursor(&r), node(r))),
    );
    connection
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "DivisionLevel")]
pub enum DivisionLevel {
    Province,
    City,
    County,
    Township,
    Village,
}

impl From<divisions::Level> for DivisionLevel {
    fn from(level: divisions::Level) -> Self {
        match level {
            divisions::Level::Province => Self::Province,
            divisions::Level::City => Self::City,
            divisions::Level::County => Self::County,
            divisions::Level::Township => Self::Township,
            divisions::Level::Village => Self::Village,
        }
    }
}

impl From<DivisionLevel> for divisions::Level {
    fn from(level: DivisionLevel) -> Self {
        match level {
            DivisionLevel::Province => Self::Province,
            DivisionLevel::City => Self::City,
            DivisionLevel::County => Self::County,
            DivisionLevel::Township => Self::Township,
            DivisionLevel::Village => Self::Village,
        }
    }
}

/// An administrative division (National Bureau of Statistics 2023 codes).
pub struct Division(pub divisions::Division);

#[Object]
impl Division {
    /// The significant digits of the national code: 2 (province), 4 (city),
    /// 6 (county), 9 (township) or 12 (village/community).
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// The 12-digit national code.
    async fn full_code(&self) -> String {
        divisions::full_code(&self.0.code)
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn level(&self) -> DivisionLevel {
        divisions::Level::parse(&self.0.level)
            .or_else(|| divisions::level_of(&self.0.code))
            .map_or(DivisionLevel::Village, Into::into)
    }

    async fn parent_code(&self) -> Option<&str> {
        self.0.parent_code.as_deref()
    }

    /// The divisions above this one, province first.
    #[graphql(complexity = "4 * child_complexity + 1")]
    async fn ancestors(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Division>> {
        Ok(super::loaders::ancestors(ctx, &self.0.code)
            .await?
            .into_iter()
            .map(Division)
            .collect())
    }

    /// The full name from the province down, e.g. 甘肃省 兰州市 榆中县.
    async fn path_name(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let mut names: Vec<String> = super::loaders::ancestors(ctx, &self.0.code)
            .await?
            .into_iter()
            .map(|d| d.name)
            .collect();
        names.push(self.0.name.clone());
        Ok(names.join(" "))
    }
}

/// A user account, as its owner or an administrator sees it.
pub struct User(pub accounts::User);

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn email(&self) -> &str {
        &self.0.email
    }

    async fn display_name(&self) -> &str {
        &self.0.display_name
    }

    async fn locale(&self) -> &str {
        &self.0.locale
    }

    async fn email_verified(&self) -> bool {
        self.0.email_verified_at.is_some()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Roles held, each bound to a division.
    async fn roles(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RoleAssignment>> {
        let actor = authz::Actor::load(services(ctx).db.reader(), self.0.id).await?;
        Ok(actor
            .assignments
            .into_iter()
            .map(|a| RoleAssignment {
                id: None,
                user_id: self.0.id,
                role: a.role.into(),
                division_code: a.division_code,
                created_at: None,
            })
            .collect())
    }

    /// The approved residency (the village or community the user lives in).
    async fn residency(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Residency>> {
        Ok(residency::current(services(ctx).db.reader(), self.0.id)
            .await?
            .map(Residency))
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Role {
    Organiser,
    Supervisor,
    Expert,
    Admin,
}

impl From<authz::Role> for Role {
    fn from(role: authz::Role) -> Self {
        match role {
            authz::Role::Organiser => Self::Organiser,
            authz::Role::Supervisor => Self::Supervisor,
            authz::Role::Expert => Self::Expert,
            authz::Role::Admin => Self::Admin,
        }
    }
}

impl From<Role> for authz::Role {
    fn from(role: Role) -> Self {
        match role {
            Role::Organiser => Self::Organiser,
            Role::Supervisor => Self::Supervisor,
            Role::Expert => Self::Expert,
            Role::Admin => Self::Admin,
        }
    }
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct RoleAssignment {
    /// Absent when listed as part of a user.
    pub id: Option<ID>,
    #[graphql(skip)]
    pub user_id: i32,
    pub role: Role,
    pub division_code: String,
    pub created_at: Option<DateTime<Utc>>,
}

#[ComplexObject]
impl RoleAssignment {
    async fn user_id(&self) -> ID {
        ID(self.user_id.to_string())
    }

    async fn division(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Division>> {
        Ok(super::loaders::division(ctx, &self.division_code)
            .await?
            .map(Division))
    }
}

impl From<roles::RoleAssignment> for RoleAssignment {
    fn from(row: roles::RoleAssignment) -> Self {
        Self {
            id: Some(ID(row.id.to_string())),
            user_id: row.user_id,
            role: authz::Role::parse(&row.role).map_or(Role::Expert, Into::into),
            division_code: row.division_code,
            created_at: Some(row.created_at),
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ResidencyStatus {
    Pending,
    Approved,
    Rejected,
    Superseded,
    Cancelled,
}

impl From<residency::Status> for ResidencyStatus {
    fn from(s: residency::Status) -> Self {
        match s {
            residency::Status::Pending => Self::Pending,
            residency::Status::Approved => Self::Approved,
            residency::Status::Rejected => Self::Rejected,
            residency::Status::Superseded => Self::Superseded,
            residency::Status::Cancelled => Self::Cancelled,
        }
    }
}

impl From<ResidencyStatus> for residency::Status {
    fn from(s: ResidencyStatus) -> Self {
        match s {
            ResidencyStatus::Pending => Self::Pending,
            ResidencyStatus::Approved => Self::Approved,
            ResidencyStatus::Rejected => Self::Rejected,
            ResidencyStatus::Superseded => Self::Superseded,
            ResidencyStatus::Cancelled => Self::Cancelled,
        }
    }
}

/// A request to be recognised as a resident of a village or community, and
/// its outcome.
pub struct Residency(pub residency::Residency);

#[Object]
impl Residency {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn status(&self) -> ResidencyStatus {
        residency::Status::parse(&self.0.status).map_or(ResidencyStatus::Pending, Into::into)
    }

    async fn division_code(&self) -> &str {
        &self.0.division_code
    }

    async fn division(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Division>> {
        Ok(super::loaders::division(ctx, &self.0.division_code)
            .await?
            .map(Division))
    }

    /// The resident (visible to the resident and to organisers reviewing).
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        Ok(User(super::loaders::user(ctx, self.0.user_id).await?))
    }

    /// What the resident wrote to help the organiser (address, household).
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }

    async fn decision_reason(&self) -> Option<&str> {
        self.0.decision_reason.as_deref()
    }

    async fn requested_at(&self) -> DateTime<Utc> {
        self.0.requested_at
    }

    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at
    }
}

/// Tokens after sign-in, registration or refresh.
pub struct AuthPayload(pub accounts::Session);

#[Object]
impl AuthPayload {
    /// Send as `Authorization: Bearer …`; short-lived.
    async fn access_token(&self) -> &str {
        &self.0.access_token
    }

    async fn access_token_expires_at(&self) -> DateTime<Utc> {
        self.0.access_token_expires_at
    }

    /// Trade for a new pair with `refreshToken`; each works once.
    async fn refresh_token(&self) -> &str {
        &self.0.refresh_token
    }

    async fn refresh_token_expires_at(&self) -> DateTime<Utc> {
        self.0.refresh_token_expires_at
    }

    async fn user(&self) -> User {
        User(self.0.user.clone())
    }
}

/// Consultation content (协商内容).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum TopicCategory {
    LandTransfer,
    PublicFacilities,
    TransportWater,
    Ecology,
    LandAcquisitionDemolition,
    ResidentConcern,
    PolicyImplementation,
    LegallyRequired,
    Other,
}

impl From<TopicCategory> for topics::Category {
    fn from(c: TopicCategory) -> Self {
        match c {
            TopicCategory::LandTransfer => Self::LandTransfer,
            TopicCategory::PublicFacilities => Self::PublicFacilities,
            TopicCategory::TransportWater => Self::TransportWater,
            TopicCategory::Ecology => Self::Ecology,
            TopicCategory::LandAcquisitionDemolition => Self::LandAcquisitionDemolition,
            TopicCategory::ResidentConcern => Self::ResidentConcern,
            TopicCategory::PolicyImplementation => Self::PolicyImplementation,
            TopicCategory::LegallyRequired => Self::LegallyRequired,
            TopicCategory::Other => Self::Other,
        }
    }
}

impl From<topics::Category> for TopicCategory {
    fn from(c: topics::Category) -> Self {
        match c {
            topics::Category::LandTransfer => Self::LandTransfer,
            topics::Category::PublicFacilities => Self::PublicFacilities,
            topics::Category::TransportWater => Self::TransportWater,
            topics::Category::Ecology => Self::Ecology,
            topics::Category::LandAcquisitionDemolition => Self::LandAcquisitionDemolition,
            topics::Category::ResidentConcern => Self::ResidentConcern,
            topics::Category::PolicyImplementation => Self::PolicyImplementation,
            topics::Category::LegallyRequired => Self::LegallyRequired,
            topics::Category::Other => Self::Other,
        }
    }
}
