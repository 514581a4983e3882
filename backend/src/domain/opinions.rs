//! Opinions: one current opinion per resident per topic, changeable while the
//! topic is open, every revision kept, and the tally counters moved in the
//! same transaction so results never need to count opinions.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{
    Alias, Asterisk, CommonTableExpression, Expr, OnConflict, Order, Query, WithClause,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};

use super::authz::{Action, Actor};
use super::divisions::{self, Level};
use super::outbox::{self, EmailKind, NewEmail};
use super::tally_cache::TallyMove;
use super::topics::{self, Choice, Eligibility, Kind, State, Topic};
use super::{accounts, audit, Services};
use crate::entities::{meetings, opinion_revisions, opinions, tallies, users};
use crate::error::{Error, Result};

pub use opinion_revisions::Model as Revision;
pub use opinions::Model as Opinion;

pub const MAX_REASON: usize = 2_000;

/// What a resident picked: a stance (decision, appraisal) or an option.
#[derive(Debug, Clone, Default)]
pub struct ChoiceInput {
    pub stance: Option<Choice>,
    pub option_id: Option<i64>,
}

/// Resolves the input against the topic's kind and options.
///
/// # Errors
/// `BAD_USER_INPUT` on `stance` or `optionId`.
pub fn resolve_choice(
    kind: Kind,
    options: &[topics::TopicOption],
    input: &ChoiceInput,
) -> Result<Choice> {
    match (kind, &input.stance, input.option_id) {
        (Kind::Choice, None, Some(id)) => options
            .iter()
            .any(|o| o.id == id)
            .then_some(Choice::Option(id))
            .ok_or_else(|| Error::bad_input("optionId", "not an option of this topic")),
        (Kind::Choice, _, _) => Err(Error::bad_input(
            "optionId",
            "choose one of the topic's options",
        )),
        (Kind::Open, None, None) => Ok(Choice::Suggestion),
        (_, Some(stance), None) if kind.choices(options).contains(stance) => Ok(stance.clone()),
        (Kind::Open, _, _) => Err(Error::bad_input(
            "reason",
            "an open topic takes a written suggestion only",
        )),
        _ => Err(Error::bad_input(
            "stance",
            match kind {
                Kind::Decision => "choose SUPPORT, OPPOSE or ABSTAIN",
                _ => "choose SATISFIED, BASICALLY_SATISFIED or UNSATISFIED",
            },
        )),
    }
}

fn validate_reason(
    topic: &Topic,
    choice: &Choice,
    reason: Option<String>,
) -> Result<Option<String>> {
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REASON)
    {
        return Err(Error::bad_input(
            "reason",
            format!("a reason has at most {MAX_REASON} characters"),
        ));
    }
    if reason.is_none() && *choice == Choice::Suggestion {
        return Err(Error::bad_input("reason", "write your suggestion"));
    }
    if reason.is_none() && topic.reason_required_for_dissent && choice.is_dissent() {
        return Err(Error::bad_input(
            "reason",
            "this topic asks those who disagree to give a reason",
        ));
    }
    Ok(reason)
}

fn ensure_open(topic: &Topic, now: DateTime<Utc>) -> Result<()> {
    let open = topic.state == State::Open.as_str() && topic.closes_at.is_none_or(|c| now < c);
    if open {
        Ok(())
    } else {
        Err(Error::conflict(format!(
            "opinions are taken only while a topic is open; this one is {}",
            if topic.state == State::Open.as_str() {
                "past its closing time"
            } else {
                &topic.state
            }
        )))
    }
}

/// How an opinion came in.
#[derive(Debug, Clone)]
enum Source {
    Online,
    /// Recorded by an organiser at an offline meeting.
    Proxy {
        recorded_by: i32,
        meeting_id: i64,
    },
}

/// Gives or changes the resident's opinion on an open topic.
///
/// # Errors
/// `NOT_FOUND` for an unknown topic; `CONFLICT` when not open; `FORBIDDEN`
/// for a resident who is not verified or not eligible; `BAD_USER_INPUT` for
/// a wrong stance/option or a reason that is missing or too long.
#[tracing::instrument(skip(svc, input, reason))]
pub async fn submit(
    svc: &Services,
    user_id: i32,
    topic_id: i64,
    input: ChoiceInput,
    reason: Option<String>,
) -> Result<Opinion> {
    let db = svc.db.reader();
    // The topic comes from memory; the writer checks, in its transaction,
    // that the topic is still open and the resident eligible (one read for
    // the whole batch).
    let mut cached = svc.topic_cache.get(db, topic_id).await?;
    if ensure_open(&cached.topic, svc.now()).is_err() {
        // The copy may predate the opening (moved by another instance).
        svc.topic_cache.forget(topic_id);
        cached = svc.topic_cache.get(db, topic_id).await?;
    }
    let topic = &cached.topic;
    if !topics::is_public(topic) {
        return Err(Error::not_found(format!("topic {topic_id}")));
    }
    ensure_open(topic, svc.now())?;
    let kind = Kind::parse(&topic.kind).unwrap_or(Kind::Decision);
    let choice = resolve_choice(kind, &cached.options, &input)?;
    let reason = validate_reason(topic, &choice, reason)?;
    write(
        svc,
        topic,
        Some(user_id),
        None,
        None,
        choice,
        reason,
        Source::Online,
    )
    .await
}

/// Whom an organiser records an opinion for.
#[derive(Debug, Clone)]
pub enum ProxyFor {
    /// A resident with an account: they are notified and may confirm or
    /// correct it online while the topic is open.
    User(i32),
    /// A resident without an account (no phone, elderly): name and village.
    Offline { name: String, village_code: String },
}

