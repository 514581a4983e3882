//! Explanations to the residents who disagreed (解释说明): who the
//! dissenters are, publishing to a fixed set of recipients, delivery and
//! read receipts, and the residents' satisfied/unsatisfied replies.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};

use super::authz::{Action, Actor};
use super::notifications::{self, Audience as NotifyAudience};
use super::outbox::EmailKind;
use super::outcomes::{self, Outcome};
use super::topics::{self, Choice, Kind, Topic};
use super::{audit, Services};
use super::{disclosure, divisions};
use crate::db::param;
use crate::entities::{explanation_recipients, explanations, opinions};
use crate::error::{Error, Result};

pub use explanation_recipients::Model as Receipt;
pub use explanations::Model as Explanation;

/// The choices that differ from the adopted position: the one definition of
/// a dissenter. Abstentions dissent from nothing.
pub fn dissenting_choices(
    kind: Kind,
    options: &[topics::TopicOption],
    outcome: &Outcome,
) -> Vec<String> {
    let adopted = outcome
        .adopted_choice
        .as_deref()
        .and_then(Choice::parse_key);
    match (kind, adopted) {
        (Kind::Decision, Some(Choice::Support)) => vec![Choice::Oppose.key()],
        (Kind::Decision, Some(Choice::Oppose)) => vec![Choice::Support.key()],
        (Kind::Appraisal, _) => vec![Choice::Unsatisfied.key()],
        (Kind::Choice, Some(adopted)) => kind
            .choices(options)
            .into_iter()
            .filter(|c| *c != adopted)
            .map(|c| c.key())
            .collect(),
        _ => Vec::new(),
    }
}

/// Who an explanation goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Every dissenter of the topic (public: anyone may read it).
    AllDissenters,
    /// The dissenters living in one division.
    Division(String),
    /// Chosen opinions: an individual reply.
    Opinions(Vec<i64>),
    /// Recipients whose latest reply was unsatisfied: a follow-up.
    Unsatisfied,
}

impl Audience {
    fn as_str(&self) -> &'static str {
        match self {
            Audience::AllDissenters => "all",
            Audience::Division(_) => "division",
            Audience::Opinions(_) => "opinions",
            Audience::Unsatisfied => "unsatisfied",
        }
    }
}

struct Context {
    topic: Topic,
    dissent: Vec<String>,
}

async fn context(svc: &Services, actor: &Actor, topic_id: i64) -> Result<Context> {
    let db = svc.db.reader();
    let topic = topics::get(db, topic_id).await?;
    actor.require(Action::ReadOpinions, &topic.scope_code)?;
    let outcome = outcomes::current(db, topic_id)
        .await?
        .ok_or_else(|| Error::conflict("explanations follow the published outcome"))?;
    let kind = Kind::parse(&topic.kind).unwrap_or(Kind::Decision);
    let options = topics::options(db, topic_id).await?;
    Ok(Context {
        dissent: dissenting_choices(kind, &options, &outcome),
        topic,
    })
}

