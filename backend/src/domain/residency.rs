//! Residency: a resident asks to be recognised as living in one village or
//! community; an organiser whose division contains it decides. Only approved
//! residents take part in that village's consultations.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::authz::{Action, Actor};
use super::divisions::{self, Level};
use super::outbox::{self, EmailKind, NewEmail};
use super::topics::eligible::{self, MovedBases, ResidentMoved};
use super::{accounts, audit, Services};
use crate::entities::residencies;
use crate::error::{conflict_on_unique, Error, Result};

pub use residencies::Model as Residency;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Approved,
    Rejected,
    /// An approved residency replaced by a later one (the resident moved).
    Superseded,
    /// Withdrawn by the resident before a decision.
    Cancelled,
}

impl Status {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Superseded => "superseded",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Approved,
            Self::Rejected,
            Self::Superseded,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

const MAX_NOTE_CHARS: usize = 500;

/// Asks to be recognised as a resident of `village_code`.
///
/// # Errors
/// `BAD_USER_INPUT` when the division is not a village/community or the note
/// is too long; `NOT_FOUND` for an unknown division; `CONFLICT` when a request
/// is already pending or the user already lives there.
pub async fn request(
    svc: &Services,
    user_id: i32,
    village_code: &str,
    note: Option<String>,
) -> Result<Residency> {
    let code = divisions::normalize_code(village_code, "villageCode")?;
    if divisions::level_of(&code) != Some(Level::Village) {
        return Err(Error::bad_input(
            "villageCode",
            "residency is requested for a village or community (a 12-digit code)",
        ));
    }
    divisions::find(svc.db.reader(), &code)
        .await?
        .ok_or_else(|| Error::not_found(format!("division {code}")))?;
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
    {
        return Err(Error::bad_input(
            "note",
            format!("at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    let now = svc.now();
    let txn = svc.db.begin().await?;
    if current(&txn, user_id)
        .await?
        .is_some_and(|r| r.division_code == code)
    {
        return Err(Error::conflict(
            "you are already a verified resident of this village",
        ));
    }
    let row = residencies::ActiveModel {
        user_id: Set(user_id),
        division_code: Set(code),
        status: Set(Status::Pending.as_str().to_owned()),
        note: Set(note),
        decision_reason: Set(None),
        requested_at: Set(now),
        decided_at: Set(None),
        decided_by: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        conflict_on_unique(e, || {
            "you already have a pending residency request; cancel it first".to_owned()
        })
    })?;
    txn.commit().await?;
    Ok(row)
}

/// Withdraws the user's pending request.
///
/// # Errors
/// `NOT_FOUND` when there is none.
pub async fn cancel(svc: &Services, user_id: i32) -> Result<()> {
    let done = residencies::Entity::update_many()
        .col_expr(
            residencies::Column::Status,
            Expr::value(Status::Cancelled.as_str()),
        )
        .col_expr(residencies::Column::DecidedAt, Expr::value(svc.now()))
        .filter(residencies::Column::UserId.eq(user_id))
        .filter(residencies::Column::Status.eq(Status::Pending.as_str()))
        .exec(svc.db.writer())
        .await?;
    if done.rows_affected == 0 {
        return Err(Error::not_found("pending residency request"));
    }
    Ok(())
}

/// The user's approved residency, if any.
///
/// # Errors
/// Database errors only.
pub async fn current(db: &impl ConnectionTrait, user_id: i32) -> Result<Option<Residency>> {
    Ok(residencies::Entity::find()
        .filter(residencies::Column::UserId.eq(user_id))
        .filter(residencies::Column::Status.eq(Status::Approved.as_str()))
        .one(db)
        .await?)
}

/// The user's requests, newest first.
///
/// # Errors
/// Database errors only.
pub async fn history(db: &impl ConnectionTrait, user_id: i32) -> Result<Vec<Residency>> {
    Ok(residencies::Entity::find()
        .filter(residencies::Column::UserId.eq(user_id))
        .order_by_desc(residencies::Column::Id)
        .all(db)
        .await?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'a> {
    Approve,
    Reject { reason: &'a str },
}

/// Approves or rejects a pending request. Approval replaces the resident's
/// earlier residency, if any, and moves the eligible base of the announced
/// and open topics of both villages (`topics::eligible`). The resident is
/// emailed either way.
///
/// Nobody decides their own request: an organiser who approved itself could
/// take part wherever it chose to live, and one holding several accounts
/// could verify them all. The organisers of the divisions above, who also
/// reach the village, decide instead.
///
/// # Errors
/// `NOT_FOUND`; `FORBIDDEN` outside the organiser's division or for one's
/// own request; `CONFLICT` when the request was already decided;
/// `BAD_USER_INPUT` for a missing reason.
pub async fn decide(
    svc: &Services,
    actor: &Actor,
    id: i32,
    decision: Decision<'_>,
) -> Result<Residency> {
    let reason = match decision {
        Decision::Approve => None,
        Decision::Reject { reason } => {
            let reason = reason.trim();
            if reason.is_empty() || reason.chars().count() > MAX_NOTE_CHARS {
                return Err(Error::bad_input(
                    "reason",
                    format!("a rejection needs a reason of 1 to {MAX_NOTE_CHARS} characters"),
                ));
            }
            Some(reason.to_owned())
        }
    };
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let request = residencies::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found(format!("residency request {id}")))?;
    actor.require(Action::ReviewResidency, &request.division_code)?;
    if request.user_id == actor.user_id {
        return Err(Error::forbidden(
            "another organiser decides your own residency request",
        ));
    }
    if request.status != Status::Pending.as_str() {
        return Err(Error::conflict(format!(
            "this request is {}; only pending requests can be decided",
            request.status
        )));
    }
    let (status, moved) = if reason.is_none() {
        let home = request.division_code.clone();
        let moved = move_home(&txn, request.user_id, &home).await?;
        (Status::Approved, moved)
    } else {
        (Status::Rejected, MovedBases::default())
    };
    let mut active: residencies::ActiveModel = request.into();
    active.status = Set(status.as_str().to_owned());
    active.decision_reason = Set(reason.clone());
    active.decided_at = Set(Some(now));
    active.decided_by = Set(Some(actor.user_id));
    let decided = active.update(&txn).await?;

    notify_decision(svc, &txn, &decided, now).await?;
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: if status == Status::Approved {
                "residency.approve"
            } else {
                "residency.reject"
            },
            subject_type: "residency",
            subject_id: decided.id.to_string(),
            division_code: Some(decided.division_code.clone()),
            detail: serde_json::json!({ "user_id": decided.user_id, "reason": reason }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    eligible::announce_moved(svc, moved).await;
    Ok(decided)
}

/// Ends the user's approved residency, if any (superseded: they moved), and
/// moves the eligible base of the live topics from that village to `home`,
/// whose residency the caller approves in the same transaction `txn`.
async fn move_home(txn: &DatabaseTransaction, user_id: i32, home: &str) -> Result<MovedBases> {
    let before = current(txn, user_id).await?;
    residencies::Entity::update_many()
        .col_expr(
            residencies::Column::Status,
            Expr::value(Status::Superseded.as_str()),
        )
        .filter(residencies::Column::UserId.eq(user_id))
        .filter(residencies::Column::Status.eq(Status::Approved.as_str()))
        .exec(txn)
        .await?;
    eligible::move_resident(
        txn,
        &ResidentMoved {
            user_id,
            from: before.as_ref().map(|r| r.division_code.as_str()),
            to: Some(home),
        },
    )
    .await
}

async fn notify_decision(
    svc: &Services,
    db: &impl ConnectionTrait,
    decided: &Residency,
    now: DateTime<Utc>,
) -> Result<()> {
    let user = accounts::get(db, decided.user_id).await?;
    let division = divisions::get(db, &decided.division_code).await?;
    let approved = decided.status == Status::Approved.as_str();
    outbox::enqueue(
        db,
        NewEmail {
            kind: if approved {
                EmailKind::ResidencyApproved
            } else {
                EmailKind::ResidencyRejected
            },
            event: format!("residency:{}", decided.id),
            recipient: user.email,
            user_id: Some(user.id),
            locale: user.locale,
            payload: serde_json::json!({
                "display_name": user.display_name,
                "division_code": division.code,
                "division_name": division.name,
                "reason": decided.decision_reason,
                "link": format!("{}/me", svc.settings.public_url),
            }),
        },
        now,
    )
    .await
}

/// Residency requests in the divisions the actor reviews, optionally within
/// `division_code` and of one status, oldest first (a queue), `first` after
/// id `after` (one extra row signals a next page).
///
/// # Errors
/// `FORBIDDEN` when the actor reviews nothing there.
pub async fn list_for_review(
    svc: &Services,
    actor: &Actor,
    division_code: Option<&str>,
    status: Option<Status>,
    first: u64,
    after: Option<i32>,
) -> Result<Vec<Residency>> {
    if first == 0 || first > 200 {
        return Err(Error::bad_input("first", "must be between 1 and 200"));
    }
    let mut scope = Condition::any();
    match division_code {
        Some(code) => {
            let code = divisions::normalize_code(code, "divisionCode")?;
            actor.require(Action::ReviewResidency, &code)?;
            scope = scope.add(divisions::within(residencies::Column::DivisionCode, &code));
        }
        None => {
            let scopes = actor.scopes(Action::ReviewResidency);
            if scopes.is_empty() {
                return Err(Error::forbidden("you may not review residency requests"));
            }
            for code in scopes {
                scope = scope.add(divisions::within(residencies::Column::DivisionCode, code));
            }
        }
    }
    let mut query = residencies::Entity::find().filter(scope);
    if let Some(status) = status {
        query = query.filter(residencies::Column::Status.eq(status.as_str()));
    }
    if let Some(after) = after {
        query = query.filter(residencies::Column::Id.gt(after));
    }
    Ok(query
        .order_by_asc(residencies::Column::Id)
        .limit(first + 1)
        .all(svc.db.reader())
        .await?)
}

/// Records an approved residency directly, without a request and review
/// (demo data and operator tooling).
///
/// # Errors
/// `BAD_USER_INPUT` when the code is not a village; `NOT_FOUND` when unknown.
pub async fn grant(svc: &Services, user_id: i32, village_code: &str) -> Result<Residency> {
    let code = divisions::normalize_code(village_code, "villageCode")?;
    if divisions::level_of(&code) != Some(Level::Village) {
        return Err(Error::bad_input(
            "villageCode",
            "residency is granted for a village or community",
        ));
    }
    let now = svc.now();
    let txn = svc.db.begin().await?;
    divisions::get(&txn, &code).await?;
    let moved = move_home(&txn, user_id, &code).await?;
    let row = residencies::ActiveModel {
        user_id: Set(user_id),
        division_code: Set(code),
        status: Set(Status::Approved.as_str().to_owned()),
        note: Set(None),
        decision_reason: Set(None),
        requested_at: Set(now),
        decided_at: Set(Some(now)),
        decided_by: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    eligible::announce_moved(svc, moved).await;
    Ok(row)
}