/// Records an opinion given at an offline meeting on a resident's behalf,
/// audited (`opinion.proxy`: the organiser, topic, meeting and opinion).
/// The checks below are made here for a quick answer and again inside the
/// writer's transaction (see `check_proxy_in`), which alone decides.
///
/// # Errors
/// `FORBIDDEN` outside the organiser's scope or for an ineligible resident;
/// `CONFLICT` when the topic is not open, the resident already answered
/// online, or the meeting already has as many opinions recorded at it as it
/// had attendees; `NOT_FOUND` for a meeting of another topic.
pub async fn record_proxy(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
    meeting_id: i64,
    who: ProxyFor,
    input: ChoiceInput,
    reason: Option<String>,
) -> Result<Opinion> {
    let db = svc.db.reader();
    let topic = topics::get(db, topic_id).await?;
    actor.require(Action::ManageTopics, &topic.scope_code)?;
    ensure_open(&topic, svc.now())?;
    topics::records::meeting_of(db, topic_id, meeting_id).await?;
    let kind = Kind::parse(&topic.kind).unwrap_or(Kind::Decision);
    let options = if kind == Kind::Choice {
        topics::options(db, topic_id).await?
    } else {
        Vec::new()
    };
    let choice = resolve_choice(kind, &options, &input)?;
    let reason = validate_reason(&topic, &choice, reason)?;
    let source = Source::Proxy {
        recorded_by: actor.user_id,
        meeting_id,
    };
    match who {
        ProxyFor::User(user_id) => {
            let village = topics::check_eligible(db, &topic, user_id).await?;
            if let Some(existing) = find(db, topic_id, user_id).await? {
                if !existing.proxy {
                    return Err(Error::conflict(
                        "this resident already gave an opinion online",
                    ));
                }
            }
            write(
                svc,
                &topic,
                Some(user_id),
                None,
                Some(village),
                choice,
                reason,
                source,
            )
            .await
        }
        ProxyFor::Offline { name, village_code } => {
            let name = name.trim().to_owned();
            if name.is_empty() || name.chars().count() > 64 {
                return Err(Error::bad_input(
                    "residentName",
                    "a name has 1 to 64 characters",
                ));
            }
            let village = divisions::normalize_code(&village_code, "villageCode")?;
            if divisions::level_of(&village) != Some(Level::Village)
                || !divisions::contains(&topic.scope_code, &village)
            {
                return Err(Error::bad_input(
                    "villageCode",
                    "a village or community inside the topic's scope",
                ));
            }
            if Eligibility::parse(&topic.eligibility) == Some(Eligibility::Stakeholders) {
                return Err(Error::forbidden(
                    "a stakeholder topic takes opinions from its listed stakeholders only",
                ));
            }
            divisions::get(db, &village).await?;
            write(
                svc,
                &topic,
                None,
                Some(name),
                Some(village),
                choice,
                reason,
                source,
            )
            .await
        }
    }
}

/// The resident confirms an opinion an organiser recorded for them.
///
/// # Errors
/// `NOT_FOUND` when there is no proxy opinion; `CONFLICT` once closed.
pub async fn confirm(svc: &Services, user_id: i32, topic_id: i64) -> Result<Opinion> {
    let topic = topics::get(svc.db.reader(), topic_id).await?;
    ensure_open(&topic, svc.now())?;
    let txn = svc.db.begin().await?;
    let opinion = find(&txn, topic_id, user_id)
        .await?
        .filter(|o| o.proxy)
        .ok_or_else(|| Error::not_found("an opinion recorded on your behalf"))?;
    let mut active: opinions::ActiveModel = opinion.into();
    active.confirmed_at = Set(Some(svc.now()));
    let confirmed = active.update(&txn).await?;
    txn.commit().await?;
    Ok(confirmed)
}

async fn find(db: &impl ConnectionTrait, topic_id: i64, user_id: i32) -> Result<Option<Opinion>> {
    Ok(opinions::Entity::find()
        .filter(opinions::Column::TopicId.eq(topic_id))
        .filter(opinions::Column::UserId.eq(user_id))
        .one(db)
        .await?)
}

/// An opinion ready to be written: checked, resolved, waiting for the writer.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    topic: Topic,
    user_id: Option<i32>,
    proxy_name: Option<String>,
    /// `None`: the writer checks eligibility in its transaction and counts
    /// the opinion in the resident's village.
    village: Option<String>,
    choice: Choice,
    reason: Option<String>,
    source: Source,
}

impl Pending {
    pub(crate) fn topic_id(&self) -> i64 {
        self.topic.id
    }

    /// An online opinion, for tests of the writer.
    #[cfg(test)]
    pub(crate) fn online(topic: Topic, user_id: i32, village: &str, choice: Choice) -> Self {
        Self {
            topic,
            user_id: Some(user_id),
            proxy_name: None,
            village: Some(village.to_owned()),
            choice,
            reason: None,
            source: Source::Online,
        }
    }
}

/// Writes the opinion, its revision and the counters in one transaction
/// through the group-commit writer, which shares one transaction among the
/// submissions that arrive together.
#[allow(clippy::too_many_arguments)]
async fn write(
    svc: &Services,
    topic: &Topic,
    user_id: Option<i32>,
    proxy_name: Option<String>,
    village: Option<String>,
    choice: Choice,
    reason: Option<String>,
    source: Source,
) -> Result<Opinion> {
    let pending = Pending {
        topic: topic.clone(),
        user_id,
        proxy_name,
        village,
        choice,
        reason,
        source,
    };
    svc.opinion_writer
        .as_ref()
        .ok_or_else(|| Error::internal(anyhow::anyhow!("no opinion writer in these services")))?
        .write(pending)
        .await
}

/// An opinion as written, with the counter moves to apply after the commit.
pub(crate) type Written = (Opinion, Vec<TallyMove>);

