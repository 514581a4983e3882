//! Moving a topic through the procedure, by an organiser or on time by the
//! scheduler. Each move is a conditional update (`WHERE state = from`), so
//! when several instances race to open the same topic exactly one wins and
//! only the winner's side effects (emails, audit) commit.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect};

use super::eligible;
use super::model::{self, State, Topic};
use super::notices::{self, Recipients};
use crate::domain::authz::{Action, Actor};
use crate::domain::outbox::EmailKind;
use crate::domain::record::{self, Move, Who};
use crate::domain::{audit, Services};
use crate::entities::topics;
use crate::error::{Error, Result};
use crate::events::Event;

/// Who moves the topic.
#[derive(Debug, Clone, Copy)]
pub enum Trigger<'a> {
    Organiser(&'a Actor),
    /// A supervisor countersigning an organiser's request (an early close).
    Supervisor(&'a Actor),
    /// The scheduler, because a time was reached.
    Schedule,
}

impl Trigger<'_> {
    fn actor_id(&self) -> Option<i32> {
        match self {
            Trigger::Organiser(a) | Trigger::Supervisor(a) => Some(a.user_id),
            Trigger::Schedule => None,
        }
    }

    fn authorize(&self, topic: &Topic) -> Result<()> {
        match self {
            Trigger::Organiser(actor) => actor.require(Action::ManageTopics, &topic.scope_code),
            Trigger::Supervisor(actor) => actor.require(Action::Supervise, &topic.scope_code),
            Trigger::Schedule => Ok(()),
        }
    }

    /// Who the public record names for the move.
    pub(crate) fn who(&self, topic: &Topic) -> Who {
        match self {
            Trigger::Organiser(actor) => {
                Who::acting(actor, Action::ManageTopics, &topic.scope_code)
            }
            Trigger::Supervisor(actor) => Who::acting(actor, Action::Supervise, &topic.scope_code),
            Trigger::Schedule => Who::Schedule,
        }
    }
}

/// What the public record says of a move.
#[derive(Debug, Clone)]
pub(crate) struct Public<'a> {
    pub moved: Move,
    pub reason: Option<&'a str>,
    pub detail: serde_json::Value,
}

impl Public<'_> {
    pub(crate) fn new(moved: Move, detail: serde_json::Value) -> Self {
        Self {
            moved,
            reason: None,
            detail,
        }
    }
}

fn illegal(topic: &Topic, to: State) -> Error {
    let allowed: Vec<&str> = State::sources_of(to).iter().map(|s| s.as_str()).collect();
    Error::conflict(format!(
        "cannot move topic {} from {} to {}: only a topic that is {} can",
        topic.id,
        topic.state,
        to.as_str(),
        allowed.join(" or ")
    ))
}

/// Loads the topic inside `txn`, checks permission and that `to` is reachable.
pub(crate) async fn begin_move(
    svc: &Services,
    trigger: Trigger<'_>,
    id: i64,
    to: State,
) -> Result<(DatabaseTransaction, Topic, State)> {
    let txn = svc.db.begin().await?;
    let topic = model::get(&txn, id).await?;
    trigger.authorize(&topic)?;
    let from = State::parse(&topic.state)
        .ok_or_else(|| Error::internal(anyhow::anyhow!("unknown state {}", topic.state)))?;
    if !from.can_move_to(to) {
        return Err(illegal(&topic, to));
    }
    Ok((txn, topic, from))
}

/// The conditional update at the heart of every move.
pub(crate) async fn set_state(
    txn: &DatabaseTransaction,
    topic: &Topic,
    from: State,
    to: State,
    extra: Vec<(topics::Column, sea_orm::Value)>,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut update = topics::Entity::update_many()
        .col_expr(topics::Column::State, Expr::value(to.as_str()))
        .col_expr(topics::Column::UpdatedAt, Expr::value(now));
    for (col, value) in extra {
        update = update.col_expr(col, Expr::value(value));
    }
    let moved = update
        .filter(topics::Column::Id.eq(topic.id))
        .filter(topics::Column::State.eq(from.as_str()))
        .exec(txn)
        .await?
        .rows_affected;
    if moved == 1 {
        Ok(())
    } else {
        Err(Error::conflict(format!(
            "topic {} changed state meanwhile; reload it",
            topic.id
        )))
    }
}

