use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "topics")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub title: String,
    pub body: String,
    pub category: String,
    pub kind: String,
    pub scope_code: String,
    pub technical: bool,
    pub reason_required_for_dissent: bool,
    pub quorum_percent: Option<i32>,
    pub eligibility: String,
    pub state: String,
    pub notice_at: Option<DateTimeUtc>,
    pub opens_at: Option<DateTimeUtc>,
    pub closes_at: Option<DateTimeUtc>,
    pub announced_at: Option<DateTimeUtc>,
    pub opened_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub withdrawn_at: Option<DateTimeUtc>,
    pub withdraw_reason: Option<String>,
    pub created_by: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deadline: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    /// When the closing-soon reminder was queued (once per topic).
    pub reminded_at: Option<DateTimeUtc>,
    /// The deadline of the first outcome; extensions move `deadline` only,
    /// and "completed on time" is judged against this.
    pub original_deadline: Option<DateTimeUtc>,
    /// An early close an organiser asked for, waiting for a supervisor.
    pub early_close_reason: Option<String>,
    pub early_close_requested_by: Option<i32>,
    pub early_close_requested_at: Option<DateTimeUtc>,
    /// Why an outcome was published although the quorum was not met.
    pub quorum_justification: Option<String>,
    /// No one sees who said what, nor the tallies before closing (appraisals
    /// are secret whatever this says).
    pub secret: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