/// `SELECT user_id, opinion_id, village_code` of the audience, with its
/// bind values starting at parameter `first_param`.
fn recipients_sql(
    backend: sea_orm::DatabaseBackend,
    ctx: &Context,
    audience: &Audience,
    first_param: usize,
) -> Result<(String, Vec<sea_orm::Value>)> {
    let topic_id = ctx.topic.id;
    let quoted = |keys: &[String]| {
        keys.iter()
            .map(|k| format!("'{}'", k.replace('\'', "")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let base = format!("SELECT o.user_id, o.id AS opinion_id, o.village_code FROM opinions o WHERE o.topic_id = {topic_id} AND o.user_id IS NOT NULL");
    let dissent = if ctx.dissent.is_empty() {
        "NULL".to_owned()
    } else {
        quoted(&ctx.dissent)
    };
    Ok(match audience {
        Audience::AllDissenters => (format!("{base} AND o.choice IN ({dissent})"), Vec::new()),
        Audience::Division(code) => {
            let code = divisions::normalize_code(code, "divisionCode")?;
            if !divisions::contains(&ctx.topic.scope_code, &code) && !divisions::contains(&code, &ctx.topic.scope_code) {
                return Err(Error::bad_input("divisionCode", "a division within the topic's scope"));
            }
            (
                format!("{base} AND o.choice IN ({dissent}) AND o.village_code LIKE {}", param(backend, first_param)),
                vec![format!("{code}%").into()],
            )
        }
        Audience::Opinions(ids) => {
            if ids.is_empty() || ids.len() > 1_000 {
                return Err(Error::bad_input("opinionIds", "choose 1 to 1000 opinions"));
            }
            let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
            (format!("{base} AND o.id IN ({list})"), Vec::new())
        }
        Audience::Unsatisfied => (
            format!(
                "{base} AND o.user_id IN (SELECT r.user_id FROM explanation_recipients r WHERE r.topic_id = {topic_id} \
                 AND r.reply IS NOT NULL AND r.replied_at = (SELECT MAX(r2.replied_at) FROM explanation_recipients r2 \
                 WHERE r2.topic_id = {topic_id} AND r2.user_id = r.user_id AND r2.reply IS NOT NULL) AND r.reply = 'unsatisfied')"
            ),
            Vec::new(),
        ),
    })
}

/// How many residents an explanation to `audience` would reach; shown to
/// the organiser before publishing.
///
/// # Errors
/// `FORBIDDEN` outside the organiser's scope; `CONFLICT` before an outcome.
pub async fn preview(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
    audience: &Audience,
) -> Result<i64> {
    let ctx = context(svc, actor, topic_id).await?;
    let db = svc.db.reader();
    let backend = db.get_database_backend();
    let (sql, values) = recipients_sql(backend, &ctx, audience, 1)?;
    let row = db
        .query_one(Statement::from_sql_and_values(
            backend,
            format!("SELECT CAST(COUNT(*) AS BIGINT) FROM ({sql}) a"),
            values,
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get_by_index::<i64>(0))
        .transpose()?
        .unwrap_or(0))
}

/// Publishes an explanation; the recipient set is fixed now, each recipient
/// is notified in the app and by email.
///
/// # Errors
/// As [`preview`]; `BAD_USER_INPUT` for an empty body or an audience with
/// nobody in it.
pub async fn publish(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
    audience: Audience,
    body: &str,
) -> Result<Seen> {
    // Permission first, so a reader without it learns nothing of the state.
    let scope = topics::get(svc.db.reader(), topic_id).await?.scope_code;
    actor.require(Action::ManageTopics, &scope)?;
    let ctx = context(svc, actor, topic_id).await?;
    let body = body.trim();
    if body.is_empty() || body.chars().count() > 20_000 {
        return Err(Error::bad_input(
            "body",
            "an explanation has 1 to 20000 characters",
        ));
    }
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let backend = txn.get_database_backend();
    let explanation = explanations::ActiveModel {
        topic_id: Set(topic_id),
        audience: Set(audience.as_str().to_owned()),
        division_code: Set(match &audience {
            Audience::Division(code) => Some(divisions::normalize_code(code, "divisionCode")?),
            _ => None,
        }),
        body: Set(body.to_owned()),
        recipients: Set(0),
        published_by: Set(actor.user_id),
        published_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let (select, mut values) = recipients_sql(backend, &ctx, &audience, 2)?;
    values.insert(0, now.into());
    let inserted = txn
        .execute(Statement::from_sql_and_values(
            backend,
            format!(
                "INSERT INTO explanation_recipients (explanation_id, user_id, topic_id, opinion_id, village_code, delivered_at) \
                 SELECT {}, a.user_id, {topic_id}, a.opinion_id, a.village_code, {} FROM ({select}) a WHERE true",
                explanation.id,
                param(backend, 1)
            ),
            values,
        ))
        .await?
        .rows_affected();
    if inserted == 0 {
        return Err(Error::bad_input("audience", "nobody is in this audience"));
    }
    let recipients = i32::try_from(inserted).unwrap_or(i32::MAX);
    explanations::Entity::update_many()
        .col_expr(explanations::Column::Recipients, Expr::value(recipients))
        .filter(explanations::Column::Id.eq(explanation.id))
        .exec(&txn)
        .await?;
    notifications::notify(
        &txn,
        &NotifyAudience::ExplanationRecipients {
            explanation_id: explanation.id,
        },
        EmailKind::ExplanationPublished,
        Some(topic_id),
        &format!("explanation:{}", explanation.id),
        &serde_json::json!({
            "topic_id": topic_id,
            "title": ctx.topic.title,
            "explanation_id": explanation.id,
            "body": body,
            "link": format!("{}/explanations/{}", svc.settings.public_url, explanation.id),
        }),
        now,
    )
    .await?;
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "explanation.publish",
            subject_type: "topic",
            subject_id: topic_id.to_string(),
            division_code: Some(ctx.topic.scope_code.clone()),
            detail: serde_json::json!({ "explanation_id": explanation.id, "audience": audience.as_str(), "recipients": recipients }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    let explanation = Explanation {
        recipients,
        ..explanation
    };
    Ok(Seen {
        recipients: recipients_seen(disclosure::reads_opinions(actor, &ctx.topic), &explanation),
        explanation,
        receipt: None,
    })
}

async fn receipt(
    db: &impl ConnectionTrait,
    explanation_id: i64,
    user_id: i32,
) -> Result<Option<Receipt>> {
    Ok(
        explanation_recipients::Entity::find_by_id((explanation_id, user_id))
            .one(db)
            .await?,
    )
}

/// An explanation as one viewer sees it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub explanation: Explanation,
    /// The viewer's own receipt, when they are a recipient.
    pub receipt: Option<Receipt>,
    /// How many residents it reached, for those who may see it (see
    /// [`recipients_seen`]).
    pub recipients: Option<i32>,
}

/// How many residents an explanation reached, as `staff` (whether the viewer
/// may read the topic's opinions) may see it. The recipients of an
/// explanation to dissenters are a count of one stance in its audience, a
/// cell of the results: only those who see the results in full see it (the
/// public sees the disclosure pattern's cells, `domain::disclosure`).
#[must_use]
pub fn recipients_seen(staff: bool, explanation: &Explanation) -> Option<i32> {
    staff.then_some(explanation.recipients)
}

/// An explanation as `user_id` may read it: public ones (to all dissenters)
/// to anyone, others only to their recipients. A recipient's first read is
/// recorded.
///
/// # Errors
/// `NOT_FOUND` for an explanation the user may not read (no existence leak).
pub async fn read(svc: &Services, viewer: Option<&Actor>, explanation_id: i64) -> Result<Seen> {
    let db = svc.db.reader();
    let explanation = explanations::Entity::find_by_id(explanation_id)
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("explanation {explanation_id}")))?;
    let receipt = match viewer {
        Some(actor) => receipt(db, explanation_id, actor.user_id).await?,
        None => None,
    };
    let staff = match viewer {
        Some(actor) => {
            let topic = topics::get(db, explanation.topic_id).await?;
            disclosure::reads_opinions(actor, &topic)
        }
        None => false,
    };
    if receipt.is_none() && !staff && explanation.audience != Audience::AllDissenters.as_str() {
        return Err(Error::not_found(format!("explanation {explanation_id}")));
    }
    let receipt = match receipt {
        Some(r) if r.read_at.is_none() => {
            let now = svc.now();
            explanation_recipients::Entity::update_many()
                .col_expr(explanation_recipients::Column::ReadAt, Expr::value(now))
                .filter(explanation_recipients::Column::ExplanationId.eq(explanation_id))
                .filter(explanation_recipients::Column::UserId.eq(r.user_id))
                .filter(explanation_recipients::Column::ReadAt.is_null())
                .exec(svc.db.writer())
                .await?;
            Some(Receipt {
                read_at: Some(now),
                ..r
            })
        }
        other => other,
    };
    Ok(Seen {
        recipients: recipients_seen(staff, &explanation),
        explanation,
        receipt,
    })
}

/// The explanations addressed to the user, newest first, as a recipient
/// sees them (no recipient counts).
///
/// # Errors
/// Database errors.
pub async fn addressed_to(db: &impl ConnectionTrait, user_id: i32) -> Result<Vec<Seen>> {
    let receipts = explanation_recipients::Entity::find()
        .filter(explanation_recipients::Column::UserId.eq(user_id))
        .order_by_desc(explanation_recipients::Column::ExplanationId)
        .limit(200)
        .all(db)
        .await?;
    let ids: Vec<i64> = receipts.iter().map(|r| r.explanation_id).collect();
    let mut by_id: HashMap<i64, Explanation> = explanations::Entity::find()
        .filter(explanations::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    Ok(receipts
        .into_iter()
        .filter_map(|r| {
            by_id.remove(&r.explanation_id).map(|e| Seen {
                recipients: recipients_seen(false, &e),
                explanation: e,
                receipt: Some(r),
            })
        })
        .collect())
}

/// Public explanations (to all dissenters) of a topic, and for staff all.
///
/// # Errors
/// Database errors.
pub async fn of_topic(svc: &Services, viewer: Option<&Actor>, topic: &Topic) -> Result<Vec<Seen>> {
    let staff = viewer.is_some_and(|a| disclosure::reads_opinions(a, topic));
    let mut query = explanations::Entity::find().filter(explanations::Column::TopicId.eq(topic.id));
    if !staff {
        query = query.filter(explanations::Column::Audience.eq(Audience::AllDissenters.as_str()));
    }
    Ok(query
        .order_by_asc(explanations::Column::Id)
        .all(svc.db.reader())
        .await?
        .into_iter()
        .map(|e| Seen {
            recipients: recipients_seen(staff, &e),
            explanation: e,
            receipt: None,
        })
        .collect())
}

/// A recipient answers whether the explanation satisfied them.
///
/// # Errors
/// `NOT_FOUND` when the user is not a recipient; `BAD_USER_INPUT` for a
/// comment over 2000 characters.
pub async fn reply(
    svc: &Services,
    user_id: i32,
    explanation_id: i64,
    satisfied: bool,
    comment: Option<String>,
) -> Result<Receipt> {
    let comment = comment
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    if comment.as_ref().is_some_and(|c| c.chars().count() > 2_000) {
        return Err(Error::bad_input("comment", "at most 2000 characters"));
    }
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let row = receipt(&txn, explanation_id, user_id)
        .await?
        .ok_or_else(|| {
            Error::not_found(format!("explanation {explanation_id} addressed to you"))
        })?;
    let mut active: explanation_recipients::ActiveModel = row.into();
    active.reply = Set(Some(
        if satisfied {
            "satisfied"
        } else {
            "unsatisfied"
        }
        .to_owned(),
    ));
    active.reply_comment = Set(comment);
    active.replied_at = Set(Some(now));
    active.read_at = Set(Some(active.read_at.clone().unwrap().unwrap_or(now)));
    let updated = active.update(&txn).await?;
    txn.commit().await?;
    Ok(updated)
}

/// What one person's receipts of a topic's explanations add up to.
#[derive(Debug, Clone, Default)]
pub struct PersonReceipts {
    pub village_code: String,
    /// Read at least one.
    pub read: bool,
    /// The latest reply: it is what counts as their satisfaction.
    pub latest_reply: Option<(chrono::DateTime<Utc>, String)>,
}

impl PersonReceipts {
    pub fn satisfied(&self) -> Option<bool> {
        self.latest_reply.as_ref().map(|(_, r)| r == "satisfied")
    }
}

/// Receipts grouped by (topic, person).
pub fn per_person(
    receipts: impl IntoIterator<Item = Receipt>,
) -> HashMap<(i64, i32), PersonReceipts> {
    let mut people: HashMap<(i64, i32), PersonReceipts> = HashMap::new();
    for r in receipts {
        let person = people
            .entry((r.topic_id, r.user_id))
            .or_insert_with(|| PersonReceipts {
                village_code: r.village_code.clone(),
                ..PersonReceipts::default()
            });
        person.read |= r.read_at.is_some();
        if let (Some(reply), Some(at)) = (r.reply, r.replied_at) {
            if person
                .latest_reply
                .as_ref()
                .is_none_or(|(prev, _)| at >= *prev)
            {
                person.latest_reply = Some((at, reply));
            }
        }
    }
    people
}

/// Explanation coverage for one division (or folded group) of a topic.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Coverage {
    pub division_code: String,
    pub dissenters: i64,
    /// Dissenters who received at least one explanation.
    pub explained: i64,
    pub read: i64,
    /// By each recipient's latest reply.
    pub satisfied: i64,
    pub unsatisfied: i64,
    pub not_yet_explained: i64,
}

/// Coverage per division at `level` and for the whole topic, counting
/// people (not explanations).
///
/// # Errors
/// `FORBIDDEN` outside the organiser's or supervisor's scope.
pub async fn coverage(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
    level: divisions::Level,
) -> Result<(Coverage, Vec<Coverage>)> {
    let ctx = context(svc, actor, topic_id).await?;
    let db = svc.db.reader();
    let dissenters: Vec<(i32, String)> = opinions::Entity::find()
        .select_only()
        .columns([opinions::Column::UserId, opinions::Column::VillageCode])
        .filter(opinions::Column::TopicId.eq(topic_id))
        .filter(opinions::Column::UserId.is_not_null())
        .filter(opinions::Column::Choice.is_in(ctx.dissent.clone()))
        .into_tuple::<(Option<i32>, String)>()
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(u, v)| u.map(|u| (u, v)))
        .collect();
    let receipts = explanation_recipients::Entity::find()
        .filter(explanation_recipients::Column::TopicId.eq(topic_id))
        .all(db)
        .await?;
    let people = per_person(receipts);
    let len = level.code_len();
    let mut rows: BTreeMap<String, Coverage> = BTreeMap::new();
    let mut total = Coverage {
        division_code: ctx.topic.scope_code.clone(),
        ..Coverage::default()
    };
    for (user, village) in &dissenters {
        let key = village[..len.min(village.len())].to_owned();
        let row = rows.entry(key.clone()).or_insert_with(|| Coverage {
            division_code: key,
            ..Coverage::default()
        });
        for c in [&mut *row, &mut total] {
            c.dissenters += 1;
            match people.get(&(topic_id, *user)) {
                None => c.not_yet_explained += 1,
                Some(person) => {
                    c.explained += 1;
                    c.read += i64::from(person.read);
                    match person.satisfied() {
                        Some(true) => c.satisfied += 1,
                        Some(false) => c.unsatisfied += 1,
                        None => {}
                    }
                }
            }
        }
    }
    Ok((total, rows.into_values().collect()))
}