/// Records the move (audit log and public record) and commits. `detail` is
/// for the audit log (staff); `public` is what everyone reads.
#[allow(clippy::too_many_arguments)] // the two records of one move, kept apart on purpose
pub(crate) async fn finish_move(
    svc: &Services,
    txn: DatabaseTransaction,
    trigger: Trigger<'_>,
    topic: &Topic,
    to: State,
    detail: serde_json::Value,
    public: Public<'_>,
    now: DateTime<Utc>,
) -> Result<Topic> {
    record::append(
        &txn,
        topic.id,
        record::Entry {
            moved: public.moved,
            who: trigger.who(topic),
            reason: public.reason,
            detail: public.detail,
        },
        now,
    )
    .await?;
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: trigger.actor_id(),
            action: match to {
                State::Announced => "topic.announce",
                State::Open => "topic.open",
                State::Closed => "topic.close",
                State::Withdrawn => "topic.withdraw",
                State::Decided => "topic.decide",
                State::Implementing => "topic.implement",
                State::Completed => "topic.complete",
                State::Draft => "topic.draft",
            },
            subject_type: "topic",
            subject_id: topic.id.to_string(),
            division_code: Some(topic.scope_code.clone()),
            detail,
        },
        now,
    )
    .await?;
    let updated = model::get(&txn, topic.id).await?;
    txn.commit().await?;
    // Announcing, opening and closing count the eligible residents again.
    svc.tallies.forget(topic.id);
    svc.topic_cache.forget(topic.id);
    svc.events
        .publish(Event::TopicStateChanged {
            topic_id: topic.id,
            state: to.as_str().to_owned(),
        })
        .await;
    Ok(updated)
}

/// Whether a draft's timetable allows announcing it now: both times set,
/// opening at least the notice period (提前通报) away, closing after it.
/// Returns the opening and closing times.
///
/// # Errors
/// `BAD_USER_INPUT` naming the time at fault.
pub fn announceable(
    topic: &Topic,
    now: DateTime<Utc>,
    notice_period: Duration,
) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let opens_at = topic
        .opens_at
        .ok_or_else(|| Error::bad_input("opensAt", "set the opening time before announcing"))?;
    let closes_at = topic
        .closes_at
        .ok_or_else(|| Error::bad_input("closesAt", "set the closing time before announcing"))?;
    let earliest = now + notice_period;
    if opens_at < earliest {
        return Err(Error::bad_input(
            "opensAt",
            format!(
                "residents must be notified {} hours before opening: open at {} or later",
                notice_period.num_hours(),
                earliest.format("%Y-%m-%d %H:%M UTC")
            ),
        ));
    }
    if closes_at <= opens_at {
        return Err(Error::bad_input(
            "closesAt",
            "closing must come after opening",
        ));
    }
    Ok((opens_at, closes_at))
}

