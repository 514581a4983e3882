//! Topic suggestions (议题建议) in the API.

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Enum, InputObject, Object, Result, ID};
use chrono::{DateTime, Utc};

use super::context::{actor, optional_actor, optional_user_id, services, user_id};
use super::topics::{Topic, TopicKind};
use super::types::{parse_id, Division, TopicCategory};
use crate::domain::suggestions::{self, Adoption, NewSuggestion, SuggestionFilter};
use crate::domain::topics;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum SuggestionStatus {
    /// Collecting support; waiting for an organiser.
    Open,
    /// Made into a draft topic.
    Adopted,
    /// Declined, with a reason.
    Declined,
    /// Referred to the level above (see `referredTo`).
    Referred,
}

mirror_enum!(SuggestionStatus <=> suggestions::Status { Open, Adopted, Declined, Referred });

/// A topic suggested by a resident. Public; who supported it is not.
pub struct Suggestion(pub suggestions::Suggestion);

#[Object]
impl Suggestion {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The village, township or county the suggestion is for.
    async fn division_code(&self) -> &str {
        &self.0.division_code
    }

    async fn division(&self, ctx: &Context<'_>) -> Result<Option<Division>> {
        Ok(super::loaders::division(ctx, &self.0.division_code)
            .await?
            .map(Division))
    }

    async fn title(&self) -> &str {
        &self.0.title
    }

    async fn body(&self) -> &str {
        &self.0.body
    }

    async fn category(&self) -> TopicCategory {
        topics::Category::parse(&self.0.category).map_or(TopicCategory::Other, Into::into)
    }

    async fn status(&self) -> SuggestionStatus {
        suggestions::Status::parse(&self.0.status).map_or(SuggestionStatus::Open, Into::into)
    }

    /// Residents who support it (the author not counted).
    async fn supporters(&self) -> i32 {
        self.0.supporters
    }

    /// Whether the signed-in user supports it (false when anonymous).
    async fn supported_by_me(&self, ctx: &Context<'_>) -> Result<bool> {
        match optional_user_id(ctx)? {
            Some(me) => super::loaders::supports(ctx, me, self.0.id).await,
            None => Ok(false),
        }
    }

    /// Whether the signed-in user wrote it.
    async fn mine(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(optional_user_id(ctx)? == Some(self.0.author_user_id))
    }

    /// The author's display name, shown only to the author and to organisers
    /// and supervisors of the division; null for everyone else.
    async fn author_display_name(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let viewer = optional_actor(ctx).await?;
        if !suggestions::author_visible_to(&self.0, viewer) {
            return Ok(None);
        }
        Ok(Some(
            super::loaders::user(ctx, self.0.author_user_id)
                .await?
                .display_name,
        ))
    }

    /// Why it was declined.
    async fn decline_reason(&self) -> Option<&str> {
        self.0.decline_reason.as_deref()
    }

    /// The topic it was adopted into.
    async fn topic_id(&self) -> Option<ID> {
        self.0.topic_id.map(|id| ID(id.to_string()))
    }

    /// The topic it was adopted into, once the viewer may see it (a draft
    /// only to its organisers, any other state to everyone).
    async fn topic(&self, ctx: &Context<'_>) -> Result<Option<Topic>> {
        let Some(topic_id) = self.0.topic_id else {
            return Ok(None);
        };
        let viewer = optional_actor(ctx).await?;
        let topic = topics::get(services(ctx).db.reader(), topic_id).await?;
        Ok(topics::is_visible(&topic, viewer).then_some(Topic(topic)))
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When it was answered (adopted, declined or referred).
    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at
    }

    /// When its supporters reached the number at which it must be answered
    /// in time (`YISHI_SUGGESTION_ANSWER_THRESHOLD`).
    async fn threshold_reached_at(&self) -> Option<DateTime<Utc>> {
        self.0.threshold_reached_at
    }

    /// When the answer is due (fixed when the threshold was reached).
    async fn answer_due_at(&self) -> Option<DateTime<Utc>> {
        self.0.answer_due_at
    }

    /// Still open past `answerDueAt`; counted on the division's record.
    async fn answer_overdue(&self, ctx: &Context<'_>) -> bool {
        suggestions::is_answer_overdue(&self.0, services(ctx).now())
    }

    /// Where it was referred, newest first.
    async fn referred_to(&self, ctx: &Context<'_>) -> Result<Vec<super::referrals::Referral>> {
        super::referrals::suggestion_referred_to(ctx, &self.0).await
    }
}

