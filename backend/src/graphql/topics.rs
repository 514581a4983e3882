//! Topics, opinions and results in the API.

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{
    ComplexObject, Context, Enum, InputObject, Object, Result, SimpleObject, Subscription, ID,
};
use chrono::{DateTime, Utc};
use futures::Stream;

use super::context::{actor, optional_actor, optional_user_id, services, user_id, CountersRead};
use super::types::{parse_id, Division, DivisionLevel, TopicCategory};
use crate::domain::opinions::{self, ChoiceInput, OpinionFilter, ProxyFor};
use crate::domain::topics::records::{self, NewAssessment, NewMeeting};
use crate::domain::topics::{self, Choice, Trigger};
use crate::domain::{divisions, results, Services};
use crate::error::Error;
use crate::events::Event;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum TopicKind {
    /// Support, oppose or abstain.
    Decision,
    /// One of 2–20 options.
    Choice,
    /// Satisfied, basically satisfied or unsatisfied.
    Appraisal,
    /// Free suggestions.
    Open,
}
mirror_enum!(TopicKind <=> topics::Kind { Decision, Choice, Appraisal, Open });

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum TopicState {
    Draft,
    Announced,
    Open,
    Closed,
    Decided,
    Implementing,
    Completed,
    Withdrawn,
}
mirror_enum!(TopicState <=> topics::State { Draft, Announced, Open, Closed, Decided, Implementing, Completed, Withdrawn });

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum TopicEligibility {
    /// Every verified resident of the scope.
    Residents,
    /// The listed stakeholders only.
    Stakeholders,
}
mirror_enum!(TopicEligibility <=> topics::Eligibility { Residents, Stakeholders });

/// A stance on a decision or an appraisal.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Stance {
    Support,
    Oppose,
    Abstain,
    Satisfied,
    BasicallySatisfied,
    Unsatisfied,
}

impl From<Stance> for Choice {
    fn from(s: Stance) -> Self {
        match s {
            Stance::Support => Choice::Support,
            Stance::Oppose => Choice::Oppose,
            Stance::Abstain => Choice::Abstain,
            Stance::Satisfied => Choice::Satisfied,
            Stance::BasicallySatisfied => Choice::BasicallySatisfied,
            Stance::Unsatisfied => Choice::Unsatisfied,
        }
    }
}

pub(crate) fn stance_of(choice: &Choice) -> Option<Stance> {
    Some(match choice {
        Choice::Support => Stance::Support,
        Choice::Oppose => Stance::Oppose,
        Choice::Abstain => Stance::Abstain,
        Choice::Satisfied => Stance::Satisfied,
        Choice::BasicallySatisfied => Stance::BasicallySatisfied,
        Choice::Unsatisfied => Stance::Unsatisfied,
        Choice::Option(_) | Choice::Suggestion => return None,
    })
}

fn option_id_of(choice: &Choice) -> Option<ID> {
    match choice {
        Choice::Option(id) => Some(ID(id.to_string())),
        _ => None,
    }
}

/// A topic of consultation (议题).
pub struct Topic(pub topics::Topic);

