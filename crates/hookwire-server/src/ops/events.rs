//! Operational events: what Hookwire itself has to say (an endpoint disabled, a message whose
//! retries are exhausted), reported by the delivery engine and sent through the intake as
//! ordinary messages to the endpoints of the operator's chosen application, so they are signed,
//! retried, logged and kept (for the configured retention) like everything else.

use std::sync::Arc;

use hookwire_core::time_fmt::format_millis;
use hookwire_store::Store;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::delivery::OperationalEvent;
use crate::intake::{Intake, Submission};

pub const ENDPOINT_DISABLED: &str = "endpoint.disabled";
pub const ATTEMPT_EXHAUSTED: &str = "message.attempt.exhausted";
/// Events the engine may report ahead of the task that sends them.
pub const EVENTS_WAITING_MAX: usize = 1_024;

/// Sends every reported event to `app` (id or uid) until the engine stops reporting.
pub async fn run(
    mut events: mpsc::Receiver<OperationalEvent>,
    store: Arc<dyn Store>,
    intake: Arc<Intake>,
    app: String,
) {
    while let Some(event) = events.recv().await {
        let (about, event_type, payload) = describe(&event);
        let target = match store.get_app(&app).await {
            Ok(Some(target)) => target,
            Ok(None) => {
                tracing::warn!(app, event_type, "operational event dropped: no application {app} (operational_app)");
                continue;
            }
            Err(error) => {
                tracing::error!(%error, event_type, "cannot send operational event");
                continue;
            }
        };
        // An operational application's own failures would otherwise feed themselves.
        if about == target.id {
            continue;
        }
        // Never held for the recorder: the recorder waits for this task to take its events.
        let submission = Submission {
            checked: false,
            may_hold: false,
            ..Submission::new(target.id, event_type.to_owned(), payload.to_string())
        };
        if let Err(error) = intake.submit(submission).await {
            tracing::error!(%error, event_type, "cannot send operational event");
        }
    }
}

/// The application the event is about, its type and its payload (Svix's shapes).
fn describe(event: &OperationalEvent) -> (hookwire_core::AppId, &'static str, Value) {
    match event {
        OperationalEvent::EndpointDisabled { endpoint, failing_since, .. } => (
            endpoint.app_id,
            ENDPOINT_DISABLED,
            json!({
                "appId": endpoint.app_id.to_string(),
                "endpointId": endpoint.id.to_string(),
                "endpointUid": endpoint.uid,
                "failSince": format_millis(*failing_since),
                "trigger": "automatic",
            }),
        ),
        OperationalEvent::AttemptExhausted { endpoint, message, attempt } => (
            message.app_id,
            ATTEMPT_EXHAUSTED,
            json!({
                "appId": message.app_id.to_string(),
                "msgId": message.id.to_string(),
                "msgEventId": message.event_id,
                "endpointId": endpoint.id.to_string(),
                "lastAttempt": {
                    "id": attempt.id.to_string(),
                    "responseStatusCode": attempt.response_status_code,
                    "timestamp": format_millis(attempt.timestamp),
                },
            }),
        ),
    }
}