/// Announces a draft: fixes the timetable and queues the advance notice
/// (提前通报) to every eligible resident.
///
/// # Errors
/// `CONFLICT` when not a draft; `BAD_USER_INPUT` when the times are missing
/// or opening is closer than the notice period.
pub async fn announce(svc: &Services, trigger: Trigger<'_>, id: i64) -> Result<Topic> {
    let now = svc.now();
    let (txn, topic, from) = begin_move(svc, trigger, id, State::Announced).await?;
    let (opens_at, closes_at) = announceable(&topic, now, svc.settings.notice_period)?;
    set_state(
        &txn,
        &topic,
        from,
        State::Announced,
        vec![
            (topics::Column::AnnouncedAt, now.into()),
            (
                topics::Column::NoticeAt,
                Some(topic.notice_at.unwrap_or(now).min(now)).into(),
            ),
        ],
        now,
    )
    .await?;
    let queued = notices::queue_to_eligible(
        svc,
        &txn,
        &topic,
        EmailKind::TopicAnnounced,
        Recipients::Everyone,
        now,
    )
    .await?;
    // From now on the base is live (see `eligible`).
    let eligible = eligible::count_afresh(&txn, &topic).await?;
    finish_move(
        svc,
        txn,
        trigger,
        &topic,
        State::Announced,
        serde_json::json!({ "eligible": eligible, "notices_queued": queued.to_json() }),
        Public::new(
            Move::Announced,
            serde_json::json!({
                "opensAt": opens_at.to_rfc3339(),
                "closesAt": closes_at.to_rfc3339(),
                "noticeHours": svc.settings.notice_period.num_hours(),
            }),
        ),
        now,
    )
    .await
}

/// Opens an announced topic for opinions and queues the news to every
/// eligible resident, once `opensAt` is reached: the advance notice the
/// residents were given is the notice they get. A technical topic needs a
/// published expert assessment first.
///
/// # Errors
/// `CONFLICT` when not announced; `OPENS_AT_NOT_REACHED` before `opensAt`;
/// `ASSESSMENT_REQUIRED` for a technical topic without an assessment.
pub async fn open(svc: &Services, trigger: Trigger<'_>, id: i64) -> Result<Topic> {
    let now = svc.now();
    let (txn, topic, from) = begin_move(svc, trigger, id, State::Open).await?;
    opening_time_reached(&topic, now)?;
    assessed_if_technical(&topic, model::has_assessment(&txn, id).await?)?;
    set_state(
        &txn,
        &topic,
        from,
        State::Open,
        vec![(topics::Column::OpenedAt, now.into())],
        now,
    )
    .await?;
    let queued = notices::queue_to_eligible(
        svc,
        &txn,
        &topic,
        EmailKind::TopicOpened,
        Recipients::Everyone,
        now,
    )
    .await?;
    let eligible = eligible::count_afresh(&txn, &topic).await?;
    finish_move(
        svc,
        txn,
        trigger,
        &topic,
        State::Open,
        serde_json::json!({ "eligible": eligible, "notices_queued": queued.to_json() }),
        Public::new(
            Move::Opened,
            serde_json::json!({ "closesAt": topic.closes_at.map(|at| at.to_rfc3339()) }),
        ),
        now,
    )
    .await
}

/// A topic opens at the time its residents were told, not before.
///
/// # Errors
/// `OPENS_AT_NOT_REACHED` before `opensAt`.
pub fn opening_time_reached(topic: &Topic, now: DateTime<Utc>) -> Result<()> {
    match topic.opens_at.filter(|at| now < *at) {
        None => Ok(()),
        Some(opens_at) => Err(Error::procedure(
            "OPENS_AT_NOT_REACHED",
            format!(
                "the residents were told this topic opens at {}; it opens then, by itself",
                opens_at.format("%Y-%m-%d %H:%M UTC")
            ),
        )),
    }
}

/// A technical topic opens only once assessed (论证评估).
///
/// # Errors
/// `ASSESSMENT_REQUIRED` for a technical topic without an assessment.
pub fn assessed_if_technical(topic: &Topic, has_assessment: bool) -> Result<()> {
    if topic.technical && !has_assessment {
        return Err(Error::procedure(
            "ASSESSMENT_REQUIRED",
            "a technical topic opens only after an expert or third-party assessment is published",
        ));
    }
    Ok(())
}

