//! Outcomes, progress, supervision, explanations and notifications in the API.

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::context::{actor, optional_actor, services, user_id};
use super::topics::{Stance, Topic};
use super::types::{parse_id, DivisionLevel};
use crate::domain::explanations::{self, Audience};
use crate::domain::opinions::ChoiceInput;
use crate::domain::outcomes::{self, OutcomeInput as DomainOutcomeInput};
use crate::domain::topics::Choice;
use crate::domain::{notifications, topics};
use crate::error::Error;

/// One version of a topic's outcome (协商意见).
#[derive(SimpleObject)]
pub struct Outcome {
    pub version: i32,
    pub decision: String,
    /// The adopted stance (decisions, appraisals).
    pub adopted_stance: Option<Stance>,
    /// The adopted option (choice topics).
    pub adopted_option_id: Option<ID>,
    pub responsible_body: String,
    pub deadline: DateTime<Utc>,
    /// The government department that entrusted the matter, if any.
    pub entrusted_by: Option<String>,
    /// For a corrected version: what changed and why.
    pub change_reason: Option<String>,
    /// The supervision flag this version answers.
    pub flag_id: Option<ID>,
    pub published_at: DateTime<Utc>,
}

impl From<outcomes::Outcome> for Outcome {
    fn from(o: outcomes::Outcome) -> Self {
        let adopted = o.adopted_choice.as_deref().and_then(Choice::parse_key);
        Self {
            version: o.version,
            decision: o.decision,
            adopted_stance: adopted.as_ref().and_then(super::topics::stance_of),
            adopted_option_id: match adopted {
                Some(Choice::Option(id)) => Some(ID(id.to_string())),
                _ => None,
            },
            responsible_body: o.responsible_body,
            deadline: o.deadline,
            entrusted_by: o.entrusted_by,
            change_reason: o.change_reason,
            flag_id: o.flag_id.map(|f| ID(f.to_string())),
            published_at: o.published_at,
        }
    }
}

#[derive(SimpleObject)]
pub struct ProgressUpdate {
    pub id: ID,
    pub body: String,
    pub percent: i32,
    pub published_at: DateTime<Utc>,
}

