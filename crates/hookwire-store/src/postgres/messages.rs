//! Accepting and reading messages on PostgreSQL.

use async_trait::async_trait;
use hookwire_core::limits::IDEMPOTENCY_WINDOW_SECONDS;
use std::sync::LazyLock;

use super::conn::Db;
use hookwire_core::model::{Delivery, Message};
use hookwire_core::time_fmt::Millis;
use hookwire_core::{AppId, MessageId};
use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;

use super::PgStore;
use super::node::DUE_CHANNEL;
use super::rows::{self, Conditions, DeliveryColumns, MESSAGE_COLUMNS, conflict_as, optional_json};
use crate::error::{StoreError, StoreResult};
use crate::query::WhereClause;
use crate::{Accept, Accepted, MessageFilter, MessageStore, PartitionsMaintained};

#[async_trait]
impl MessageStore for PgStore {
    async fn accept_message(&self, accept: Accept) -> StoreResult<Accepted> {
        let Accept { message, deliveries, leased_until, idempotency_key, filter_errors } = accept;
        if idempotency_key.is_none() && filter_errors.is_empty() {
            // The hot path: committed together with whatever other accepts are waiting.
            let (answer, answered) = tokio::sync::oneshot::channel();
            let queue = self.inner.accepts.get().expect("started at open");
            let pending = super::accepts::Pending { message, deliveries, leased_until, answer };
            queue.send(pending).await.map_err(|_| StoreError::Closed)?;
            answered.await.map_err(|_| StoreError::Closed)??;
            return Ok(Accepted::Created);
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if let Some(key) = &idempotency_key
            && let Some(existing) = claim_idempotency_key(&tx, &message, key).await?
        {
            return Ok(Accepted::Existing(Box::new(existing)));
        }
        for (endpoint, error) in &filter_errors {
            tx.execute(
                "INSERT INTO endpoint_counters (endpoint_id, filter_errors, last_filter_error, last_filter_error_at) \
                 VALUES ($1, 1, $2, $3) ON CONFLICT (endpoint_id) DO UPDATE SET \
                 filter_errors = endpoint_counters.filter_errors + 1, last_filter_error = $2, last_filter_error_at = $3",
                &[&endpoint.to_string(), error, &message.created_at],
            )
            .await?;
        }
        let statement = tx.prepare_cached(&ACCEPT_SQL).await?;
        insert(&tx, &statement, &message, &deliveries, leased_until, &self.inner.node_id).await?;
        tx.commit().await?;
        Ok(Accepted::Created)
    }

    async fn get_message(&self, app: AppId, id: MessageId) -> StoreResult<Option<Message>> {
        let client = self.client().await?;
        message_by_id(&client, app, id).await
    }

    async fn get_message_by_event_id(&self, app: AppId, event_id: &str) -> StoreResult<Option<Message>> {
        let client = self.client().await?;
        // The eventId's own table finds it (the partitioned messages table has no index on it).
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE app_id = $1 AND id = \
             (SELECT msg_id FROM message_event_ids WHERE app_id = $1 AND event_id = $2)"
        );
        client.query_opt(&sql, &[&app.to_string(), &event_id]).await?.as_ref().map(rows::message).transpose()
    }

    async fn list_messages(&self, app: AppId, filter: &MessageFilter) -> StoreResult<Vec<Message>> {
        let mut conditions = Conditions::default();
        conditions.extend(filter.clauses(app, "deliveries_all"));
        let tail = conditions.page(&filter.page, "messages.id");
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE {} {tail}", conditions.sql());
        let client = self.client().await?;
        client.query(&sql, &conditions.params()).await?.iter().map(rows::message).collect()
    }

    async fn expunge_message_content(&self, app: AppId, id: MessageId) -> StoreResult<()> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE messages SET payload = NULL WHERE app_id = $1 AND id = $2",
                &[&app.to_string(), &id.to_string()],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::NotFound { what: "message" });
        }
        Ok(())
    }

    async fn purge_expired(&self, now: Millis, responses_before: Millis, batch: usize) -> StoreResult<u64> {
        let client = self.client().await?;
        let batch = batch as i64;
        let payloads = client
            .execute(
                "UPDATE messages SET payload = NULL WHERE id IN (SELECT id FROM messages \
                 WHERE payload IS NOT NULL AND payload_expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
                &[&now, &batch],
            )
            .await?;
        let responses = client
            .execute(
                "UPDATE attempts SET response = '' WHERE id IN (SELECT id FROM attempts \
                 WHERE response != '' AND created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
                &[&responses_before, &batch],
            )
            .await?;
        Ok(payloads + responses)
    }

    async fn maintain_partitions(&self, now: Millis, ended_before: Millis) -> StoreResult<PartitionsMaintained> {
        super::partitions::maintain(self, now, ended_before).await
    }
}

