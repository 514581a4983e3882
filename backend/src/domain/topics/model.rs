//! What a topic is: kinds, categories, states, choices, and the checks on a
//! draft.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use crate::domain::authz::{Action, Actor};
use crate::domain::divisions::{self, Level};
use crate::domain::{audit, residency, Services};
use crate::entities::{assessments, residencies, topic_options, topic_stakeholders, topics};
use crate::error::{Error, Result};

pub use topic_options::Model as TopicOption;
pub use topics::Model as Topic;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }
    };
}

string_enum!(
    /// Consultation content named by the policy (协商内容).
    Category {
        LandTransfer => "land_transfer",
        PublicFacilities => "public_facilities",
        TransportWater => "transport_water",
        Ecology => "ecology",
        LandAcquisitionDemolition => "land_acquisition_demolition",
        ResidentConcern => "resident_concern",
        PolicyImplementation => "policy_implementation",
        LegallyRequired => "legally_required",
        Other => "other",
    }
);

string_enum!(
    /// The form of consultation, which fixes what an opinion can be.
    Kind {
        /// Support, oppose or abstain (决策).
        Decision => "decision",
        /// One of 2–20 options.
        Choice => "choice",
        /// Democratic appraisal (民主评议).
        Appraisal => "appraisal",
        /// Free suggestions.
        Open => "open",
    }
);

string_enum!(
    State {
        Draft => "draft",
        Announced => "announced",
        Open => "open",
        Closed => "closed",
        Decided => "decided",
        Implementing => "implementing",
        Completed => "completed",
        Withdrawn => "withdrawn",
    }
);

string_enum!(
    Eligibility {
        /// Every verified resident living in the scope's subtree.
        Residents => "residents",
        /// An explicit list of users (e.g. the households whose land is affected).
        Stakeholders => "stakeholders",
    }
);

impl State {
    /// The lifecycle: the states a topic may move to from this one.
    pub const fn next(self) -> &'static [State] {
        use State::*;
        match self {
            Draft => &[Announced, Withdrawn],
            Announced => &[Open, Withdrawn],
            Open => &[Closed, Withdrawn],
            Closed => &[Decided, Withdrawn],
            Decided => &[Implementing],
            Implementing => &[Completed],
            Completed | Withdrawn => &[],
        }
    }

    pub fn can_move_to(self, to: State) -> bool {
        self.next().contains(&to)
    }

    /// The states from which `to` can be reached (for error messages).
    pub fn sources_of(to: State) -> Vec<State> {
        State::ALL
            .iter()
            .copied()
            .filter(|s| s.can_move_to(to))
            .collect()
    }
}

/// Whether the public (anonymous visitors, residents) may see the topic: once
/// it has been announced, whatever became of it since.
///
/// A draft withdrawn before its announcement stays with the staff of its
/// scope: the residents were never told of it, so there is nothing to
/// explain to them, and showing it would publish an organiser's unfinished
/// work. It is kept (not deleted) in state `WITHDRAWN` with its reason, so
/// the audit log and the staff's lists still account for it, and no new
/// state has to be taught to every client. Every public route (the topic by
/// id, lists, results, opinions) goes through this rule or [`list`]'s SQL
/// form of it.
pub fn is_public(topic: &Topic) -> bool {
    match State::parse(&topic.state) {
        None | Some(State::Draft) => false,
        Some(State::Withdrawn) => topic.announced_at.is_some(),
        Some(_) => true,
    }
}

/// [`is_public`] as a condition on the `topics` table.
fn public_condition() -> Condition {
    Condition::any()
        .add(topics::Column::State.is_not_in([State::Draft.as_str(), State::Withdrawn.as_str()]))
        .add(
            Condition::all()
                .add(topics::Column::State.eq(State::Withdrawn.as_str()))
                .add(topics::Column::AnnouncedAt.is_not_null()),
        )
}

/// A stance or option an opinion takes, as stored in `opinions.choice`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Choice {
    Support,
    Oppose,
    Abstain,
    Satisfied,
    BasicallySatisfied,
    Unsatisfied,
    Option(i64),
    /// The one choice of an `OPEN` topic: the reason is the suggestion.
    Suggestion,
}

