//! Time partitions of the tables that grow with traffic: messages, their tags, deliveries and
//! attempts are range-partitioned (PostgreSQL's declarative partitioning) on each row's own id,
//! a UUIDv7 whose text sorts by creation time, so a week's partition runs from the first id of
//! one Monday (00:00 UTC) to the first id of the next. The four tables share their bounds, so a
//! week is one unit: `messages_20261130`, `message_tags_20261130`, `deliveries_20261130`,
//! `attempts_20261130`. Primary keys stay what they were (each contains its partition key) and
//! a lookup by id reads one partition.
//!
//! Hookwire keeps them itself. [`creations`] names the weeks still missing up to
//! `PARTITION_WEEKS_AHEAD` ahead; every migrate creates them (so no insert ever waits for a
//! node to start) and so does every retention sweep. [`maintain`] also drops a week once it
//! ended more than the retention period ago, none of its messages keeps a payload (a message's
//! own `payloadRetentionHours` can be longer) and no delivery of it waits: one `DROP TABLE` per
//! table instead of deleting rows, so storage and vacuum stay flat however long Hookwire runs.
//! Rows of the unpartitioned side tables (eventIds, idempotency keys) that name a message in no
//! partition's range are deleted after it.
//!
//! Migration 9 makes each existing table the first partition of its new parent (`…_legacy`,
//! from MINVALUE to just after the newest id), so upgrading copies nothing; a `…_default`
//! partition takes any id outside every range (a clock weeks off) rather than refusing it, and
//! gives such rows up to their week when it is made.

use hookwire_core::time_fmt::Millis;
use hookwire_core::{AttemptId, DeliveryId, MessageId};

use super::PgStore;
use super::conn::Db;
use crate::PartitionsMaintained;
use crate::error::{StoreError, StoreResult};

/// Weeks created ahead of the current one.
pub const PARTITION_WEEKS_AHEAD: i64 = 4;
/// Rows of a side table deleted per statement when their messages' week is gone.
const SIDE_ROWS_PER_DELETE: i64 = 10_000;
const DAY_MS: i64 = 86_400_000;
const WEEK_MS: i64 = 7 * DAY_MS;

/// A partitioned table, and the first id of a millisecond in its key's kind.
struct Table {
    name: &'static str,
    /// The column it is partitioned by.
    key: &'static str,
    first_key_at: fn(Millis) -> String,
    /// Storage parameters of each week (`WITH (…)`), or nothing.
    storage: &'static str,
}

/// Room left in each page of a week of `deliveries`: a claim (which sets only the lease, no
/// indexed column) can then write the row's new version in the same page, a HOT update that adds
/// no index entry. Deliveries are claimed when a backlog builds; measured with five endpoints at
/// full load (docs/BENCHMARKS.md), about half the claims became HOT and deliveries/s rose 14 %.
/// The record's update changes `status`, which indexes hold: never HOT, whatever the room.
const DELIVERIES_STORAGE: &str = " WITH (fillfactor = 70)";

const TABLES: [Table; 4] = [
    Table { name: "messages", key: "id", first_key_at: |ms| MessageId::first_at(ms).to_string(), storage: "" },
    Table { name: "message_tags", key: "msg_id", first_key_at: |ms| MessageId::first_at(ms).to_string(), storage: "" },
    Table {
        name: "deliveries",
        key: "id",
        first_key_at: |ms| DeliveryId::first_at(ms).to_string(),
        storage: DELIVERIES_STORAGE,
    },
    Table { name: "attempts", key: "id", first_key_at: |ms| AttemptId::first_at(ms).to_string(), storage: "" },
];

/// One week (or the legacy partition) as `messages` holds it; the other tables share it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// What follows the table's name: `20261130`, `legacy`.
    pub suffix: String,
    /// The first millisecond it holds (`None`: from the beginning).
    pub from: Option<Millis>,
    /// The first millisecond it no longer holds.
    pub until: Millis,
}