/// Writes a batch of online opinions inside `txn` with as few statements as
/// the group-commit writer can manage: one read of the residents' current
/// opinions, one write per opinion, then one statement for every counter
/// the batch moves and one for all the revisions. `None` when the batch
/// holds proxy opinions, which take the one-by-one path.
///
/// All or nothing: on an error the caller rolls `txn` back and writes the
/// batch one opinion at a time instead, so that one bad submission fails
/// alone.
pub(crate) async fn write_batch(
    svc: &Services,
    txn: &DatabaseTransaction,
    batch: &[&Pending],
) -> Option<Result<Vec<Result<Written>>>> {
    let online = batch
        .iter()
        .all(|p| matches!(p.source, Source::Online) && p.user_id.is_some());
    if !online {
        return None;
    }
    Some(write_online_batch(svc, txn, batch).await)
}

/// The state of a topic as this transaction sees it: the request may have
/// read an older copy.
async fn ensure_still_open(
    db: &impl ConnectionTrait,
    topic: &Topic,
    now: DateTime<Utc>,
) -> Result<()> {
    ensure_open(&topics::get(db, topic.id).await?, now)
}

async fn write_online_batch(
    svc: &Services,
    txn: &DatabaseTransaction,
    batch: &[&Pending],
) -> Result<Vec<Result<Written>>> {
    use std::collections::{BTreeMap, BTreeSet, HashMap};

    let now = svc.now();
    // The topics as they are now: the requests may have read cached copies.
    let topic_ids: BTreeSet<i64> = batch.iter().map(|p| p.topic.id).collect();
    let fresh: HashMap<i64, Topic> = crate::entities::topics::Entity::find()
        .filter(crate::entities::topics::Column::Id.is_in(topic_ids.iter().copied()))
        .all(txn)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    // Where the residents live, for those whose eligibility is checked here.
    let unchecked: BTreeSet<i32> = batch
        .iter()
        .filter(|p| p.village.is_none())
        .filter_map(|p| p.user_id)
        .collect();
    let homes: HashMap<i32, String> = if unchecked.is_empty() {
        HashMap::new()
    } else {
        crate::entities::residencies::Entity::find()
            .filter(crate::entities::residencies::Column::UserId.is_in(unchecked.iter().copied()))
            .filter(crate::entities::residencies::Column::Status.eq("approved"))
            .all(txn)
            .await?
            .into_iter()
            .map(|r| (r.user_id, r.division_code))
            .collect()
    };
    let mut by_topic: BTreeMap<i64, Vec<i32>> = BTreeMap::new();
    for p in batch {
        by_topic.entry(p.topic.id).or_default().extend(p.user_id);
    }
    // Locked on PostgreSQL, in (topic, resident) order like the writes
    // below, so another instance's batch changing the same opinions waits
    // for this one and counts from what it wrote.
    let mut current: HashMap<(i64, i32), Opinion> = HashMap::new();
    for (topic_id, mut users) in by_topic {
        users.sort_unstable();
        users.dedup();
        for opinion in current_opinions(txn, topic_id, &users).await? {
            if let Some(uid) = opinion.user_id {
                current.insert((topic_id, uid), opinion);
            }
        }
    }
    // Written in (topic, resident) order, a resident's submissions in the
    // order they came; answered in batch order.
    let mut order: Vec<usize> = (0..batch.len()).collect();
    order.sort_by_key(|&i| (batch[i].topic.id, batch[i].user_id));
    let mut written: Vec<Option<Result<Written>>> = (0..batch.len()).map(|_| None).collect();
    let mut all_moves = Vec::with_capacity(batch.len());
    // Each resident's opinion as the batch leaves it, starting from the
    // current one; a second submission of the same resident revises what
    // the first wrote.
    let mut latest: HashMap<(i64, i32), Opinion> = current;
    let mut touched: Vec<(i64, i32)> = Vec::new();
    let mut planned = Vec::with_capacity(batch.len());
    for i in order {
        let p = batch[i];
        let uid = p.user_id.expect("online opinions have a user");
        let open = fresh
            .get(&p.topic.id)
            .ok_or_else(|| Error::not_found(format!("topic {}", p.topic.id)))
            .and_then(|topic| ensure_open(topic, now));
        let village = match (open, &p.village) {
            (Err(err), _) => Err(err),
            (Ok(()), Some(village)) => Ok(village.clone()),
            (Ok(()), None) => {
                let listed = topics::is_for_stakeholders(&p.topic)
                    && topics::is_stakeholder(txn, p.topic.id, uid).await?;
                topics::eligible_village(&p.topic, homes.get(&uid).cloned(), listed)
            }
        };
        let village = match village {
            Ok(village) => village,
            Err(rejected) => {
                written[i] = Some(Err(rejected));
                continue;
            }
        };
        let values = Values {
            topic_id: p.topic.id,
            user_id: Some(uid),
            proxy_name: None,
            village: &village,
            key: p.choice.key(),
            reason: p.reason.clone(),
            source: &p.source,
            now,
        };
        let key = (p.topic.id, uid);
        let old = latest.get(&key);
        let moves = counter_moves(&values, old);
        let opinion = revised(&values, old);
        if touched.last() != Some(&key) {
            touched.push(key);
        }
        all_moves.extend_from_slice(&moves);
        let revision = values.revision(&opinion);
        latest.insert(key, opinion.clone());
        planned.push((i, opinion, moves, revision));
    }
    let finals: Vec<&Opinion> = touched.iter().map(|key| &latest[key]).collect();
    let new_ids = save_all(txn, &finals).await?;
    let mut revisions = Vec::with_capacity(planned.len());
    for (i, mut opinion, moves, mut revision) in planned {
        if opinion.id == 0 {
            let key = (opinion.topic_id, opinion.user_id.unwrap_or_default());
            opinion.id = *new_ids.get(&key).ok_or_else(|| {
                Error::internal(anyhow::anyhow!(
                    "a new opinion was not found after its insert"
                ))
            })?;
            revision.opinion_id = Set(opinion.id);
        }
        revisions.push(revision);
        written[i] = Some(Ok((opinion, moves)));
    }
    bump_all(txn, &all_moves).await?;
    for chunk in revisions.chunks(500) {
        opinion_revisions::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(written
        .into_iter()
        .map(|w| w.expect("every submission of the batch was written or rejected"))
        .collect())
}

/// The current opinions of `users` (ascending) on a topic, locked until the
/// transaction ends on PostgreSQL, in resident order.
///
/// On PostgreSQL each resident is looked up through the unique (topic,
/// resident) index on its own: a single `user_id IN (…)` is planned as a
/// scan of all the topic's opinions whenever the statistics know nothing of
/// the topic yet (opened since the last ANALYZE).
async fn current_opinions(
    txn: &DatabaseTransaction,
    topic_id: i64,
    users: &[i32],
) -> Result<Vec<Opinion>> {
    let backend = txn.get_database_backend();
    let mut found = Vec::with_capacity(users.len());
    for chunk in users.chunks(500) {
        if backend != sea_orm::DatabaseBackend::Postgres {
            found.extend(
                opinions::Entity::find()
                    .filter(opinions::Column::TopicId.eq(topic_id))
                    .filter(opinions::Column::UserId.is_in(chunk.iter().copied()))
                    .all(txn)
                    .await?,
            );
            continue;
        }
        let mut sql = String::from("SELECT o.* FROM (VALUES ");
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(chunk.len() + 1);
        values.push(topic_id.into());
        for (i, uid) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            sql.push_str(&placeholder(backend, i + 2));
            sql.push_str("::integer)");
            values.push((*uid).into());
        }
        sql.push_str(
            ") AS u(user_id) CROSS JOIN LATERAL (SELECT * FROM opinions \
             WHERE topic_id = $1 AND user_id = u.user_id LIMIT 1 FOR UPDATE) o",
        );
        found.extend(
            opinions::Entity::find()
                .from_raw_sql(sea_orm::Statement::from_sql_and_values(
                    backend, sql, values,
                ))
                .all(txn)
                .await?,
        );
    }
    Ok(found)
}

