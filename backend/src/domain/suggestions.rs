//! Topic suggestions (议题建议): the policy asks that topics be proposed
//! "after soliciting views". A verified resident suggests a topic for their
//! village or a division above it (township, county); other residents of that
//! division support it; an organiser of the division adopts it into a draft
//! topic or declines it with a reason.
//!
//! Rules worth knowing:
//! - Suggestions are public, like the topics they may become. The supporter
//!   count is public, who supported is not. The author is shown only to the
//!   author and to organisers and supervisors of the division (see
//!   [`author_visible_to`]), so a resident can raise an awkward matter without
//!   being named to the whole village.
//! - The author does not count as a supporter and cannot support their own
//!   suggestion; `supporters` always equals the rows of `suggestion_supports`,
//!   both written in one transaction.
//! - Support is given and withdrawn only while the suggestion is open; once
//!   decided the count is frozen.
//! - Adopting creates the draft topic and marks the suggestion adopted in one
//!   transaction; the conditional `WHERE status = 'open'` update makes
//!   concurrent adopt/decline calls race safely: exactly one wins, the others
//!   get `CONFLICT` and their work (including a half-made topic) is rolled back.
//! - Answering in time: when a suggestion's supporters reach
//!   `YISHI_SUGGESTION_ANSWER_THRESHOLD`, the moment is recorded with the
//!   answer due `YISHI_SUGGESTION_ANSWER_DAYS` later (fixed then, so a later
//!   configuration change does not move it; support withdrawn afterwards
//!   does not undo it either). Open past that due time it is overdue
//!   ([`is_answer_overdue`]) and counts on the division's public record
//!   ([`overdue_in`]). Adopting, declining or referring it to the level
//!   above (see `referrals`) answers it, and each answer tells the author,
//!   in the app and by email, once.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::authz::{Action, Actor};
use super::divisions::{self, Level};
use super::notifications::Audience;
use super::outbox::EmailKind;
use super::topics::{self, Category, Kind, Topic, TopicDraft};
use super::{audit, residency, Services};
use crate::entities::{suggestion_supports, suggestions};
use crate::error::{conflict_on_unique, Error, Result};

pub use suggestions::Model as Suggestion;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Open,
    Adopted,
    Declined,
    /// Referred to the level above (乡镇与村协商联动); see `referrals`.
    Referred,
}

