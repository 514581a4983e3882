use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "supervision_flags")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub topic_id: i64,
    pub outcome_version: i32,
    pub supervisor_id: i32,
    pub reason: String,
    pub legal_basis: String,
    pub status: String,
    pub created_at: DateTimeUtc,
    pub resolved_at: Option<DateTimeUtc>,
    pub resolved_by_version: Option<i32>,
    /// `outcome` or `procedure`.
    pub subject: String,
    /// The supervisor's words on accepting or dismissing.
    pub resolution: Option<String>,
    pub resolved_by: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