#[Object]
impl Topic {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Background and the question put to residents.
    async fn body(&self) -> &str {
        &self.0.body
    }
    async fn category(&self) -> TopicCategory {
        topics::Category::parse(&self.0.category).map_or(TopicCategory::Other, Into::into)
    }
    async fn kind(&self) -> TopicKind {
        topics::Kind::parse(&self.0.kind).map_or(TopicKind::Decision, Into::into)
    }
    async fn state(&self) -> TopicState {
        topics::State::parse(&self.0.state).map_or(TopicState::Draft, Into::into)
    }
    async fn scope_code(&self) -> &str {
        &self.0.scope_code
    }
    async fn scope(&self, ctx: &Context<'_>) -> Result<Division> {
        Ok(Division(
            super::loaders::division_required(ctx, &self.0.scope_code).await?,
        ))
    }
    /// Needs an expert or third-party assessment before it opens.
    async fn technical(&self) -> bool {
        self.0.technical
    }
    async fn reason_required_for_dissent(&self) -> bool {
        self.0.reason_required_for_dissent
    }
    /// Minimum participation in percent for the result to count, if any.
    async fn quorum_percent(&self) -> Option<i32> {
        self.0.quorum_percent
    }
    /// Secret: no one sees who said what, nor the tallies before closing
    /// (always for appraisals).
    async fn secret(&self) -> bool {
        crate::domain::topics::secrecy::is_secret(&self.0)
    }
    async fn eligibility(&self) -> TopicEligibility {
        topics::Eligibility::parse(&self.0.eligibility)
            .map_or(TopicEligibility::Residents, Into::into)
    }
    async fn notice_at(&self) -> Option<DateTime<Utc>> {
        self.0.notice_at
    }
    async fn opens_at(&self) -> Option<DateTime<Utc>> {
        self.0.opens_at
    }
    async fn closes_at(&self) -> Option<DateTime<Utc>> {
        self.0.closes_at
    }
    async fn announced_at(&self) -> Option<DateTime<Utc>> {
        self.0.announced_at
    }
    async fn opened_at(&self) -> Option<DateTime<Utc>> {
        self.0.opened_at
    }
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }
    async fn withdrawn_at(&self) -> Option<DateTime<Utc>> {
        self.0.withdrawn_at
    }
    async fn withdraw_reason(&self) -> Option<&str> {
        self.0.withdraw_reason.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    // A topic has at most 20 options.
    #[graphql(complexity = "20 * child_complexity + 1")]
    async fn options(&self, ctx: &Context<'_>) -> Result<Vec<TopicOption>> {
        Ok(super::loaders::topic_options(ctx, self.0.id)
            .await?
            .iter()
            .map(|o| TopicOption {
                id: ID(o.id.to_string()),
                position: o.position,
                label: o.label.clone(),
            })
            .collect())
    }
    /// What the signed-in viewer may do to this topic now, each with why it
    /// is blocked when it is (the procedure's own checks).
    async fn viewer_actions(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<super::procedure::ActionOffer>> {
        super::procedure::topic_viewer_actions(ctx, &self.0).await
    }
    /// The states this topic can move to next (the lifecycle).
    async fn next_states(&self) -> Vec<TopicState> {
        topics::State::parse(&self.0.state)
            .map(|s| s.next().iter().copied().map(Into::into).collect())
            .unwrap_or_default()
    }
    async fn assessments(&self, ctx: &Context<'_>) -> Result<Vec<Assessment>> {
        Ok(
            records::assessments_of(services(ctx).db.reader(), self.0.id)
                .await?
                .into_iter()
                .map(Assessment)
                .collect(),
        )
    }
    async fn meetings(&self, ctx: &Context<'_>) -> Result<Vec<Meeting>> {
        Ok(records::meetings_of(services(ctx).db.reader(), self.0.id)
            .await?
            .into_iter()
            .map(Meeting)
            .collect())
    }
    /// The signed-in resident's current opinion, if any; `null` for a
    /// signed-out visitor (a shared topic link works without an account).
    async fn my_opinion(&self, ctx: &Context<'_>) -> Result<Option<Opinion>> {
        let Some(user) = optional_user_id(ctx)? else {
            return Ok(None);
        };
        Ok(super::loaders::my_opinion(ctx, user, self.0.id)
            .await?
            .map(|o| Opinion {
                opinion: o,
                resident_name: None,
            }))
    }
    /// The current outcome (协商意见), once decided.
    async fn outcome(&self, ctx: &Context<'_>) -> Result<Option<super::outcomes::Outcome>> {
        super::outcomes::topic_outcome(ctx, &self.0).await
    }
    /// Every version of the outcome, oldest first (corrections keep the old).
    async fn outcome_versions(&self, ctx: &Context<'_>) -> Result<Vec<super::outcomes::Outcome>> {
        super::outcomes::topic_outcome_versions(ctx, &self.0).await
    }
    async fn progress_updates(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<super::outcomes::ProgressUpdate>> {
        super::outcomes::topic_progress(ctx, &self.0).await
    }
    async fn supervision_flags(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<super::outcomes::SupervisionFlag>> {
        super::outcomes::topic_flags(ctx, &self.0).await
    }
    /// Public explanations (to all dissenters); staff see every one.
    async fn explanations(&self, ctx: &Context<'_>) -> Result<Vec<super::outcomes::Explanation>> {
        super::outcomes::topic_explanations(ctx, &self.0).await
    }
    /// The implementation deadline as it stands, after any extension.
    async fn deadline(&self) -> Option<DateTime<Utc>> {
        self.0.deadline
    }
    /// The deadline the outcome set first; extensions never move it.
    async fn original_deadline(&self) -> Option<DateTime<Utc>> {
        crate::domain::outcomes::original_deadline(&self.0)
    }
    /// Every public extension of the deadline, oldest first.
    async fn deadline_extensions(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<super::procedure::DeadlineExtension>> {
        super::procedure::topic_extensions(ctx, &self.0).await
    }
    /// When the outcome of a closed topic is due (null unless closed).
    async fn decision_due_at(&self, ctx: &Context<'_>) -> Option<DateTime<Utc>> {
        crate::domain::outcomes::decision_due_at(&self.0, services(ctx).settings.decision_due)
    }
    /// Closed, and the outcome is past due.
    async fn decision_overdue(&self, ctx: &Context<'_>) -> bool {
        let svc = services(ctx);
        crate::domain::outcomes::is_decision_overdue(&self.0, svc.settings.decision_due, svc.now())
    }
    /// An early close waiting for a supervisor's countersignature.
    async fn early_close_request(&self) -> Option<super::procedure::EarlyCloseRequest> {
        Some(super::procedure::EarlyCloseRequest {
            reason: self.0.early_close_reason.clone()?,
            requested_at: self.0.early_close_requested_at?,
        })
    }
    /// Why the outcome stands although the quorum was not met.
    async fn quorum_justification(&self) -> Option<&str> {
        self.0.quorum_justification.as_deref()
    }
    /// Where this topic was referred (乡镇与村协商联动), newest first.
    async fn referred_to(&self, ctx: &Context<'_>) -> Result<Vec<super::referrals::Referral>> {
        super::referrals::topic_referred_to(ctx, &self.0).await
    }
    /// The referrals from the level below that this topic takes up.
    async fn referred_from(&self, ctx: &Context<'_>) -> Result<Vec<super::referrals::Referral>> {
        super::referrals::topic_referred_from(ctx, &self.0).await
    }
    /// The government body that entrusted the matter (受委托事项), from the
    /// current outcome; null when not entrusted.
    async fn entrusted_by(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(super::referrals::topic_report_duty(ctx, &self.0)
            .await?
            .map(|d| d.entrusted_by))
    }
    /// When the report to the entrusting body is due: `YISHI_REPORT_DUE_DAYS`
    /// after the topic was decided (null unless entrusted and decided).
    async fn report_due_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        Ok(super::referrals::topic_report_duty(ctx, &self.0)
            .await?
            .map(|d| d.due_at))
    }
    /// Entrusted, past the due time, and the report not submitted.
    async fn report_overdue(&self, ctx: &Context<'_>) -> Result<bool> {
        super::referrals::topic_report_overdue(ctx, &self.0).await
    }
    /// The report to the entrusting body and its acknowledgement, once
    /// submitted.
    async fn entrusted_report(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<super::referrals::EntrustedReport>> {
        super::referrals::topic_report(ctx, &self.0).await
    }
    /// The public record of the procedure, oldest first (tamper-evident:
    /// see `verifyTopicRecord`).
    #[graphql(complexity = "50 * child_complexity + 1")]
    async fn record(&self, ctx: &Context<'_>) -> Result<Vec<super::procedure::RecordEntry>> {
        super::procedure::topic_record(ctx, &self.0).await
    }
    /// Dissenters not yet explained to, online or face to face (staff;
    /// null for others). The topic completes only at 0.
    async fn unexplained_dissenters(&self, ctx: &Context<'_>) -> Result<Option<i64>> {
        super::procedure::topic_unexplained(ctx, &self.0).await
    }
    /// The dissenting opinions nobody has explained to yet (staff only).
    #[graphql(complexity = "first.unwrap_or(50).max(0) as usize * child_complexity + 1")]
    async fn unexplained_opinions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> Result<Vec<Opinion>> {
        let actor = actor(ctx).await?;
        let first = u64::try_from(first.unwrap_or(50)).unwrap_or(1);
        Ok(crate::domain::explanations::unexplained_opinions(
            services(ctx),
            actor,
            self.0.id,
            first,
        )
        .await?
        .into_iter()
        .map(|r| Opinion {
            opinion: r.opinion,
            resident_name: r.resident_name,
        })
        .collect())
    }
    /// Face-to-face explanations (staff only; empty for others).
    async fn in_person_explanations(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<super::procedure::InPersonExplanation>> {
        super::procedure::topic_in_person(ctx, &self.0).await
    }
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
    /// Decided or implementing with the deadline passed.
    async fn overdue(&self, ctx: &Context<'_>) -> bool {
        crate::domain::outcomes::is_overdue(&self.0, services(ctx).now())
    }
    /// Whether a completed topic finished by its original deadline.
    async fn completed_on_time(&self) -> Option<bool> {
        crate::domain::outcomes::completed_on_time(&self.0)
    }
    /// Whether a completed topic finished by its extended deadline.
    async fn completed_within_extension(&self) -> Option<bool> {
        crate::domain::outcomes::completed_within_extension(&self.0)
    }
    /// Whether the signed-in user may give an opinion (ignoring the state),
    /// and if not, why; a signed-out visitor may not until they sign in
    /// (`signInRequired`).
    async fn my_eligibility(&self, ctx: &Context<'_>) -> Result<Eligibility> {
        let Some(user) = optional_user_id(ctx)? else {
            return Ok(Eligibility {
                eligible: false,
                sign_in_required: true,
                reason: Some("sign in to take part".into()),
            });
        };
        Ok(
            match topics::check_eligible(services(ctx).db.reader(), &self.0, user).await {
                Ok(_) => Eligibility {
                    eligible: true,
                    sign_in_required: false,
                    reason: None,
                },
                Err(Error::Forbidden(reason)) => Eligibility {
                    eligible: false,
                    sign_in_required: false,
                    reason: Some(reason),
                },
                Err(other) => return Err(other.into()),
            },
        )
    }
}

#[derive(SimpleObject)]
pub struct Eligibility {
    pub eligible: bool,
    /// The viewer is signed out: signing in is the first step.
    pub sign_in_required: bool,
    pub reason: Option<String>,
}

#[derive(SimpleObject, Clone)]
pub struct TopicOption {
    pub id: ID,
    pub position: i32,
    pub label: String,
}

/// An expert or third-party assessment (论证评估).
pub struct Assessment(records::Assessment);

#[Object]
impl Assessment {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// The third-party body, when the assessment is one's.
    async fn body_name(&self) -> Option<&str> {
        self.0.body_name.as_deref()
    }
    async fn author_name(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(super::loaders::user(ctx, self.0.author_user_id)
            .await?
            .display_name)
    }
    async fn published_at(&self) -> DateTime<Utc> {
        self.0.published_at
    }
}

/// An offline meeting held on the topic (council, hearing, forum).
pub struct Meeting(records::Meeting);

#[Object]
impl Meeting {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn held_at(&self) -> DateTime<Utc> {
        self.0.held_at
    }
    async fn place(&self) -> &str {
        &self.0.place
    }
    async fn attendees(&self) -> i32 {
        self.0.attendees
    }
    async fn minutes(&self) -> &str {
        &self.0.minutes
    }
}

/// An opinion, seen by the resident who gave it or by the topic's
/// organisers and supervisors.
pub struct Opinion {
    opinion: opinions::Opinion,
    resident_name: Option<String>,
}

#[Object]
impl Opinion {
    async fn id(&self) -> ID {
        ID(self.opinion.id.to_string())
    }
    async fn topic_id(&self) -> ID {
        ID(self.opinion.topic_id.to_string())
    }
    /// The stance, for decisions and appraisals.
    async fn stance(&self) -> Option<Stance> {
        Choice::parse_key(&self.opinion.choice)
            .as_ref()
            .and_then(stance_of)
    }
    /// The chosen option, for choice topics.
    async fn option_id(&self) -> Option<ID> {
        Choice::parse_key(&self.opinion.choice)
            .as_ref()
            .and_then(option_id_of)
    }
    async fn reason(&self) -> Option<&str> {
        self.opinion.reason.as_deref()
    }
    async fn village_code(&self) -> &str {
        &self.opinion.village_code
    }
    async fn village(&self, ctx: &Context<'_>) -> Result<Option<Division>> {
        Ok(super::loaders::division(ctx, &self.opinion.village_code)
            .await?
            .map(Division))
    }
    /// Recorded by an organiser at an offline meeting.
    async fn proxy(&self) -> bool {
        self.opinion.proxy
    }
    async fn meeting_id(&self) -> Option<ID> {
        self.opinion.meeting_id.map(|id| ID(id.to_string()))
    }
    /// When the resident confirmed a proxy opinion.
    async fn confirmed_at(&self) -> Option<DateTime<Utc>> {
        self.opinion.confirmed_at
    }
    /// Who gave it (in lists for organisers).
    async fn resident_name(&self) -> Option<&str> {
        self.resident_name.as_deref()
    }
    async fn revision(&self) -> i32 {
        self.opinion.revision
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.opinion.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.opinion.updated_at
    }
    /// Every version of this opinion, oldest first.
    async fn revisions(&self, ctx: &Context<'_>) -> Result<Vec<OpinionRevision>> {
        Ok(
            opinions::revisions(services(ctx).db.reader(), &self.opinion)
                .await?
                .into_iter()
                .map(|r| {
                    let choice = Choice::parse_key(&r.choice);
                    OpinionRevision {
                        revision: r.revision,
                        stance: choice.as_ref().and_then(stance_of),
                        option_id: choice.as_ref().and_then(option_id_of),
                        reason: r.reason,
                        village_code: r.village_code,
                        proxy: r.proxy,
                        created_at: r.created_at,
                    }
                })
                .collect(),
        )
    }
}

#[derive(SimpleObject)]
pub struct OpinionRevision {
    pub revision: i32,
    pub stance: Option<Stance>,
    pub option_id: Option<ID>,
    pub reason: Option<String>,
    pub village_code: String,
    pub proxy: bool,
    pub created_at: DateTime<Utc>,
}

/// Responses for one choice within a division.
#[derive(SimpleObject)]
pub struct ChoiceCount {
    pub stance: Option<Stance>,
    pub option_id: Option<ID>,
    /// The option's label, or the stance in lower case.
    pub label: String,
    pub count: i64,
    /// Share of this division's responses (0–1); null with no responses.
    pub share: Option<f64>,
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct DivisionResult {
    pub division_code: String,
    /// True when this row stands for several sibling divisions shown only
    /// together (some have fewer than `minCell` responses, the rest keep
    /// them from being worked out by difference), folded into this parent.
    pub folded: bool,
    /// How many divisions the row covers.
    pub divisions: i32,
    /// True when the responses may not be shown to you at all: fewer than
    /// `minCell` of them, or hidden so that a smaller cell cannot be worked
    /// out by difference. `total`, `participation` and `quorumMet` are then
    /// null and `counts` empty.
    pub withheld: bool,
    /// Responses; null when withheld.
    pub total: Option<i64>,
    /// Eligible residents (counted when the topic opened or closed).
    pub eligible: i64,
    /// Respondents over eligible residents (0–1).
    pub participation: Option<f64>,
    /// Whether participation reached the topic's quorum (null without one).
    pub quorum_met: Option<bool>,
    pub counts: Vec<ChoiceCount>,
}

#[ComplexObject]
impl DivisionResult {
    async fn division(&self, ctx: &Context<'_>) -> Result<Option<Division>> {
        Ok(super::loaders::division(ctx, &self.division_code)
            .await?
            .map(Division))
    }
}

#[derive(SimpleObject)]
pub struct TopicResults {
    pub topic_id: ID,
    pub level: DivisionLevel,
    pub state: TopicState,
    pub overall: DivisionResult,
    pub rows: Vec<DivisionResult>,
    pub quorum_percent: Option<i32>,
    /// Share agreeing in the least-agreeing village that has at least
    /// `minCell` responses: how far agreement holds across communities.
    pub consensus: Option<f64>,
    /// Villages (with at least `minCell` responses) whose majority dissents.
    pub dissenting_division_codes: Vec<String>,
    pub min_cell: i32,
    /// False for anyone who may not read the topic's opinions: cells under
    /// `minCell` are then folded or withheld, never shown (see README,
    /// Privacy).
    pub full_detail: bool,
    #[graphql(skip)]
    pub counters_version: u64,
}

fn to_gql_results(r: results::TopicResults) -> TopicResults {
    let quorum = r.quorum_percent;
    let convert = |row: &results::DivisionResult| DivisionResult {
        division_code: row.code.clone(),
        folded: row.folded,
        divisions: i32::try_from(row.divisions).unwrap_or(i32::MAX),
        withheld: row.withheld,
        total: (!row.withheld).then_some(row.total),
        eligible: row.eligible,
        participation: row.participation().filter(|_| !row.withheld),
        quorum_met: row.quorum_met(quorum),
        counts: row
            .counts
            .iter()
            .filter(|_| !row.withheld)
            .map(|(choice, count)| ChoiceCount {
                stance: stance_of(choice),
                option_id: option_id_of(choice),
                label: r.label(choice),
                count: *count,
                share: row.share(choice),
            })
            .collect(),
    };
    TopicResults {
        topic_id: ID(r.topic.id.to_string()),
        level: r.level.into(),
        state: topics::State::parse(&r.topic.state).map_or(TopicState::Open, Into::into),
        overall: convert(&r.overall),
        rows: r.rows.iter().map(convert).collect(),
        quorum_percent: r.quorum_percent,
        consensus: r.consensus,
        dissenting_division_codes: r.dissenting.to_vec(),
        min_cell: i32::try_from(r.min_cell).unwrap_or(i32::MAX),
        full_detail: r.full_detail,
        counters_version: r.counters_version,
    }
}

async fn load_results(
    svc: &Services,
    viewer: Option<&crate::domain::authz::Actor>,
    topic_id: i64,
    level: Option<DivisionLevel>,
    within: Option<&str>,
    freshness: results::Freshness,
) -> crate::error::Result<TopicResults> {
    let level = level.map_or(divisions::Level::Village, Into::into);
    let r = results::results(svc, viewer, topic_id, level, within, freshness).await?;
    Ok(to_gql_results(r))
}

#[derive(SimpleObject)]
pub struct DissentTheme {
    pub keyword: String,
    /// Dissenting opinions whose reason mentions it.
    pub count: i32,
    pub sample_opinion_ids: Vec<ID>,
}

#[derive(Default)]
pub struct TopicsQuery;

#[Object]
impl TopicsQuery {
    async fn topic(&self, ctx: &Context<'_>, id: ID) -> Result<Topic> {
        let viewer = optional_actor(ctx).await?;
        Ok(Topic(
            topics::get_visible(services(ctx), viewer, parse_id(&id, "topicId")?).await?,
        ))
    }

    /// Topics, newest first. `forDivision`: those a resident of that
    /// division takes part in (scoped to it or above); `withinDivision`:
    /// those scoped inside it (organisers).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::limits::list_cost(first, 20, 100, child_complexity)")]
    async fn topics(
        &self,
        ctx: &Context<'_>,
        for_division: Option<String>,
        within_division: Option<String>,
        states: Option<Vec<TopicState>>,
        category: Option<TopicCategory>,
        #[graphql(desc = "Only outcomes past their deadline and not completed.")] overdue: Option<
            bool,
        >,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Topic, EmptyFields, EmptyFields>> {
        let viewer = optional_actor(ctx).await?;
        let filter = topics::TopicFilter {
            for_division,
            within_division,
            states: states
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            category: category.map(Into::into),
            overdue_at: overdue.unwrap_or(false).then(|| services(ctx).now()),
        };
        let after_id = super::types::parse_cursor::<i64>(after.as_deref())?;
        let first = u64::try_from(first.unwrap_or(20)).unwrap_or(0);
        let rows = topics::list(services(ctx), viewer, &filter, first, after_id).await?;
        Ok(super::types::page(
            rows,
            first,
            after.is_some(),
            |t| t.id.to_string(),
            Topic,
        ))
    }

    /// Results by division at `level` (default VILLAGE), optionally only
    /// inside `within`. Small cells are folded for the public.
    async fn topic_results(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
        level: Option<DivisionLevel>,
        within: Option<String>,
    ) -> Result<TopicResults> {
        let viewer = optional_actor(ctx).await?;
        let topic_id = parse_id(&topic_id, "topicId")?;
        let results = load_results(
            services(ctx),
            viewer,
            topic_id,
            level,
            within.as_deref(),
            results::Freshness::WithinLag,
        )
        .await?;
        CountersRead::record(ctx, topic_id, results.counters_version);
        Ok(results)
    }

    /// Opinions on a topic, for its organisers and supervisors, newest first.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::limits::list_cost(first, 50, 500, child_complexity)")]
    async fn opinions(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
        stances: Option<Vec<Stance>>,
        option_ids: Option<Vec<ID>>,
        division_code: Option<String>,
        text: Option<String>,
        proxy: Option<bool>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Opinion, EmptyFields, EmptyFields>> {
        let actor = actor(ctx).await?;
        let mut choices: Vec<String> = stances
            .unwrap_or_default()
            .into_iter()
            .map(|s| Choice::from(s).key())
            .collect();
        for id in option_ids.unwrap_or_default() {
            choices.push(Choice::Option(parse_id(&id, "optionIds")?).key());
        }
        let filter = OpinionFilter {
            choices,
            division_code,
            text,
            proxy,
        };
        let after_id = super::types::parse_cursor::<i64>(after.as_deref())?;
        let first = u64::try_from(first.unwrap_or(50)).unwrap_or(0);
        let rows = opinions::list(
            services(ctx),
            actor,
            parse_id(&topic_id, "topicId")?,
            &filter,
            Some(first),
            after_id,
        )
        .await?;
        Ok(super::types::page(
            rows,
            first,
            after.is_some(),
            |r| r.opinion.id.to_string(),
            |r| Opinion {
                opinion: r.opinion,
                resident_name: r.resident_name,
            },
        ))
    }

    /// My current opinions, most recently changed first.
    #[graphql(complexity = "super::limits::list_cost(first, 50, 200, child_complexity)")]
    async fn my_opinions(&self, ctx: &Context<'_>, first: Option<i32>) -> Result<Vec<Opinion>> {
        let user = user_id(ctx)?;
        let first = u64::try_from(first.unwrap_or(50)).unwrap_or(50);
        Ok(opinions::all_mine(services(ctx).db.reader(), user, first)
            .await?
            .into_iter()
            .map(|o| Opinion {
                opinion: o,
                resident_name: None,
            })
            .collect())
    }

    /// Keywords in the reasons of dissenting opinions (organisers,
    /// supervisors), optionally within one division.
    #[graphql(complexity = "super::limits::list_cost(top, 20, 100, child_complexity)")]
    async fn dissent_themes(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
        division_code: Option<String>,
        top: Option<i32>,
    ) -> Result<Vec<DissentTheme>> {
        let actor = actor(ctx).await?;
        let top = usize::try_from(top.unwrap_or(20)).unwrap_or(20);
        Ok(results::dissent_themes(
            services(ctx),
            actor,
            parse_id(&topic_id, "topicId")?,
            division_code.as_deref(),
            top,
        )
        .await?
        .into_iter()
        .map(|t| DissentTheme {
            keyword: t.keyword,
            count: i32::try_from(t.count).unwrap_or(i32::MAX),
            sample_opinion_ids: t
                .sample_opinion_ids
                .into_iter()
                .map(|id| ID(id.to_string()))
                .collect(),
        })
        .collect())
    }
}

#[derive(InputObject)]
pub struct TopicInput {
    pub title: String,
    pub body: String,
    pub category: TopicCategory,
    pub kind: TopicKind,
    /// A village, township or county code.
    pub scope_code: String,
    #[graphql(default)]
    pub technical: bool,
    #[graphql(default)]
    pub reason_required_for_dissent: bool,
    pub quorum_percent: Option<i32>,
    /// Secret (民主评议 without fear): no one sees who said what, nor the
    /// tallies before closing. Appraisals are always secret.
    #[graphql(default)]
    pub secret: bool,
    pub eligibility: Option<TopicEligibility>,
    pub stakeholder_user_ids: Option<Vec<ID>>,
    /// For CHOICE topics: 2–20 option labels, in order.
    pub options: Option<Vec<String>>,
    /// When to announce automatically (optional; announce by hand otherwise).
    pub notice_at: Option<DateTime<Utc>>,
    pub opens_at: Option<DateTime<Utc>>,
    pub closes_at: Option<DateTime<Utc>>,
}

impl TopicInput {
    fn into_draft(self) -> crate::error::Result<topics::TopicDraft> {
        let stakeholder_user_ids = self
            .stakeholder_user_ids
            .unwrap_or_default()
            .iter()
            .map(|id| parse_id(id, "stakeholderUserIds"))
            .collect::<crate::error::Result<Vec<_>>>()?;
        Ok(topics::TopicDraft {
            title: self.title,
            body: self.body,
            category: Some(self.category.into()),
            kind: Some(self.kind.into()),
            scope_code: self.scope_code,
            technical: self.technical,
            reason_required_for_dissent: self.reason_required_for_dissent,
            quorum_percent: self.quorum_percent,
            secret: self.secret,
            eligibility: self.eligibility.map(Into::into),
            stakeholder_user_ids,
            options: self.options.unwrap_or_default(),
            notice_at: self.notice_at,
            opens_at: self.opens_at,
            closes_at: self.closes_at,
        })
    }
}

#[derive(InputObject)]
pub struct AssessmentInput {
    pub title: String,
    pub body: String,
    /// The third-party body, when an organiser publishes its assessment.
    pub body_name: Option<String>,
}

#[derive(InputObject)]
pub struct MeetingInput {
    pub held_at: DateTime<Utc>,
    pub place: String,
    pub attendees: i32,
    pub minutes: String,
}

#[derive(InputObject)]
pub struct ProxyOpinionInput {
    pub topic_id: ID,
    /// The offline meeting where the opinion was given.
    pub meeting_id: ID,
    /// The resident's account, when they have one…
    pub user_id: Option<ID>,
    /// …or their name and village when they have none.
    pub resident_name: Option<String>,
    pub village_code: Option<String>,
    pub stance: Option<Stance>,
    pub option_id: Option<ID>,
    pub reason: Option<String>,
}

#[derive(Default)]
pub struct TopicsMutation;

#[Object]
impl TopicsMutation {
    /// Creates a draft topic in the organiser's division.
    async fn create_topic(&self, ctx: &Context<'_>, input: TopicInput) -> Result<Topic> {
        let actor = actor(ctx).await?;
        Ok(Topic(
            topics::create(services(ctx), actor, input.into_draft()?).await?,
        ))
    }

    /// Replaces the fields of a draft.
    async fn update_topic(&self, ctx: &Context<'_>, id: ID, input: TopicInput) -> Result<Topic> {
        let actor = actor(ctx).await?;
        Ok(Topic(
            topics::update(
                services(ctx),
                actor,
                parse_id(&id, "topicId")?,
                input.into_draft()?,
            )
            .await?,
        ))
    }

    /// DRAFT → ANNOUNCED: notifies every eligible resident in advance.
    async fn announce_topic(&self, ctx: &Context<'_>, id: ID) -> Result<Topic> {
        let actor = actor(ctx).await?;
        Ok(Topic(
            topics::announce(
                services(ctx),
                Trigger::Organiser(actor),
                parse_id(&id, "topicId")?,
            )
            .await?,
        ))
    }

    /// ANNOUNCED → OPEN once `opensAt` is reached (the scheduler opens it
    /// then by itself).
    async fn open_topic(&self, ctx: &Context<'_>, id: ID) -> Result<Topic> {
        let actor = actor(ctx).await?;
        Ok(Topic(
            topics::open(
                services(ctx),
                Trigger::Organiser(actor),
                parse_id(&id, "topicId")?,
            )
            .await?,
        ))
    }

    /// OPEN → CLOSED once `closesAt` is reached; earlier needs
    /// `requestEarlyClose` and a supervisor's countersignature.
    async fn close_topic(&self, ctx: &Context<'_>, id: ID) -> Result<Topic> {
        let actor = actor(ctx).await?;
        Ok(Topic(
            topics::close(
                services(ctx),
                Trigger::Organiser(actor),
                parse_id(&id, "topicId")?,
            )
            .await?,
        ))
    }

    /// Withdraws a topic before a decision, with a public reason.
    async fn withdraw_topic(&self, ctx: &Context<'_>, id: ID, reason: String) -> Result<Topic> {
        let actor = actor(ctx).await?;
        Ok(Topic(
            topics::withdraw(services(ctx), actor, parse_id(&id, "topicId")?, &reason).await?,
        ))
    }

    async fn publish_assessment(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
        input: AssessmentInput,
    ) -> Result<Assessment> {
        let actor = actor(ctx).await?;
        let row = records::publish_assessment(
            services(ctx),
            actor,
            parse_id(&topic_id, "topicId")?,
            NewAssessment {
                title: input.title,
                body: input.body,
                body_name: input.body_name,
            },
        )
        .await?;
        Ok(Assessment(row))
    }

    async fn record_meeting(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
        input: MeetingInput,
    ) -> Result<Meeting> {
        let actor = actor(ctx).await?;
        let row = records::record_meeting(
            services(ctx),
            actor,
            parse_id(&topic_id, "topicId")?,
            NewMeeting {
                held_at: input.held_at,
                place: input.place,
                attendees: input.attendees,
                minutes: input.minutes,
            },
        )
        .await?;
        Ok(Meeting(row))
    }

    /// Gives or changes my opinion: a stance (decisions, appraisals) or an
    /// option (choices), with a reason of up to 2,000 characters.
    async fn submit_opinion(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
        stance: Option<Stance>,
        option_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<Opinion> {
        let user = user_id(ctx)?;
        super::context::rate_limit(
            ctx,
            crate::rate_limit::Action::SubmitOpinion,
            Some(&user.to_string()),
        )?;
        let input = ChoiceInput {
            stance: stance.map(Into::into),
            option_id: option_id
                .as_ref()
                .map(|id| parse_id(id, "optionId"))
                .transpose()?,
        };
        let opinion = opinions::submit(
            services(ctx),
            user,
            parse_id(&topic_id, "topicId")?,
            input,
            reason,
        )
        .await?;
        Ok(Opinion {
            opinion,
            resident_name: None,
        })
    }

    /// Records an opinion given at an offline meeting on a resident's behalf.
    async fn record_proxy_opinion(
        &self,
        ctx: &Context<'_>,
        input: ProxyOpinionInput,
    ) -> Result<Opinion> {
        let actor = actor(ctx).await?;
        let who = match (input.user_id, input.resident_name, input.village_code) {
            (Some(id), None, None) => ProxyFor::User(parse_id(&id, "userId")?),
            (None, Some(name), Some(village_code)) => ProxyFor::Offline { name, village_code },
            _ => {
                return Err(Error::bad_input(
                    "userId",
                    "give either userId, or residentName and villageCode",
                )
                .into());
            }
        };
        let choice = ChoiceInput {
            stance: input.stance.map(Into::into),
            option_id: input
                .option_id
                .as_ref()
                .map(|id| parse_id(id, "optionId"))
                .transpose()?,
        };
        let opinion = opinions::record_proxy(
            services(ctx),
            actor,
            parse_id(&input.topic_id, "topicId")?,
            parse_id(&input.meeting_id, "meetingId")?,
            who,
            choice,
            input.reason,
        )
        .await?;
        Ok(Opinion {
            opinion,
            resident_name: None,
        })
    }

    /// Confirms the opinion an organiser recorded on my behalf.
    async fn confirm_opinion(&self, ctx: &Context<'_>, topic_id: ID) -> Result<Opinion> {
        let user = user_id(ctx)?;
        let opinion =
            opinions::confirm(services(ctx), user, parse_id(&topic_id, "topicId")?).await?;
        Ok(Opinion {
            opinion,
            resident_name: None,
        })
    }
}

/// How often at most a results subscription pushes while opinions arrive.
pub const RESULTS_PUSH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

#[derive(Default)]
pub struct TopicsSubscription;

#[Subscription]
impl TopicsSubscription {
    /// Pushes the topic's results now and then at most every 500 ms while
    /// opinions arrive (on any instance).
    async fn topic_results(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
        level: Option<DivisionLevel>,
        within: Option<String>,
    ) -> Result<impl Stream<Item = Result<TopicResults>>> {
        let svc = services(ctx).clone();
        let viewer = optional_actor(ctx).await?.cloned();
        let id = parse_id(&topic_id, "topicId")?;
        let mut events = svc.events.subscribe();
        let first = load_results(
            &svc,
            viewer.as_ref(),
            id,
            level,
            within.as_deref(),
            results::Freshness::Latest,
        )
        .await?;
        Ok(async_stream::stream! {
            yield Ok(first);
            let mut last_push = tokio::time::Instant::now();
            loop {
                match events.recv().await {
                    Ok(Event::TopicResultsChanged { topic_id } | Event::TopicStateChanged { topic_id, .. }) if topic_id == id => {}
                    Ok(_) => continue,
                    // Missed some events: the results are re-read anyway.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
                // Coalesce a burst into one push per interval.
                tokio::time::sleep_until(last_push + RESULTS_PUSH_INTERVAL).await;
                while events.try_recv().is_ok() {}
                last_push = tokio::time::Instant::now();
                yield load_results(&svc, viewer.as_ref(), id, level, within.as_deref(), results::Freshness::Latest).await.map_err(Into::into);
            }
        })
    }
}