impl Status {
    pub const ALL: [Self; 4] = [Self::Open, Self::Adopted, Self::Declined, Self::Referred];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Adopted => "adopted",
            Self::Declined => "declined",
            Self::Referred => "referred",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

pub const MAX_TITLE: usize = 200;
pub const MAX_BODY: usize = 5_000;
pub const MAX_REASON: usize = 500;
/// Open suggestions one resident may have at a time (a brake on flooding).
pub const MAX_OPEN_PER_AUTHOR: u64 = 20;

/// What a resident fills in to suggest a topic.
#[derive(Debug, Clone)]
pub struct NewSuggestion {
    /// A village, township or county containing the author's village;
    /// `None` for the author's own village.
    pub division_code: Option<String>,
    pub title: String,
    pub body: String,
    pub category: Category,
}

/// Suggests a topic.
///
/// # Errors
/// `BAD_USER_INPUT` for a bad title, body or division; `FORBIDDEN` unless the
/// user is a verified resident living inside the division; `NOT_FOUND` for an
/// unknown division; `CONFLICT` past [`MAX_OPEN_PER_AUTHOR`] open suggestions.
pub async fn suggest(svc: &Services, user_id: i32, new: NewSuggestion) -> Result<Suggestion> {
    let title = new.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        return Err(Error::bad_input(
            "title",
            format!("a title has 1 to {MAX_TITLE} characters"),
        ));
    }
    let body = new.body.trim().to_owned();
    if body.is_empty() || body.chars().count() > MAX_BODY {
        return Err(Error::bad_input(
            "body",
            format!("a suggestion has 1 to {MAX_BODY} characters"),
        ));
    }
    let requested = new
        .division_code
        .as_deref()
        .map(|c| divisions::normalize_code(c, "divisionCode"))
        .transpose()?;
    if let Some(code) = &requested {
        if !matches!(
            divisions::level_of(code),
            Some(Level::Village | Level::Township | Level::County)
        ) {
            return Err(Error::bad_input(
                "divisionCode",
                "a topic is suggested for a village/community, a township/street or a county",
            ));
        }
    }
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let home = residency::current(&txn, user_id).await?.ok_or_else(|| {
        Error::forbidden(
            "only verified residents suggest topics; ask your village to verify your residency",
        )
    })?;
    let code = requested.unwrap_or_else(|| home.division_code.clone());
    if !divisions::contains(&code, &home.division_code) {
        return Err(Error::forbidden(
            "you may suggest topics only for the village, township or county you live in",
        ));
    }
    divisions::get(&txn, &code).await?;
    let open = suggestions::Entity::find()
        .filter(suggestions::Column::AuthorUserId.eq(user_id))
        .filter(suggestions::Column::Status.eq(Status::Open.as_str()))
        .count(&txn)
        .await?;
    if open >= MAX_OPEN_PER_AUTHOR {
        return Err(Error::conflict(format!(
            "you already have {MAX_OPEN_PER_AUTHOR} open suggestions; wait for a decision on some of them"
        )));
    }
    let row = suggestions::ActiveModel {
        division_code: Set(code),
        author_user_id: Set(user_id),
        title: Set(title),
        body: Set(body),
        category: Set(new.category.as_str().to_owned()),
        status: Set(Status::Open.as_str().to_owned()),
        decline_reason: Set(None),
        topic_id: Set(None),
        supporters: Set(0),
        created_at: Set(now),
        decided_at: Set(None),
        decided_by: Set(None),
        threshold_reached_at: Set(None),
        answer_due_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(row)
}

/// Adds the user's support to an open suggestion.
///
/// # Errors
/// `NOT_FOUND`; `FORBIDDEN` unless a verified resident inside the
/// suggestion's division other than its author; `CONFLICT` when already
/// supported or no longer open.
pub async fn support(svc: &Services, user_id: i32, id: i64) -> Result<Suggestion> {
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let suggestion = get(&txn, id).await?;
    if suggestion.author_user_id == user_id {
        return Err(Error::forbidden("you cannot support your own suggestion"));
    }
    let home = residency::current(&txn, user_id).await?.ok_or_else(|| {
        Error::forbidden(
            "only verified residents support suggestions; ask your village to verify your residency",
        )
    })?;
    if !divisions::contains(&suggestion.division_code, &home.division_code) {
        return Err(Error::forbidden(
            "this suggestion is for residents of another division",
        ));
    }
    ensure_open(&suggestion)?;
    suggestion_supports::ActiveModel {
        suggestion_id: Set(id),
        user_id: Set(user_id),
        created_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| conflict_on_unique(e, || "you already support this suggestion".to_owned()))?;
    bump_supporters(&txn, id, 1).await?;
    mark_threshold(
        &txn,
        id,
        svc.settings.suggestion_answer_threshold,
        svc.settings.suggestion_answer_within,
        now,
    )
    .await?;
    let updated = get(&txn, id).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Takes back the user's support while the suggestion is open.
///
/// # Errors
/// `NOT_FOUND` for an unknown suggestion or when the user does not support
/// it; `CONFLICT` when it is no longer open.
pub async fn withdraw_support(svc: &Services, user_id: i32, id: i64) -> Result<Suggestion> {
    let txn = svc.db.begin().await?;
    let suggestion = get(&txn, id).await?;
    ensure_open(&suggestion)?;
    let deleted = suggestion_supports::Entity::delete_by_id((id, user_id))
        .exec(&txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(Error::not_found("your support of this suggestion"));
    }
    bump_supporters(&txn, id, -1).await?;
    let updated = get(&txn, id).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Changes the counter by `delta`, only while the suggestion is open (a
/// decision committed meanwhile wins; the caller's transaction rolls back).
async fn bump_supporters(db: &impl ConnectionTrait, id: i64, delta: i32) -> Result<()> {
    let done = suggestions::Entity::update_many()
        .col_expr(
            suggestions::Column::Supporters,
            Expr::col(suggestions::Column::Supporters).add(delta),
        )
        .filter(suggestions::Column::Id.eq(id))
        .filter(suggestions::Column::Status.eq(Status::Open.as_str()))
        .exec(db)
        .await?;
    if done.rows_affected == 0 {
        return Err(Error::conflict(
            "this suggestion has been decided; support can no longer change",
        ));
    }
    Ok(())
}

/// Records the moment the suggestion's support reached `threshold`, and the
/// answer due `within` after it, the first time it does (one conditional
/// update: concurrent supports record it once).
async fn mark_threshold(
    db: &impl ConnectionTrait,
    id: i64,
    threshold: i32,
    within: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<()> {
    suggestions::Entity::update_many()
        .col_expr(suggestions::Column::ThresholdReachedAt, Expr::value(now))
        .col_expr(suggestions::Column::AnswerDueAt, Expr::value(now + within))
        .filter(suggestions::Column::Id.eq(id))
        .filter(suggestions::Column::ThresholdReachedAt.is_null())
        .filter(suggestions::Column::Supporters.gte(threshold))
        .exec(db)
        .await?;
    Ok(())
}

/// Whether an open suggestion has waited past the time it had to be
/// answered in (the one rule; [`overdue_in`] is its query form).
pub fn is_answer_overdue(suggestion: &Suggestion, now: DateTime<Utc>) -> bool {
    suggestion.status == Status::Open.as_str()
        && suggestion.answer_due_at.is_some_and(|due| due < now)
}

/// The suggestions of a division (or any division inside it) left
/// unanswered past their due time: how many, and the longest overdue first
/// (at most [`OVERDUE_ITEMS`]). Public: the division's notice board.
#[derive(Debug, Clone)]
pub struct Overdue {
    pub count: u64,
    pub items: Vec<Suggestion>,
}

/// At most this many overdue suggestions are listed (all are counted).
pub const OVERDUE_ITEMS: u64 = 100;

/// See [`Overdue`].
///
/// # Errors
/// `BAD_USER_INPUT` for a malformed code; database errors.
pub async fn overdue_in(
    db: &impl ConnectionTrait,
    division_code: &str,
    now: DateTime<Utc>,
) -> Result<Overdue> {
    let code = divisions::normalize_code(division_code, "divisionCode")?;
    let cond = Condition::all()
        .add(divisions::within(suggestions::Column::DivisionCode, &code))
        .add(suggestions::Column::Status.eq(Status::Open.as_str()))
        .add(suggestions::Column::AnswerDueAt.lt(now));
    let count = suggestions::Entity::find()
        .filter(cond.clone())
        .count(db)
        .await?;
    let items = suggestions::Entity::find()
        .filter(cond)
        .order_by_asc(suggestions::Column::AnswerDueAt)
        .order_by_asc(suggestions::Column::Id)
        .limit(OVERDUE_ITEMS)
        .all(db)
        .await?;
    Ok(Overdue { count, items })
}

/// How a suggestion was answered, as its author is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Adopted,
    Declined,
    /// Referred to the level above.
    Referred,
    /// The level above took the referral up.
    ReferralAccepted,
    /// The level above declined the referral.
    ReferralDeclined,
}

impl Answer {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Adopted => "adopted",
            Self::Declined => "declined",
            Self::Referred => "referred",
            Self::ReferralAccepted => "referral_accepted",
            Self::ReferralDeclined => "referral_declined",
        }
    }
}

/// Tells the author of `suggestion`, in the app and by email, how it was
/// answered; `event` keys the notice (one per answer, however often called).
/// `division` is the division the answer concerns (the level referred to).
///
/// # Errors
/// Database errors.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn tell_author(
    svc: &Services,
    db: &impl ConnectionTrait,
    suggestion: &Suggestion,
    answer: Answer,
    event: &str,
    reason: Option<&str>,
    division: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    let division_name = match division {
        Some(code) => divisions::find(db, code)
            .await?
            .map_or_else(|| code.to_owned(), |d| d.name),
        None => String::new(),
    };
    super::notifications::notify(
        db,
        &Audience::User {
            user_id: suggestion.author_user_id,
        },
        EmailKind::SuggestionAnswered,
        None,
        event,
        &serde_json::json!({
            "suggestion_id": suggestion.id,
            "title": suggestion.title,
            "answer": answer.as_str(),
            "reason": reason,
            "division_name": division_name,
            "topic_id": suggestion.topic_id,
            "link": format!("{}/suggestions?mine=1", svc.settings.public_url),
        }),
        now,
    )
    .await?;
    Ok(())
}

/// Marks an open suggestion referred to the level above, inside the
/// referral's transaction (see `referrals::refer`).
///
/// # Errors
/// `CONFLICT` when it is no longer open.
pub(crate) async fn mark_referred(
    db: &impl ConnectionTrait,
    suggestion: &Suggestion,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Suggestion> {
    ensure_open(suggestion)?;
    // The reason lives on the referral, not as a decline reason.
    decide_open(db, suggestion.id, Status::Referred, actor, now, None, None).await?;
    get(db, suggestion.id).await
}

/// Opens a referred suggestion again when the level above declines the
/// referral: the division it was suggested for answers it itself. When its
/// support had reached the threshold, the answer is due afresh `within`
/// from now (the division did answer in time, by referring it).
///
/// # Errors
/// `CONFLICT` unless it is referred.
pub(crate) async fn reopen_after_referral(
    db: &impl ConnectionTrait,
    suggestion: &Suggestion,
    within: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<Suggestion> {
    let mut update = suggestions::Entity::update_many()
        .col_expr(
            suggestions::Column::Status,
            Expr::value(Status::Open.as_str()),
        )
        .col_expr(
            suggestions::Column::DecidedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            suggestions::Column::DecidedBy,
            Expr::value(Option::<i32>::None),
        );
    if suggestion.threshold_reached_at.is_some() {
        update = update.col_expr(suggestions::Column::AnswerDueAt, Expr::value(now + within));
    }
    let done = update
        .filter(suggestions::Column::Id.eq(suggestion.id))
        .filter(suggestions::Column::Status.eq(Status::Referred.as_str()))
        .exec(db)
        .await?;
    if done.rows_affected == 0 {
        return Err(Error::conflict(
            "this suggestion is not waiting on a referral; reload it",
        ));
    }
    get(db, suggestion.id).await
}

fn ensure_open(suggestion: &Suggestion) -> Result<()> {
    if suggestion.status == Status::Open.as_str() {
        Ok(())
    } else {
        Err(Error::conflict(format!(
            "this suggestion is {}; only open suggestions can be supported or decided",
            suggestion.status
        )))
    }
}

/// How an organiser wants the adopted topic set up; everything else comes
/// from the suggestion and can be edited on the draft afterwards.
#[derive(Debug, Clone, Default)]
pub struct Adoption {
    /// `DECISION` when not given.
    pub kind: Option<Kind>,
    /// The options of a `CHOICE` topic.
    pub options: Vec<String>,
    pub opens_at: Option<DateTime<Utc>>,
    pub closes_at: Option<DateTime<Utc>>,
}

/// Adopts an open suggestion: creates a draft topic scoped to the
/// suggestion's division with its title, text and category, and links it.
///
/// # Errors
/// `NOT_FOUND`; `FORBIDDEN` outside the organiser's division; `CONFLICT` when
/// already decided; `BAD_USER_INPUT` for an invalid kind, options or times.
pub async fn adopt(
    svc: &Services,
    actor: &Actor,
    id: i64,
    adoption: Adoption,
) -> Result<(Suggestion, Topic)> {
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let suggestion = get(&txn, id).await?;
    actor.require(Action::ManageTopics, &suggestion.division_code)?;
    ensure_open(&suggestion)?;
    let draft = TopicDraft {
        title: suggestion.title.clone(),
        body: suggestion.body.clone(),
        category: Some(Category::parse(&suggestion.category).unwrap_or(Category::Other)),
        kind: Some(adoption.kind.unwrap_or(Kind::Decision)),
        scope_code: suggestion.division_code.clone(),
        options: adoption.options,
        opens_at: adoption.opens_at,
        closes_at: adoption.closes_at,
        ..TopicDraft::default()
    };
    let topic = topics::create_in(&txn, actor, draft, now).await?;
    decide_open(&txn, id, Status::Adopted, actor, now, Some(topic.id), None).await?;
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "suggestion.adopt",
            subject_type: "suggestion",
            subject_id: id.to_string(),
            division_code: Some(suggestion.division_code.clone()),
            detail: serde_json::json!({
                "topic_id": topic.id,
                "title": suggestion.title,
                "supporters": suggestion.supporters,
            }),
        },
        now,
    )
    .await?;
    let adopted = get(&txn, id).await?;
    tell_author(
        svc,
        &txn,
        &adopted,
        Answer::Adopted,
        &format!("suggestion:{id}:adopted"),
        None,
        None,
        now,
    )
    .await?;
    txn.commit().await?;
    Ok((adopted, topic))
}

/// Declines an open suggestion, saying why (the author and the public see
/// the reason).
///
/// # Errors
/// `BAD_USER_INPUT` for a missing or long reason; `NOT_FOUND`; `FORBIDDEN`
/// outside the organiser's division; `CONFLICT` when already decided.
pub async fn decline(svc: &Services, actor: &Actor, id: i64, reason: &str) -> Result<Suggestion> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        return Err(Error::bad_input(
            "reason",
            format!("declining needs a reason of 1 to {MAX_REASON} characters"),
        ));
    }
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let suggestion = get(&txn, id).await?;
    actor.require(Action::ManageTopics, &suggestion.division_code)?;
    ensure_open(&suggestion)?;
    decide_open(&txn, id, Status::Declined, actor, now, None, Some(reason)).await?;
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "suggestion.decline",
            subject_type: "suggestion",
            subject_id: id.to_string(),
            division_code: Some(suggestion.division_code.clone()),
            detail: serde_json::json!({
                "reason": reason,
                "title": suggestion.title,
                "supporters": suggestion.supporters,
            }),
        },
        now,
    )
    .await?;
    let declined = get(&txn, id).await?;
    tell_author(
        svc,
        &txn,
        &declined,
        Answer::Declined,
        &format!("suggestion:{id}:declined"),
        Some(reason),
        None,
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(declined)
}

