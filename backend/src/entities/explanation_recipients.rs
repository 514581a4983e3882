use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "explanation_recipients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub explanation_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i32,
    pub topic_id: i64,
    pub opinion_id: i64,
    pub village_code: String,
    pub delivered_at: DateTimeUtc,
    pub read_at: Option<DateTimeUtc>,
    pub reply: Option<String>,
    pub reply_comment: Option<String>,
    pub replied_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
