use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "referrals")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub from_kind: String,
    pub from_id: i64,
    pub from_division: String,
    pub to_division: String,
    pub reason: String,
    pub referred_by: i32,
    pub referred_at: DateTimeUtc,
    pub status: String,
    pub answer: Option<String>,
    pub answered_by: Option<i32>,
    pub answered_at: Option<DateTimeUtc>,
    pub topic_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