/// One node at a time changes partitions (a migrating node waits for it, a sweep skips).
pub(super) const LOCK_SQL: &str = "SELECT pg_advisory_xact_lock(hashtext('hookwire_partitions:' || current_schema()))";
const TRY_LOCK_SQL: &str = "SELECT pg_try_advisory_xact_lock(hashtext('hookwire_partitions:' || current_schema()))";
pub(super) const LOCK_TIMEOUT_SQL: &str = "SET LOCAL lock_timeout = '1s'";

/// Lists the partitions of `$1` with their bounds, as PostgreSQL prints them.
const LIST_SQL: &str = "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i \
     JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::text::regclass";

/// The migration's SQL with its bounds filled in: every table's legacy partition ends at the
/// first id of the millisecond after `newest` (the newest id's time, or now if later).
pub(super) fn migration_sql(sql: &str, newest: Millis) -> String {
    sql.replace("{messages_bound}", &MessageId::first_at(newest + 1).to_string())
        .replace("{deliveries_bound}", &DeliveryId::first_at(newest + 1).to_string())
        .replace("{attempts_bound}", &AttemptId::first_at(newest + 1).to_string())
}

/// The newest id's time in the tables migration 9 partitions (each read from its primary key).
pub(super) const NEWEST_ID_SQL: &str = "SELECT (SELECT max(id) FROM messages), (SELECT max(id) FROM deliveries), \
     (SELECT max(id) FROM attempts)";

/// The newest time among the ids [`NEWEST_ID_SQL`] returned.
pub(super) fn newest_of(row: &tokio_postgres::Row) -> StoreResult<Millis> {
    let id = |index| row.get::<_, Option<&str>>(index);
    let times = [
        id(0).map(|id| time_of(id, |id: MessageId| id.millis())),
        id(1).map(|id| time_of(id, |id: DeliveryId| id.millis())),
        id(2).map(|id| time_of(id, |id: AttemptId| id.millis())),
    ];
    times.into_iter().flatten().try_fold(0, |newest, time| Ok(newest.max(time?)))
}

/// When the id `text` (of kind `Id`) was made.
fn time_of<Id: std::str::FromStr<Err = hookwire_core::ids::IdParseError>>(
    text: &str,
    millis: fn(Id) -> Millis,
) -> StoreResult<Millis> {
    text.parse().map(millis).map_err(|e: hookwire_core::ids::IdParseError| StoreError::Corrupt(e.to_string()))
}

/// The partitions of `messages` (the default one aside) from [`LIST_SQL`]'s rows, oldest first.
fn parse_list(rows: &[tokio_postgres::Row]) -> StoreResult<Vec<Partition>> {
    let mut partitions = Vec::new();
    for row in rows {
        let (name, bound): (&str, &str) = (row.get(0), row.get(1));
        if bound == "DEFAULT" {
            continue;
        }
        let suffix = name.strip_prefix("messages_").unwrap_or(name).to_owned();
        let quoted: Vec<&str> = bound.split('\'').skip(1).step_by(2).collect();
        let corrupt = || StoreError::Corrupt(format!("partition {name} has bounds {bound:?}"));
        let (from, until) = match (bound.contains("MINVALUE"), quoted.as_slice()) {
            (true, [until]) => (None, time_of(until, |id: MessageId| id.millis())?),
            (false, [from, until]) => {
                (Some(time_of(from, |id: MessageId| id.millis())?), time_of(until, |id: MessageId| id.millis())?)
            }
            _ => return Err(corrupt()),
        };
        partitions.push(Partition { suffix, from, until });
    }
    partitions.sort_by_key(|p| p.until);
    Ok(partitions)
}

/// The Monday 00:00 UTC after `at` (or `at` itself when it is one).
fn next_monday(at: Millis) -> Millis {
    let day = at.div_euclid(DAY_MS) + i64::from(at.rem_euclid(DAY_MS) > 0);
    // 1970-01-01 was a Thursday: day 4 was the first Monday.
    let monday = day + (7 - (day - 4).rem_euclid(7)) % 7;
    monday * DAY_MS
}

