//! The procedure's explicit exceptions (early close, deadline extension,
//! flags and their resolution, face-to-face explanations) and its public,
//! hash-chained record.

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::context::{actor, services};
use super::outcomes::SupervisionFlag;
use super::topics::Topic;
use super::types::parse_id;
use crate::domain::explanations::{self, InPersonResponse as DomainResponse, NewInPerson};
use crate::domain::notice_board;
use crate::domain::outcomes::{self, FlagSubject as DomainSubject};
use crate::domain::record::{self, RecordEntry as DomainEntry};
use crate::domain::topics::{self, actions};

/// One move on a topic's public record, in order.
#[derive(SimpleObject)]
pub struct RecordEntry {
    /// 1, 2, 3… without gaps.
    pub seq: i32,
    /// What happened: announced, opened, closed, early_close_requested,
    /// early_close_countersigned, early_close_declined, outcome_published,
    /// implementation_started, deadline_extended, flagged,
    /// outcome_corrected, flag_accepted, flag_dismissed, explained,
    /// explained_in_person, completed, withdrawn, referred,
    /// report_submitted, revealed, referral_accepted, referral_declined,
    /// referral_linked (a referral and the upper level's topic linked; on
    /// both topics), report_acknowledged.
    pub action: String,
    /// organiser, supervisor, admin, expert, or schedule (the time set in
    /// advance was reached). Never a resident's name.
    pub actor_role: String,
    /// The division in which the role was held.
    pub actor_division_code: Option<String>,
    /// The public reason, where the move needs one.
    pub reason: Option<String>,
    /// Dates, versions and the like, as a JSON object.
    pub detail: String,
    pub recorded_at: DateTime<Utc>,
    /// SHA-256 of this entry's content and `prevHash` (hex).
    pub hash: String,
    pub prev_hash: String,
}

impl From<DomainEntry> for RecordEntry {
    fn from(e: DomainEntry) -> Self {
        Self {
            seq: e.seq,
            action: e.action,
            actor_role: e.actor_role,
            actor_division_code: e.actor_division,
            reason: e.reason,
            detail: e.detail,
            recorded_at: e.recorded_at,
            hash: e.hash,
            prev_hash: e.prev_hash,
        }
    }
}

/// What recomputing a topic's record found.
#[derive(SimpleObject)]
pub struct RecordVerification {
    /// Every entry numbered in order, linked to the one before, and
    /// matching its hash.
    pub intact: bool,
    pub entries: i32,
    /// The last entry's hash: compare it with a copy taken earlier.
    pub head: String,
    /// The first entry that does not hold.
    pub broken_at: Option<i32>,
    pub problem: Option<String>,
}

impl From<record::Verification> for RecordVerification {
    fn from(v: record::Verification) -> Self {
        Self {
            intact: v.is_intact(),
            entries: i32::try_from(v.entries).unwrap_or(i32::MAX),
            head: v.head,
            broken_at: v.broken.as_ref().map(|b| b.0),
            problem: v.broken.map(|b| b.1),
        }
    }
}

/// A public extension of an implementation deadline.
#[derive(SimpleObject)]
pub struct DeadlineExtension {
    pub id: ID,
    pub previous_deadline: DateTime<Utc>,
    pub new_deadline: DateTime<Utc>,
    pub reason: String,
    pub extended_at: DateTime<Utc>,
}

impl From<outcomes::Extension> for DeadlineExtension {
    fn from(e: outcomes::Extension) -> Self {
        Self {
            id: ID(e.id.to_string()),
            previous_deadline: e.previous_deadline,
            new_deadline: e.new_deadline,
            reason: e.reason,
            extended_at: e.extended_at,
        }
    }
}

