//! The consultation report an organiser hands to the township government
//! (and a topic's entrusting department): results by division, outcome and
//! its versions, explanation coverage and satisfaction, progress timeline.

use serde::Serialize;

use super::authz::{Action, Actor, Assignment, Role};
use super::divisions::{self, Level};
use super::explanations::{self};
use super::results::{self};
use super::topics::{self, Choice};
use super::{outcomes, Services};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct ResultRow {
    pub code: String,
    pub name: String,
    pub total: i64,
    pub eligible: i64,
    pub participation: Option<f64>,
    /// (label, count, share) per choice.
    pub counts: Vec<(String, i64, Option<f64>)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub topic_id: i64,
    pub title: String,
    pub body: String,
    pub category: String,
    pub kind: String,
    pub state: String,
    pub scope_code: String,
    pub scope_path: String,
    pub opened_at: Option<String>,
    pub closed_at: Option<String>,
    pub choices: Vec<String>,
    pub overall: ResultRow,
    pub rows: Vec<ResultRow>,
    pub consensus: Option<f64>,
    pub dissenting: Vec<String>,
    pub outcomes: Vec<outcomes::Outcome>,
    pub adopted_label: Option<String>,
    pub overdue: bool,
    pub progress: Vec<outcomes::ProgressUpdate>,
    pub flags: Vec<outcomes::Flag>,
    pub coverage: Option<explanations::Coverage>,
    pub generated_at: String,
    /// The deadline the first outcome set, when extensions moved it since.
    pub original_deadline: Option<String>,
    pub extensions: Vec<ExtensionLine>,
    pub quorum_justification: Option<String>,
    pub assessments: Vec<AssessmentLine>,
    pub meetings: Vec<MeetingLine>,
    /// Every explanation with the answers it got (never a name).
    pub explanations: Vec<ExplanationLine>,
    /// Explanations given face to face.
    pub explained_in_person: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExtensionLine {
    pub previous_deadline: String,
    pub new_deadline: String,
    pub reason: String,
    pub extended_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AssessmentLine {
    pub title: String,
    pub body: String,
    /// The third-party body, or none for an expert's own.
    pub body_name: Option<String>,
    pub published_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MeetingLine {
    pub held_at: String,
    pub place: String,
    pub attendees: i32,
    pub minutes: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExplanationLine {
    pub published_at: String,
    /// `all`, `division`, `opinions` or `unsatisfied`.
    pub audience: String,
    pub body: String,
    pub recipients: i32,
    pub replies: Vec<ReplyLine>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReplyLine {
    pub satisfied: bool,
    pub comment: Option<String>,
    pub replied_at: String,
}

impl Actor {
    /// The operator at the command line, who holds the database anyway:
    /// full detail within `scope`.
    pub fn operator(scope: &str) -> Self {
        Actor {
            user_id: 0,
            assignments: vec![Assignment {
                role: Role::Admin,
                division_code: scope.to_owned(),
            }],
        }
    }
}

/// Gathers the report of a topic, results at `level` (default: one below
/// the scope, villages for a village topic).
///
/// # Errors
/// `FORBIDDEN` for anyone who neither manages nor supervises the topic.
pub async fn build(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
    level: Option<Level>,
) -> Result<Report> {
    let db = svc.db.reader();
    let topic = topics::get(db, topic_id).await?;
    if !actor.may(Action::ReadOpinions, &topic.scope_code) {
        return Err(Error::forbidden(
            "reports are for the topic's organisers and supervisors",
        ));
    }
    let scope_level = divisions::level_of(&topic.scope_code).unwrap_or(Level::Village);
    let level = level.unwrap_or_else(|| {
        Level::ALL
            .iter()
            .copied()
            .find(|l| *l > scope_level)
            .unwrap_or(Level::Village)
    });
    let r = results::results(
        svc,
        Some(actor),
        topic_id,
        level,
        None,
        results::Freshness::Latest,
    )
    .await?;
    let label = |c: &Choice| r.label(c);
    let names: std::collections::HashMap<String, String> = {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
        let codes: Vec<String> = r.rows.iter().map(|row| row.code.clone()).collect();
        crate::entities::divisions::Entity::find()
            .select_only()
            .columns([
                crate::entities::divisions::Column::Code,
                crate::entities::divisions::Column::Name,
            ])
            .filter(crate::entities::divisions::Column::Code.is_in(codes))
            .into_tuple()
            .all(db)
            .await?
            .into_iter()
            .collect()
    };
    let row = |d: &results::DivisionResult, name: String| ResultRow {
        code: d.code.clone(),
        name,
        total: d.total,
        eligible: d.eligible,
        participation: d.participation(),
        counts: d
            .counts
            .iter()
            .map(|(c, n)| (label(c), *n, d.share(c)))
            .collect(),
    };
    let mut path: Vec<String> = divisions::ancestors(db, &topic.scope_code)
        .await?
        .into_iter()
        .map(|d| d.name)
        .collect();
    let scope = divisions::get(db, &topic.scope_code).await?;
    path.push(scope.name.clone());
    let versions = outcomes::versions(db, topic_id).await?;
    let adopted_label = versions
        .last()
        .and_then(|o| o.adopted_choice.as_deref())
        .and_then(Choice::parse_key)
        .map(|c| label(&c));
    let coverage = if versions.is_empty() {
        None
    } else {
        Some(
            explanations::coverage(svc, actor, topic_id, scope_level)
                .await?
                .0,
        )
    };
    let mut explanation_lines = Vec::new();
    for seen in explanations::of_topic(svc, Some(actor), &topic).await? {
        let e = seen.explanation;
        let replies = explanations::replies(svc, actor, e.id)
            .await?
            .into_iter()
            .map(|r| ReplyLine {
                satisfied: r.satisfied,
                comment: r.comment,
                replied_at: r.replied_at.to_rfc3339(),
            })
            .collect();
        explanation_lines.push(ExplanationLine {
            published_at: e.published_at.to_rfc3339(),
            audience: e.audience,
            body: e.body,
            recipients: e.recipients,
            replies,
        });
    }
    let extensions = outcomes::extensions(db, topic_id).await?;
    Ok(Report {
        original_deadline: outcomes::original_deadline(&topic)
            .filter(|_| !extensions.is_empty())
            .map(|d| d.to_rfc3339()),
        extensions: extensions
            .into_iter()
            .map(|x| ExtensionLine {
                previous_deadline: x.previous_deadline.to_rfc3339(),
                new_deadline: x.new_deadline.to_rfc3339(),
                reason: x.reason,
                extended_at: x.extended_at.to_rfc3339(),
            })
            .collect(),
        quorum_justification: topic.quorum_justification.clone(),
        assessments: topics::records::assessments_of(db, topic_id)
            .await?
            .into_iter()
            .map(|a| AssessmentLine {
                title: a.title,
                body: a.body,
                body_name: a.body_name,
                published_at: a.published_at.to_rfc3339(),
            })
            .collect(),
        meetings: topics::records::meetings_of(db, topic_id)
            .await?
            .into_iter()
            .map(|m| MeetingLine {
                held_at: m.held_at.to_rfc3339(),
                place: m.place,
                attendees: m.attendees,
                minutes: m.minutes,
            })
            .collect(),
        explanations: explanation_lines,
        explained_in_person: explanations::in_person_of_topic(svc, actor, topic_id)
            .await?
            .len(),
        topic_id,
        title: topic.title.clone(),
        body: topic.body.clone(),
        category: topic.category.clone(),
        kind: topic.kind.clone(),
        state: topic.state.clone(),
        scope_code: topic.scope_code.clone(),
        scope_path: path.join(" "),
        opened_at: topic.opened_at.map(|t| t.to_rfc3339()),
        closed_at: topic.closed_at.map(|t| t.to_rfc3339()),
        choices: r.choices.iter().map(label).collect(),
        overall: row(&r.overall, scope.name),
        rows: r
            .rows
            .iter()
            .map(|d| row(d, names.get(&d.code).cloned().unwrap_or_default()))
            .collect(),
        consensus: r.consensus,
        dissenting: r.dissenting.to_vec(),
        outcomes: versions,
        adopted_label,
        overdue: outcomes::is_overdue(&topic, svc.now()),
        progress: outcomes::progress(db, topic_id).await?,
        flags: outcomes::flags(db, topic_id).await?,
        coverage,
        generated_at: svc.now().to_rfc3339(),
    })
}