/// `YYYYMMDD` of the UTC day `at` falls in.
fn day_name(at: Millis) -> String {
    let date =
        time::OffsetDateTime::from_unix_timestamp(at.div_euclid(1_000)).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!("{:04}{:02}{:02}", date.year(), u8::from(date.month()), date.day())
}

/// The weeks missing between the newest partition and `PARTITION_WEEKS_AHEAD` weeks past `now`,
/// each as its suffix, bounds and the statements that create it in every table. Each table's
/// week is made apart, filled with any rows of its range the default partition took meanwhile
/// (a node whose clock ran weeks ahead), then attached: attaching locks the parent less than
/// `CREATE TABLE … PARTITION OF` would (`SHARE UPDATE EXCLUSIVE`, not `ACCESS EXCLUSIVE`), and
/// checks that the default partition kept no row of the range.
fn creations(existing: &[Partition], now: Millis) -> Vec<(Partition, Vec<String>)> {
    let horizon = next_monday(now) + PARTITION_WEEKS_AHEAD * WEEK_MS;
    let mut from = existing.iter().map(|p| p.until).max().unwrap_or_else(|| next_monday(now) - WEEK_MS);
    let mut weeks = Vec::new();
    while from < horizon {
        let until = next_monday(from + 1);
        let partition = Partition { suffix: day_name(from), from: Some(from), until };
        let statements = TABLES
            .iter()
            .flat_map(|table| {
                let (name, key, suffix, storage) = (table.name, table.key, &partition.suffix, table.storage);
                let (lo, hi) = ((table.first_key_at)(from), (table.first_key_at)(until));
                [
                    format!("CREATE TABLE {name}_{suffix} (LIKE {name} INCLUDING DEFAULTS){storage}"),
                    format!(
                        "WITH moved AS (DELETE FROM {name}_default WHERE {key} >= '{lo}' AND {key} < '{hi}' \
                         RETURNING *) INSERT INTO {name}_{suffix} SELECT * FROM moved"
                    ),
                    format!("ALTER TABLE {name} ATTACH PARTITION {name}_{suffix} FOR VALUES FROM ('{lo}') TO ('{hi}')"),
                ]
            })
            .collect();
        weeks.push((partition, statements));
        from = until;
    }
    weeks
}

/// Creates, inside `tx` (which holds [`LOCK_SQL`] or its try), the weeks missing up to
/// `PARTITION_WEEKS_AHEAD` past `now`, each in a savepoint; stops at the first that cannot be
/// made (its locks busy), since the weeks after it would leave a gap. Returns the weeks made.
pub(super) async fn create_ahead(tx: &impl Db, now: Millis) -> StoreResult<Vec<Partition>> {
    let existing = parse_list(&tx.query(LIST_SQL, &[&"messages"]).await?)?;
    let mut made = Vec::new();
    for (week, statements) in creations(&existing, now) {
        tx.query("SAVEPOINT week", &[]).await?;
        let made_it = async {
            for statement in &statements {
                tx.query(statement.as_str(), &[]).await?;
            }
            StoreResult::Ok(())
        };
        if let Err(error) = made_it.await {
            tracing::warn!(week = week.suffix, %error, "cannot create a partition; the next sweep tries again");
            tx.query("ROLLBACK TO SAVEPOINT week", &[]).await?;
            break;
        }
        tx.query("RELEASE SAVEPOINT week", &[]).await?;
        made.push(week);
    }
    Ok(made)
}

