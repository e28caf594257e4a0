//! Each delivery's row written once on the hot path. A message the batch writer accepts with
//! deliveries leased to this node (handed straight to its workers) stores its fan-out as one row
//! of `deliveries_inflight` (the delivery ids and endpoint ids, the lease) instead of a pending
//! row per delivery that the first outcome would then rewrite: the recorder inserts each such
//! delivery in its state after the attempt (`attempts.rs`), a release inserts it as released
//! (`deliveries.rs`). A row version is what a delivery costs PostgreSQL, its index entries much
//! less (docs/BENCHMARKS.md, "PostgreSQL: where the last fifth goes" and "Each delivery's row written
//! once").
//!
//! Readers never see the difference: the view `deliveries_all` adds the fan-out still in flight
//! as pending deliveries under their lease. Leases keep their meaning: a fan-out row is moved into
//! `deliveries` as it was (pending, leased to its node until its time) once it is
//! `MOVE_AFTER_MS` old, by any node's periodic move, so a node that dies leaves rows whose lease
//! lapses with its heartbeat, claimed as any other; a claim first moves the rows whose lease has
//! lapsed by its own `now` or whose node is gone; and a node shutting down moves its own before
//! it gives its leases up. The table holds the last seconds of messages, whatever the load.

use std::sync::Weak;
use std::time::Duration;

use hookwire_core::model::{Delivery, Status, TriggerType};
use hookwire_core::time_fmt::Millis;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Inner;
use super::node::{DB_NOW_MS, lease_lapsed_on};

/// How old (by the database's clock) a fan-out row gets before it is moved into `deliveries`:
/// long past the time most deliveries take to be attempted and recorded at full load (tens of
/// milliseconds), short enough that the rows readers join stay few.
pub(super) const MOVE_AFTER_MS: i64 = 2_000;
/// How often each node moves the rows that are old enough.
const MOVE_EVERY_MS: u64 = 1_000;

/// The deliveries of one accept that can wait in `deliveries_inflight`: with a lease, new (pending,
/// never attempted, scheduled, not a chunk), due, and all made at the same time and due at the
/// same time as the first (what the row keeps once for all of them). The others are stored as rows.
pub(super) fn split(deliveries: &[Delivery], leased_until: Option<Millis>) -> (Vec<&Delivery>, Vec<&Delivery>) {
    let Some(first) = deliveries.first().filter(|_| leased_until.is_some()) else {
        return (Vec::new(), deliveries.iter().collect());
    };
    let (mut fanout, mut rows) = (Vec::new(), Vec::new());
    for delivery in deliveries {
        let new = delivery.status == Status::Pending
            && delivery.attempts == 0
            && delivery.trigger == TriggerType::Scheduled
            && delivery.chunk.is_none();
        let shared = delivery.next_attempt_at.is_some()
            && delivery.next_attempt_at == first.next_attempt_at
            && delivery.created_at == first.created_at
            && delivery.updated_at == first.created_at;
        if new && shared { fanout.push(delivery) } else { rows.push(delivery) }
    }
    (fanout, rows)
}

/// Fan-out rows as parallel arrays, one entry per message (ids joined by `,`: no id has one).
#[derive(Default)]
pub(super) struct FanoutColumns {
    msg_id: Vec<String>,
    app_id: Vec<String>,
    lease_until: Vec<i64>,
    next_attempt_at: Vec<i64>,
    created_at: Vec<i64>,
    delivery_ids: Vec<String>,
    endpoint_ids: Vec<String>,
}

impl FanoutColumns {
    /// Appends one message's fan-out (from `split`), leased until `lease_until`.
    pub fn push(&mut self, fanout: &[&Delivery], lease_until: Millis) {
        let Some(first) = fanout.first() else { return };
        let joined = |id: &dyn Fn(&Delivery) -> String| {
            let mut text = String::with_capacity(fanout.len() * 31);
            for (n, delivery) in fanout.iter().enumerate() {
                if n > 0 {
                    text.push(',');
                }
                text.push_str(&id(delivery));
            }
            text
        };
        self.msg_id.push(first.msg_id.to_string());
        self.app_id.push(first.app_id.to_string());
        self.lease_until.push(lease_until);
        self.next_attempt_at.push(first.next_attempt_at.unwrap_or(first.created_at));
        self.created_at.push(first.created_at);
        self.delivery_ids.push(joined(&|d| d.id.to_string()));
        self.endpoint_ids.push(joined(&|d| d.endpoint_id.to_string()));
    }

    /// The statement that inserts them, its parameters numbered from `$first`, the lease owner
    /// at `$owner`.
    pub fn insert_sql(first: usize, owner: usize) -> String {
        let p: Vec<String> = (first..first + 7).map(|n| format!("${n}")).collect();
        format!(
            "INSERT INTO deliveries_inflight (msg_id, app_id, lease_owner, lease_until, next_attempt_at, created_at, \
             delivery_ids, endpoint_ids) SELECT m, a, ${owner}::text, lu, due, c, string_to_array(ds, ','), \
             string_to_array(es, ',') FROM unnest({}::text[], {}::text[], {}::bigint[], {}::bigint[], {}::bigint[], \
             {}::text[], {}::text[]) AS x(m, a, lu, due, c, ds, es)",
            p[0], p[1], p[2], p[3], p[4], p[5], p[6]
        )
    }

    /// The parameters of `insert_sql`, in order.
    pub fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 7] {
        [
            &self.msg_id,
            &self.app_id,
            &self.lease_until,
            &self.next_attempt_at,
            &self.created_at,
            &self.delivery_ids,
            &self.endpoint_ids,
        ]
    }
}