/// A topic closes at the time its residents were told; earlier only by a
/// countersigned early close.
///
/// # Errors
/// `EARLY_CLOSE_NEEDS_COUNTERSIGNATURE` before `closesAt`.
pub fn closing_time_reached(topic: &Topic, now: DateTime<Utc>) -> Result<()> {
    match topic.closes_at.filter(|at| now < *at) {
        None => Ok(()),
        Some(closes_at) => Err(Error::procedure(
            "EARLY_CLOSE_NEEDS_COUNTERSIGNATURE",
            format!(
                "this topic closes at {}; to close it earlier, request an early close with a \
                 public reason and have a supervisor countersign it",
                closes_at.format("%Y-%m-%d %H:%M UTC")
            ),
        )),
    }
}

/// Whether an early close may be requested now: open, before its closing
/// time, none waiting.
///
/// # Errors
/// `CONFLICT` unless open or while a request waits; `BAD_USER_INPUT` once
/// the closing time has passed.
pub fn early_close_requestable(topic: &Topic, now: DateTime<Utc>) -> Result<()> {
    if topic.state != State::Open.as_str() {
        return Err(Error::conflict("only an open topic can be closed early"));
    }
    if topic.early_close_requested_at.is_some() {
        return Err(Error::conflict(
            "an early close is already waiting for a supervisor",
        ));
    }
    if topic.closes_at.is_none_or(|at| at <= now) {
        return Err(Error::bad_input(
            "id",
            "the closing time has passed: close the topic normally",
        ));
    }
    Ok(())
}

/// Whether `actor` may countersign the waiting early close (the supervisor's
/// role itself is checked by the move).
///
/// # Errors
/// `CONFLICT` when none waits; `FORBIDDEN` for the one who asked.
pub fn early_close_countersignable(topic: &Topic, actor: &Actor) -> Result<()> {
    match topic.early_close_requested_by {
        None => Err(Error::conflict(
            "no early close is waiting for a countersignature",
        )),
        Some(requester) if requester == actor.user_id => Err(Error::forbidden(
            "an early close is countersigned by someone other than who asked for it",
        )),
        Some(_) => Ok(()),
    }
}

/// Closes an open topic at its closing time; no more opinions. Closing
/// before `closesAt` is an early close: see [`request_early_close`].
///
/// # Errors
/// `CONFLICT` when not open; `EARLY_CLOSE_NEEDS_COUNTERSIGNATURE` before
/// `closesAt`.
pub async fn close(svc: &Services, trigger: Trigger<'_>, id: i64) -> Result<Topic> {
    let now = svc.now();
    let (txn, topic, from) = begin_move(svc, trigger, id, State::Closed).await?;
    closing_time_reached(&topic, now)?;
    close_now(
        svc,
        txn,
        trigger,
        &topic,
        from,
        Public::new(Move::Closed, serde_json::json!({})),
        now,
    )
    .await
}

/// The columns that hold a waiting early close, emptied: on closing, and
/// when a supervisor declines.
fn no_early_close_request() -> [(topics::Column, sea_orm::Value); 3] {
    [
        (
            topics::Column::EarlyCloseReason,
            Option::<String>::None.into(),
        ),
        (
            topics::Column::EarlyCloseRequestedBy,
            Option::<i32>::None.into(),
        ),
        (
            topics::Column::EarlyCloseRequestedAt,
            Option::<DateTime<Utc>>::None.into(),
        ),
    ]
}

async fn close_now(
    svc: &Services,
    txn: DatabaseTransaction,
    trigger: Trigger<'_>,
    topic: &Topic,
    from: State,
    public: Public<'_>,
    now: DateTime<Utc>,
) -> Result<Topic> {
    set_state(
        &txn,
        topic,
        from,
        State::Closed,
        std::iter::once((topics::Column::ClosedAt, now.into()))
            .chain(no_early_close_request())
            .collect(),
        now,
    )
    .await?;
    let eligible = eligible::count_afresh(&txn, topic).await?;
    finish_move(
        svc,
        txn,
        trigger,
        topic,
        State::Closed,
        serde_json::json!({ "eligible": eligible }),
        public,
        now,
    )
    .await
}

