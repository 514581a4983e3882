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
use crate::entities::{explanation_recipients, explanations, in_person_explanations, opinions};
use crate::error::{Error, Result};

pub use explanation_recipients::Model as Receipt;
pub use explanations::Model as Explanation;
pub use in_person_explanations::Model as InPerson;

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
    super::record::append(
        &txn,
        topic_id,
        super::record::Entry {
            moved: super::record::Move::Explained,
            who: super::record::Who::acting(actor, Action::ManageTopics, &ctx.topic.scope_code),
            reason: None,
            detail: serde_json::json!({
                "explanationId": explanation.id,
                "audience": audience.as_str(),
            }),
        },
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

/// `FROM opinions o WHERE …` the dissenting opinions of `topic` that no
/// explanation has reached, online or face to face. `None` when the topic
/// has no outcome yet, or its outcome leaves nobody dissenting.
async fn unexplained_from(db: &impl ConnectionTrait, topic: &Topic) -> Result<Option<String>> {
    let Some(outcome) = outcomes::current(db, topic.id).await? else {
        return Ok(None);
    };
    let kind = Kind::parse(&topic.kind).unwrap_or(Kind::Decision);
    let options = topics::options(db, topic.id).await?;
    let dissent = dissenting_choices(kind, &options, &outcome);
    if dissent.is_empty() {
        return Ok(None);
    }
    // Keys are ours (`support`, `option:12`…), never user text.
    let keys = dissent
        .iter()
        .map(|k| format!("'{}'", k.replace('\'', "")))
        .collect::<Vec<_>>()
        .join(", ");
    let id = topic.id;
    Ok(Some(format!(
        "FROM opinions o WHERE o.topic_id = {id} AND o.choice IN ({keys}) \
         AND NOT EXISTS (SELECT 1 FROM explanation_recipients r WHERE r.topic_id = {id} AND r.opinion_id = o.id) \
         AND NOT EXISTS (SELECT 1 FROM in_person_explanations p WHERE p.topic_id = {id} AND p.opinion_id = o.id)"
    )))
}

/// How many dissenters of `topic` have had no explanation yet, online or
/// face to face (including opinions recorded by proxy, which only a
/// face-to-face explanation reaches). A topic completes only at zero.
///
/// # Errors
/// Database errors.
pub async fn unexplained_dissenters(db: &impl ConnectionTrait, topic: &Topic) -> Result<u64> {
    let Some(from) = unexplained_from(db, topic).await? else {
        return Ok(0);
    };
    let backend = db.get_database_backend();
    let row = db
        .query_one(Statement::from_string(
            backend,
            format!("SELECT CAST(COUNT(*) AS BIGINT) {from}"),
        ))
        .await?;
    let n: i64 = match row {
        Some(row) => row.try_get_by_index(0)?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The dissenting opinions nobody has explained to yet, oldest first, for
/// the organiser to reach (online, or in person for proxy opinions).
///
/// # Errors
/// `FORBIDDEN` for anyone who may not read the topic's opinions.
pub async fn unexplained_opinions(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
    first: u64,
) -> Result<Vec<super::opinions::OpinionRow>> {
    let db = svc.db.reader();
    let topic = topics::get(db, topic_id).await?;
    actor.require(Action::ReadOpinions, &topic.scope_code)?;
    let Some(from) = unexplained_from(db, &topic).await? else {
        return Ok(Vec::new());
    };
    let backend = db.get_database_backend();
    let rows = opinions::Entity::find()
        .from_raw_sql(Statement::from_string(
            backend,
            format!(
                "SELECT o.* {from} ORDER BY o.id LIMIT {}",
                first.clamp(1, 500)
            ),
        ))
        .all(db)
        .await?;
    let identities = topics::secrecy::identities_visible(db, &topic, actor).await?;
    super::opinions::with_names(db, rows, identities).await
}

/// How a resident received a face-to-face explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InPersonResponse {
    Satisfied,
    Unsatisfied,
    /// The resident heard it and did not say.
    NoAnswer,
}

impl InPersonResponse {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Satisfied => "satisfied",
            Self::Unsatisfied => "unsatisfied",
            Self::NoAnswer => "no_answer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Satisfied, Self::Unsatisfied, Self::NoAnswer]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// A face-to-face explanation, as the organiser records it.
#[derive(Debug, Clone)]
pub struct NewInPerson {
    pub opinion_id: i64,
    /// Who explained (a cadre's name or post).
    pub explained_by: String,
    pub explained_at: chrono::DateTime<Utc>,
    pub place: String,
    pub response: InPersonResponse,
    pub note: Option<String>,
}

/// Records that a dissenter was explained to face to face: who explained,
/// when, where, and how the resident took it. The public record shows that
/// an explanation was given in person, never to whom.
///
/// # Errors
/// `FORBIDDEN` outside the organiser's division; `CONFLICT` before an
/// outcome; `BAD_USER_INPUT` for an opinion that is not a dissent on this
/// topic, empty fields, or a time in the future.
pub async fn record_in_person(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
    input: NewInPerson,
) -> Result<InPerson> {
    let scope = topics::get(svc.db.reader(), topic_id).await?.scope_code;
    actor.require(Action::ManageTopics, &scope)?;
    let ctx = context(svc, actor, topic_id).await?;
    let explained_by = input.explained_by.trim();
    if explained_by.is_empty() || explained_by.chars().count() > 100 {
        return Err(Error::bad_input(
            "explainedBy",
            "name who explained (1 to 100 characters)",
        ));
    }
    let place = input.place.trim();
    if place.is_empty() || place.chars().count() > 200 {
        return Err(Error::bad_input("place", "say where (1 to 200 characters)"));
    }
    let note = input
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > 2_000) {
        return Err(Error::bad_input(
            "note",
            "a note has at most 2000 characters",
        ));
    }
    let now = svc.now();
    if input.explained_at > now {
        return Err(Error::bad_input(
            "explainedAt",
            "record an explanation once it has been given",
        ));
    }
    let txn = svc.db.begin().await?;
    let opinion = opinions::Entity::find_by_id(input.opinion_id)
        .one(&txn)
        .await?
        .filter(|o| o.topic_id == topic_id && ctx.dissent.contains(&o.choice))
        .ok_or_else(|| {
            Error::bad_input(
                "opinionId",
                "an opinion of this topic that disagreed with the outcome",
            )
        })?;
    let row = in_person_explanations::ActiveModel {
        topic_id: Set(topic_id),
        opinion_id: Set(opinion.id),
        explained_by_name: Set(explained_by.to_owned()),
        explained_at: Set(input.explained_at),
        place: Set(place.to_owned()),
        response: Set(input.response.as_str().to_owned()),
        note: Set(note.map(str::to_owned)),
        recorded_by: Set(actor.user_id),
        recorded_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    super::record::append(
        &txn,
        topic_id,
        super::record::Entry {
            moved: super::record::Move::ExplainedInPerson,
            who: super::record::Who::acting(actor, Action::ManageTopics, &ctx.topic.scope_code),
            reason: None,
            detail: serde_json::json!({ "explainedAt": input.explained_at.to_rfc3339() }),
        },
        now,
    )
    .await?;
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "explanation.in_person",
            subject_type: "topic",
            subject_id: topic_id.to_string(),
            division_code: Some(ctx.topic.scope_code.clone()),
            detail: serde_json::json!({ "in_person_id": row.id, "opinion_id": opinion.id }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

/// The face-to-face explanations of a topic, for its staff.
///
/// # Errors
/// `FORBIDDEN` for anyone who may not read the topic's opinions.
pub async fn in_person_of_topic(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
) -> Result<Vec<InPerson>> {
    let db = svc.db.reader();
    let topic = topics::get(db, topic_id).await?;
    actor.require(Action::ReadOpinions, &topic.scope_code)?;
    Ok(in_person_explanations::Entity::find()
        .filter(in_person_explanations::Column::TopicId.eq(topic_id))
        .order_by_asc(in_person_explanations::Column::Id)
        .all(db)
        .await?)
}

/// A recipient's answer to an explanation, as the topic's staff read it:
/// never a name; for a secret topic not even the village or the opinion.
#[derive(Debug, Clone)]
pub struct ReplySeen {
    pub satisfied: bool,
    pub comment: Option<String>,
    pub replied_at: chrono::DateTime<Utc>,
    pub village_code: Option<String>,
    /// For a follow-up explanation to this one opinion (routed by the
    /// system to whoever gave it).
    pub opinion_id: Option<i64>,
}

/// The answers residents gave to explanation `explanation_id`, newest
/// first, for the staff of its topic to read and follow up.
///
/// # Errors
/// `NOT_FOUND` for an unknown explanation; `FORBIDDEN` for anyone who may
/// not read the topic's opinions.
pub async fn replies(svc: &Services, actor: &Actor, explanation_id: i64) -> Result<Vec<ReplySeen>> {
    let db = svc.db.reader();
    let explanation = explanations::Entity::find_by_id(explanation_id)
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("explanation {explanation_id}")))?;
    let topic = topics::get(db, explanation.topic_id).await?;
    actor.require(Action::ReadOpinions, &topic.scope_code)?;
    let secret = topics::secrecy::is_secret(&topic);
    Ok(explanation_recipients::Entity::find()
        .filter(explanation_recipients::Column::ExplanationId.eq(explanation_id))
        .filter(explanation_recipients::Column::Reply.is_not_null())
        .order_by_desc(explanation_recipients::Column::RepliedAt)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|r| {
            Some(ReplySeen {
                satisfied: r.reply.as_deref()? == "satisfied",
                comment: r.reply_comment,
                replied_at: r.replied_at?,
                village_code: (!secret).then_some(r.village_code),
                opinion_id: (!secret).then_some(r.opinion_id),
            })
        })
        .collect())
}
