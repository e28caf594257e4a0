//! The query timeout is PostgreSQL's own `statement_timeout`, and the client waits a little
//! longer for the answer (postgres/conn.rs): a statement that runs over its bound is cancelled by
//! the server, so the "unavailable" it ends in (a 503) means nothing was written, and a producer
//! that retries makes no duplicate. Skipped without `HOOKWIRE_TEST_POSTGRES_URL`.

use std::sync::Arc;
use std::time::Duration;

#[path = "support/pg_schema.rs"]
mod pg_schema;

use hookwire_core::model::Message;
use hookwire_store::Accept;
use hookwire_store::postgres::{Limits, PgStore};
use hookwire_store::prelude::*;
use pg_schema::{application, fresh_schema, raw};

/// An accept that waits on another transaction past the query timeout fails as unavailable and
/// is not written when that transaction ends (with the client giving up first, the statement
/// ran on and committed then: a 503 for a message that was kept).
#[tokio::test]
async fn an_accept_over_the_query_timeout_is_cancelled_not_committed_after_its_503() {
    let Some(url) = fresh_schema().await else { return };
    let limits = Limits { query_timeout: Duration::from_millis(300), ..Limits::default() };
    let store = PgStore::open_with(&url, None, &Default::default(), limits).await.unwrap();
    let app = application();
    store.create_app(app.clone()).await.unwrap();

    // Another transaction writes the same eventId and holds it past the statement's bound
    // (300 ms), then rolls back before the client's (1.3 s): the accept waits on it, then
    // would go through. (A row, not a table lock: preparing the statement must not wait.)
    let side = raw(&url).await;
    let held = format!("BEGIN; INSERT INTO message_event_ids VALUES ('{}', 'evt-1', 'msg_other')", app.id);
    side.batch_execute(&held).await.unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(900)).await;
        side.batch_execute("ROLLBACK").await.unwrap();
    });
    let message = Arc::new(Message {
        event_type: "order.created".into(),
        event_id: Some("evt-1".into()),
        ..pg_schema::message(app.id)
    });
    let accept = Accept {
        message: message.clone(),
        deliveries: vec![],
        leased_until: None,
        idempotency_key: None,
        filter_errors: vec![],
    };
    let error = store.accept_message(accept).await.expect_err("the accept waited on the lock past its bound");
    assert!(error.is_unavailable(), "{error}");
    release.await.unwrap();
    // Had the statement run on, it would have committed as soon as the other one rolled back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(store.get_message(app.id, message.id).await.unwrap(), None, "answered unavailable, yet written");
}