/// A reason the public will read beside an exception: 1 to 2000 characters.
///
/// # Errors
/// `BAD_USER_INPUT` on `field` otherwise.
pub(crate) fn public_reason(field: &'static str, reason: &str) -> Result<String> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 2_000 {
        return Err(Error::bad_input(
            field,
            "give a public reason of 1 to 2000 characters",
        ));
    }
    Ok(reason.to_owned())
}

/// An organiser asks to close an open topic before its closing time, with
/// a public reason. Nothing closes yet: a supervisor of the division
/// countersigns or declines ([`countersign_early_close`]). Closing early is
/// possible because the policy's matters do change (a flood, a superseding
/// decision), but never on one person's word: an organiser watching the
/// live tallies cannot stop the count alone.
///
/// # Errors
/// `CONFLICT` unless open, or when a request is already waiting;
/// `BAD_USER_INPUT` without a reason or after `closesAt` (just close).
pub async fn request_early_close(
    svc: &Services,
    actor: &Actor,
    id: i64,
    reason: &str,
) -> Result<Topic> {
    let reason = public_reason("reason", reason)?;
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let topic = model::get(&txn, id).await?;
    actor.require(Action::ManageTopics, &topic.scope_code)?;
    early_close_requestable(&topic, now)?;
    let requested = topics::Entity::update_many()
        .col_expr(
            topics::Column::EarlyCloseReason,
            Expr::value(reason.clone()),
        )
        .col_expr(
            topics::Column::EarlyCloseRequestedBy,
            Expr::value(actor.user_id),
        )
        .col_expr(topics::Column::EarlyCloseRequestedAt, Expr::value(now))
        .filter(topics::Column::Id.eq(id))
        .filter(topics::Column::State.eq(State::Open.as_str()))
        .filter(topics::Column::EarlyCloseRequestedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if requested != 1 {
        return Err(Error::conflict(
            "an early close is already waiting for a supervisor",
        ));
    }
    record::append(
        &txn,
        id,
        record::Entry {
            moved: Move::EarlyCloseRequested,
            who: Trigger::Organiser(actor).who(&topic),
            reason: Some(&reason),
            detail: serde_json::json!({ "closesAt": topic.closes_at.map(|at| at.to_rfc3339()) }),
        },
        now,
    )
    .await?;
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "topic.early_close_request",
            subject_type: "topic",
            subject_id: id.to_string(),
            division_code: Some(topic.scope_code.clone()),
            detail: serde_json::json!({ "reason": reason }),
        },
        now,
    )
    .await?;
    let updated = model::get(&txn, id).await?;
    txn.commit().await?;
    svc.topic_cache.forget(id);
    Ok(updated)
}