/// The `n`th (from 1) bind parameter of a hand-written statement.
fn placeholder(backend: sea_orm::DatabaseBackend, n: usize) -> String {
    match backend {
        sea_orm::DatabaseBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}

/// Moves counters by the sum of `moves` per counter, creating them on first
/// use, with one statement per 500 counters, in key order (the order every
/// writer locks counter rows in, so writers cannot deadlock), skipping moves
/// that cancel out.
async fn bump_all(db: &impl ConnectionTrait, moves: &[TallyMove]) -> Result<()> {
    let mut counters: std::collections::BTreeMap<(i64, &str, &str), i64> =
        std::collections::BTreeMap::new();
    for m in moves {
        *counters
            .entry((m.topic_id, m.village.as_str(), m.choice.as_str()))
            .or_default() += m.delta;
    }
    let moves: Vec<_> = counters.iter().filter(|(_, d)| **d != 0).collect();
    for chunk in moves.chunks(500) {
        let mut insert = Query::insert();
        insert.into_table(tallies::Entity).columns([
            tallies::Column::TopicId,
            tallies::Column::VillageCode,
            tallies::Column::Choice,
            tallies::Column::Count,
        ]);
        for ((topic_id, village, choice), delta) in chunk {
            insert.values_panic([
                (*topic_id).into(),
                (*village).into(),
                (*choice).into(),
                (**delta).into(),
            ]);
        }
        insert.on_conflict(
            OnConflict::columns([
                tallies::Column::TopicId,
                tallies::Column::VillageCode,
                tallies::Column::Choice,
            ])
            .value(
                tallies::Column::Count,
                Expr::col((tallies::Entity, tallies::Column::Count))
                    .add(Expr::col((Alias::new("excluded"), tallies::Column::Count))),
            )
            .to_owned(),
        );
        let backend = db.get_database_backend();
        db.execute(backend.build(&insert)).await?;
    }
    Ok(())
}

/// Writes `pending` inside `txn` (a transaction or a savepoint); returns
/// the opinion and the counter moves to apply once `txn` has committed.
pub(crate) async fn write_pending(
    svc: &Services,
    txn: &DatabaseTransaction,
    pending: &Pending,
) -> Result<(Opinion, Vec<TallyMove>)> {
    let proxy = matches!(pending.source, Source::Proxy { .. });
    let village = match (&pending.village, pending.user_id) {
        // What the organiser's request checked may have changed since: the
        // topic closed, the resident moved or was struck off the list.
        (_, Some(uid)) if proxy => {
            ensure_still_open(txn, &pending.topic, svc.now()).await?;
            topics::check_eligible(txn, &pending.topic, uid).await?
        }
        (Some(village), None) if proxy => {
            ensure_still_open(txn, &pending.topic, svc.now()).await?;
            village.clone()
        }
        (Some(village), _) => village.clone(),
        (None, Some(uid)) => {
            ensure_still_open(txn, &pending.topic, svc.now()).await?;
            topics::check_eligible(txn, &pending.topic, uid).await?
        }
        (None, None) => {
            return Err(Error::internal(anyhow::anyhow!(
                "an opinion without a village or a resident"
            )))
        }
    };
    write_in(
        svc,
        txn,
        &pending.topic,
        pending.user_id,
        pending.proxy_name.clone(),
        &village,
        &pending.choice,
        pending.reason.clone(),
        &pending.source,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn write_in(
    svc: &Services,
    txn: &DatabaseTransaction,
    topic: &Topic,
    user_id: Option<i32>,
    proxy_name: Option<String>,
    village: &str,
    choice: &Choice,
    reason: Option<String>,
    source: &Source,
) -> Result<(Opinion, Vec<TallyMove>)> {
    let now = svc.now();
    let values = Values {
        topic_id: topic.id,
        user_id,
        proxy_name,
        village,
        key: choice.key(),
        reason,
        source,
        now,
    };
    // Locked, so two changes of one opinion on two instances move the
    // counters from the value each really replaces.
    let old = match user_id {
        Some(uid) => current_opinions(txn, topic.id, &[uid]).await?.pop(),
        None => None,
    };
    if let Source::Proxy { meeting_id, .. } = source {
        check_proxy_in(txn, topic, *meeting_id, old.as_ref()).await?;
    }
    let moves = counter_moves(&values, old.as_ref());
    bump_all(txn, &moves).await?;
    let opinion = save(txn, &values, old).await?;
    opinion_revisions::Entity::insert(values.revision(&opinion))
        .exec_without_returning(txn)
        .await?;
    if let Source::Proxy {
        recorded_by,
        meeting_id,
    } = source
    {
        if let Some(uid) = user_id {
            notify_proxy(svc, txn, topic, &opinion, uid, now).await?;
        }
        // Every proxy opinion, by account or by name; a name stays in the
        // opinion row, which the entry points to by id.
        audit::record(
            txn,
            audit::Entry {
                actor_user_id: Some(*recorded_by),
                action: "opinion.proxy",
                subject_type: "topic",
                subject_id: topic.id.to_string(),
                division_code: Some(topic.scope_code.clone()),
                detail: serde_json::json!({
                    "opinion_id": opinion.id,
                    "revision": opinion.revision,
                    "meeting_id": meeting_id,
                    "user_id": user_id,
                    "by_name": user_id.is_none(),
                    "village_code": opinion.village_code,
                }),
            },
            now,
        )
        .await?;
    }
    Ok((opinion, moves))
}

/// The checks on a proxy opinion that must hold at commit, made inside the
/// writer's transaction after the resident's current opinion (`old`) was
/// read and locked: an opinion the resident gave online is not overwritten,
/// and a meeting never has more opinions recorded at it than people
/// attended it. The meeting row is locked before counting (`FOR UPDATE` on
/// PostgreSQL; SQLite has one writer), so two recordings at one meeting,
/// from two writers or two instances, count one after the other. Online
/// opinions never lock meetings, so this adds no lock cycle.
///
/// # Errors
/// `NOT_FOUND` for a meeting of another topic; `CONFLICT` for an online
/// opinion or a meeting whose attendance is all recorded.
async fn check_proxy_in(
    txn: &DatabaseTransaction,
    topic: &Topic,
    meeting_id: i64,
    old: Option<&Opinion>,
) -> Result<()> {
    if old.is_some_and(|o| !o.proxy) {
        return Err(Error::conflict(
            "this resident already gave an opinion online",
        ));
    }
    let meeting = meetings::Entity::find_by_id(meeting_id)
        .lock_exclusive()
        .one(txn)
        .await?
        .filter(|m| m.topic_id == topic.id)
        .ok_or_else(|| Error::not_found(format!("meeting {meeting_id} of topic {}", topic.id)))?;
    let recorded = opinions::Entity::find()
        .filter(opinions::Column::MeetingId.eq(meeting_id))
        .count(txn)
        .await?;
    // Re-recording one resident's opinion at the same meeting adds no one.
    let replaces_one_here = old.is_some_and(|o| o.meeting_id == Some(meeting_id));
    let after = recorded + u64::from(!replaces_one_here);
    if after > u64::try_from(meeting.attendees).unwrap_or(0) {
        return Err(Error::conflict(format!(
            "meeting {meeting_id} had {} attendees and {recorded} opinions are already \
             recorded at it: no more can be recorded at this meeting",
            meeting.attendees
        )));
    }
    Ok(())
}

async fn notify_proxy(
    svc: &Services,
    db: &impl ConnectionTrait,
    topic: &Topic,
    opinion: &Opinion,
    user_id: i32,
    now: DateTime<Utc>,
) -> Result<()> {
    let user = accounts::get(db, user_id).await?;
    outbox::enqueue(
        db,
        NewEmail {
            kind: EmailKind::ProxyOpinionRecorded,
            event: format!("opinion:{}:revision:{}", opinion.id, opinion.revision),
            recipient: user.email,
            user_id: Some(user.id),
            locale: user.locale,
            payload: serde_json::json!({
                "display_name": user.display_name,
                "topic_id": topic.id,
                "title": topic.title,
                "choice": opinion.choice,
                "link": format!("{}/topics/{}", svc.settings.public_url, topic.id),
            }),
        },
        now,
    )
    .await
}

/// What an opinion being written says, whichever way it came in.
struct Values<'a> {
    topic_id: i64,
    user_id: Option<i32>,
    proxy_name: Option<String>,
    village: &'a str,
    key: String,
    reason: Option<String>,
    source: &'a Source,
    now: DateTime<Utc>,
}

impl Values<'_> {
    /// `(proxy, recorded_by, meeting_id)`.
    fn provenance(&self) -> (bool, Option<i32>, Option<i64>) {
        match self.source {
            Source::Online => (false, None, None),
            Source::Proxy {
                recorded_by,
                meeting_id,
            } => (true, Some(*recorded_by), Some(*meeting_id)),
        }
    }

    /// The revision row recording `opinion` as just written.
    fn revision(&self, opinion: &Opinion) -> opinion_revisions::ActiveModel {
        let (proxy, recorded_by, _) = self.provenance();
        opinion_revisions::ActiveModel {
            topic_id: Set(self.topic_id),
            opinion_id: Set(opinion.id),
            revision: Set(opinion.revision),
            village_code: Set(self.village.to_owned()),
            choice: Set(self.key.clone()),
            reason: Set(self.reason.clone()),
            proxy: Set(proxy),
            recorded_by: Set(recorded_by),
            created_at: Set(self.now),
            ..Default::default()
        }
    }
}

/// The counter moves of writing `values` over the resident's `old` opinion,
/// in key order.
fn counter_moves(values: &Values<'_>, old: Option<&Opinion>) -> Vec<TallyMove> {
    let mv = |village: &str, choice: &str, delta| TallyMove {
        topic_id: values.topic_id,
        village: village.to_owned(),
        choice: choice.to_owned(),
        delta,
    };
    let mut moves = match old {
        None => vec![mv(values.village, &values.key, 1)],
        Some(old) if old.choice == values.key && old.village_code == values.village => Vec::new(),
        Some(old) => vec![
            mv(&old.village_code, &old.choice, -1),
            mv(values.village, &values.key, 1),
        ],
    };
    moves.sort_by(|a, b| (&a.village, &a.choice).cmp(&(&b.village, &b.choice)));
    moves
}

/// The opinion as it stands after writing `values` over the resident's
/// `old` one (id 0 for a new opinion, until it is inserted).
fn revised(values: &Values<'_>, old: Option<&Opinion>) -> Opinion {
    let (proxy, recorded_by, meeting_id) = values.provenance();
    match old {
        Some(old) => Opinion {
            choice: values.key.clone(),
            village_code: values.village.to_owned(),
            reason: values.reason.clone(),
            proxy,
            recorded_by,
            meeting_id: if proxy { meeting_id } else { old.meeting_id },
            confirmed_at: None,
            revision: old.revision + 1,
            updated_at: values.now,
            ..old.clone()
        },
        None => Opinion {
            id: 0,
            topic_id: values.topic_id,
            user_id: values.user_id,
            village_code: values.village.to_owned(),
            choice: values.key.clone(),
            reason: values.reason.clone(),
            proxy,
            proxy_name: values.proxy_name.clone(),
            meeting_id,
            recorded_by,
            confirmed_at: None,
            revision: 1,
            created_at: values.now,
            updated_at: values.now,
        },
    }
}

/// Inserts the opinion, or revises the resident's `old` one.
async fn save(
    txn: &DatabaseTransaction,
    values: &Values<'_>,
    old: Option<Opinion>,
) -> Result<Opinion> {
    let next = revised(values, old.as_ref());
    let mut active = opinions::ActiveModel::from(next).reset_all();
    if old.is_some() {
        Ok(active.update(txn).await?)
    } else {
        active.id = sea_orm::ActiveValue::NotSet;
        active.insert(txn).await.map_err(Error::internal)
    }
}

/// Writes the final state of a batch's opinions: one multi-row insert per
/// 500 new ones (their ids returned by the insert), one
/// multi-row update per 500 changed ones. `finals` holds each resident's
/// opinion after the batch, id 0 for the new ones; returns the new ids.
async fn save_all(
    txn: &DatabaseTransaction,
    finals: &[&Opinion],
) -> Result<std::collections::HashMap<(i64, i32), i64>> {
    use std::collections::HashMap;

    let (new, changed): (Vec<&Opinion>, Vec<&Opinion>) = finals.iter().partition(|o| o.id == 0);
    let backend = txn.get_database_backend();
    let mut ids = HashMap::with_capacity(new.len());
    for chunk in new.chunks(500) {
        let rows = chunk.iter().map(|o| {
            let mut active = opinions::ActiveModel::from((*o).clone()).reset_all();
            active.id = sea_orm::ActiveValue::NotSet;
            active
        });
        let mut insert = opinions::Entity::insert_many(rows).into_query();
        insert.returning(Query::returning().columns([
            opinions::Column::Id,
            opinions::Column::TopicId,
            opinions::Column::UserId,
        ]));
        for row in txn.query_all(backend.build(&insert)).await? {
            let user_id: Option<i32> = row.try_get("", "user_id")?;
            if let Some(uid) = user_id {
                ids.insert((row.try_get("", "topic_id")?, uid), row.try_get("", "id")?);
            }
        }
    }
    for chunk in changed.chunks(500) {
        // The same statement on both backends (UPDATE … FROM needs SQLite
        // 3.33); only the placeholders differ. Every column `revised` may
        // change is set from the opinion as it stands.
        const COLUMNS: [&str; 9] = [
            "id",
            "choice",
            "village_code",
            "reason",
            "proxy",
            "recorded_by",
            "confirmed_at",
            "revision",
            "updated_at",
        ];
        let mut sql = format!("WITH v({}) AS (VALUES ", COLUMNS.join(", "));
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(chunk.len() * COLUMNS.len());
        for (row, o) in chunk.iter().enumerate() {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for column in 0..COLUMNS.len() {
                if column > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&placeholder(backend, values.len() + column + 1));
            }
            sql.push(')');
            values.extend([
                o.id.into(),
                o.choice.clone().into(),
                o.village_code.clone().into(),
                o.reason.clone().into(),
                o.proxy.into(),
                o.recorded_by.into(),
                o.confirmed_at.into(),
                o.revision.into(),
                o.updated_at.into(),
            ]);
        }
        let set: Vec<String> = COLUMNS[1..]
            .iter()
            .map(|c| format!("{c} = v.{c}"))
            .collect();
        sql.push_str(&format!(
            ") UPDATE opinions SET {} FROM v WHERE opinions.id = v.id",
            set.join(", ")
        ));
        txn.execute(sea_orm::Statement::from_sql_and_values(
            backend, sql, values,
        ))
        .await?;
    }
    Ok(ids)
}

