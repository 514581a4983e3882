use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::http::{playground_source, GraphQLPlaygroundConfig};
use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::extract::WebSocketUpgrade;
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

/// `/graphql/ws`: subscriptions over graphql-transport-ws (and the older
/// graphql-ws). The access token comes in the `connection_init` payload as
/// `{"Authorization": "Bearer …"}` (or `authToken`).
pub async fn ws(
    State(state): State<AppState>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let schema = state.schema.clone();
    let jwt = state.services.jwt.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let header = payload
                        .get("Authorization")
                        .or_else(|| payload.get("authorization"))
                        .and_then(|v| v.as_str())
                        .map(str::to_owned)
                        .or_else(|| {
                            payload
                                .get("authToken")
                                .and_then(|v| v.as_str())
                                .map(|t| format!("Bearer {t}"))
                        });
                    let mut data = async_graphql::Data::default();
                    data.insert(RequestAuth::from_header(header.as_deref(), &jwt));
                    Ok(data)
                })
                .serve()
        })
}