#[derive(InputObject)]
pub struct SuggestTopicInput {
    /// A village, township or county containing the author's village;
    /// the author's own village when omitted.
    pub division_code: Option<String>,
    /// 1 to 200 characters.
    pub title: String,
    /// 1 to 5,000 characters.
    pub body: String,
    pub category: TopicCategory,
}

#[derive(Default)]
pub struct SuggestionsQuery;

#[Object]
impl SuggestionsQuery {
    async fn suggestion(&self, ctx: &Context<'_>, id: ID) -> Result<Suggestion> {
        Ok(Suggestion(
            suggestions::get(services(ctx).db.reader(), parse_id(&id, "id")?).await?,
        ))
    }

    /// Suggestions, newest first. `divisionCode`: those for that division or
    /// any division inside it; `forDivision`: those a resident of that
    /// village may support (for it or a division above); `mine`: my own.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::limits::list_cost(first, 20, 100, child_complexity)")]
    async fn suggestions(
        &self,
        ctx: &Context<'_>,
        division_code: Option<String>,
        for_division: Option<String>,
        mine: Option<bool>,
        status: Option<SuggestionStatus>,
        #[graphql(desc = "Page size (default 20, at most 100).")] first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Suggestion, EmptyFields, EmptyFields>> {
        let author_user_id = if mine.unwrap_or(false) {
            Some(user_id(ctx)?)
        } else {
            None
        };
        let filter = SuggestionFilter {
            within_division: division_code,
            for_division,
            author_user_id,
            status: status.map(Into::into),
        };
        let after_id = super::types::parse_cursor::<i64>(after.as_deref())?;
        let first = u64::try_from(first.unwrap_or(20)).unwrap_or(0);
        let rows = suggestions::list(services(ctx), &filter, first, after_id).await?;
        Ok(super::types::page(
            rows,
            first,
            after.is_some(),
            |s| s.id.to_string(),
            Suggestion,
        ))
    }
}

#[derive(Default)]
pub struct SuggestionsMutation;

#[Object]
impl SuggestionsMutation {
    /// Suggests a topic (verified residents, for a division they live in).
    async fn suggest_topic(
        &self,
        ctx: &Context<'_>,
        input: SuggestTopicInput,
    ) -> Result<Suggestion> {
        let new = NewSuggestion {
            division_code: input.division_code,
            title: input.title,
            body: input.body,
            category: input.category.into(),
        };
        Ok(Suggestion(
            suggestions::suggest(services(ctx), user_id(ctx)?, new).await?,
        ))
    }

    /// Supports an open suggestion (verified residents of its division,
    /// once each, not the author).
    async fn support_suggestion(&self, ctx: &Context<'_>, id: ID) -> Result<Suggestion> {
        let id = parse_id(&id, "id")?;
        Ok(Suggestion(
            suggestions::support(services(ctx), user_id(ctx)?, id).await?,
        ))
    }

    /// Takes back my support while the suggestion is open.
    async fn withdraw_suggestion_support(&self, ctx: &Context<'_>, id: ID) -> Result<Suggestion> {
        let id = parse_id(&id, "id")?;
        Ok(Suggestion(
            suggestions::withdraw_support(services(ctx), user_id(ctx)?, id).await?,
        ))
    }

    /// Adopts an open suggestion into a draft topic scoped to its division
    /// (organisers). The draft takes the suggestion's title, text and
    /// category and can be edited before it is announced.
    async fn adopt_suggestion(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(desc = "DECISION when omitted.")] kind: Option<TopicKind>,
        #[graphql(desc = "The options of a CHOICE topic.")] options: Option<Vec<String>>,
        opens_at: Option<DateTime<Utc>>,
        closes_at: Option<DateTime<Utc>>,
    ) -> Result<Suggestion> {
        let actor = actor(ctx).await?;
        let id = parse_id(&id, "id")?;
        let adoption = Adoption {
            kind: kind.map(Into::into),
            options: options.unwrap_or_default(),
            opens_at,
            closes_at,
        };
        let (suggestion, _topic) = suggestions::adopt(services(ctx), actor, id, adoption).await?;
        Ok(Suggestion(suggestion))
    }

    /// Declines an open suggestion with a reason the author and the public
    /// see (organisers).
    async fn decline_suggestion(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> Result<Suggestion> {
        let actor = actor(ctx).await?;
        let id = parse_id(&id, "id")?;
        Ok(Suggestion(
            suggestions::decline(services(ctx), actor, id, &reason).await?,
        ))
    }
}