/// Moves an open suggestion to `status`; `CONFLICT` when another decision
/// got there first.
async fn decide_open(
    db: &impl ConnectionTrait,
    id: i64,
    status: Status,
    actor: &Actor,
    now: DateTime<Utc>,
    topic_id: Option<i64>,
    reason: Option<&str>,
) -> Result<()> {
    let done = suggestions::Entity::update_many()
        .col_expr(suggestions::Column::Status, Expr::value(status.as_str()))
        .col_expr(suggestions::Column::TopicId, Expr::value(topic_id))
        .col_expr(
            suggestions::Column::DeclineReason,
            Expr::value(reason.map(str::to_owned)),
        )
        .col_expr(suggestions::Column::DecidedAt, Expr::value(Some(now)))
        .col_expr(
            suggestions::Column::DecidedBy,
            Expr::value(Some(actor.user_id)),
        )
        .filter(suggestions::Column::Id.eq(id))
        .filter(suggestions::Column::Status.eq(Status::Open.as_str()))
        .exec(db)
        .await?;
    if done.rows_affected == 0 {
        return Err(Error::conflict(
            "this suggestion was decided meanwhile; reload it",
        ));
    }
    Ok(())
}

/// One suggestion by id.
///
/// # Errors
/// `NOT_FOUND`.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Suggestion> {
    suggestions::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("suggestion {id}")))
}