/// Creates the weeks ahead, drops the weeks past retention that nothing needs any more, and
/// deletes the side rows of messages no partition holds. One node at a time (the others skip);
/// creating or dropping waits for its locks at most 1 s, else it is left for the next sweep.
pub(super) async fn maintain(store: &PgStore, now: Millis, ended_before: Millis) -> StoreResult<PartitionsMaintained> {
    let mut done = PartitionsMaintained::default();
    let mut client = store.client().await?;
    // The weeks ahead first, committed on their own: a drop that cannot get its locks must not
    // hold them back. Attaching a week locks the default partition for a moment, dropping one
    // the four parents: writers queue behind a lock being waited for, so never wait long.
    let tx = client.transaction().await?;
    if !tx.query_one(TRY_LOCK_SQL, &[]).await?.get::<_, bool>(0) {
        return Ok(done);
    }
    tx.execute(LOCK_TIMEOUT_SQL, &[]).await?;
    done.created = create_ahead(&tx, now).await?.into_iter().map(|week| week.suffix).collect();
    tx.commit().await?;

    let existing = parse_list(&client.query(LIST_SQL, &[&"messages"]).await?)?;
    for week in existing.iter().filter(|p| p.until <= ended_before) {
        // A first look without locks, then again under them, which nothing can change.
        if !droppable(&client, week).await? {
            done.kept.push(week.suffix.clone());
            continue;
        }
        let tx = client.transaction().await?;
        if !tx.query_one(TRY_LOCK_SQL, &[]).await?.get::<_, bool>(0) {
            break;
        }
        tx.execute(LOCK_TIMEOUT_SQL, &[]).await?;
        // In the order writers take them (a record: attempts, then deliveries; an accept:
        // messages, tags, deliveries), so neither can hold one this waits for while waiting here.
        tx.execute("LOCK TABLE attempts, messages, message_tags, deliveries IN ACCESS EXCLUSIVE MODE", &[]).await?;
        if !droppable(&tx, week).await? {
            done.kept.push(week.suffix.clone());
            continue;
        }
        for table in &TABLES {
            tx.execute(&format!("DROP TABLE IF EXISTS {}_{}", table.name, week.suffix), &[]).await?;
        }
        tx.commit().await?;
        done.dropped.push(week.suffix.clone());
    }

    // Side rows naming a message in no partition's range name one that is gone (a crash between
    // a drop and this is made good by the next sweep).
    let left: Vec<Partition> = existing.into_iter().filter(|week| !done.dropped.contains(&week.suffix)).collect();
    for (from, until) in uncovered(&left) {
        for (table, key) in [("message_event_ids", "app_id, event_id"), ("idempotency_keys", "app_id, key")] {
            let sql = format!(
                "DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {table} \
                 WHERE msg_id >= $1 AND ($2::text IS NULL OR msg_id < $2) LIMIT $3)"
            );
            while client.execute(sql.as_str(), &[&from, &until, &SIDE_ROWS_PER_DELETE]).await?
                == SIDE_ROWS_PER_DELETE as u64
            {}
        }
    }
    Ok(done)
}

/// Whether nothing in `week` is needed any more: none of its messages keeps a payload, and no
/// delivery waits to be sent, neither in its partition (a resend of an older message) nor
/// anywhere for one of its messages. Deliveries of a message whose payload is gone can still
/// go (with an empty or `expired` body), so they keep the week until they are done.
async fn droppable(client: &impl Db, week: &Partition) -> StoreResult<bool> {
    let suffix = &week.suffix;
    let from = week.from.map(|ms| MessageId::first_at(ms).to_string()).unwrap_or_default();
    let until = MessageId::first_at(week.until).to_string();
    let cheap = format!(
        "SELECT NOT EXISTS (SELECT 1 FROM messages_{suffix} WHERE payload IS NOT NULL) \
         AND NOT EXISTS (SELECT 1 FROM deliveries_{suffix} WHERE status = 1)"
    );
    if !answer(client, &cheap).await? {
        return Ok(false);
    }
    // Its messages' deliveries in later weeks: only resends and replays (fan-out makes them in
    // the message's week), so the `msg_id` index finds the few there are, in the later weeks'
    // partitions alone (the bounds are literals, so the planner prunes the others and sees, by
    // each partition's statistics, how few rows that range has there).
    let later = DeliveryId::first_at(week.until);
    let pending = format!(
        "SELECT NOT EXISTS (SELECT 1 FROM deliveries WHERE id >= '{later}' AND msg_id >= '{from}' \
         AND msg_id < '{until}' AND status = 1)"
    );
    answer(client, &pending).await
}

