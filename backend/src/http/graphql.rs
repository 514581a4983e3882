use async_graphql::http::{playground_source, GraphQLPlaygroundConfig};
use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::AppState;
use crate::graphql::context::RequestAuth;
use crate::graphql::error::label_uncoded_errors;

pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    req: GraphQLRequest,
) -> GraphQLResponse {
    execute(&state, &headers, req).await
}

/// GET runs queries from the URL; with no query it shows the playground
/// (outside production).
pub async fn get(State(state): State<AppState>, request: Request) -> Response {
    let has_query = request.uri().query().is_some_and(|q| !q.is_empty());
    if !has_query {
        return if state.services.settings.production {
            (StatusCode::BAD_REQUEST, "missing query").into_response()
        } else {
            Html(playground_source(GraphQLPlaygroundConfig::new("/graphql"))).into_response()
        };
    }
    let headers = request.headers().clone();
    match GraphQLRequest::<GraphQLRejection>::from_request(request, &state).await {
        Ok(req) => execute(&state, &headers, req).await.into_response(),
        Err(rejection) => rejection.into_response(),
    }
}

async fn execute(state: &AppState, headers: &HeaderMap, req: GraphQLRequest) -> GraphQLResponse {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let auth = RequestAuth::from_header(authorization, &state.services.jwt);
    let mut response = state.schema.execute(req.into_inner().data(auth)).await;
    label_uncoded_errors(&mut response);
    response.into()
}
