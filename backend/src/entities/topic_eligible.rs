use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "topic_eligible")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub topic_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub village_code: String,
    pub count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
