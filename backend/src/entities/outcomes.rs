use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "outcomes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub topic_id: i64,
    pub version: i32,
    pub decision: String,
    pub adopted_choice: Option<String>,
    pub responsible_body: String,
    pub deadline: DateTimeUtc,
    pub entrusted_by: Option<String>,
    pub change_reason: Option<String>,
    pub flag_id: Option<i64>,
    pub published_by: i32,
    pub published_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
