//! Referral to the level above (乡镇与村协商联动) and the report of
//! entrusted matters (受委托事项) in the API.

use async_graphql::{Context, Enum, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::context::{actor, optional_actor, services};
use super::suggestions::Suggestion;
use super::topics::Topic;
use super::types::{parse_id, Division};
use crate::domain::referrals::{self, SourceKind};
use crate::domain::{entrusted, suggestions, topics};

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ReferralSourceKind {
    Topic,
    Suggestion,
}

mirror_enum!(ReferralSourceKind <=> SourceKind { Topic, Suggestion });

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ReferralStatus {
    /// Waiting for the upper level.
    Pending,
    Accepted,
    Declined,
}

mirror_enum!(ReferralStatus <=> referrals::Status { Pending, Accepted, Declined });

/// A topic or suggestion referred to the division directly above. Public:
/// who referred or answered is on the topic's record as a role and a
/// division.
pub struct Referral(pub referrals::Referral);

// `fromTopic`, `fromDivision`…: GraphQL fields, not conversions.
#[allow(clippy::wrong_self_convention)]
#[Object]
impl Referral {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn from_kind(&self) -> ReferralSourceKind {
        SourceKind::parse(&self.0.from_kind).map_or(ReferralSourceKind::Topic, Into::into)
    }

    /// The id of the topic or suggestion referred.
    async fn from_id(&self) -> ID {
        ID(self.0.from_id.to_string())
    }

    /// The topic referred, when it is one the viewer may see.
    async fn from_topic(&self, ctx: &Context<'_>) -> Result<Option<Topic>> {
        if self.0.from_kind != SourceKind::Topic.as_str() {
            return Ok(None);
        }
        visible_topic(ctx, self.0.from_id).await
    }

    /// The suggestion referred.
    async fn from_suggestion(&self, ctx: &Context<'_>) -> Result<Option<Suggestion>> {
        if self.0.from_kind != SourceKind::Suggestion.as_str() {
            return Ok(None);
        }
        Ok(Some(Suggestion(
            suggestions::get(services(ctx).db.reader(), self.0.from_id).await?,
        )))
    }

    async fn from_division_code(&self) -> &str {
        &self.0.from_division
    }

    async fn from_division(&self, ctx: &Context<'_>) -> Result<Option<Division>> {
        Ok(super::loaders::division(ctx, &self.0.from_division)
            .await?
            .map(Division))
    }

    async fn to_division_code(&self) -> &str {
        &self.0.to_division
    }

    async fn to_division(&self, ctx: &Context<'_>) -> Result<Option<Division>> {
        Ok(super::loaders::division(ctx, &self.0.to_division)
            .await?
            .map(Division))
    }

    /// Why it was referred (public).
    async fn reason(&self) -> &str {
        &self.0.reason
    }

    async fn referred_at(&self) -> DateTime<Utc> {
        self.0.referred_at
    }

    async fn status(&self) -> ReferralStatus {
        referrals::Status::parse(&self.0.status).map_or(ReferralStatus::Pending, Into::into)
    }

    /// The upper level's words: why it declined, or what it will do.
    async fn answer(&self) -> Option<&str> {
        self.0.answer.as_deref()
    }

    async fn answered_at(&self) -> Option<DateTime<Utc>> {
        self.0.answered_at
    }

    /// The id of the topic the upper level opened for it.
    async fn topic_id(&self) -> Option<ID> {
        self.0.topic_id.map(|id| ID(id.to_string()))
    }

    /// The topic the upper level opened for it, when the viewer may see it
    /// (a draft only to its staff).
    async fn topic(&self, ctx: &Context<'_>) -> Result<Option<Topic>> {
        match self.0.topic_id {
            Some(id) => visible_topic(ctx, id).await,
            None => Ok(None),
        }
    }
}

async fn visible_topic(ctx: &Context<'_>, id: i64) -> Result<Option<Topic>> {
    let viewer = optional_actor(ctx).await?;
    let topic = topics::get(services(ctx).db.reader(), id).await?;
    Ok(topics::is_visible(&topic, viewer).then_some(Topic(topic)))
}

/// Where a topic was referred, newest first.
pub(crate) async fn topic_referred_to(
    ctx: &Context<'_>,
    topic: &topics::Topic,
) -> Result<Vec<Referral>> {
    Ok(
        referrals::of_source(services(ctx).db.reader(), SourceKind::Topic, topic.id)
            .await?
            .into_iter()
            .map(Referral)
            .collect(),
    )
}

/// Where a suggestion was referred, newest first.
pub(crate) async fn suggestion_referred_to(
    ctx: &Context<'_>,
    suggestion: &suggestions::Suggestion,
) -> Result<Vec<Referral>> {
    Ok(referrals::of_source(
        services(ctx).db.reader(),
        SourceKind::Suggestion,
        suggestion.id,
    )
    .await?
    .into_iter()
    .map(Referral)
    .collect())
}

/// The referrals an upper level's topic answers.
pub(crate) async fn topic_referred_from(
    ctx: &Context<'_>,
    topic: &topics::Topic,
) -> Result<Vec<Referral>> {
    Ok(referrals::linked_to(services(ctx).db.reader(), topic.id)
        .await?
        .into_iter()
        .map(Referral)
        .collect())
}

/// The report of an entrusted matter to the body that entrusted it.
pub struct EntrustedReport(pub entrusted::EntrustedReport);

#[Object]
impl EntrustedReport {
    /// The body the report went to.
    async fn submitted_to(&self) -> &str {
        &self.0.submitted_to
    }

    async fn submitted_at(&self) -> DateTime<Utc> {
        self.0.submitted_at
    }

    async fn summary(&self) -> &str {
        &self.0.summary
    }

    /// When the body acknowledged it.
    async fn acknowledged_at(&self) -> Option<DateTime<Utc>> {
        self.0.acknowledged_at
    }

    /// The acknowledgement's reference (a document number, a receipt).
    async fn acknowledgement_reference(&self) -> Option<&str> {
        self.0.ack_reference.as_deref()
    }
}

/// The reporting duty of `topic`.
pub(crate) async fn topic_report_duty(
    ctx: &Context<'_>,
    topic: &topics::Topic,
) -> Result<Option<entrusted::Duty>> {
    let svc = services(ctx);
    Ok(entrusted::duty(svc.db.reader(), topic, svc.settings.report_due).await?)
}

pub(crate) async fn topic_report(
    ctx: &Context<'_>,
    topic: &topics::Topic,
) -> Result<Option<EntrustedReport>> {
    Ok(entrusted::of_topic(services(ctx).db.reader(), topic.id)
        .await?
        .map(EntrustedReport))
}

pub(crate) async fn topic_report_overdue(ctx: &Context<'_>, topic: &topics::Topic) -> Result<bool> {
    let svc = services(ctx);
    let duty = topic_report_duty(ctx, topic).await?;
    if duty.is_none() {
        return Ok(false);
    }
    let report = entrusted::of_topic(svc.db.reader(), topic.id).await?;
    Ok(entrusted::is_overdue(
        duty.as_ref(),
        report.as_ref(),
        svc.now(),
    ))
}

/// A division's suggestions left unanswered past their due time.
pub struct OverdueSuggestions(suggestions::Overdue);

#[Object]
impl OverdueSuggestions {
    /// How many (all of them).
    async fn count(&self) -> i64 {
        i64::try_from(self.0.count).unwrap_or(i64::MAX)
    }

    /// The longest overdue first, at most 100.
    async fn items(&self) -> Vec<Suggestion> {
        self.0.items.iter().cloned().map(Suggestion).collect()
    }
}

/// A topic whose report to the entrusting body is overdue.
#[derive(SimpleObject)]
pub struct OverdueReport {
    pub topic: Topic,
    pub entrusted_by: String,
    pub due_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct ReferralsQuery;

#[Object]
impl ReferralsQuery {
    /// One referral (public).
    async fn referral(&self, ctx: &Context<'_>, id: ID) -> Result<Referral> {
        Ok(Referral(
            referrals::get(services(ctx).db.reader(), parse_id(&id, "id")?).await?,
        ))
    }

    /// Referrals addressed to `divisionCode` or a division inside it (or,
    /// without it, to the divisions I organise), oldest first: the inbox of
    /// the upper level's organisers.
    #[graphql(complexity = "super::limits::list_cost(first, 50, 200, child_complexity)")]
    async fn referrals(
        &self,
        ctx: &Context<'_>,
        division_code: Option<String>,
        status: Option<ReferralStatus>,
        #[graphql(desc = "At most this many (default 50, at most 200).")] first: Option<i32>,
    ) -> Result<Vec<Referral>> {
        let actor = actor(ctx).await?;
        let first = u64::try_from(first.unwrap_or(50)).unwrap_or(0);
        Ok(referrals::inbox(
            services(ctx),
            actor,
            division_code.as_deref(),
            status.map(Into::into),
            first,
        )
        .await?
        .into_iter()
        .map(Referral)
        .collect())
    }

    /// The suggestions of a division (and the divisions inside it) left
    /// unanswered past their due time (public: the notice board).
    async fn overdue_suggestions(
        &self,
        ctx: &Context<'_>,
        division_code: String,
    ) -> Result<OverdueSuggestions> {
        let svc = services(ctx);
        Ok(OverdueSuggestions(
            suggestions::overdue_in(svc.db.reader(), &division_code, svc.now()).await?,
        ))
    }

    /// The entrusted matters of a division (and the divisions inside it)
    /// whose report to the entrusting body is overdue (public: the notice
    /// board).
    async fn overdue_reports(
        &self,
        ctx: &Context<'_>,
        division_code: String,
    ) -> Result<Vec<OverdueReport>> {
        let svc = services(ctx);
        Ok(entrusted::overdue_in(
            svc.db.reader(),
            &division_code,
            svc.settings.report_due,
            svc.now(),
        )
        .await?
        .into_iter()
        .map(|o| OverdueReport {
            topic: Topic(o.topic),
            entrusted_by: o.duty.entrusted_by,
            due_at: o.duty.due_at,
        })
        .collect())
    }
}

#[derive(Default)]
pub struct ReferralsMutation;

#[Object]
impl ReferralsMutation {
    /// Refers a topic of my village (township) to its township (county),
    /// with a public reason (organisers of the topic's division).
    async fn refer_topic(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
        #[graphql(desc = "The division directly above the topic's.")] to_division_code: String,
        reason: String,
    ) -> Result<Referral> {
        let actor = actor(ctx).await?;
        Ok(Referral(
            referrals::refer(
                services(ctx),
                actor,
                SourceKind::Topic,
                parse_id(&topic_id, "topicId")?,
                &to_division_code,
                &reason,
            )
            .await?,
        ))
    }

    /// Refers an open suggestion to the division directly above, with a
    /// public reason: this answers it, and its author is told.
    async fn refer_suggestion(
        &self,
        ctx: &Context<'_>,
        suggestion_id: ID,
        #[graphql(desc = "The division directly above the suggestion's.")] to_division_code: String,
        reason: String,
    ) -> Result<Referral> {
        let actor = actor(ctx).await?;
        Ok(Referral(
            referrals::refer(
                services(ctx),
                actor,
                SourceKind::Suggestion,
                parse_id(&suggestion_id, "suggestionId")?,
                &to_division_code,
                &reason,
            )
            .await?,
        ))
    }

    /// The upper level takes a referral up (its organisers), optionally
    /// with words and the topic it opened for it in its own scope.
    async fn accept_referral(
        &self,
        ctx: &Context<'_>,
        id: ID,
        answer: Option<String>,
        topic_id: Option<ID>,
    ) -> Result<Referral> {
        let actor = actor(ctx).await?;
        let topic_id = topic_id
            .as_ref()
            .map(|t| parse_id(t, "topicId"))
            .transpose()?;
        Ok(Referral(
            referrals::accept(
                services(ctx),
                actor,
                parse_id(&id, "id")?,
                answer.as_deref(),
                topic_id,
            )
            .await?,
        ))
    }

    /// The upper level declines a referral with a public reason.
    async fn decline_referral(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> Result<Referral> {
        let actor = actor(ctx).await?;
        Ok(Referral(
            referrals::decline(services(ctx), actor, parse_id(&id, "id")?, &reason).await?,
        ))
    }

    /// Links the topic the upper level opened (scoped to its own division)
    /// to an accepted referral that has none yet.
    async fn link_referral_topic(
        &self,
        ctx: &Context<'_>,
        id: ID,
        topic_id: ID,
    ) -> Result<Referral> {
        let actor = actor(ctx).await?;
        Ok(Referral(
            referrals::link_topic(
                services(ctx),
                actor,
                parse_id(&id, "id")?,
                parse_id(&topic_id, "topicId")?,
            )
            .await?,
        ))
    }

    /// Records that the report of an entrusted matter went to the body that
    /// entrusted it (the topic's organisers).
    async fn submit_entrusted_report(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
        submitted_to: String,
        submitted_at: DateTime<Utc>,
        summary: String,
    ) -> Result<EntrustedReport> {
        let actor = actor(ctx).await?;
        Ok(EntrustedReport(
            entrusted::submit(
                services(ctx),
                actor,
                parse_id(&topic_id, "topicId")?,
                &submitted_to,
                submitted_at,
                &summary,
            )
            .await?,
        ))
    }

    /// Records the body's acknowledgement of the report (the topic's
    /// organisers).
    async fn acknowledge_entrusted_report(
        &self,
        ctx: &Context<'_>,
        topic_id: ID,
        acknowledged_at: DateTime<Utc>,
        reference: String,
    ) -> Result<EntrustedReport> {
        let actor = actor(ctx).await?;
        Ok(EntrustedReport(
            entrusted::acknowledge(
                services(ctx),
                actor,
                parse_id(&topic_id, "topicId")?,
                acknowledged_at,
                &reference,
            )
            .await?,
        ))
    }
}
