//! The activity tables' SQL, the same for both dialects but for placeholders (`?N` or `$N`) and
//! the larger-of function. Rows are added to, never overwritten, so any number of writers may
//! add to the same bucket.

use std::collections::BTreeMap;

use hookwire_core::activity::{Bucket, Counts, LATENCY_BUCKETS, Resolution};
use hookwire_core::time_fmt::Millis;
use hookwire_core::{AppId, EndpointId};

use crate::ActivityRow;

/// One row to add to: (endpoint, resolution in ms, bucket start) and what to add.
pub(crate) type Keyed = ((EndpointId, i64, Millis), (AppId, Counts));

/// The rows to add to for `rows`, minute and hour, merged per key and in key order: one
/// statement per row written, and every writer takes the rows' locks in the same order (two
/// PostgreSQL nodes adding to the same hour cannot deadlock).
pub(crate) fn keyed(rows: &[ActivityRow]) -> Vec<Keyed> {
    let mut merged: BTreeMap<(EndpointId, i64, Millis), (AppId, Counts)> = BTreeMap::new();
    for row in rows {
        for resolution in Resolution::ALL {
            let key = (row.endpoint_id, resolution.ms(), resolution.floor(row.at));
            merged.entry(key).or_insert_with(|| (row.app_id, Counts::default())).1.merge(&row.counts);
        }
    }
    merged.into_iter().collect()
}

/// SQL of one dialect: how a placeholder and the larger of two values are written.
#[derive(Clone, Copy)]
pub(crate) struct Dialect {
    pub placeholder: char,
    pub greatest: &'static str,
}

pub(crate) const SQLITE: Dialect = Dialect { placeholder: '?', greatest: "MAX" };
pub(crate) const POSTGRES: Dialect = Dialect { placeholder: '$', greatest: "GREATEST" };

/// The count columns after the key, in `Counts` order.
fn count_columns() -> Vec<String> {
    let mut columns = vec!["succeeded".to_owned(), "failed".to_owned(), "exhausted".to_owned()];
    columns.extend((0..LATENCY_BUCKETS).map(|i| format!("lat_{i}")));
    columns
}

/// Adds one row: parameters endpoint_id, resolution, start, app_id, then `count_values`.
pub(crate) fn add_sql(dialect: Dialect) -> String {
    let counts = count_columns();
    let params: Vec<String> = (1..=4 + counts.len()).map(|n| format!("{}{n}", dialect.placeholder)).collect();
    let sums: Vec<String> = counts.iter().map(|c| format!("{c} = activity.{c} + excluded.{c}")).collect();
    format!(
        "INSERT INTO activity (endpoint_id, resolution, start, app_id, {}) VALUES ({}) \
         ON CONFLICT (endpoint_id, resolution, start) DO UPDATE SET {}",
        counts.join(", "),
        params.join(", "),
        sums.join(", ")
    )
}

/// The counts of a row as its parameters, in column order.
pub(crate) fn count_values(counts: &Counts) -> Vec<i64> {
    let mut values = vec![counts.succeeded as i64, counts.failed as i64, counts.exhausted as i64];
    values.extend(counts.latency.iter().map(|&n| n as i64));
    values
}

/// Buckets of one resolution in a time range, summed over the endpoints in scope: parameters
/// resolution, since, until, then the application and the endpoint when they are asked for.
pub(crate) fn read_sql(dialect: Dialect, app: bool, endpoint: bool) -> String {
    let p = dialect.placeholder;
    let sums: Vec<String> = count_columns().iter().map(|c| format!("CAST(SUM({c}) AS BIGINT)")).collect();
    let mut sql = format!(
        "SELECT start, {} FROM activity WHERE resolution = {p}1 AND start >= {p}2 AND start < {p}3",
        sums.join(", ")
    );
    let mut next = 4;
    if app {
        sql.push_str(&format!(" AND app_id = {p}{next}"));
        next += 1;
    }
    if endpoint {
        sql.push_str(&format!(" AND endpoint_id = {p}{next}"));
    }
    sql.push_str(" GROUP BY start ORDER BY start");
    sql
}

