//! File downloads for organisers (CSV), authenticated like the API.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;

use super::AppState;
use crate::domain::authz::Actor;
use crate::domain::opinions::{self, OpinionFilter};
use crate::error::Error;
use crate::graphql::context::RequestAuth;

/// `GET /api/topics/{id}/opinions.csv` with `Authorization: Bearer …`.
///
/// The file is streamed as it is read, a page of opinions at a time, so a
/// topic with a hundred thousand opinions costs the server one page of
/// memory. A database failure part-way ends the body early (the client sees
/// a broken download, never a short file passed off as whole).
pub async fn opinions_csv(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let topic_id: i64 = id
            .trim_end_matches(".csv")
            .parse()
            .map_err(|_| Error::bad_input("topicId", "not a topic id"))?;
        let auth = RequestAuth::from_header(
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok()),
            &state.services.jwt,
        );
        let actor = Actor::load(state.services.db.reader(), auth.user_id()?).await?;
        opinions::export_csv(&state.services, &actor, topic_id, &OpinionFilter::default())
            .await
            .map(|pieces| (topic_id, pieces))
    }
    .await;
    match result {
        Ok((topic_id, pieces)) => {
            let body = Body::from_stream(pieces.map(|piece| {
                piece.map(Bytes::from).map_err(|err| {
                    if let Error::Internal(cause) = &err {
                        tracing::error!(error = ?cause, "opinion export failed part-way");
                    }
                    std::io::Error::other(err.public_message())
                })
            }));
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"topic-{topic_id}-opinions.csv\""),
                    ),
                ],
                body,
            )
                .into_response()
        }
        Err(err) => error_response(err),
    }
}

/// `GET /api/topics/{id}/report.csv` or `report.html[?locale=en]`, for the
/// topic's organisers and supervisors.
pub async fn report(
    State(state): State<AppState>,
    Path((id, file)): Path<(String, String)>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let topic_id: i64 = id
            .parse()
            .map_err(|_| Error::bad_input("topicId", "not a topic id"))?;
        let auth = RequestAuth::from_header(
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok()),
            &state.services.jwt,
        );
        let actor = Actor::load(state.services.db.reader(), auth.user_id()?).await?;
        let report = crate::domain::reports::build(&state.services, &actor, topic_id, None).await?;
        let locale = query.get("locale").map_or("zh-CN", String::as_str);
        match file.as_str() {
            "report.csv" => Ok((
                "text/csv; charset=utf-8",
                crate::report::to_csv(&report, locale).map_err(Error::internal)?,
            )),
            "report.html" => Ok((
                "text/html; charset=utf-8",
                crate::report::to_html(&report, locale)
                    .map_err(Error::internal)?
                    .into_bytes(),
            )),
            _ => Err(Error::not_found(
                "report format (report.csv or report.html)",
            )),
        }
    }
    .await;
    match result {
        Ok((content_type, body)) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(err) => error_response(err),
    }
}

/// A JSON error with the same codes as the GraphQL API.
pub fn error_response(err: Error) -> Response {
    let status = match &err {
        Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::BadInput { .. } => StatusCode::BAD_REQUEST,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Conflict(_) | Error::Procedure { .. } => StatusCode::CONFLICT,
        Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Internal(cause) => {
            tracing::error!(error = ?cause, "internal error");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    let body = serde_json::json!({ "error": err.public_message(), "code": err.code() });
    (status, axum::Json(body)).into_response()
}