/// Claims `key` for `message` inside `tx`; returns the message the key already names, if it is
/// still within the idempotency window. A concurrent accept with the same key (on any node) waits
/// on the key's row for this transaction, then finds the key taken.
async fn claim_idempotency_key(
    tx: &super::conn::Tx<'_>,
    message: &Message,
    key: &String,
) -> StoreResult<Option<Message>> {
    let app = message.app_id.to_string();
    let window_start = message.created_at - IDEMPOTENCY_WINDOW_SECONDS * 1_000;
    let claimed = tx
        .query_opt(
            "INSERT INTO idempotency_keys (app_id, key, msg_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (app_id, key) DO UPDATE SET msg_id = EXCLUDED.msg_id, created_at = EXCLUDED.created_at \
             WHERE idempotency_keys.created_at <= $5 RETURNING msg_id",
            &[&app, key, &message.id.to_string(), &message.created_at, &window_start],
        )
        .await?;
    if claimed.is_some() {
        return Ok(None);
    }
    let seen: String =
        tx.query_one("SELECT msg_id FROM idempotency_keys WHERE app_id = $1 AND key = $2", &[&app, key]).await?.get(0);
    let id: MessageId = seen.parse().map_err(|e| StoreError::Corrupt(format!("{e}")))?;
    if let Some(existing) = message_by_id(tx, message.app_id, id).await? {
        return Ok(Some(existing));
    }
    tx.execute(
        "UPDATE idempotency_keys SET msg_id = $3, created_at = $4 WHERE app_id = $1 AND key = $2",
        &[&app, key, &message.id.to_string(), &message.created_at],
    )
    .await?;
    Ok(None)
}

/// The message, its deliveries and (when any is due unleased) the announcement to every node, as
/// one statement: data-modifying CTEs always run, and NOTIFY goes out at commit.
static ACCEPT_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH message AS (INSERT INTO messages (id, app_id, event_type, event_id, channels, tags, payload, \
         created_at, payload_expires_at, content_type, deliver_at) \
         VALUES ($14, $15, $16, $17, $18, $19, $20, $21, $22, $24, $25)), \
         event AS (INSERT INTO message_event_ids (app_id, event_id, msg_id) SELECT $15, $17, $14 WHERE $17::text IS NOT NULL), \
         tag AS (INSERT INTO message_tags (app_id, tag, msg_id) SELECT $15, t, $14 FROM unnest($26::text[]) AS t \
         ON CONFLICT DO NOTHING), \
         delivery AS ({}) SELECT pg_notify('{DUE_CHANNEL}', '') WHERE $23",
        DeliveryColumns::INSERT
    )
});

async fn insert(
    client: &impl Db,
    statement: &Statement,
    message: &Message,
    deliveries: &[Delivery],
    leased_until: Option<Millis>,
    node_id: &String,
) -> StoreResult<()> {
    let columns = DeliveryColumns::new(deliveries, leased_until);
    let announce = columns.announces_due_work();
    let (id, app, channels, tags) = (
        message.id.to_string(),
        message.app_id.to_string(),
        optional_json(&message.channels),
        optional_json(&message.tags),
    );
    let tag_list: Vec<&str> = message.tags.iter().flatten().map(String::as_str).collect();
    let mut params: Vec<&(dyn ToSql + Sync)> = columns.params(node_id).to_vec();
    params.extend_from_slice(&[
        &id,
        &app,
        &message.event_type,
        &message.event_id,
        &channels,
        &tags,
        &message.payload,
        &message.created_at,
        &message.payload_expires_at,
        &announce,
        &message.content_type,
        &message.deliver_at,
        &tag_list,
    ]);
    client.query(statement, &params).await.map_err(conflict_as("message with this eventId"))?;
    Ok(())
}

async fn message_by_id(client: &impl Db, app: AppId, id: MessageId) -> StoreResult<Option<Message>> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1 AND app_id = $2");
    client.query_opt(&sql, &[&id.to_string(), &app.to_string()]).await?.as_ref().map(rows::message).transpose()
}