/// A supervisor of the topic's division countersigns an early close (the
/// topic closes now) or declines it with a public note (it stays open until
/// `closesAt`). The supervisor cannot be the organiser who asked.
///
/// # Errors
/// `FORBIDDEN` for anyone but such a supervisor, or for the requester;
/// `CONFLICT` when no request is waiting; `BAD_USER_INPUT` when declining
/// without a note.
pub async fn countersign_early_close(
    svc: &Services,
    actor: &Actor,
    id: i64,
    approve: bool,
    note: Option<&str>,
) -> Result<Topic> {
    let now = svc.now();
    let trigger = Trigger::Supervisor(actor);
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > 2_000) {
        return Err(Error::bad_input(
            "note",
            "a note has at most 2000 characters",
        ));
    }
    let (txn, topic, from) = begin_move(svc, trigger, id, State::Closed).await?;
    early_close_countersignable(&topic, actor)?;
    let reason = topic.early_close_reason.clone().unwrap_or_default();
    let requested_at = topic.early_close_requested_at.unwrap_or(now);
    let detail = serde_json::json!({
        "requestedAt": requested_at.to_rfc3339(),
        "closesAt": topic.closes_at.map(|at| at.to_rfc3339()),
        "note": note,
    });
    if approve {
        return close_now(
            svc,
            txn,
            trigger,
            &topic,
            from,
            Public {
                moved: Move::EarlyCloseCountersigned,
                reason: Some(&reason),
                detail,
            },
            now,
        )
        .await;
    }
    let note = note
        .ok_or_else(|| Error::bad_input("note", "say publicly why the early close is declined"))?;
    let mut clear = topics::Entity::update_many();
    for (column, value) in no_early_close_request() {
        clear = clear.col_expr(column, Expr::value(value));
    }
    clear.filter(topics::Column::Id.eq(id)).exec(&txn).await?;
    record::append(
        &txn,
        id,
        record::Entry {
            moved: Move::EarlyCloseDeclined,
            who: trigger.who(&topic),
            reason: Some(note),
            detail,
        },
        now,
    )
    .await?;
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "topic.early_close_decline",
            subject_type: "topic",
            subject_id: id.to_string(),
            division_code: Some(topic.scope_code.clone()),
            detail: serde_json::json!({ "note": note }),
        },
        now,
    )
    .await?;
    let updated = model::get(&txn, id).await?;
    txn.commit().await?;
    svc.topic_cache.forget(id);
    Ok(updated)
}

/// Withdraws a topic before a decision, with a public reason. Once
/// announced the residents were told of it, so the withdrawal is on the
/// public record and every participant and eligible resident is told; the
/// opinions already given stay counted and their results readable.
///
/// # Errors
/// `CONFLICT` once decided; `BAD_USER_INPUT` without a reason.
pub async fn withdraw(svc: &Services, actor: &Actor, id: i64, reason: &str) -> Result<Topic> {
    let reason = public_reason("reason", reason)?;
    let now = svc.now();
    let trigger = Trigger::Organiser(actor);
    let (txn, topic, from) = begin_move(svc, trigger, id, State::Withdrawn).await?;
    set_state(
        &txn,
        &topic,
        from,
        State::Withdrawn,
        vec![
            (topics::Column::WithdrawnAt, now.into()),
            (topics::Column::WithdrawReason, reason.clone().into()),
        ],
        now,
    )
    .await?;
    let told = if from == State::Draft {
        serde_json::Value::Null
    } else {
        notices::tell_everyone(
            svc,
            &txn,
            &topic,
            EmailKind::TopicWithdrawn,
            serde_json::json!({ "reason": reason }),
            now,
        )
        .await?
        .to_json()
    };
    finish_move(
        svc,
        txn,
        trigger,
        &topic,
        State::Withdrawn,
        serde_json::json!({ "reason": reason, "told": told }),
        Public {
            moved: Move::Withdrawn,
            reason: Some(&reason),
            detail: serde_json::json!({ "from": from.as_str() }),
        },
        now,
    )
    .await
}

/// Performs every move whose time has come: announce drafts at `noticeAt`,
/// open at `opensAt`, close at `closesAt`; then reminds the residents who
/// have not answered a topic closing within 24 hours. Safe to run on several
/// instances at once. Returns how many topics moved (reminders not counted).
///
/// # Errors
/// Database errors while looking for due topics; a failing single move is
/// logged and skipped.
pub async fn run_due(svc: &Services) -> Result<usize> {
    let now = svc.now();
    let due = |state: State, col: topics::Column| {
        topics::Entity::find()
            .select_only()
            .column(topics::Column::Id)
            .filter(topics::Column::State.eq(state.as_str()))
            .filter(col.lte(now))
            .into_tuple::<i64>()
            .all(svc.db.reader())
    };
    let to_announce = due(State::Draft, topics::Column::NoticeAt).await?;
    let to_open = due(State::Announced, topics::Column::OpensAt).await?;
    let to_close = due(State::Open, topics::Column::ClosesAt).await?;
    let mut moved = 0;
    for id in to_announce {
        moved += report(announce(svc, Trigger::Schedule, id).await, id, "announce");
    }
    for id in to_open {
        moved += report(open(svc, Trigger::Schedule, id).await, id, "open");
    }
    for id in to_close {
        moved += report(close(svc, Trigger::Schedule, id).await, id, "close");
    }
    remind_closing(svc, now).await?;
    Ok(moved)
}