/// The user's current opinion on a topic.
pub async fn mine(
    db: &impl ConnectionTrait,
    user_id: i32,
    topic_id: i64,
) -> Result<Option<Opinion>> {
    find(db, topic_id, user_id).await
}

/// The user's current opinions on any of `topic_ids` (for batched lookups).
///
/// # Errors
/// Database errors.
pub async fn mine_among(
    db: &impl ConnectionTrait,
    user_id: i32,
    topic_ids: &[i64],
) -> Result<Vec<Opinion>> {
    let mut found = Vec::new();
    for chunk in topic_ids.chunks(1_000) {
        found.extend(
            opinions::Entity::find()
                .filter(opinions::Column::UserId.eq(user_id))
                .filter(opinions::Column::TopicId.is_in(chunk.iter().copied()))
                .all(db)
                .await?,
        );
    }
    Ok(found)
}

/// All the user's current opinions, newest first.
pub async fn all_mine(db: &impl ConnectionTrait, user_id: i32, first: u64) -> Result<Vec<Opinion>> {
    Ok(opinions::Entity::find()
        .filter(opinions::Column::UserId.eq(user_id))
        .order_by_desc(opinions::Column::UpdatedAt)
        .limit(first.min(200))
        .all(db)
        .await?)
}

/// Every revision of an opinion, oldest first.
pub async fn revisions(db: &impl ConnectionTrait, opinion: &Opinion) -> Result<Vec<Revision>> {
    Ok(opinion_revisions::Entity::find()
        .filter(opinion_revisions::Column::TopicId.eq(opinion.topic_id))
        .filter(opinion_revisions::Column::OpinionId.eq(opinion.id))
        .order_by_asc(opinion_revisions::Column::Revision)
        .all(db)
        .await?)
}