impl From<outcomes::ProgressUpdate> for ProgressUpdate {
    fn from(p: outcomes::ProgressUpdate) -> Self {
        Self {
            id: ID(p.id.to_string()),
            body: p.body,
            percent: p.percent,
            published_at: p.published_at,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum FlagStatus {
    /// Raised; waiting for the organiser.
    Open,
    /// A corrected outcome answers it; waiting for a supervisor to accept.
    Corrected,
    /// A supervisor accepted the correction.
    Accepted,
    /// A supervisor dismissed the flag.
    Dismissed,
}

/// A supervisor's flag on the outcome (依法纠正) or on the procedure.
#[derive(SimpleObject)]
pub struct SupervisionFlag {
    pub id: ID,
    pub subject: super::procedure::FlagSubject,
    /// The outcome version flagged (0 for a procedure flag before any).
    pub outcome_version: i32,
    pub reason: String,
    pub legal_basis: String,
    pub status: FlagStatus,
    pub created_at: DateTime<Utc>,
    pub resolved_by_version: Option<i32>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The supervisor's public words on accepting or dismissing.
    pub resolution: Option<String>,
}

impl From<outcomes::Flag> for SupervisionFlag {
    fn from(f: outcomes::Flag) -> Self {
        use outcomes::FlagStatus as S;
        Self {
            id: ID(f.id.to_string()),
            subject: outcomes::FlagSubject::parse(&f.subject)
                .unwrap_or(outcomes::FlagSubject::Outcome)
                .into(),
            outcome_version: f.outcome_version,
            reason: f.reason,
            legal_basis: f.legal_basis,
            status: match S::parse(&f.status).unwrap_or(S::Open) {
                S::Open => FlagStatus::Open,
                S::Corrected => FlagStatus::Corrected,
                S::Accepted => FlagStatus::Accepted,
                S::Dismissed => FlagStatus::Dismissed,
            },
            created_at: f.created_at,
            resolved_by_version: f.resolved_by_version,
            resolved_at: f.resolved_at,
            resolution: f.resolution,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ExplanationAudienceKind {
    /// Every dissenter of the topic; public.
    AllDissenters,
    /// The dissenters of one division.
    Division,
    /// Chosen opinions: an individual reply.
    Opinions,
    /// Those whose latest reply was unsatisfied: a follow-up.
    Unsatisfied,
}

#[derive(InputObject)]
pub struct ExplanationAudienceInput {
    pub kind: ExplanationAudienceKind,
    pub division_code: Option<String>,
    pub opinion_ids: Option<Vec<ID>>,
}

impl ExplanationAudienceInput {
    fn into_domain(self) -> crate::error::Result<Audience> {
        Ok(match self.kind {
            ExplanationAudienceKind::AllDissenters => Audience::AllDissenters,
            ExplanationAudienceKind::Unsatisfied => Audience::Unsatisfied,
            ExplanationAudienceKind::Division => Audience::Division(
                self.division_code
                    .ok_or_else(|| Error::bad_input("divisionCode", "name the division"))?,
            ),
            ExplanationAudienceKind::Opinions => Audience::Opinions(
                self.opinion_ids
                    .unwrap_or_default()
                    .iter()
                    .map(|id| parse_id(id, "opinionIds"))
                    .collect::<crate::error::Result<_>>()?,
            ),
        })
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ExplanationReply {
    Satisfied,
    Unsatisfied,
}

/// An explanation; recipients' names are never shown, only counts.
#[derive(SimpleObject)]
pub struct Explanation {
    pub id: ID,
    pub topic_id: ID,
    pub audience: ExplanationAudienceKind,
    pub division_code: Option<String>,
    pub body: String,
    /// How many residents it reached: for those who may read the topic's
    /// opinions only (a count of dissenters is a cell of the results).
    pub recipients: Option<i32>,
    pub published_at: DateTime<Utc>,
    /// For a recipient: when they first read it.
    pub read_at: Option<DateTime<Utc>>,
    /// Whether the viewer may answer it: they are among its recipients.
    pub can_reply: bool,
    /// For a recipient: their answer.
    pub my_reply: Option<ExplanationReply>,
    pub my_reply_comment: Option<String>,
}

fn to_explanation(seen: explanations::Seen) -> Explanation {
    let explanations::Seen {
        explanation: e,
        receipt,
        recipients,
    } = seen;
    Explanation {
        id: ID(e.id.to_string()),
        topic_id: ID(e.topic_id.to_string()),
        audience: match e.audience.as_str() {
            "division" => ExplanationAudienceKind::Division,
            "opinions" => ExplanationAudienceKind::Opinions,
            "unsatisfied" => ExplanationAudienceKind::Unsatisfied,
            _ => ExplanationAudienceKind::AllDissenters,
        },
        division_code: e.division_code,
        body: e.body,
        recipients,
        published_at: e.published_at,
        read_at: receipt.as_ref().and_then(|r| r.read_at),
        can_reply: receipt.is_some(),
        my_reply: receipt.as_ref().and_then(|r| match r.reply.as_deref() {
            Some("satisfied") => Some(ExplanationReply::Satisfied),
            Some("unsatisfied") => Some(ExplanationReply::Unsatisfied),
            _ => None,
        }),
        my_reply_comment: receipt.and_then(|r| r.reply_comment),
    }
}

#[derive(SimpleObject)]
pub struct ExplanationCoverage {
    pub division_code: String,
    pub dissenters: i64,
    pub explained: i64,
    pub read: i64,
    pub satisfied: i64,
    pub unsatisfied: i64,
    pub not_yet_explained: i64,
}

impl From<explanations::Coverage> for ExplanationCoverage {
    fn from(c: explanations::Coverage) -> Self {
        Self {
            division_code: c.division_code,
            dissenters: c.dissenters,
            explained: c.explained,
            read: c.read,
            satisfied: c.satisfied,
            unsatisfied: c.unsatisfied,
            not_yet_explained: c.not_yet_explained,
        }
    }
}

#[derive(SimpleObject)]
pub struct CoverageReport {
    pub overall: ExplanationCoverage,
    pub rows: Vec<ExplanationCoverage>,
}

#[derive(SimpleObject)]
pub struct Notification {
    pub id: ID,
    /// What happened: outcome_published, progress_update, outcome_corrected,
    /// explanation_published…
    pub kind: String,
    pub topic_id: Option<ID>,
    /// Details as JSON (title, link…).
    pub payload: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct OutcomeInput {
    pub decision: String,
    pub adopted_stance: Option<Stance>,
    pub adopted_option_id: Option<ID>,
    pub responsible_body: String,
    pub deadline: DateTime<Utc>,
    pub entrusted_by: Option<String>,
    /// Required when participation stayed below the quorum: why the
    /// outcome stands (shown beside it).
    pub quorum_justification: Option<String>,
}

impl OutcomeInput {
    fn into_domain(self) -> crate::error::Result<DomainOutcomeInput> {
        let adopted = match (self.adopted_stance, self.adopted_option_id) {
            (None, None) => None,
            (stance, option) => Some(ChoiceInput {
                stance: stance.map(Into::into),
                option_id: option
                    .as_ref()
                    .map(|id| parse_id(id, "adoptedOptionId"))
                    .transpose()?,
            }),
        };
        Ok(DomainOutcomeInput {
            decision: self.decision,
            adopted,
            responsible_body: self.responsible_body,
            deadline: self.deadline,
            entrusted_by: self.entrusted_by,
            quorum_justification: self.quorum_justification,
        })
    }
}

/// Key figures of a division, rolled up from its subtree.
#[derive(SimpleObject)]
pub struct DivisionKpis {
    pub division_code: String,
    pub topics_by_state: Vec<StateCount>,
    pub responses: i64,
    pub eligible: i64,
    pub participation: Option<f64>,
    pub completed_on_time: i64,
    pub completed_late: i64,
    /// Completed on time over all completed.
    pub on_time_rate: Option<f64>,
    pub overdue: i64,
    pub dissenters: i64,
    pub explained: i64,
    pub explanation_coverage: Option<f64>,
    pub satisfied: i64,
    pub unsatisfied: i64,
    /// Satisfied over all replies to explanations.
    pub satisfaction: Option<f64>,
    /// True when some topic scoped above this division is left out of the
    /// row: its cell here is too small to show to someone who may not read
    /// its opinions.
    pub withheld: bool,
}

#[derive(SimpleObject)]
pub struct StateCount {
    pub state: super::topics::TopicState,
    pub count: i64,
}

#[derive(SimpleObject)]
pub struct Dashboard {
    pub division: DivisionKpis,
    /// One row per child division.
    pub children: Vec<DivisionKpis>,
}

impl From<crate::domain::dashboard::Kpis> for DivisionKpis {
    fn from(k: crate::domain::dashboard::Kpis) -> Self {
        Self {
            participation: k.participation(),
            on_time_rate: k.on_time_rate(),
            explanation_coverage: k.explanation_coverage(),
            satisfaction: k.satisfaction(),
            topics_by_state: k
                .topics_by_state
                .iter()
                .filter_map(|(s, n)| {
                    topics::State::parse(s).map(|s| StateCount {
                        state: s.into(),
                        count: *n,
                    })
                })
                .collect(),
            division_code: k.division_code,
            responses: k.responses,
            eligible: k.eligible,
            completed_on_time: k.completed_on_time,
            completed_late: k.completed_late,
            overdue: k.overdue,
            dissenters: k.dissenters,
            explained: k.explained,
            satisfied: k.satisfied,
            unsatisfied: k.unsatisfied,
            withheld: k.withheld,
        }
    }
}

#[derive(Default)]
pub struct OutcomesQuery;

#[Object]
impl OutcomesQuery {
    /// An explanation: public ones to anyone, others to their recipients and
    /// the topic's staff. Reading it as a recipient records the first read.
    async fn explanation(&self, ctx: &Context<'_>, id: ID) -> Result<Explanation> {
        let viewer = optional_actor(ctx).await?;
        let seen = explanations::read(services(ctx), viewer, parse_id(&id, "id")?).await?;
        Ok(to_explanation(seen))
    }

    /// Explanations addressed to me, newest first.
    async fn my_explanations(&self, ctx: &Context<'_>) -> Result<Vec<Explanation>> {
        let user = user_id(ctx)?;
        Ok(explanations::addressed_to(services(ctx).db.reader(), user)
            .await?
            .into_iter()
            .map(to_explanation)
            .collect())
    }

    /// How many residents an explanation to this audience would reach.
    async fn explanation_audience_size(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
        audience: ExplanationAudienceInput,
    ) -> Result<i64> {
        let actor = actor(ctx).await?;
        Ok(explanations::preview(
            services(ctx),
            actor,
            parse_id(&topic_id, "topicId")?,
            &audience.into_domain()?,
        )
        .await?)
    }

    /// Dissenters, explained, read, satisfied, unsatisfied and not yet
    /// explained, per division at `level` (default VILLAGE).
    async fn explanation_coverage(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
        level: Option<DivisionLevel>,
    ) -> Result<CoverageReport> {
        let actor = actor(ctx).await?;
        let level = level.map_or(crate::domain::divisions::Level::Village, Into::into);
        let (overall, rows) =
            explanations::coverage(services(ctx), actor, parse_id(&topic_id, "topicId")?, level)
                .await?;
        Ok(CoverageReport {
            overall: overall.into(),
            rows: rows.into_iter().map(Into::into).collect(),
        })
    }

    /// Topics by state, participation, outcomes on time or overdue, and
    /// explanation coverage for a division and each child division.
    async fn dashboard(&self, ctx: &Context<'_>, division_code: String) -> Result<Dashboard> {
        let actor = actor(ctx).await?;
        let (division, children) =
            crate::domain::dashboard::dashboard(services(ctx), actor, &division_code).await?;
        Ok(Dashboard {
            division: division.into(),
            children: children.into_iter().map(Into::into).collect(),
        })
    }

    /// My notifications, newest first.
    #[graphql(complexity = "super::limits::list_cost(first, 50, 200, child_complexity)")]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        unread_only: Option<bool>,
        first: Option<i32>,
    ) -> Result<Vec<Notification>> {
        let user = user_id(ctx)?;
        let first = u64::try_from(first.unwrap_or(50)).unwrap_or(50);
        Ok(notifications::list(
            services(ctx).db.reader(),
            user,
            unread_only.unwrap_or(false),
            first,
        )
        .await?
        .into_iter()
        .map(|n| Notification {
            id: ID(n.id.to_string()),
            kind: n.kind,
            topic_id: n.topic_id.map(|t| ID(t.to_string())),
            payload: n.payload,
            created_at: n.created_at,
            read_at: n.read_at,
        })
        .collect())
    }
}

#[derive(Default)]
pub struct OutcomesMutation;

#[Object]
impl OutcomesMutation {
    /// CLOSED → DECIDED: the outcome with its deadline and responsible body;
    /// every participant is notified.
    async fn publish_outcome(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
        input: OutcomeInput,
    ) -> Result<Outcome> {
        let actor = actor(ctx).await?;
        Ok(outcomes::publish(
            services(ctx),
            actor,
            parse_id(&topic_id, "topicId")?,
            input.into_domain()?,
        )
        .await?
        .into())
    }

    /// DECIDED → IMPLEMENTING.
    async fn start_implementation(&self, ctx: &Context<'_>, topic_id: ID) -> Result<Topic> {
        let actor = actor(ctx).await?;
        Ok(Topic(
            outcomes::start_implementation(services(ctx), actor, parse_id(&topic_id, "topicId")?)
                .await?,
        ))
    }

    /// IMPLEMENTING → COMPLETED.
    async fn complete_topic(&self, ctx: &Context<'_>, topic_id: ID) -> Result<Topic> {
        let actor = actor(ctx).await?;
        Ok(Topic(
            outcomes::complete(services(ctx), actor, parse_id(&topic_id, "topicId")?).await?,
        ))
    }

    /// Reports implementation progress to every participant.
    async fn publish_progress(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
        body: String,
        percent: i32,
    ) -> Result<ProgressUpdate> {
        let actor = actor(ctx).await?;
        Ok(outcomes::publish_progress(
            services(ctx),
            actor,
            parse_id(&topic_id, "topicId")?,
            &body,
            percent,
        )
        .await?
        .into())
    }

    /// A supervisor flags the outcome for correction (the default) or the
    /// way the procedure was run; only a supervisor resolves it.
    async fn flag_outcome(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
        reason: String,
        legal_basis: String,
        #[graphql(default_with = "super::procedure::FlagSubject::Outcome")]
        subject: super::procedure::FlagSubject,
    ) -> Result<SupervisionFlag> {
        let actor = actor(ctx).await?;
        Ok(outcomes::flag(
            services(ctx),
            actor,
            parse_id(&topic_id, "topicId")?,
            subject.into(),
            &reason,
            &legal_basis,
        )
        .await?
        .into())
    }

    /// Publishes a corrected outcome as a new version (earlier ones stay),
    /// in answer to a supervisor's open outcome flag; the deadline stays.
    async fn correct_outcome(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
        input: OutcomeInput,
        change_reason: String,
    ) -> Result<Outcome> {
        let actor = actor(ctx).await?;
        Ok(outcomes::correct(
            services(ctx),
            actor,
            parse_id(&topic_id, "topicId")?,
            input.into_domain()?,
            &change_reason,
        )
        .await?
        .into())
    }

    /// Explains the outcome to dissenters; recipients are fixed now.
    async fn publish_explanation(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
        audience: ExplanationAudienceInput,
        body: String,
    ) -> Result<Explanation> {
        let actor = actor(ctx).await?;
        let seen = explanations::publish(
            services(ctx),
            actor,
            parse_id(&topic_id, "topicId")?,
            audience.into_domain()?,
            &body,
        )
        .await?;
        Ok(to_explanation(seen))
    }

    /// A recipient answers whether the explanation satisfied them.
    async fn reply_to_explanation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reply: ExplanationReply,
        comment: Option<String>,
    ) -> Result<Explanation> {
        let user = user_id(ctx)?;
        let explanation_id = parse_id(&id, "id")?;
        explanations::reply(
            services(ctx),
            user,
            explanation_id,
            reply == ExplanationReply::Satisfied,
            comment,
        )
        .await?;
        let viewer = optional_actor(ctx).await?;
        let seen = explanations::read(services(ctx), viewer, explanation_id).await?;
        Ok(to_explanation(seen))
    }

    /// Marks notifications read (all when `ids` is empty).
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        ids: Option<Vec<ID>>,
    ) -> Result<i64> {
        let user = user_id(ctx)?;
        let ids = ids
            .unwrap_or_default()
            .iter()
            .map(|id| parse_id(id, "ids"))
            .collect::<crate::error::Result<Vec<_>>>()?;
        let n =
            notifications::mark_read(services(ctx).db.writer(), user, &ids, services(ctx).now())
                .await?;
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

/// Outcome fields of a topic, resolved on demand.
pub(crate) async fn topic_outcome(
    ctx: &Context<'_>,
    topic: &topics::Topic,
) -> Result<Option<Outcome>> {
    Ok(super::loaders::current_outcome(ctx, topic.id)
        .await?
        .map(Into::into))
}

pub(crate) async fn topic_outcome_versions(
    ctx: &Context<'_>,
    topic: &topics::Topic,
) -> Result<Vec<Outcome>> {
    Ok(outcomes::versions(services(ctx).db.reader(), topic.id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

pub(crate) async fn topic_progress(
    ctx: &Context<'_>,
    topic: &topics::Topic,
) -> Result<Vec<ProgressUpdate>> {
    Ok(outcomes::progress(services(ctx).db.reader(), topic.id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

pub(crate) async fn topic_flags(
    ctx: &Context<'_>,
    topic: &topics::Topic,
) -> Result<Vec<SupervisionFlag>> {
    Ok(super::loaders::flags(ctx, topic.id)
        .await?
        .iter()
        .cloned()
        .map(Into::into)
        .collect())
}

pub(crate) async fn topic_explanations(
    ctx: &Context<'_>,
    topic: &topics::Topic,
) -> Result<Vec<Explanation>> {
    let viewer = optional_actor(ctx).await?;
    Ok(explanations::of_topic(services(ctx), viewer, topic)
        .await?
        .into_iter()
        .map(to_explanation)
        .collect())
}
