//! What a viewer may do to a topic now, as the procedure's own checks
//! answer it: the admin panel offers exactly these, each with the reason a
//! blocked one would be refused, so it never greys out what the API would
//! accept nor offers what it would refuse.

use chrono::{DateTime, Utc};

use super::lifecycle;
use super::model::{self, State, Topic};
use crate::domain::authz::{Action, Actor};
use crate::domain::outcomes::{self, FlagStatus, FlagSubject};
use crate::domain::Services;
use crate::error::{Error, Result};

/// A move or exception on a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicAction {
    Edit,
    Announce,
    Open,
    Close,
    RequestEarlyClose,
    CountersignEarlyClose,
    Withdraw,
    PublishOutcome,
    StartImplementation,
    PublishProgress,
    Complete,
    ExtendDeadline,
    CorrectOutcome,
    FlagOutcome,
    FlagProcedure,
    ResolveFlag,
    RecordInPersonExplanation,
    RevealSecret,
}

/// One action offered to the viewer: allowed now, or blocked by `blocked`
/// (the error the mutation would answer).
#[derive(Debug)]
pub struct Offer {
    pub action: TopicAction,
    pub blocked: Option<Error>,
}

fn offer(action: TopicAction, check: Result<()>) -> Offer {
    Offer {
        action,
        blocked: check.err(),
    }
}

/// The actions `actor` may be offered on `topic` at `now`, in the order of
/// the procedure. Actions the viewer's roles or the topic's state rule out
/// entirely are absent; actions the procedure blocks for now are present
/// with their reason.
///
/// # Errors
/// Database errors.
pub async fn offered(
    svc: &Services,
    actor: &Actor,
    topic: &Topic,
    now: DateTime<Utc>,
) -> Result<Vec<Offer>> {
    let db = svc.db.reader();
    let manages = actor.may(Action::ManageTopics, &topic.scope_code);
    let supervises = actor.may(Action::Supervise, &topic.scope_code);
    let Some(state) = State::parse(&topic.state) else {
        return Ok(Vec::new());
    };
    // Asked once: the organiser's corrections and the supervisor's flags
    // both depend on them.
    let flags = if manages || supervises {
        outcomes::unresolved_flags(db, topic.id).await?
    } else {
        Vec::new()
    };
    let mut offers = Vec::new();
    if manages {
        match state {
            State::Draft => {
                offers.push(offer(TopicAction::Edit, Ok(())));
                offers.push(offer(
                    TopicAction::Announce,
                    lifecycle::announceable(topic, now, svc.settings.notice_period).map(|_| ()),
                ));
            }
            State::Announced => {
                let assessed = model::has_assessment(db, topic.id).await?;
                offers.push(offer(
                    TopicAction::Open,
                    lifecycle::opening_time_reached(topic, now)
                        .and_then(|()| lifecycle::assessed_if_technical(topic, assessed)),
                ));
            }
            State::Open => {
                let on_time = lifecycle::closing_time_reached(topic, now);
                if on_time.is_ok() {
                    offers.push(offer(TopicAction::Close, Ok(())));
                } else {
                    offers.push(offer(
                        TopicAction::RequestEarlyClose,
                        lifecycle::early_close_requestable(topic, now),
                    ));
                }
            }
            State::Closed => offers.push(offer(TopicAction::PublishOutcome, Ok(()))),
            State::Decided => offers.push(offer(TopicAction::StartImplementation, Ok(()))),
            State::Implementing => offers.push(offer(
                TopicAction::Complete,
                outcomes::completable(db, topic).await,
            )),
            State::Completed | State::Withdrawn => {}
        }
        if matches!(state, State::Decided | State::Implementing) {
            offers.push(offer(TopicAction::PublishProgress, Ok(())));
            offers.push(offer(TopicAction::ExtendDeadline, Ok(())));
            let answerable = flags.iter().any(|f| {
                f.subject == FlagSubject::Outcome.as_str() && f.status == FlagStatus::Open.as_str()
            });
            offers.push(offer(
                TopicAction::CorrectOutcome,
                if answerable {
                    Ok(())
                } else {
                    Err(Error::procedure(
                        "CORRECTION_NEEDS_FLAG",
                        "an outcome is corrected when a supervisor flags it (依法纠正)",
                    ))
                },
            ));
        }
        if matches!(
            state,
            State::Decided | State::Implementing | State::Completed
        ) {
            offers.push(offer(TopicAction::RecordInPersonExplanation, Ok(())));
        }
        if state.can_move_to(State::Withdrawn) {
            offers.push(offer(TopicAction::Withdraw, Ok(())));
        }
    }
    if supervises && model::is_public(topic) {
        if state == State::Open && topic.early_close_requested_at.is_some() {
            offers.push(offer(
                TopicAction::CountersignEarlyClose,
                lifecycle::early_close_countersignable(topic, actor),
            ));
        }
        let standing = |subject: FlagSubject| flags.iter().any(|f| f.subject == subject.as_str());
        if outcomes::current(db, topic.id).await?.is_some() {
            offers.push(offer(
                TopicAction::FlagOutcome,
                if standing(FlagSubject::Outcome) {
                    Err(Error::conflict(
                        "a correction is already requested for this outcome",
                    ))
                } else {
                    Ok(())
                },
            ));
        }
        offers.push(offer(
            TopicAction::FlagProcedure,
            if standing(FlagSubject::Procedure) {
                Err(Error::conflict(
                    "the procedure of this topic is already flagged",
                ))
            } else {
                Ok(())
            },
        ));
        if !flags.is_empty() {
            offers.push(offer(TopicAction::ResolveFlag, Ok(())));
        }
        if super::secrecy::is_secret(topic) {
            offers.push(offer(
                TopicAction::RevealSecret,
                super::secrecy::require_unsealed(topic),
            ));
        }
    }
    Ok(offers)
}
