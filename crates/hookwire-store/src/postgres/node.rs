//! This node among its peers: the registry row it heartbeats, and the LISTEN connection that
//! wakes its poller when any node makes deliveries due. Liveness is judged by the database's
//! clock, so clock skew between nodes cannot make a live node look dead.

use std::sync::Weak;
use std::time::Duration;

use std::sync::atomic::Ordering;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::{AsyncMessage, Connection, NoTls};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Inner;
use crate::EndpointPause;
use crate::error::StoreResult;

/// How often a node refreshes its heartbeat.
pub(super) const HEARTBEAT_MS: u64 = 2_000;
/// A node whose heartbeat is older than this is dead: its leases lapse and others take its work.
pub(super) const NODE_TTL_MS: i64 = 10_000;
/// Registry rows of nodes gone this long are removed.
const NODE_FORGET_MS: i64 = 24 * 3_600 * 1_000;
/// The channel that announces due work.
pub(super) const DUE_CHANNEL: &str = "hookwire_due";
/// The channel that announces endpoint pauses, as `{endpoint_id} {until_ms}`.
pub(super) const PAUSE_CHANNEL: &str = "hookwire_pause";
/// The channel a trigger announces configuration changes on (migration 0002).
const CONFIG_CHANNEL: &str = "hookwire_config";
/// Wait before reconnecting a lost LISTEN connection.
const LISTEN_RETRY_MS: u64 = 1_000;
/// How often the idle LISTEN connection checks whether its store is gone.
const ALIVE_CHECK_MS: u64 = 5_000;

/// The database's clock in Unix milliseconds, as SQL.
pub(super) const DB_NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// SQL for "the lease on this row (alias `d`) no longer holds at `$now`": expired, or its owner
/// stopped heartbeating. `now_param` is the placeholder holding the caller's now.
pub(super) fn lease_lapsed(now_param: &str) -> String {
    lease_lapsed_on("d", now_param)
}

/// `lease_lapsed` of the row aliased `alias` (any table with `lease_owner` and `lease_until`).
pub(super) fn lease_lapsed_on(alias: &str, now_param: &str) -> String {
    format!(
        "({alias}.lease_owner IS NULL OR {alias}.lease_until <= {now_param} OR NOT EXISTS (SELECT 1 FROM nodes n \
         WHERE n.id = {alias}.lease_owner AND n.heartbeat_at > {DB_NOW_MS} - {NODE_TTL_MS}))"
    )
}

pub(super) async fn join(inner: &Inner) -> StoreResult<()> {
    let client = inner.conn().await?;
    client
        .execute(
            &format!(
                "INSERT INTO nodes (id, started_at, heartbeat_at, version) VALUES ($1, {DB_NOW_MS}, {DB_NOW_MS}, $2)"
            ),
            &[&inner.node_id, &env!("CARGO_PKG_VERSION")],
        )
        .await?;
    client.execute(&format!("DELETE FROM nodes WHERE heartbeat_at < {DB_NOW_MS} - {NODE_FORGET_MS}"), &[]).await?;
    tracing::info!(node_id = %inner.node_id, "joined the node registry");
    Ok(())
}

/// Leaves the registry: this node's leases lapse for everyone at once.
pub(super) async fn leave(inner: &Inner) -> StoreResult<()> {
    inner.left.store(true, Ordering::Release);
    let client = inner.conn().await?;
    client.execute("DELETE FROM nodes WHERE id = $1", &[&inner.node_id]).await?;
    Ok(())
}

/// Refreshes the heartbeat until `stop` fires or the store is dropped. A heartbeat that fails is
/// logged: if they keep failing for `NODE_TTL_MS`, peers take this node's work (at least once,
/// never lost).
pub(super) fn spawn_heartbeat(inner: Weak<Inner>, tracker: &TaskTracker, stop: CancellationToken) {
    tracker.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(HEARTBEAT_MS));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let Some(inner) = inner.upgrade() else { return };
            if inner.left.load(Ordering::Acquire) {
                return;
            }
            let beat = async {
                let client = inner.conn().await?;
                let sql = format!("UPDATE nodes SET heartbeat_at = {DB_NOW_MS} WHERE id = $1");
                let updated = client.execute(&sql, &[&inner.node_id]).await?;
                if updated == 0 {
                    // Removed (e.g. after a long stall): rejoin; peers may have taken our work.
                    tracing::warn!(node_id = %inner.node_id, "node was missing from the registry; rejoining");
                    join(&inner).await?;
                }
                StoreResult::Ok(())
            };
            if let Err(error) = beat.await {
                tracing::warn!(%error, "node heartbeat failed");
            }
        }
    });
}

