use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "in_person_explanations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub topic_id: i64,
    pub opinion_id: i64,
    pub explained_by_name: String,
    pub explained_at: DateTimeUtc,
    pub place: String,
    /// `satisfied`, `unsatisfied` or `no_answer`.
    pub response: String,
    pub note: Option<String>,
    pub recorded_by: i32,
    pub recorded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
