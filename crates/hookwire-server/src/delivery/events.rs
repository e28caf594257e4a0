//! Operational events: what Hookwire itself has to say (an endpoint disabled, a message whose
//! retries are exhausted), sent as ordinary messages to the endpoints of the operator's chosen
//! application, so they are signed, retried and logged like everything else.

use std::sync::Arc;

use hookwire_core::MessageId;
use hookwire_core::model::{Application, Attempt, Endpoint, Message, TriggerType};
use hookwire_core::time_fmt::{Millis, format_millis};
use hookwire_store::{Accept, Store};
use serde_json::{Value, json};

use super::Dispatcher;
use super::fanout::{Fanout, new_delivery};

pub const ENDPOINT_DISABLED: &str = "endpoint.disabled";
pub const ATTEMPT_EXHAUSTED: &str = "message.attempt.exhausted";
/// Operational payloads are kept as long as ordinary ones by default.
const EVENT_RETENTION_MS: Millis = 90 * 86_400_000;

pub struct OperationalEvents {
    store: Arc<dyn Store>,
    dispatcher: Dispatcher,
    fanout: Fanout,
    /// The application (id or uid) whose endpoints receive operational events.
    app: String,
}

impl OperationalEvents {
    pub fn new(store: Arc<dyn Store>, dispatcher: Dispatcher, app: String) -> Self {
        Self { store, dispatcher, fanout: Fanout::default(), app }
    }

    async fn target(&self) -> Option<Application> {
        self.store.get_app(&self.app).await.ok().flatten()
    }

    pub async fn endpoint_disabled(&self, endpoint: &Endpoint, failing_since: Millis, now: Millis) {
        let payload = json!({
            "appId": endpoint.app_id.to_string(),
            "endpointId": endpoint.id.to_string(),
            "endpointUid": endpoint.uid,
            "failSince": format_millis(failing_since),
            "trigger": "automatic",
        });
        self.emit(endpoint, ENDPOINT_DISABLED, payload, now).await;
    }

    pub async fn attempt_exhausted(&self, endpoint: &Endpoint, message: &Message, attempt: &Attempt, now: Millis) {
        let payload = json!({
            "appId": message.app_id.to_string(),
            "msgId": message.id.to_string(),
            "msgEventId": message.event_id,
            "endpointId": endpoint.id.to_string(),
            "lastAttempt": {
                "id": attempt.id.to_string(),
                "responseStatusCode": attempt.response_status_code,
                "timestamp": format_millis(attempt.timestamp),
            },
        });
        self.emit(endpoint, ATTEMPT_EXHAUSTED, payload, now).await;
    }

    /// Sends `payload` to the operational application, unless `about` belongs to it (its own
    /// failures would otherwise feed themselves).
    async fn emit(&self, about: &Endpoint, event_type: &str, payload: Value, now: Millis) {
        let Some(app) = self.target().await else { return };
        if about.app_id == app.id {
            return;
        }
        let message = Message {
            id: MessageId::generate(),
            app_id: app.id,
            event_type: event_type.to_owned(),
            event_id: None,
            channels: None,
            tags: None,
            payload: Some(payload.to_string()),
            payload_expires_at: Some(now + EVENT_RETENTION_MS),
            created_at: now,
        };
        let endpoints = match self.store.app_endpoints(app.id).await {
            Ok(endpoints) => endpoints,
            Err(error) => return tracing::error!(%error, event_type, "cannot send operational event"),
        };
        let (planned, _) = self.fanout.plan(endpoints, &message);
        let deliveries = planned
            .iter()
            .map(|p| new_delivery(&message, &p.endpoint, p.chunk, TriggerType::Scheduled, now, now))
            .collect();
        let accept = Accept { message, deliveries, leased_until: None, idempotency_key: None };
        match self.store.accept_message(accept).await {
            Ok(_) => self.dispatcher.wake(),
            Err(error) => tracing::error!(%error, event_type, "cannot send operational event"),
        }
    }
}
