//! Topics (议题) and the consultation procedure they go through:
//! `DRAFT → ANNOUNCED → OPEN → CLOSED → DECIDED → IMPLEMENTING → COMPLETED`,
//! or `WITHDRAWN` before a decision. The lifecycle table in [`State`] is the
//! one place that says which move is legal.

pub mod actions;
pub mod cache;
pub mod eligible;
pub mod lifecycle;
pub mod model;
pub mod notices;
pub mod records;
pub mod secrecy;

pub use lifecycle::scheduler_loop;
pub use lifecycle::{
    announce, close, countersign_early_close, open, request_early_close, run_due, withdraw, Trigger,
};
pub use model::*;