#[derive(Debug, Clone, Default)]
pub struct OpinionFilter {
    pub choices: Vec<String>,
    pub division_code: Option<String>,
    pub text: Option<String>,
    pub proxy: Option<bool>,
}

/// An opinion with the name of who gave it, for organisers.
#[derive(Debug, Clone)]
pub struct OpinionRow {
    pub opinion: Opinion,
    pub resident_name: Option<String>,
}

/// Opinions on a topic for its organisers and supervisors, newest first,
/// `first` after id `after`; `first = None` returns all.
///
/// # Errors
/// `FORBIDDEN` for anyone else.
pub async fn list(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
    filter: &OpinionFilter,
    first: Option<u64>,
    after: Option<i64>,
) -> Result<Vec<OpinionRow>> {
    let db = svc.db.reader();
    let topic = topics::get(db, topic_id).await?;
    actor.require(Action::ReadOpinions, &topic.scope_code)?;
    // Counting the list would tell a sealed tally.
    topics::secrecy::require_unsealed(&topic)?;
    if first.is_some_and(|n| n == 0 || n > 500) {
        return Err(Error::bad_input("first", "must be between 1 and 500"));
    }
    let identities = topics::secrecy::identities_visible(db, &topic, actor).await?;
    let mut cond = Condition::all().add(opinions::Column::TopicId.eq(topic_id));
    if !filter.choices.is_empty() {
        cond = cond.add(opinions::Column::Choice.is_in(filter.choices.clone()));
    }
    // A division holding the whole topic filters nothing.
    let division = filter
        .division_code
        .as_deref()
        .map(|code| divisions::normalize_code(code, "divisionCode"))
        .transpose()?
        .filter(|code| !divisions::contains(code, &topic.scope_code));
    if let Some(code) = &division {
        cond = cond.add(divisions::within(opinions::Column::VillageCode, code));
    }
    if let Some(text) = filter
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        cond = cond.add(opinions::Column::Reason.contains(text));
    }
    if let Some(proxy) = filter.proxy {
        cond = cond.add(opinions::Column::Proxy.eq(proxy));
    }
    if let Some(after) = after {
        cond = cond.add(opinions::Column::Id.lt(after));
    }
    let rows = match (first, division) {
        (Some(first), Some(_)) => newest_within_division(db, cond, first + 1).await?,
        (first, _) => {
            let mut query = opinions::Entity::find()
                .filter(cond)
                .order_by_desc(opinions::Column::Id);
            if let Some(first) = first {
                query = query.limit(first + 1);
            }
            query.all(db).await?
        }
    };
    with_names(db, rows, identities).await
}