/// Totals per endpoint over a range, most failed first: parameters as `read_sql`, then the
/// limit.
pub(crate) fn by_endpoint_sql(dialect: Dialect, app: bool, endpoint: bool) -> String {
    let p = dialect.placeholder;
    let read = read_sql(dialect, app, endpoint);
    let limit = 4 + usize::from(app) + usize::from(endpoint);
    read.replacen("SELECT start,", "SELECT app_id, endpoint_id,", 1).replace(
        " GROUP BY start ORDER BY start",
        &format!(" GROUP BY app_id, endpoint_id ORDER BY SUM(failed) DESC, SUM(succeeded + failed) DESC, endpoint_id LIMIT {p}{limit}"),
    )
}

/// A bucket from a row of `read_sql`: the start, then the counts in column order.
pub(crate) fn bucket(start: Millis, values: impl Fn(usize) -> i64) -> Bucket {
    let mut counts = Counts {
        succeeded: values(1) as u64,
        failed: values(2) as u64,
        exhausted: values(3) as u64,
        ..Counts::default()
    };
    for (i, slot) in counts.latency.iter_mut().enumerate() {
        *slot = values(4 + i) as u64;
    }
    Bucket { start, counts }
}

/// Keeps the larger sample of a minute: parameters start, due, scheduled.
pub(crate) fn sample_sql(dialect: Dialect) -> String {
    let (p, g) = (dialect.placeholder, dialect.greatest);
    format!(
        "INSERT INTO activity_queue (start, due, scheduled) VALUES ({p}1, {p}2, {p}3) ON CONFLICT (start) \
         DO UPDATE SET due = {g}(activity_queue.due, excluded.due), \
         scheduled = {g}(activity_queue.scheduled, excluded.scheduled)"
    )
}

/// Queue samples in a range, the largest per bucket: parameters bucket length, since, until.
pub(crate) fn queue_sql(dialect: Dialect) -> String {
    let p = dialect.placeholder;
    format!(
        "SELECT start - start % {p}1 AS bucket, MAX(due), MAX(scheduled) FROM activity_queue \
         WHERE start >= {p}2 AND start < {p}3 GROUP BY bucket ORDER BY bucket"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_merged_per_bucket_in_one_order() {
        let (app, e) = (AppId::generate(), EndpointId::generate());
        let mut one = Counts::default();
        one.record(true, false, 1);
        let row = |at| ActivityRow { app_id: app, endpoint_id: e, at, counts: one };
        let hour = 7_200_000;
        let keyed = keyed(&[row(hour + 61_000), row(hour + 1_000)]);
        let keys: Vec<_> = keyed.iter().map(|(k, (_, c))| (k.1, k.2, c.succeeded)).collect();
        assert_eq!(keys, vec![(60_000, hour, 1), (60_000, hour + 60_000, 1), (3_600_000, hour, 2)]);
    }

    #[test]
    fn the_add_statement_names_every_count_once() {
        let sql = add_sql(POSTGRES);
        assert!(sql.contains("$21)"), "{sql}");
        assert!(!sql.contains("$22"));
        assert_eq!(count_values(&Counts::default()).len(), 17);
        assert!(read_sql(SQLITE, true, true).contains("app_id = ?4 AND endpoint_id = ?5"));
        assert!(read_sql(SQLITE, false, true).contains("endpoint_id = ?4"));
        let by = by_endpoint_sql(POSTGRES, true, false);
        assert!(by.starts_with("SELECT app_id, endpoint_id, CAST(SUM(succeeded)"), "{by}");
        assert!(by.ends_with("GROUP BY app_id, endpoint_id ORDER BY SUM(failed) DESC, SUM(succeeded + failed) DESC, endpoint_id LIMIT $5"), "{by}");
    }
}