/// The id ranges no partition (the default one aside) covers, as message-id bounds: before the
/// oldest, and between two that do not meet. `None` as the end: no end.
fn uncovered(partitions: &[Partition]) -> Vec<(String, Option<String>)> {
    let first = |ms: Millis| MessageId::first_at(ms).to_string();
    let mut gaps = Vec::new();
    let mut covered_until: Option<Millis> = None;
    for partition in partitions {
        match (covered_until, partition.from) {
            (None, Some(from)) => gaps.push((String::new(), Some(first(from)))),
            (Some(end), Some(from)) if end < from => gaps.push((first(end), Some(first(from)))),
            _ => {}
        }
        covered_until = Some(partition.until);
    }
    // Ids past the newest week are the default partition's: not gone.
    gaps
}

/// The one boolean `sql` answers.
async fn answer(client: &impl Db, sql: &str) -> StoreResult<bool> {
    Ok(client.query(sql, &[]).await?.first().is_some_and(|row| row.get::<_, bool>(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MONDAY_2026_11_30: Millis = 1_795_996_800_000;

    #[test]
    fn side_rows_go_where_no_partition_reaches() {
        let week = |from: Option<Millis>, until: Millis| Partition { suffix: String::new(), from, until };
        let id = |ms: Millis| MessageId::first_at(ms).to_string();
        let (a, b, c, d) = (1_000, 2_000, 3_000, 4_000);
        assert!(uncovered(&[week(None, a), week(Some(a), b)]).is_empty(), "from the beginning, no gap");
        assert_eq!(
            uncovered(&[week(Some(a), b), week(Some(c), d)]),
            vec![(String::new(), Some(id(a))), (id(b), Some(id(c)))],
            "before the oldest, and a dropped week between two kept ones"
        );
        assert!(uncovered(&[]).is_empty());
    }

    #[test]
    fn weeks_start_on_monday_utc() {
        assert_eq!(day_name(MONDAY_2026_11_30), "20261130");
        assert_eq!(next_monday(MONDAY_2026_11_30), MONDAY_2026_11_30);
        assert_eq!(next_monday(MONDAY_2026_11_30 + 1), MONDAY_2026_11_30 + WEEK_MS);
        assert_eq!(next_monday(MONDAY_2026_11_30 - 1), MONDAY_2026_11_30);
        assert_eq!(next_monday(MONDAY_2026_11_30 + 3 * DAY_MS), MONDAY_2026_11_30 + WEEK_MS);
    }

    #[test]
    fn creations_continue_from_the_newest_partition_to_the_horizon() {
        let legacy_end = MONDAY_2026_11_30 + 3 * DAY_MS + 17;
        let existing = [Partition { suffix: "legacy".into(), from: None, until: legacy_end }];
        let weeks = creations(&existing, legacy_end);
        // The rest of this week, then whole weeks up to PARTITION_WEEKS_AHEAD past the next Monday.
        assert_eq!(weeks.len() as i64, 1 + PARTITION_WEEKS_AHEAD);
        assert_eq!(
            weeks[0].0,
            Partition { suffix: "20261203".into(), from: Some(legacy_end), until: MONDAY_2026_11_30 + WEEK_MS }
        );
        assert_eq!(weeks[1].0.suffix, "20261207");
        for pair in weeks.windows(2) {
            assert_eq!(pair[0].0.until, pair[1].0.from.unwrap(), "no gap, no overlap");
        }
        let statements = &weeks[1].1;
        assert_eq!(statements.len(), 4 * 3);
        assert_eq!(
            statements[6],
            "CREATE TABLE deliveries_20261207 (LIKE deliveries INCLUDING DEFAULTS) WITH (fillfactor = 70)"
        );
        assert_eq!(statements[0], "CREATE TABLE messages_20261207 (LIKE messages INCLUDING DEFAULTS)");
        assert!(statements[7].starts_with("WITH moved AS (DELETE FROM deliveries_default WHERE id >= 'dlv_"));
        assert!(
            statements[8]
                .starts_with("ALTER TABLE deliveries ATTACH PARTITION deliveries_20261207 FOR VALUES FROM ('dlv_")
        );
        let all: Vec<Partition> = weeks.into_iter().map(|(p, _)| p).collect();
        assert!(creations(&all, legacy_end).is_empty(), "nothing missing twice");
    }
}