/// Whether `user_id` supports suggestion `id`.
///
/// # Errors
/// Database errors only.
pub async fn is_supported_by(db: &impl ConnectionTrait, id: i64, user_id: i32) -> Result<bool> {
    Ok(suggestion_supports::Entity::find_by_id((id, user_id))
        .one(db)
        .await?
        .is_some())
}

/// Whether `viewer` may see who wrote the suggestion: its author, and the
/// organisers and supervisors of its division.
pub fn author_visible_to(suggestion: &Suggestion, viewer: Option<&Actor>) -> bool {
    viewer.is_some_and(|a| {
        a.user_id == suggestion.author_user_id
            || a.may(Action::ManageTopics, &suggestion.division_code)
            || a.may(Action::ReadOpinions, &suggestion.division_code)
    })
}

#[derive(Debug, Default, Clone)]
pub struct SuggestionFilter {
    /// Suggestions for this division or any division inside it (organisers,
    /// public pages of a township or county).
    pub within_division: Option<String>,
    /// Suggestions a resident of this division may support: for it or for a
    /// division above it.
    pub for_division: Option<String>,
    pub author_user_id: Option<i32>,
    pub status: Option<Status>,
}

/// Suggestions matching `filter`, newest first, `first` after id `after` (one
/// extra row signals a next page). Public: no viewer needed.
///
/// # Errors
/// `BAD_USER_INPUT` for malformed codes or page size.
pub async fn list(
    svc: &Services,
    filter: &SuggestionFilter,
    first: u64,
    after: Option<i64>,
) -> Result<Vec<Suggestion>> {
    if first == 0 || first > 100 {
        return Err(Error::bad_input("first", "must be between 1 and 100"));
    }
    let mut cond = Condition::all();
    if let Some(code) = &filter.within_division {
        let code = divisions::normalize_code(code, "divisionCode")?;
        cond = cond.add(suggestions::Column::DivisionCode.starts_with(&code));
    }
    if let Some(code) = &filter.for_division {
        let code = divisions::normalize_code(code, "forDivision")?;
        let mut codes = divisions::ancestor_codes(&code);
        codes.push(code);
        cond = cond.add(suggestions::Column::DivisionCode.is_in(codes));
    }
    if let Some(author) = filter.author_user_id {
        cond = cond.add(suggestions::Column::AuthorUserId.eq(author));
    }
    if let Some(status) = filter.status {
        cond = cond.add(suggestions::Column::Status.eq(status.as_str()));
    }
    if let Some(after) = after {
        cond = cond.add(suggestions::Column::Id.lt(after));
    }
    Ok(suggestions::Entity::find()
        .filter(cond)
        .order_by_desc(suggestions::Column::Id)
        .limit(first + 1)
        .all(svc.db.reader())
        .await?)
}

