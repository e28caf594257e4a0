//! A fresh schema on the test database (`HOOKWIRE_TEST_POSTGRES_URL`; `None`, the test skipped,
//! without it), a side connection to it, and the application, messages and deliveries the tests
//! write. Each test binary that includes it uses a part.
#![allow(dead_code)]

use hookwire_core::model::{Application, Delivery, Message, Status, TriggerType};
use hookwire_core::{AppId, DeliveryId, EndpointId, MessageId};

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

pub fn application() -> Application {
    Application {
        id: AppId::generate(),
        uid: None,
        name: "Acme".into(),
        throttle_rate: None,
        metadata: Default::default(),
        created_at: now(),
        updated_at: now(),
    }
}

pub async fn fresh_schema() -> Option<String> {
    let base = std::env::var("HOOKWIRE_TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty());
    let Some(base) = base else {
        eprintln!("skipped: set HOOKWIRE_TEST_POSTGRES_URL to run on PostgreSQL");
        return None;
    };
    let schema = format!("hw_test_{}", MessageId::generate().to_string().trim_start_matches("msg_"));
    Some(hookwire_store::postgres::url_with_fresh_schema(&base, &schema).await.unwrap())
}

/// A side connection on the test's schema, for what only the catalog (or a lock) can tell.
pub async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// A message of `app` made now, with an empty JSON payload and nothing else set.
pub fn message(app: AppId) -> Message {
    Message {
        id: MessageId::generate(),
        app_id: app,
        event_type: "a.b".into(),
        event_id: None,
        channels: None,
        tags: None,
        payload: Some("{}".into()),
        content_type: None,
        deliver_at: None,
        payload_expires_at: None,
        created_at: now(),
    }
}

/// A new delivery of `message` to `endpoint`, made and due when the message was made.
pub fn delivery(message: &Message, endpoint: EndpointId) -> Delivery {
    Delivery {
        id: DeliveryId::generate(),
        app_id: message.app_id,
        msg_id: message.id,
        endpoint_id: endpoint,
        status: Status::Pending,
        attempts: 0,
        next_attempt_at: Some(message.created_at),
        trigger: TriggerType::Scheduled,
        chunk: None,
        created_at: message.created_at,
        updated_at: message.created_at,
    }
}