/// `rows` with the name of who gave each, when `identities` (the viewer may
/// see them: see [`topics::secrecy::identities_visible`]); else nameless.
///
/// # Errors
/// Database errors.
pub async fn with_names(
    db: &impl ConnectionTrait,
    rows: Vec<Opinion>,
    identities: bool,
) -> Result<Vec<OpinionRow>> {
    let ids: Vec<i32> = if identities {
        rows.iter().filter_map(|o| o.user_id).collect()
    } else {
        Vec::new()
    };
    let mut names = std::collections::HashMap::new();
    for chunk in ids.chunks(1_000) {
        for (id, name) in users::Entity::find()
            .select_only()
            .columns([users::Column::Id, users::Column::DisplayName])
            .filter(users::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple::<(i32, String)>()
            .all(db)
            .await?
        {
            names.insert(id, name);
        }
    }
    Ok(rows
        .into_iter()
        .map(|opinion| {
            let resident_name = opinion
                .user_id
                .and_then(|id| names.get(&id).cloned())
                .or_else(|| opinion.proxy_name.clone().filter(|_| identities));
            OpinionRow {
                opinion,
                resident_name,
            }
        })
        .collect())
}

/// The newest `limit` opinions matching `cond`, which holds a division.
///
/// Asked plainly, PostgreSQL walks the primary key from the newest opinion
/// of any topic and stops at the `limit`th match, trusting matches to be
/// spread evenly; an older topic's opinions all lie behind every newer
/// topic's, so a township's page read hundreds of thousands of rows. The
/// matching ids are therefore found first, from the (village, topic, id)
/// index alone, and only the newest are read whole: the cost follows the
/// division's opinions on the topic, not the table's history.
async fn newest_within_division(
    db: &impl ConnectionTrait,
    cond: Condition,
    limit: u64,
) -> Result<Vec<opinions::Model>> {
    let matching = Alias::new("matching");
    let ids = CommonTableExpression::new()
        .query(
            Query::select()
                .column(opinions::Column::Id)
                .from(opinions::Entity)
                .cond_where(cond)
                .to_owned(),
        )
        .table_name(matching.clone())
        .materialized(true)
        .to_owned();
    let newest = Query::select()
        .column(opinions::Column::Id)
        .from(matching)
        .order_by(opinions::Column::Id, Order::Desc)
        .limit(limit)
        .to_owned();
    let select = Query::select()
        .column((opinions::Entity, Asterisk))
        .from(opinions::Entity)
        .and_where(Expr::col((opinions::Entity, opinions::Column::Id)).in_subquery(newest))
        .order_by((opinions::Entity, opinions::Column::Id), Order::Desc)
        .to_owned()
        .with(WithClause::new().cte(ids).to_owned());
    let statement = db.get_database_backend().build(&select);
    Ok(opinions::Entity::find()
        .from_raw_sql(statement)
        .all(db)
        .await?)
}

/// Opinions read per query while exporting: memory per download stays
/// bounded however many opinions the topic has.
pub const EXPORT_PAGE: u64 = 500;

const EXPORT_HEADER: [&str; 9] = [
    "id",
    "village_code",
    "choice",
    "reason",
    "resident",
    "proxy",
    "revision",
    "created_at",
    "updated_at",
];

/// The opinions as CSV ([`crate::spreadsheet`]: a BOM, formula-like cells
/// neutralised), newest first, as a stream of pieces: the header, then one
/// piece per [`EXPORT_PAGE`] opinions, each page read after the last id of
/// the one before. Who may read them is checked before anything is
/// returned, so a refusal is an error and not a broken download.
///
/// # Errors
/// As [`list`]; the stream's items fail on database errors.
pub async fn export_csv(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
    filter: &OpinionFilter,
) -> Result<impl futures::Stream<Item = Result<Vec<u8>>> + Send + 'static> {
    use futures::StreamExt as _;

    let topic = topics::get(svc.db.reader(), topic_id).await?;
    actor.require(Action::ReadOpinions, &topic.scope_code)?;
    topics::secrecy::require_unsealed(&topic)?;
    let options = topics::options(svc.db.reader(), topic_id).await?;
    let mut header = crate::spreadsheet::Writer::with_bom();
    header.row(EXPORT_HEADER).map_err(Error::internal)?;
    let header = header.finish().map_err(Error::internal)?;
    let export = std::sync::Arc::new((svc.clone(), actor.clone(), filter.clone(), options));
    // The state is the id the next page starts after (`None` for the
    // first page), or nothing once the last page is written.
    let pages = futures::stream::try_unfold(Some(None), move |state: Option<Option<i64>>| {
        let export = export.clone();
        async move {
            let Some(after) = state else {
                return Ok(None);
            };
            let (svc, actor, filter, options) = &*export;
            let mut rows = list(svc, actor, topic_id, filter, Some(EXPORT_PAGE), after).await?;
            let more = rows.len() as u64 > EXPORT_PAGE;
            rows.truncate(usize::try_from(EXPORT_PAGE).unwrap_or(usize::MAX));
            if rows.is_empty() {
                return Ok(None);
            }
            let next = rows.last().map(|r| r.opinion.id);
            let piece = export_rows(rows, options)?;
            Ok(Some((piece, more.then_some(next))))
        }
    });
    Ok(futures::stream::once(async move { Ok(header) }).chain(pages))
}

