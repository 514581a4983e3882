use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "suggestions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub division_code: String,
    pub author_user_id: i32,
    pub title: String,
    pub body: String,
    pub category: String,
    pub status: String,
    pub decline_reason: Option<String>,
    pub topic_id: Option<i64>,
    pub supporters: i32,
    pub created_at: DateTimeUtc,
    pub decided_at: Option<DateTimeUtc>,
    pub decided_by: Option<i32>,
    pub threshold_reached_at: Option<DateTimeUtc>,
    pub answer_due_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