impl Choice {
    pub fn key(&self) -> String {
        match self {
            Self::Support => "support".into(),
            Self::Oppose => "oppose".into(),
            Self::Abstain => "abstain".into(),
            Self::Satisfied => "satisfied".into(),
            Self::BasicallySatisfied => "basically_satisfied".into(),
            Self::Unsatisfied => "unsatisfied".into(),
            Self::Option(id) => format!("option:{id}"),
            Self::Suggestion => "suggestion".into(),
        }
    }

    pub fn parse_key(key: &str) -> Option<Self> {
        Some(match key {
            "support" => Self::Support,
            "oppose" => Self::Oppose,
            "abstain" => Self::Abstain,
            "satisfied" => Self::Satisfied,
            "basically_satisfied" => Self::BasicallySatisfied,
            "unsatisfied" => Self::Unsatisfied,
            "suggestion" => Self::Suggestion,
            other => Self::Option(other.strip_prefix("option:")?.parse().ok()?),
        })
    }

    /// Whether this choice dissents before any outcome is adopted (the
    /// reason-required rule): opposing a decision, unsatisfied appraisal.
    pub fn is_dissent(&self) -> bool {
        matches!(self, Self::Oppose | Self::Unsatisfied)
    }
}

impl Kind {
    /// The choices open to a resident on a topic of this kind.
    pub fn choices(self, options: &[TopicOption]) -> Vec<Choice> {
        match self {
            Kind::Decision => vec![Choice::Support, Choice::Oppose, Choice::Abstain],
            Kind::Appraisal => vec![
                Choice::Satisfied,
                Choice::BasicallySatisfied,
                Choice::Unsatisfied,
            ],
            Kind::Choice => options.iter().map(|o| Choice::Option(o.id)).collect(),
            Kind::Open => vec![Choice::Suggestion],
        }
    }

    /// The choice that counts as agreement when measuring consensus.
    pub fn agreeing(self, choice: &Choice) -> bool {
        matches!(
            choice,
            Choice::Support | Choice::Satisfied | Choice::BasicallySatisfied
        )
    }
}

/// What an organiser fills in to create or edit a draft.
#[derive(Debug, Clone, Default)]
pub struct TopicDraft {
    pub title: String,
    pub body: String,
    pub category: Option<Category>,
    pub kind: Option<Kind>,
    pub scope_code: String,
    pub technical: bool,
    pub reason_required_for_dissent: bool,
    pub quorum_percent: Option<i32>,
    /// No one sees who said what, nor the tallies before closing.
    pub secret: bool,
    pub eligibility: Option<Eligibility>,
    pub stakeholder_user_ids: Vec<i32>,
    pub options: Vec<String>,
    pub notice_at: Option<DateTime<Utc>>,
    pub opens_at: Option<DateTime<Utc>>,
    pub closes_at: Option<DateTime<Utc>>,
}

pub const MAX_TITLE: usize = 200;
pub const MAX_BODY: usize = 20_000;
pub const MIN_OPTIONS: usize = 2;
pub const MAX_OPTIONS: usize = 20;
pub const MAX_STAKEHOLDERS: usize = 10_000;

/// A draft that passed its checks.
#[derive(Debug, Clone)]
struct ValidDraft {
    title: String,
    body: String,
    category: Category,
    kind: Kind,
    scope_code: String,
    eligibility: Eligibility,
    options: Vec<String>,
    stakeholders: Vec<i32>,
}

