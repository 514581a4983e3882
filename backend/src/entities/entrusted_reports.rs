use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "entrusted_reports")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub topic_id: i64,
    pub submitted_to: String,
    pub submitted_at: DateTimeUtc,
    pub summary: String,
    pub submitted_by: i32,
    pub recorded_at: DateTimeUtc,
    pub acknowledged_at: Option<DateTimeUtc>,
    pub ack_reference: Option<String>,
    pub acknowledged_by: Option<i32>,
    pub ack_recorded_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
