//! An endpoint's message log: every message sent to it with its delivery status, filterable by
//! status and time (Impilo's webhook log).

use axum::Json;
use axum::extract::{Path, State};
use hookwire_core::model::Status;
use hookwire_core::time_fmt::Millis;
use hookwire_store::EndpointMessageFilter;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::shape::load_endpoint;
use crate::api::error::ApiResult;
use crate::api::extract::QueryPairs;
use crate::api::messages::MessageOut;
use crate::api::page::{ListResponse, id_iterator, list_response, page_from};
use crate::auth::Principal;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_endpoint_messages))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointMessageOut {
    #[serde(flatten)]
    pub message: MessageOut,
    /// 0 success, 1 pending, 2 fail, 3 sending, 4 canceled.
    pub status: i64,
    pub status_text: &'static str,
    #[serde(with = "hookwire_core::time_fmt::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt: Option<Millis>,
    /// Hookwire: attempts made so far, and the page when the endpoint receives chunks.
    pub attempts: u32,
    pub chunk: Option<u32>,
}

/// Messages sent to an endpoint, newest first, with their delivery status.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/msg", tag = "Message Attempt",
    params(("app_id" = String, Path), ("endpoint_id" = String, Path), ("limit" = Option<usize>, Query), ("iterator" = Option<String>, Query),
        ("order" = Option<String>, Query), ("status" = Option<i64>, Query), ("channel" = Option<String>, Query), ("tag" = Option<String>, Query),
        ("event_types" = Option<String>, Query), ("before" = Option<String>, Query), ("after" = Option<String>, Query),
        ("with_content" = Option<bool>, Query), ("expanded_statuses" = Option<bool>, Query)),
    responses((status = 200, body = ListResponse<EndpointMessageOut>)))]
async fn list_endpoint_messages(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    query: QueryPairs,
) -> ApiResult<Json<ListResponse<EndpointMessageOut>>> {
    let (app, endpoint) = load_endpoint(&state, principal, &app_id, &endpoint_id).await?;
    let status = query.status()?;
    let filter = EndpointMessageFilter {
        page: page_from(&query, true, id_iterator::<hookwire_core::DeliveryId>)?,
        matching: crate::api::extract::message_match(&query)?,
        status,
        before: query.timestamp("before")?,
        after: query.timestamp("after")?,
    };
    let with_content = query.bool("with_content")?.unwrap_or(true);
    let expanded = query.bool("expanded_statuses")?.unwrap_or(false);
    let rows = state.store.endpoint_messages(app.id, endpoint.id, &filter).await?;
    Ok(Json(list_response(
        &filter.page,
        rows,
        |(_, delivery)| delivery.id.to_string(),
        |(message, delivery)| EndpointMessageOut {
            message: MessageOut::from_message(message, with_content),
            status: crate::api::messages::shown_status(delivery.status, expanded).code(),
            status_text: crate::api::messages::shown_status(delivery.status, expanded).text(),
            next_attempt: delivery.next_attempt_at.filter(|_| delivery.status == Status::Pending),
            attempts: delivery.attempts,
            chunk: delivery.chunk,
        },
    )))
}