fn validate(draft: &TopicDraft) -> Result<ValidDraft> {
    let title = draft.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        return Err(Error::bad_input(
            "title",
            format!("a title has 1 to {MAX_TITLE} characters"),
        ));
    }
    let body = draft.body.trim().to_owned();
    if body.is_empty() || body.chars().count() > MAX_BODY {
        return Err(Error::bad_input(
            "body",
            format!("the background has 1 to {MAX_BODY} characters"),
        ));
    }
    let category = draft
        .category
        .ok_or_else(|| Error::bad_input("category", "choose a category"))?;
    let kind = draft
        .kind
        .ok_or_else(|| Error::bad_input("kind", "choose a kind"))?;
    let scope_code = divisions::normalize_code(&draft.scope_code, "scopeCode")?;
    if !matches!(
        divisions::level_of(&scope_code),
        Some(Level::Village | Level::Township | Level::County)
    ) {
        return Err(Error::bad_input(
            "scopeCode",
            "a topic is scoped to a village/community, a township/street or a county",
        ));
    }
    let options: Vec<String> = draft.options.iter().map(|o| o.trim().to_owned()).collect();
    if kind == Kind::Choice {
        if !(MIN_OPTIONS..=MAX_OPTIONS).contains(&options.len()) {
            return Err(Error::bad_input(
                "options",
                format!("a choice topic has {MIN_OPTIONS} to {MAX_OPTIONS} options"),
            ));
        }
        if options
            .iter()
            .any(|o| o.is_empty() || o.chars().count() > 200)
        {
            return Err(Error::bad_input(
                "options",
                "each option has 1 to 200 characters",
            ));
        }
        let mut unique = options.clone();
        unique.sort();
        unique.dedup();
        if unique.len() != options.len() {
            return Err(Error::bad_input(
                "options",
                "options must differ from each other",
            ));
        }
    } else if !options.is_empty() {
        return Err(Error::bad_input(
            "options",
            "only a CHOICE topic has options",
        ));
    }
    if let Some(q) = draft.quorum_percent {
        if !(1..=100).contains(&q) {
            return Err(Error::bad_input(
                "quorumPercent",
                "a quorum is 1 to 100 percent",
            ));
        }
    }
    let eligibility = draft.eligibility.unwrap_or(Eligibility::Residents);
    let mut stakeholders = draft.stakeholder_user_ids.clone();
    stakeholders.sort_unstable();
    stakeholders.dedup();
    match eligibility {
        Eligibility::Residents if !stakeholders.is_empty() => {
            return Err(Error::bad_input(
                "stakeholderUserIds",
                "a stakeholder list needs eligibility STAKEHOLDERS",
            ));
        }
        Eligibility::Stakeholders if stakeholders.len() > MAX_STAKEHOLDERS => {
            return Err(Error::bad_input(
                "stakeholderUserIds",
                format!("at most {MAX_STAKEHOLDERS} stakeholders"),
            ));
        }
        _ => {}
    }
    if let (Some(opens), Some(closes)) = (draft.opens_at, draft.closes_at) {
        if closes <= opens {
            return Err(Error::bad_input(
                "closesAt",
                "closing must come after opening",
            ));
        }
    }
    if let (Some(notice), Some(opens)) = (draft.notice_at, draft.opens_at) {
        if notice >= opens {
            return Err(Error::bad_input(
                "noticeAt",
                "the notice must come before opening",
            ));
        }
    }
    Ok(ValidDraft {
        title,
        body,
        category,
        kind,
        scope_code,
        eligibility,
        options,
        stakeholders,
    })
}

/// Creates a draft topic in the organiser's division.
///
/// # Errors
/// `BAD_USER_INPUT` for any invalid field; `FORBIDDEN` outside the
/// organiser's division; `NOT_FOUND` for an unknown scope.
pub async fn create(svc: &Services, actor: &Actor, draft: TopicDraft) -> Result<Topic> {
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let topic = create_in(&txn, actor, draft, now).await?;
    txn.commit().await?;
    Ok(topic)
}

