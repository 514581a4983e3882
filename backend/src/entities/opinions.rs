use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "opinions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub topic_id: i64,
    pub user_id: Option<i32>,
    pub village_code: String,
    pub choice: String,
    pub reason: Option<String>,
    pub proxy: bool,
    pub proxy_name: Option<String>,
    pub meeting_id: Option<i64>,
    pub recorded_by: Option<i32>,
    pub confirmed_at: Option<DateTimeUtc>,
    pub revision: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