/// Holds a LISTEN connection (reconnecting when it drops) and acts on every announcement until
/// `stop` fires or the store is dropped; wakes the poller once after each (re)connect for
/// anything announced while it was down.
pub(super) fn spawn_listener(
    target: super::tls::Target,
    alive: Weak<Inner>,
    tracker: &TaskTracker,
    stop: CancellationToken,
) {
    let tasks = tracker.clone();
    tracker.spawn(async move {
        while alive.strong_count() > 0 && !stop.is_cancelled() {
            let failed = match target.tls.clone() {
                None => match target.bounded(target.config.connect(NoTls)).await {
                    Ok((client, connection)) => {
                        listen(client, connection, &alive, &tasks, &stop).await;
                        None
                    }
                    Err(error) => Some(error.to_string()),
                },
                Some(tls) => match target.bounded(target.config.connect(tls)).await {
                    Ok((client, connection)) => {
                        listen(client, connection, &alive, &tasks, &stop).await;
                        None
                    }
                    Err(error) => Some(error.to_string()),
                },
            };
            if let Some(error) = failed {
                tracing::warn!(%error, "cannot open the LISTEN connection");
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(LISTEN_RETRY_MS)) => {}
            }
        }
    });
}

/// Listens on one connection until it drops, `stop` fires or the store is gone.
async fn listen<S, T>(
    client: tokio_postgres::Client,
    mut connection: Connection<S, T>,
    alive: &Weak<Inner>,
    tracker: &TaskTracker,
    stop: &CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let alive_check = alive.clone();
    let stop_driver = stop.clone();
    let driver = tracker.spawn(async move {
        loop {
            let message = tokio::select! {
                message = std::future::poll_fn(|cx| connection.poll_message(cx)) => message,
                _ = stop_driver.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(ALIVE_CHECK_MS)) => {
                    if alive_check.strong_count() == 0 { return }
                    continue;
                }
            };
            match message {
                Some(Ok(AsyncMessage::Notification(note))) => {
                    let Some(inner) = alive_check.upgrade() else { return };
                    heard(&inner, note.channel(), note.payload());
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    tracing::warn!(%error, "LISTEN connection lost");
                    return;
                }
                None => return,
            }
        }
    });
    let channels = format!("LISTEN {DUE_CHANNEL}; LISTEN {PAUSE_CHANNEL}; LISTEN {CONFIG_CHANNEL}");
    match client.batch_execute(&channels).await {
        Ok(()) => {
            // Whatever was announced while not listening is looked at now.
            if let Some(inner) = alive.upgrade() {
                inner.cache.invalidate();
                inner.listening.store(true, Ordering::Release);
                inner.due.notify_one();
            }
        }
        Err(error) => tracing::warn!(%error, "cannot LISTEN for announcements"),
    }
    let _ = driver.await;
    drop(client);
    if let Some(inner) = alive.upgrade() {
        inner.listening.store(false, Ordering::Release);
        inner.cache.invalidate();
    }
}

/// Acts on one announcement.
fn heard(inner: &Inner, channel: &str, payload: &str) {
    match channel {
        PAUSE_CHANNEL => {
            if let Some(pause) = parse_pause(payload) {
                let _ = inner.pauses.send(pause);
            }
        }
        CONFIG_CHANNEL => inner.cache.invalidate(),
        _ => inner.due.notify_one(),
    }
}

/// `{endpoint_id} {until_ms}`, as `pause_endpoint` announces it.
fn parse_pause(payload: &str) -> Option<EndpointPause> {
    let (endpoint, until) = payload.split_once(' ')?;
    Some(EndpointPause { endpoint: endpoint.parse().ok()?, until: until.parse().ok()? })
}