/// As [`create`], inside the caller's transaction (adopting a suggestion
/// creates its topic in the same transaction that marks it adopted).
///
/// # Errors
/// As [`create`].
pub async fn create_in(
    db: &impl ConnectionTrait,
    actor: &Actor,
    draft: TopicDraft,
    now: DateTime<Utc>,
) -> Result<Topic> {
    let valid = validate(&draft)?;
    actor.require(Action::ManageTopics, &valid.scope_code)?;
    divisions::get(db, &valid.scope_code).await?;
    let topic = topics::ActiveModel {
        title: Set(valid.title.clone()),
        body: Set(valid.body.clone()),
        category: Set(valid.category.as_str().to_owned()),
        kind: Set(valid.kind.as_str().to_owned()),
        scope_code: Set(valid.scope_code.clone()),
        technical: Set(draft.technical),
        reason_required_for_dissent: Set(draft.reason_required_for_dissent),
        quorum_percent: Set(draft.quorum_percent),
        secret: Set(draft.secret),
        eligibility: Set(valid.eligibility.as_str().to_owned()),
        state: Set(State::Draft.as_str().to_owned()),
        notice_at: Set(draft.notice_at),
        opens_at: Set(draft.opens_at),
        closes_at: Set(draft.closes_at),
        announced_at: Set(None),
        opened_at: Set(None),
        closed_at: Set(None),
        withdrawn_at: Set(None),
        withdraw_reason: Set(None),
        created_by: Set(actor.user_id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    write_children(db, topic.id, &valid).await?;
    audit::record(
        db,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "topic.create",
            subject_type: "topic",
            subject_id: topic.id.to_string(),
            division_code: Some(topic.scope_code.clone()),
            detail: serde_json::json!({ "title": topic.title, "kind": topic.kind }),
        },
        now,
    )
    .await?;
    Ok(topic)
}

/// Replaces every field of a draft.
///
/// # Errors
/// As [`create`]; `CONFLICT` when the topic is no longer a draft.
pub async fn update(svc: &Services, actor: &Actor, id: i64, draft: TopicDraft) -> Result<Topic> {
    let valid = validate(&draft)?;
    actor.require(Action::ManageTopics, &valid.scope_code)?;
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let existing = get(&txn, id).await?;
    actor.require(Action::ManageTopics, &existing.scope_code)?;
    if existing.state != State::Draft.as_str() {
        return Err(Error::conflict(format!(
            "only a draft can be edited; this topic is {}",
            existing.state
        )));
    }
    divisions::get(&txn, &valid.scope_code).await?;
    let mut active: topics::ActiveModel = existing.into();
    active.title = Set(valid.title.clone());
    active.body = Set(valid.body.clone());
    active.category = Set(valid.category.as_str().to_owned());
    active.kind = Set(valid.kind.as_str().to_owned());
    active.scope_code = Set(valid.scope_code.clone());
    active.technical = Set(draft.technical);
    active.reason_required_for_dissent = Set(draft.reason_required_for_dissent);
    active.quorum_percent = Set(draft.quorum_percent);
    active.secret = Set(draft.secret);
    active.eligibility = Set(valid.eligibility.as_str().to_owned());
    active.notice_at = Set(draft.notice_at);
    active.opens_at = Set(draft.opens_at);
    active.closes_at = Set(draft.closes_at);
    active.updated_at = Set(now);
    let topic = active.update(&txn).await?;
    topic_options::Entity::delete_many()
        .filter(topic_options::Column::TopicId.eq(id))
        .exec(&txn)
        .await?;
    topic_stakeholders::Entity::delete_many()
        .filter(topic_stakeholders::Column::TopicId.eq(id))
        .exec(&txn)
        .await?;
    write_children(&txn, id, &valid).await?;
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "topic.update",
            subject_type: "topic",
            subject_id: id.to_string(),
            division_code: Some(topic.scope_code.clone()),
            detail: serde_json::json!({ "title": topic.title }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(topic)
}

async fn write_children(
    db: &impl ConnectionTrait,
    topic_id: i64,
    valid: &ValidDraft,
) -> Result<()> {
    if !valid.options.is_empty() {
        topic_options::Entity::insert_many(valid.options.iter().enumerate().map(|(i, label)| {
            topic_options::ActiveModel {
                topic_id: Set(topic_id),
                position: Set(i as i32 + 1),
                label: Set(label.clone()),
                ..Default::default()
            }
        }))
        .exec_without_returning(db)
        .await?;
    }
    check_stakeholders(db, &valid.scope_code, &valid.stakeholders).await?;
    for chunk in valid.stakeholders.chunks(1_000) {
        topic_stakeholders::Entity::insert_many(chunk.iter().map(|&user_id| {
            topic_stakeholders::ActiveModel {
                topic_id: Set(topic_id),
                user_id: Set(user_id),
            }
        }))
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

/// How many refused stakeholders an error names.
const NAMED_IN_ERROR: usize = 10;

/// Checks that every listed stakeholder (ids sorted, distinct) is a verified
/// resident inside the topic's scope.
///
/// The policy has the village or community consult the parties concerned
/// (组织利益相关方进行协商) and sends a matter that crosses villages to the
/// township, street or county (对跨村(社区)的重要事项,由乡镇、街道或县市区组织开展协商).
/// So a party concerned by a village's topic who lives outside the village
/// makes it a matter for the level above, where the topic is to be scoped;
/// the list itself never reaches outside the scope, and an organiser cannot
/// use it to poll residents of divisions it does not serve. Their opinions
/// count in their home villages, which then always roll up into the scope.
///
/// Unknown ids and users living elsewhere get the same message, so the list
/// tells an organiser nothing about accounts outside its reach.
///
/// # Errors
/// `BAD_USER_INPUT` on `stakeholderUserIds` naming the refused ids.
async fn check_stakeholders(
    db: &impl ConnectionTrait,
    scope_code: &str,
    stakeholders: &[i32],
) -> Result<()> {
    let mut refused: Vec<i32> = Vec::new();
    for chunk in stakeholders.chunks(1_000) {
        let inside: std::collections::BTreeSet<i32> = residencies::Entity::find()
            .select_only()
            .column(residencies::Column::UserId)
            .filter(residencies::Column::UserId.is_in(chunk.iter().copied()))
            .filter(residencies::Column::Status.eq(residency::Status::Approved.as_str()))
            .filter(divisions::within(
                residencies::Column::DivisionCode,
                scope_code,
            ))
            .into_tuple::<i32>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        refused.extend(chunk.iter().filter(|id| !inside.contains(id)));
    }
    if refused.is_empty() {
        return Ok(());
    }
    let named: Vec<String> = refused
        .iter()
        .take(NAMED_IN_ERROR)
        .map(ToString::to_string)
        .collect();
    let more = refused.len().saturating_sub(NAMED_IN_ERROR);
    Err(Error::bad_input(
        "stakeholderUserIds",
        format!(
            "stakeholders must be verified residents inside the topic's scope {scope_code}; \
             not so: user {}{}",
            named.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ),
    ))
}

/// One topic by id, whatever its state.
///
/// # Errors
/// `NOT_FOUND`.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Topic> {
    topics::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("topic {id}")))
}

/// A topic as `viewer` may see it ([`is_visible`]): drafts and drafts
/// withdrawn unannounced only to those who manage or supervise the scope.
///
/// # Errors
/// `NOT_FOUND` also for a draft the viewer may not see (no existence leak).
pub async fn get_visible(svc: &Services, viewer: Option<&Actor>, id: i64) -> Result<Topic> {
    let topic = get(svc.db.reader(), id).await?;
    if is_visible(&topic, viewer) {
        Ok(topic)
    } else {
        Err(Error::not_found(format!("topic {id}")))
    }
}

/// Whether `viewer` may see the topic: the public once it is announced
/// ([`is_public`]), the staff who manage or supervise its scope always.
pub fn is_visible(topic: &Topic, viewer: Option<&Actor>) -> bool {
    is_public(topic)
        || viewer.is_some_and(|a| {
            a.may(Action::ManageTopics, &topic.scope_code)
                || a.may(Action::ReadOpinions, &topic.scope_code)
        })
}

pub async fn options(db: &impl ConnectionTrait, topic_id: i64) -> Result<Vec<TopicOption>> {
    Ok(topic_options::Entity::find()
        .filter(topic_options::Column::TopicId.eq(topic_id))
        .order_by_asc(topic_options::Column::Position)
        .all(db)
        .await?)
}

/// Whether the topic has at least one published expert assessment.
pub async fn has_assessment(db: &impl ConnectionTrait, topic_id: i64) -> Result<bool> {
    Ok(assessments::Entity::find()
        .filter(assessments::Column::TopicId.eq(topic_id))
        .one(db)
        .await?
        .is_some())
}

/// Why a user may not give an opinion on `topic`, if they may not.
///
/// # Errors
/// `FORBIDDEN` saying why; database errors.
pub async fn check_eligible(
    db: &impl ConnectionTrait,
    topic: &Topic,
    user_id: i32,
) -> Result<String> {
    let home = residency::current(db, user_id).await?;
    let listed = if is_for_stakeholders(topic) && home.is_some() {
        is_stakeholder(db, topic.id, user_id).await?
    } else {
        false
    };
    eligible_village(topic, home.map(|h| h.division_code), listed)
}

/// Whether only the topic's listed stakeholders take part.
pub fn is_for_stakeholders(topic: &Topic) -> bool {
    Eligibility::parse(&topic.eligibility) == Some(Eligibility::Stakeholders)
}

/// Whether the user is on the topic's stakeholder list.
///
/// # Errors
/// Database errors only.
pub async fn is_stakeholder(
    db: &impl ConnectionTrait,
    topic_id: i64,
    user_id: i32,
) -> Result<bool> {
    Ok(topic_stakeholders::Entity::find_by_id((topic_id, user_id))
        .one(db)
        .await?
        .is_some())
}

/// The rule itself: a verified resident (`home` is their approved village)
/// takes part in a topic of their division or above, or, on a stakeholder
/// topic, when `listed` and still living inside the scope (a stakeholder who
/// has moved away since being listed no longer counts there; see
/// [`check_stakeholders`]). Returns the village their opinion counts in.
///
/// # Errors
/// `FORBIDDEN` saying why not.
pub fn eligible_village(topic: &Topic, home: Option<String>, listed: bool) -> Result<String> {
    let home = home.ok_or_else(|| {
        Error::forbidden(
            "only verified residents take part; ask your village to verify your residency",
        )
    })?;
    if is_for_stakeholders(topic) && !listed {
        return Err(Error::forbidden(
            "this topic is open to its listed stakeholders only",
        ));
    }
    if !divisions::contains(&topic.scope_code, &home) {
        return Err(Error::forbidden(
            "this topic is for residents of another division",
        ));
    }
    Ok(home)
}

#[derive(Debug, Default, Clone)]
pub struct TopicFilter {
    /// Topics a resident of this division takes part in: scoped to it or to
    /// a division above it.
    pub for_division: Option<String>,
    /// Topics scoped anywhere inside this division (organisers).
    pub within_division: Option<String>,
    pub states: Vec<State>,
    pub category: Option<Category>,
    /// Only topics overdue at this time.
    pub overdue_at: Option<DateTime<Utc>>,
}

/// Topics matching `filter` that `viewer` may see, newest first, `first`
/// after id `after` (one extra row signals a next page).
///
/// # Errors
/// `BAD_USER_INPUT` for malformed codes or page size.
pub async fn list(
    svc: &Services,
    viewer: Option<&Actor>,
    filter: &TopicFilter,
    first: u64,
    after: Option<i64>,
) -> Result<Vec<Topic>> {
    if first == 0 || first > 100 {
        return Err(Error::bad_input("first", "must be between 1 and 100"));
    }
    let mut cond = Condition::all();
    if let Some(code) = &filter.for_division {
        let code = divisions::normalize_code(code, "forDivision")?;
        let mut codes = divisions::ancestor_codes(&code);
        codes.push(code);
        cond = cond.add(topics::Column::ScopeCode.is_in(codes));
    }
    if let Some(code) = &filter.within_division {
        let code = divisions::normalize_code(code, "withinDivision")?;
        cond = cond.add(topics::Column::ScopeCode.starts_with(&code));
    }
    if !filter.states.is_empty() {
        cond = cond.add(topics::Column::State.is_in(filter.states.iter().map(|s| s.as_str())));
    }
    if let Some(category) = filter.category {
        cond = cond.add(topics::Column::Category.eq(category.as_str()));
    }
    if let Some(now) = filter.overdue_at {
        cond = cond.add(crate::domain::outcomes::overdue_condition(now));
    }
    // Drafts, and drafts withdrawn unannounced, only within the viewer's
    // managed or supervised divisions.
    let mut visible = Condition::any().add(public_condition());
    if let Some(actor) = viewer {
        for code in actor
            .scopes(Action::ManageTopics)
            .into_iter()
            .chain(actor.scopes(Action::ReadOpinions))
        {
            visible = visible.add(topics::Column::ScopeCode.starts_with(code));
        }
    }
    cond = cond.add(visible);
    if let Some(after) = after {
        cond = cond.add(topics::Column::Id.lt(after));
    }
    Ok(topics::Entity::find()
        .filter(cond)
        .order_by_desc(topics::Column::Id)
        .limit(first + 1)
        .all(svc.db.reader())
        .await?)
}

/// The options of each of these topics, in order, for batched lookups.
///
/// # Errors
/// Database errors only.
pub async fn options_of_many(
    db: &impl ConnectionTrait,
    topic_ids: &[i64],
) -> Result<std::collections::HashMap<i64, Vec<TopicOption>>> {
    let mut by_topic: std::collections::HashMap<i64, Vec<TopicOption>> =
        topic_ids.iter().map(|id| (*id, Vec::new())).collect();
    for chunk in topic_ids.chunks(1_000) {
        for option in topic_options::Entity::find()
            .filter(topic_options::Column::TopicId.is_in(chunk.iter().copied()))
            .order_by_asc(topic_options::Column::TopicId)
            .order_by_asc(topic_options::Column::Position)
            .all(db)
            .await?
        {
            by_topic.entry(option.topic_id).or_default().push(option);
        }
    }
    Ok(by_topic)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> TopicDraft {
        TopicDraft {
            title: "村道硬化".into(),
            body: "拟对三组至五组村道进行硬化。".into(),
            category: Some(Category::TransportWater),
            kind: Some(Kind::Decision),
            scope_code: "620123101201".into(),
            ..TopicDraft::default()
        }
    }

    #[test]
    fn the_lifecycle_moves_forward_only() {
        assert!(State::Draft.can_move_to(State::Announced));
        assert!(!State::Draft.can_move_to(State::Open));
        assert!(State::Closed.can_move_to(State::Withdrawn));
        assert!(!State::Decided.can_move_to(State::Withdrawn));
        assert!(State::Completed.next().is_empty());
        assert_eq!(
            State::sources_of(State::Withdrawn),
            [State::Draft, State::Announced, State::Open, State::Closed]
        );
    }

    #[test]
    fn choice_keys_round_trip() {
        for c in [
            Choice::Support,
            Choice::BasicallySatisfied,
            Choice::Option(42),
            Choice::Suggestion,
        ] {
            assert_eq!(Choice::parse_key(&c.key()), Some(c));
        }
        assert_eq!(Choice::parse_key("option:x"), None);
    }

    #[test]
    fn a_choice_topic_needs_two_to_twenty_distinct_options() {
        let mut d = draft();
        d.kind = Some(Kind::Choice);
        d.options = vec!["甲".into()];
        assert!(matches!(
            validate(&d),
            Err(Error::BadInput {
                field: Some("options"),
                ..
            })
        ));
        d.options = vec!["甲".into(), "甲".into()];
        assert!(validate(&d).is_err());
        d.options = (0..21).map(|i| i.to_string()).collect();
        assert!(validate(&d).is_err());
        d.options = vec!["甲".into(), "乙".into()];
        assert!(validate(&d).is_ok());
    }

    #[test]
    fn a_topic_is_scoped_to_a_village_township_or_county() {
        let mut d = draft();
        d.scope_code = "6201".into();
        assert!(matches!(
            validate(&d),
            Err(Error::BadInput {
                field: Some("scopeCode"),
                ..
            })
        ));
        d.scope_code = "620123".into();
        assert!(validate(&d).is_ok());
    }

    #[test]
    fn closing_must_follow_opening() {
        let mut d = draft();
        let now = Utc::now();
        d.opens_at = Some(now);
        d.closes_at = Some(now);
        assert!(matches!(
            validate(&d),
            Err(Error::BadInput {
                field: Some("closesAt"),
                ..
            })
        ));
    }
}