/// Which of the suggestions `ids` `user_id` supports, for batched lookups.
///
/// # Errors
/// Database errors only.
pub async fn supported_among(
    db: &impl ConnectionTrait,
    user_id: i32,
    ids: &[i64],
) -> Result<Vec<i64>> {
    let mut found = Vec::new();
    for chunk in ids.chunks(1_000) {
        found.extend(
            suggestion_supports::Entity::find()
                .filter(suggestion_supports::Column::UserId.eq(user_id))
                .filter(suggestion_supports::Column::SuggestionId.is_in(chunk.iter().copied()))
                .all(db)
                .await?
                .into_iter()
                .map(|s| s.suggestion_id),
        );
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suggestion(author: i32, code: &str) -> Suggestion {
        Suggestion {
            id: 1,
            division_code: code.into(),
            author_user_id: author,
            title: "修建文化广场".into(),
            body: "村里缺少活动场地。".into(),
            category: Category::PublicFacilities.as_str().into(),
            status: Status::Open.as_str().into(),
            decline_reason: None,
            topic_id: None,
            supporters: 0,
            created_at: Utc::now(),
            decided_at: None,
            decided_by: None,
            threshold_reached_at: None,
            answer_due_at: None,
        }
    }

    fn actor(user_id: i32, role: Option<(crate::domain::authz::Role, &str)>) -> Actor {
        Actor {
            user_id,
            assignments: role
                .into_iter()
                .map(|(role, code)| crate::domain::authz::Assignment {
                    role,
                    division_code: code.into(),
                })
                .collect(),
        }
    }

    #[test]
    fn overdue_is_open_past_the_due_time() {
        let now = Utc::now();
        let mut s = suggestion(7, "620123101201");
        assert!(!is_answer_overdue(&s, now));
        s.answer_due_at = Some(now - chrono::Duration::seconds(1));
        assert!(is_answer_overdue(&s, now));
        s.status = Status::Declined.as_str().into();
        assert!(!is_answer_overdue(&s, now));
        s.status = Status::Open.as_str().into();
        s.answer_due_at = Some(now + chrono::Duration::days(1));
        assert!(!is_answer_overdue(&s, now));
    }

    #[test]
    fn statuses_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("closed"), None);
    }

    #[test]
    fn the_author_is_named_to_the_author_and_the_division_officials_only() {
        use crate::domain::authz::Role;
        let s = suggestion(7, "620123101201");
        assert!(!author_visible_to(&s, None));
        assert!(author_visible_to(&s, Some(&actor(7, None))));
        assert!(!author_visible_to(&s, Some(&actor(8, None))));
        assert!(author_visible_to(
            &s,
            Some(&actor(9, Some((Role::Organiser, "620123101"))))
        ));
        assert!(author_visible_to(
            &s,
            Some(&actor(9, Some((Role::Supervisor, "620123"))))
        ));
        assert!(!author_visible_to(
            &s,
            Some(&actor(9, Some((Role::Organiser, "620123100"))))
        ));
        assert!(!author_visible_to(
            &s,
            Some(&actor(9, Some((Role::Expert, "620123"))))
        ));
    }
}