/// An organiser's request to close early, waiting for a supervisor.
#[derive(SimpleObject)]
pub struct EarlyCloseRequest {
    pub reason: String,
    pub requested_at: DateTime<Utc>,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum FlagSubject {
    /// The outcome (依法纠正).
    Outcome,
    /// How the procedure was run.
    Procedure,
}

mirror_enum!(FlagSubject <=> DomainSubject { Outcome, Procedure });

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum InPersonResponse {
    Satisfied,
    Unsatisfied,
    /// Heard the explanation and did not say.
    NoAnswer,
}

mirror_enum!(InPersonResponse <=> DomainResponse { Satisfied, Unsatisfied, NoAnswer });

#[derive(InputObject)]
pub struct InPersonExplanationInput {
    /// The dissenting opinion (online or recorded by proxy).
    pub opinion_id: ID,
    /// Who explained (a name or post).
    pub explained_by: String,
    pub explained_at: DateTime<Utc>,
    pub place: String,
    pub response: InPersonResponse,
    pub note: Option<String>,
}

/// A face-to-face explanation to a dissenter (staff only).
#[derive(SimpleObject)]
pub struct InPersonExplanation {
    pub id: ID,
    pub opinion_id: ID,
    pub explained_by: String,
    pub explained_at: DateTime<Utc>,
    pub place: String,
    pub response: InPersonResponse,
    pub note: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

impl From<explanations::InPerson> for InPersonExplanation {
    fn from(e: explanations::InPerson) -> Self {
        Self {
            id: ID(e.id.to_string()),
            opinion_id: ID(e.opinion_id.to_string()),
            explained_by: e.explained_by_name,
            explained_at: e.explained_at,
            place: e.place,
            response: DomainResponse::parse(&e.response)
                .unwrap_or(DomainResponse::NoAnswer)
                .into(),
            note: e.note,
            recorded_at: e.recorded_at,
        }
    }
}

#[derive(Default)]
pub struct ProcedureQuery;

/// A resident's answer to an explanation, for the topic's staff: never a
/// name; for a secret topic not even the village or the opinion.
#[derive(SimpleObject)]
pub struct ExplanationReplyEntry {
    pub satisfied: bool,
    pub comment: Option<String>,
    pub replied_at: DateTime<Utc>,
    pub village_code: Option<String>,
    /// Send a follow-up to this opinion alone (`publishExplanation` with
    /// audience OPINIONS); the system routes it.
    pub opinion_id: Option<ID>,
}

#[Object]
impl ProcedureQuery {
    /// The answers residents gave to an explanation, newest first (staff of
    /// the topic only).
    async fn explanation_replies(
        &self,
        ctx: &Context<'_>,
        explanation_id: ID,
    ) -> Result<Vec<ExplanationReplyEntry>> {
        let actor = actor(ctx).await?;
        Ok(explanations::replies(
            services(ctx),
            actor,
            parse_id(&explanation_id, "explanationId")?,
        )
        .await?
        .into_iter()
        .map(|r| ExplanationReplyEntry {
            satisfied: r.satisfied,
            comment: r.comment,
            replied_at: r.replied_at,
            village_code: r.village_code,
            opinion_id: r.opinion_id.map(|id| ID(id.to_string())),
        })
        .collect())
    }

    /// Recomputes the hash chain of a topic's public record (anyone may).
    async fn verify_topic_record(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
    ) -> Result<RecordVerification> {
        let svc = services(ctx);
        let viewer = super::context::optional_actor(ctx).await?;
        let topic = topics::get_visible(svc, viewer, parse_id(&topic_id, "topicId")?).await?;
        Ok(record::verify(svc.db.reader(), topic.id).await?.into())
    }
}

#[derive(Default)]
pub struct ProcedureMutation;

#[Object]
impl ProcedureMutation {
    /// An organiser asks to close an open topic before `closesAt`, with a
    /// public reason; a supervisor countersigns or declines.
    async fn request_early_close(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
        reason: String,
    ) -> Result<Topic> {
        let actor = actor(ctx).await?;
        Ok(Topic(
            topics::request_early_close(
                services(ctx),
                actor,
                parse_id(&topic_id, "topicId")?,
                &reason,
            )
            .await?,
        ))
    }

    /// A supervisor of the division (not the requester) countersigns the
    /// early close (the topic closes now) or declines it with a public note.
    async fn countersign_early_close(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
        approve: bool,
        note: Option<String>,
    ) -> Result<Topic> {
        let actor = actor(ctx).await?;
        Ok(Topic(
            topics::countersign_early_close(
                services(ctx),
                actor,
                parse_id(&topic_id, "topicId")?,
                approve,
                note.as_deref(),
            )
            .await?,
        ))
    }

    /// Extends the implementation deadline with a public reason; the
    /// original deadline stays what "on time" is judged against.
    async fn extend_deadline(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
        deadline: DateTime<Utc>,
        reason: String,
    ) -> Result<DeadlineExtension> {
        let actor = actor(ctx).await?;
        Ok(outcomes::extend_deadline(
            services(ctx),
            actor,
            parse_id(&topic_id, "topicId")?,
            deadline,
            &reason,
        )
        .await?
        .into())
    }

    /// A supervisor accepts the correction that answers a flag (or, for a
    /// procedure flag, what the organiser did about it), or dismisses the
    /// flag; either way with a public note.
    async fn resolve_flag(
        &self,
        ctx: &Context<'_>,
        flag_id: ID,
        accept: bool,
        note: String,
    ) -> Result<SupervisionFlag> {
        let actor = actor(ctx).await?;
        Ok(outcomes::resolve_flag(
            services(ctx),
            actor,
            parse_id(&flag_id, "flagId")?,
            accept,
            &note,
        )
        .await?
        .into())
    }