/// Moves the fan-out rows that `condition` (on `deliveries_inflight i`) selects into
/// `deliveries` as they were: pending, under their lease. A delivery already stored (recorded or
/// released meanwhile) is left as it is; one to an endpoint deleted meanwhile is dropped.
/// Inserted in id order, as the recorder's and a release's inserts are: two statements inserting
/// the same ids then wait for each other instead of deadlocking (an order each made up would let
/// one hold the id the other waits for). Answers how many deliveries were inserted.
fn move_sql(condition: &str) -> String {
    format!(
        "WITH moved AS (DELETE FROM deliveries_inflight i WHERE {condition} RETURNING i.*) \
         INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, attempts, next_attempt_at, lease_owner, \
         lease_until, trigger_type, created_at, updated_at, chunk) \
         SELECT f.id, m.app_id, m.msg_id, f.endpoint_id, {pending}, 0, m.next_attempt_at, m.lease_owner, \
         m.lease_until, {scheduled}, m.created_at, m.created_at, NULL \
         FROM moved m CROSS JOIN LATERAL unnest(m.delivery_ids, m.endpoint_ids) AS f(id, endpoint_id) \
         WHERE EXISTS (SELECT 1 FROM endpoints e WHERE e.id = f.endpoint_id) ORDER BY f.id COLLATE \"C\" \
         ON CONFLICT (id) DO NOTHING",
        pending = Status::Pending.code(),
        scheduled = TriggerType::Scheduled.code(),
    )
}

/// Rows at least `MOVE_AFTER_MS` old, whoever's (the periodic move).
fn old_rows() -> String {
    move_sql(&format!("i.stored_at < {DB_NOW_MS} - {MOVE_AFTER_MS}"))
}

/// Rows a claim at `$1` may take: their lease lapsed by then, or their node is gone (the rule
/// of every lease, `node::lease_lapsed`).
pub(super) fn lapsed_rows() -> String {
    move_sql(&lease_lapsed_on("i", "$1"))
}

/// This node's rows (`$1`), whatever their age: before it gives its leases up.
pub(super) fn own_rows() -> String {
    move_sql("i.lease_owner = $1")
}

/// Whether any fan-out row's lease has lapsed by `$1` or its node is gone (work a claim would
/// move and take now).
pub(super) fn any_lapsed_sql() -> String {
    format!("SELECT EXISTS (SELECT 1 FROM deliveries_inflight i WHERE {})", lease_lapsed_on("i", "$1"))
}

/// Moves the rows old enough every `MOVE_EVERY_MS` until `stop` fires or the store is dropped.
pub(super) fn spawn_mover(inner: Weak<Inner>, tracker: &TaskTracker, stop: CancellationToken) {
    tracker.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(MOVE_EVERY_MS));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let sql = old_rows();
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let Some(inner) = inner.upgrade() else { return };
            let moved = async {
                let client = inner.conn().await?;
                let statement = client.prepare_cached(&sql).await?;
                client.execute(&statement, &[]).await
            };
            match moved.await {
                Ok(0) => {}
                Ok(count) => tracing::debug!(count, "moved in-flight deliveries into the deliveries table"),
                Err(error) => tracing::warn!(%error, "cannot move in-flight deliveries"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use hookwire_core::{AppId, DeliveryId, EndpointId, MessageId};

    use super::*;

    fn delivery(due: Option<Millis>) -> Delivery {
        Delivery {
            id: DeliveryId::generate(),
            app_id: AppId::generate(),
            msg_id: MessageId::generate(),
            endpoint_id: EndpointId::generate(),
            status: Status::Pending,
            attempts: 0,
            next_attempt_at: due,
            trigger: TriggerType::Scheduled,
            chunk: None,
            created_at: 10,
            updated_at: 10,
        }
    }

    /// Only what one fan-out row can say waits in flight: leased, new, due when the first is, made
    /// when the first was; a chunk, a parked delivery, another due time or a manual send is a row.
    #[test]
    fn only_new_leased_deliveries_sharing_the_first_ones_times_wait_in_flight() {
        let deliveries = vec![
            delivery(Some(10)),
            delivery(Some(10)),
            Delivery { chunk: Some(1), ..delivery(Some(10)) },
            delivery(None),
            delivery(Some(99)),
            Delivery { created_at: 11, updated_at: 11, ..delivery(Some(10)) },
            Delivery { trigger: TriggerType::Manual, ..delivery(Some(10)) },
            Delivery { attempts: 1, ..delivery(Some(10)) },
        ];
        let (fanout, rows) = split(&deliveries, Some(1_000));
        let ids = |list: &[&Delivery]| list.iter().map(|d| d.id).collect::<Vec<_>>();
        assert_eq!(ids(&fanout), vec![deliveries[0].id, deliveries[1].id]);
        assert_eq!(ids(&rows), deliveries[2..].iter().map(|d| d.id).collect::<Vec<_>>());
        let (fanout, rows) = split(&deliveries, None);
        assert!(fanout.is_empty(), "nothing unleased waits in flight");
        assert_eq!(rows.len(), deliveries.len());

        let mut columns = FanoutColumns::default();
        columns.push(&[&deliveries[0], &deliveries[1]], 1_000);
        assert_eq!(columns.delivery_ids, vec![format!("{},{}", deliveries[0].id, deliveries[1].id)]);
        assert_eq!(columns.endpoint_ids, vec![format!("{},{}", deliveries[0].endpoint_id, deliveries[1].endpoint_id)]);
        assert_eq!((columns.lease_until[0], columns.next_attempt_at[0], columns.created_at[0]), (1_000, 10, 10));
    }
}