/// One page of the export as CSV rows.
fn export_rows(rows: Vec<OpinionRow>, options: &[topics::TopicOption]) -> Result<Vec<u8>> {
    let mut out = crate::spreadsheet::Writer::part();
    for row in rows {
        let o = row.opinion;
        let choice = match Choice::parse_key(&o.choice) {
            Some(Choice::Option(id)) => options
                .iter()
                .find(|opt| opt.id == id)
                .map_or(o.choice.clone(), |opt| opt.label.clone()),
            _ => o.choice.clone(),
        };
        out.row([
            o.id.to_string(),
            o.village_code,
            choice,
            o.reason.unwrap_or_default(),
            row.resident_name.unwrap_or_default(),
            o.proxy.to_string(),
            o.revision.to_string(),
            o.created_at.to_rfc3339(),
            o.updated_at.to_rfc3339(),
        ])
        .map_err(Error::internal)?;
    }
    out.finish().map_err(Error::internal)
}

/// Differences between the counters and a recount of the opinions, for
/// `yishi check`: `(topic, village, choice, counter, recount)`.
///
/// # Errors
/// Database errors.
pub async fn counter_mismatches(
    db: &impl ConnectionTrait,
) -> Result<Vec<(i64, String, String, i64, i64)>> {
    use std::collections::BTreeMap;
    let counters: Vec<(i64, String, String, i64)> = tallies::Entity::find()
        .select_only()
        .columns([
            tallies::Column::TopicId,
            tallies::Column::VillageCode,
            tallies::Column::Choice,
            tallies::Column::Count,
        ])
        .into_tuple()
        .all(db)
        .await?;
    let recount: Vec<(i64, String, String, i64)> = opinions::Entity::find()
        .select_only()
        .columns([
            opinions::Column::TopicId,
            opinions::Column::VillageCode,
            opinions::Column::Choice,
        ])
        .column_as(Expr::col(opinions::Column::Id).count(), "n")
        .group_by(opinions::Column::TopicId)
        .group_by(opinions::Column::VillageCode)
        .group_by(opinions::Column::Choice)
        .into_tuple()
        .all(db)
        .await?;
    let mut merged: BTreeMap<(i64, String, String), (i64, i64)> = BTreeMap::new();
    for (t, v, c, n) in counters {
        merged.entry((t, v, c)).or_default().0 = n;
    }
    for (t, v, c, n) in recount {
        merged.entry((t, v, c)).or_default().1 = n;
    }
    Ok(merged
        .into_iter()
        .filter(|(_, (counter, recount))| counter != recount)
        .map(|((t, v, c), (counter, recount))| (t, v, c, counter, recount))
        .collect())
}