    /// Break-glass: a supervisor of the division reveals, to themselves
    /// only, who gave which opinion on a closed secret topic, with the
    /// legal reason; audited and on the public record.
    async fn reveal_secret_topic(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
        legal_reason: String,
    ) -> Result<Topic> {
        let actor = actor(ctx).await?;
        let svc = services(ctx);
        let id = parse_id(&topic_id, "topicId")?;
        topics::secrecy::reveal(svc, actor, id, &legal_reason).await?;
        Ok(Topic(topics::get(svc.db.reader(), id).await?))
    }

    /// Records an explanation given face to face to a dissenter.
    async fn record_in_person_explanation(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
        input: InPersonExplanationInput,
    ) -> Result<InPersonExplanation> {
        let actor = actor(ctx).await?;
        Ok(explanations::record_in_person(
            services(ctx),
            actor,
            parse_id(&topic_id, "topicId")?,
            NewInPerson {
                opinion_id: parse_id(&input.opinion_id, "opinionId")?,
                explained_by: input.explained_by,
                explained_at: input.explained_at,
                place: input.place,
                response: input.response.into(),
                note: input.note,
            },
        )
        .await?
        .into())
    }
}

/// The public record of `topic`, oldest first.
pub(crate) async fn topic_record(
    ctx: &Context<'_>,
    topic: &topics::Topic,
) -> Result<Vec<RecordEntry>> {
    Ok(record::of_topic(services(ctx).db.reader(), topic.id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Every extension of `topic`'s deadline, oldest first.
pub(crate) async fn topic_extensions(
    ctx: &Context<'_>,
    topic: &topics::Topic,
) -> Result<Vec<DeadlineExtension>> {
    Ok(outcomes::extensions(services(ctx).db.reader(), topic.id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Whether the viewer reads the topic's opinions (its staff).
async fn staff_of(ctx: &Context<'_>, topic: &topics::Topic) -> Result<bool> {
    Ok(super::context::optional_actor(ctx)
        .await?
        .is_some_and(|a| crate::domain::disclosure::reads_opinions(a, topic)))
}

/// How many dissenters have had no explanation yet (staff only; null for
/// others).
pub(crate) async fn topic_unexplained(
    ctx: &Context<'_>,
    topic: &topics::Topic,
) -> Result<Option<i64>> {
    if !staff_of(ctx, topic).await? {
        return Ok(None);
    }
    let n = explanations::unexplained_dissenters(services(ctx).db.reader(), topic).await?;
    Ok(Some(i64::try_from(n).unwrap_or(i64::MAX)))
}

/// The face-to-face explanations of `topic` (staff only; empty for others).
pub(crate) async fn topic_in_person(
    ctx: &Context<'_>,
    topic: &topics::Topic,
) -> Result<Vec<InPersonExplanation>> {
    if !staff_of(ctx, topic).await? {
        return Ok(Vec::new());
    }
    let actor = actor(ctx).await?;
    Ok(
        explanations::in_person_of_topic(services(ctx), actor, topic.id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    )
}

/// A move or exception on a topic (see `Topic.viewerActions`).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum TopicAction {
    Edit,
    Announce,
    Open,
    Close,
    RequestEarlyClose,
    CountersignEarlyClose,
    Withdraw,
    PublishOutcome,
    StartImplementation,
    PublishProgress,
    Complete,
    ExtendDeadline,
    CorrectOutcome,
    FlagOutcome,
    FlagProcedure,
    ResolveFlag,
    RecordInPersonExplanation,
    RevealSecret,
}

mirror_enum!(TopicAction <=> actions::TopicAction {
    Edit, Announce, Open, Close, RequestEarlyClose, CountersignEarlyClose, Withdraw,
    PublishOutcome, StartImplementation, PublishProgress, Complete, ExtendDeadline,
    CorrectOutcome, FlagOutcome, FlagProcedure, ResolveFlag, RecordInPersonExplanation,
    RevealSecret,
});

/// An action the viewer is offered: allowed now, or blocked with the code
/// and message the mutation would answer.
#[derive(SimpleObject)]
pub struct ActionOffer {
    pub action: TopicAction,
    pub allowed: bool,
    pub blocked_code: Option<String>,
    pub blocked_reason: Option<String>,
}

/// What the viewer may do to `topic` now (empty when signed out).
pub(crate) async fn topic_viewer_actions(
    ctx: &Context<'_>,
    topic: &topics::Topic,
) -> Result<Vec<ActionOffer>> {
    let Some(actor) = super::context::optional_actor(ctx).await? else {
        return Ok(Vec::new());
    };
    let svc = services(ctx);
    Ok(actions::offered(svc, actor, topic, svc.now())
        .await?
        .into_iter()
        .map(|o| ActionOffer {
            action: o.action.into(),
            allowed: o.blocked.is_none(),
            blocked_code: o.blocked.as_ref().map(|e| e.code().to_owned()),
            blocked_reason: o.blocked.as_ref().map(crate::error::Error::public_message),
        })
        .collect())
}

/// A division's figures on its notice board.
#[derive(SimpleObject)]
pub struct BoardTally {
    pub announced: i64,
    pub open: i64,
    pub implementing: i64,
    pub decisions_overdue: i64,
    pub implementations_overdue: i64,
    pub explanations_overdue: i64,
    pub suggestions_overdue: i64,
    pub reports_overdue: i64,
    pub overdue: i64,
    pub completed: i64,
    pub completed_on_time: i64,
    /// Completed by the original deadline over all completed.
    pub on_time_rate: Option<f64>,
}

impl From<&notice_board::Tally> for BoardTally {
    fn from(t: &notice_board::Tally) -> Self {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        Self {
            announced: n(t.announced),
            open: n(t.open),
            implementing: n(t.implementing),
            decisions_overdue: n(t.decisions_overdue),
            implementations_overdue: n(t.implementations_overdue),
            explanations_overdue: n(t.explanations_overdue),
            suggestions_overdue: n(t.suggestions_overdue),
            reports_overdue: n(t.reports_overdue),
            overdue: n(t.overdue()),
            completed: n(t.completed),
            completed_on_time: n(t.completed_on_time),
            on_time_rate: t.on_time_rate(),
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum OverdueKind {
    /// Closed, and the outcome is past due.
    Decision,
    /// Past the implementation deadline.
    Implementation,
    /// Dissenters unanswered past due.
    Explanation,
    /// An entrusted matter not reported to government in time.
    Report,
}

#[derive(SimpleObject)]
pub struct OverdueItem {
    pub kind: OverdueKind,
    pub topic: Topic,
}

#[derive(SimpleObject)]
pub struct BoardRow {
    pub division: super::types::Division,
    pub tally: BoardTally,
}

/// The public notice board (公开栏) of a division.
#[derive(SimpleObject)]
pub struct NoticeBoard {
    pub division: super::types::Division,
    pub tally: BoardTally,
    pub announced: Vec<Topic>,
    pub open: Vec<Topic>,
    pub implementing: Vec<Topic>,
    pub overdue: Vec<OverdueItem>,
    /// Suggestions past their answer's due time (the newest 100; all are
    /// counted in `tally`).
    pub overdue_suggestions: Vec<super::suggestions::Suggestion>,
    /// One row per division directly below.
    pub rows: Vec<BoardRow>,
    /// More topics exist than the board reads; its figures cover the newest.
    pub truncated: bool,
}

#[derive(Default)]
pub struct NoticeBoardQuery;

#[Object]
impl NoticeBoardQuery {
    /// The public notice board of a village, township, county or above:
    /// announced and open topics, outcomes and their deadlines, everything
    /// overdue and the on-time rate. No sign-in needed.
    #[graphql(complexity = "500 + 50 * child_complexity")]
    async fn notice_board(&self, ctx: &Context<'_>, division_code: String) -> Result<NoticeBoard> {
        let board = notice_board::board(services(ctx), &division_code).await?;
        let topics = |list: Vec<topics::Topic>| list.into_iter().map(Topic).collect::<Vec<_>>();
        Ok(NoticeBoard {
            division: super::types::Division(board.division),
            tally: (&board.tally).into(),
            announced: topics(board.announced),
            open: topics(board.open),
            implementing: topics(board.implementing),
            overdue: board
                .overdue
                .into_iter()
                .map(|(kind, topic)| OverdueItem {
                    kind: match kind {
                        notice_board::Overdue::Decision => OverdueKind::Decision,
                        notice_board::Overdue::Implementation => OverdueKind::Implementation,
                        notice_board::Overdue::Explanation => OverdueKind::Explanation,
                        notice_board::Overdue::Report => OverdueKind::Report,
                    },
                    topic: Topic(topic),
                })
                .collect(),
            overdue_suggestions: board
                .overdue_suggestions
                .into_iter()
                .map(super::suggestions::Suggestion)
                .collect(),
            rows: board
                .rows
                .into_iter()
                .map(|(division, tally)| BoardRow {
                    division: super::types::Division(division),
                    tally: (&tally).into(),
                })
                .collect(),
            truncated: board.truncated,
        })
    }
}