/// How long before closing the residents who have not answered are reminded.
fn reminder_lead() -> Duration {
    Duration::hours(24)
}

/// Queues the closing-soon reminder of every open topic that closes within
/// [`reminder_lead`] and has not been reminded yet. Returns how many topics
/// were reminded.
async fn remind_closing(svc: &Services, now: DateTime<Utc>) -> Result<usize> {
    let due: Vec<i64> = topics::Entity::find()
        .select_only()
        .column(topics::Column::Id)
        .filter(topics::Column::State.eq(State::Open.as_str()))
        .filter(topics::Column::RemindedAt.is_null())
        .filter(topics::Column::ClosesAt.gt(now))
        .filter(topics::Column::ClosesAt.lte(now + reminder_lead()))
        .into_tuple()
        .all(svc.db.reader())
        .await?;
    let mut reminded = 0;
    for id in due {
        match remind(svc, id, now).await {
            Ok(true) => reminded += 1,
            Ok(false) => {}
            Err(err) => tracing::warn!(topic_id = id, error = ?err, "closing reminder failed"),
        }
    }
    Ok(reminded)
}

/// Marks topic `id` reminded (only if it is still open and not reminded, so
/// of several instances exactly one goes on) and, in the same transaction,
/// queues `closing_soon` to its eligible residents without an opinion. A
/// topic that was open for less than [`reminder_lead`] gets no reminder: its
/// opening email, moments earlier, already said when it closes.
async fn remind(svc: &Services, id: i64, now: DateTime<Utc>) -> Result<bool> {
    let txn = svc.db.begin().await?;
    let claimed = topics::Entity::update_many()
        .col_expr(topics::Column::RemindedAt, Expr::value(now))
        .filter(topics::Column::Id.eq(id))
        .filter(topics::Column::State.eq(State::Open.as_str()))
        .filter(topics::Column::RemindedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if claimed != 1 {
        return Ok(false);
    }
    let topic = model::get(&txn, id).await?;
    let opened_long_enough = match (topic.opened_at, topic.closes_at) {
        (Some(opened), Some(closes)) => closes - opened >= reminder_lead(),
        _ => false,
    };
    let queued = if opened_long_enough {
        notices::queue_to_eligible(
            svc,
            &txn,
            &topic,
            EmailKind::ClosingSoon,
            Recipients::NotAnswered,
            now,
        )
        .await?
    } else {
        notices::Queued::Now(0)
    };
    txn.commit().await?;
    tracing::info!(topic_id = id, ?queued, "closing-soon reminders queued");
    Ok(true)
}

fn report(result: Result<Topic>, id: i64, what: &str) -> usize {
    match result {
        Ok(_) => 1,
        // Another instance got there first, or the topic is not ready (a
        // technical topic waiting for its assessment): try again next tick.
        Err(err @ (Error::Conflict(_) | Error::Procedure { .. })) => {
            let reason = err.public_message();
            tracing::debug!(topic_id = id, %reason, "scheduled {what} not done");
            0
        }
        Err(err) => {
            tracing::warn!(topic_id = id, error = ?err, "scheduled {what} failed");
            0
        }
    }
}

/// Runs [`run_due`] every `interval` until the process ends.
pub async fn scheduler_loop(svc: Services) {
    let mut tick = tokio::time::interval(svc.settings.scheduler_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(err) = run_due(&svc).await {
            tracing::warn!(error = ?err, "scheduler pass failed");
        }
    }
}
