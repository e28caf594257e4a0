//! The PostgreSQL store, for several nodes sharing one database. Every node is a peer: due work
//! is claimed with `FOR UPDATE SKIP LOCKED` under a lease naming the node, nodes heartbeat into
//! the `nodes` table so a dead node's leases lapse within `NODE_TTL_MS`, new due work is announced
//! with `NOTIFY` (node.rs), and flow state every node must obey lives in `endpoint_flow`.
//! Nothing that decides correctness is cached in memory.

mod accepts;
mod activity;
mod attempts;
mod conn;
mod deliveries;
mod destinations;
mod inflight;
mod messages;
mod node;
mod partitions;
mod requests;
mod resources;
mod rows;
mod tasks;
mod tls;
mod tokens;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use hookwire_core::crypto::MainKey;
use hookwire_core::model::Endpoint;
use tokio::sync::{Notify, broadcast};
use tokio_postgres::NoTls;

use conn::Conn;
pub use conn::{
    Limits, PG_CONNECT_TIMEOUT_MS_DEFAULT, PG_POOL_WAIT_MS_DEFAULT, PG_QUERY_TIMEOUT_MS_DEFAULT, PG_TCP_TIMEOUT_MS,
};
use tls::Target;

use crate::EndpointPause;
use crate::cache::ConfigCache;
use crate::error::{StoreError, StoreResult};
use crate::secrets::{self, MAIN_KEY_CANARY_SETTING};

/// Connections a node keeps to the database at most.
const POOL_SIZE_MAX: usize = 16;
/// Pause announcements a slow subscriber may fall behind by before it misses some (a missed
/// one still holds: claims skip paused endpoints).
const PAUSES_BUFFERED: usize = 256;

const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/0001_init.sql"),
    include_str!("../../migrations/postgres/0002_config_notify.sql"),
    include_str!("../../migrations/postgres/0003_tokens.sql"),
    include_str!("../../migrations/postgres/0004_svix_messages.sql"),
    include_str!("../../migrations/postgres/0005_c_collation.sql"),
    include_str!("../../migrations/postgres/0006_destinations.sql"),
    include_str!("../../migrations/postgres/0007_destination_attempts.sql"),
    include_str!("../../migrations/postgres/0008_activity.sql"),
    include_str!("../../migrations/postgres/0009_partitions.sql"),
    include_str!("../../migrations/postgres/0010_request_keys.sql"),
    include_str!("../../migrations/postgres/0011_deliveries_inflight.sql"),
];
/// The schema version this binary migrates a database to (what `hookwire migrate` reports).
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();
/// The migration that partitions the growing tables (its SQL takes bounds: `partitions.rs`).
const PARTITIONS_VERSION: usize = 9;

/// Where a store runs its background tasks: the server's task tracker, and the token that stops
/// them at shutdown (so the server joins them before it exits).
#[derive(Clone, Default)]
pub struct Background {
    pub tracker: tokio_util::task::TaskTracker,
    pub stop: tokio_util::sync::CancellationToken,
}

#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// The accept writer's connection (`accepts.rs`): its round trips never wait for the pool,
    /// and its driver runs on the writer's thread.
    accept_pool: Pool,
    /// How long any wait on the database may last.
    limits: Limits,
    /// Where hot-path accepts wait to be committed together (`accepts.rs`).
    accepts: std::sync::OnceLock<accepts::Queue>,
    /// The URL it was opened with (tools and tests open side connections with it).
    url: String,
    /// This process's name in the `nodes` table and on its leases.
    node_id: String,
    main_key: Option<Arc<MainKey>>,
    /// Notified when any node announces due work.
    due: Arc<Notify>,
    /// Endpoint pauses announced by any node.
    pauses: broadcast::Sender<EndpointPause>,
    /// Applications and endpoint lists, used only while `listening` (so no change is missed).
    cache: ConfigCache,
    /// Whether the LISTEN connection is up and hears configuration changes.
    listening: AtomicBool,
    /// Set when the node left the registry on purpose (shutdown): the heartbeat stops.
    left: AtomicBool,
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`), applies pending migrations, checks the
    /// main key, joins the node registry and starts the heartbeat and the due-work listener on
    /// `tasks`, until its `stop` fires (the server's shutdown) or the store is dropped. Every
    /// wait on the database is bounded by the default `Limits`.
    pub async fn open(url: &str, main_key: Option<MainKey>, tasks: &Background) -> StoreResult<Self> {
        Self::open_with(url, main_key, tasks, Limits::default()).await
    }

    /// `open`, with the waits bounded by `limits`.
    pub async fn open_with(
        url: &str,
        main_key: Option<MainKey>,
        tasks: &Background,
        limits: Limits,
    ) -> StoreResult<Self> {
        let target = bounded_target(url, &limits)?;
        let mut pooled = target.config.clone();
        // The server gives up on a statement before the client does (conn.rs): a slow statement
        // is cancelled, not left to commit after the client answered 503.
        let statement_timeout = limits.query_timeout.as_millis().max(1); // 0 would be no bound
        let options = pooled.get_options().map(|o| format!("{o} ")).unwrap_or_default();
        pooled.options(format!("{options}-c statement_timeout={statement_timeout}"));
        let pool = new_pool(&pooled, &target, &limits, POOL_SIZE_MAX)?;
        // The accept writer's own connection, opened (and driven) on the writer's thread.
        let accept_pool = new_pool(&pooled, &target, &limits, 1)?;
        let (mut client, driver) = connect_driven(&target).await?;
        migrate(&mut client).await?;
        check_main_key(&client, main_key.as_ref()).await?;
        drop(client);
        let _ = driver.await;
        let node_id = format!("node_{}", uuid::Uuid::now_v7().simple());
        let inner = Arc::new(Inner {
            pool,
            accept_pool,
            limits,
            accepts: std::sync::OnceLock::new(),
            url: url.to_owned(),
            node_id,
            left: AtomicBool::new(false),
            main_key: main_key.map(Arc::new),
            due: Arc::new(Notify::new()),
            pauses: broadcast::channel(PAUSES_BUFFERED).0,
            cache: ConfigCache::default(),
            listening: AtomicBool::new(false),
        });
        let queue = accepts::start(Arc::downgrade(&inner))
            .map_err(|e| StoreError::Pool(format!("cannot start the accept writer's thread: {e}")))?;
        let _ = inner.accepts.set(queue);
        node::join(&inner).await?;
        node::spawn_heartbeat(Arc::downgrade(&inner), &tasks.tracker, tasks.stop.clone());
        inflight::spawn_mover(Arc::downgrade(&inner), &tasks.tracker, tasks.stop.clone());
        node::spawn_listener(target, Arc::downgrade(&inner), &tasks.tracker, tasks.stop.clone());
        Ok(Self { inner })
    }

    /// Applies pending migrations and returns the schema version.
    pub async fn migrate_only(url: &str, limits: &Limits) -> StoreResult<usize> {
        let (mut client, driver) = connect_driven(&bounded_target(url, limits)?).await?;
        let version = migrate(&mut client).await;
        drop(client);
        let _ = driver.await;
        version
    }

    /// The URL this store was opened with.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// This node's id in the registry.
    pub fn node_id(&self) -> &str {
        &self.inner.node_id
    }

    /// Re-seals every stored secret under `new_key` (or plaintext with `None`), in one
    /// transaction; returns how many endpoints were rewritten.
    pub async fn reseal_secrets(&self, new_key: Option<MainKey>) -> StoreResult<u64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let rows = tx.query("SELECT id, body FROM endpoints FOR UPDATE", &[]).await?;
        for row in &rows {
            let (id, body): (&str, &str) = (row.get(0), row.get(1));
            let endpoint: Endpoint = rows::from_json(body)?;
            let endpoint = secrets::reseal(self.inner.main_key.as_deref(), new_key.as_ref(), endpoint)?;
            tx.execute("UPDATE endpoints SET body = $2 WHERE id = $1", &[&id, &rows::to_json(&endpoint)]).await?;
        }
        for row in &tx.query("SELECT id, body FROM destinations FOR UPDATE", &[]).await? {
            let (id, body): (&str, &str) = (row.get(0), row.get(1));
            let destination: hookwire_core::destination::Destination = rows::from_json(body)?;
            let destination = secrets::reseal(self.inner.main_key.as_deref(), new_key.as_ref(), destination)?;
            tx.execute("UPDATE destinations SET body = $2 WHERE id = $1", &[&id, &rows::to_json(&destination)]).await?;
        }
        tx.execute("DELETE FROM settings WHERE key = $1", &[&MAIN_KEY_CANARY_SETTING]).await?;
        if let Some(key) = &new_key {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES ($1, $2)",
                &[&MAIN_KEY_CANARY_SETTING, &secrets::canary(key)],
            )
            .await?;
        }
        tx.commit().await?;
        self.config_changed();
        Ok(rows.len() as u64)
    }

    /// The configuration cache, when it can be trusted (this node hears every change).
    fn cache(&self) -> Option<&ConfigCache> {
        self.inner.listening.load(Ordering::Acquire).then_some(&self.inner.cache)
    }

    /// After this node changed configuration: drop its cache now (peers drop theirs when the
    /// trigger's announcement reaches them).
    fn config_changed(&self) {
        self.inner.cache.invalidate();
    }

    async fn client(&self) -> StoreResult<Conn> {
        self.inner.conn().await
    }

    fn seal_endpoint(&self, endpoint: Endpoint) -> Endpoint {
        secrets::seal(self.inner.main_key.as_deref(), endpoint)
    }

    fn open_endpoint(&self, endpoint: Endpoint) -> StoreResult<Endpoint> {
        secrets::open(self.inner.main_key.as_deref(), endpoint)
    }

    /// A destination as stored: its secrets sealed.
    fn seal_destination(&self, destination: &hookwire_core::destination::Destination) -> String {
        rows::to_json(&secrets::seal(self.inner.main_key.as_deref(), destination.clone()))
    }

    fn open_destination(
        &self,
        destination: hookwire_core::destination::Destination,
    ) -> StoreResult<hookwire_core::destination::Destination> {
        secrets::open(self.inner.main_key.as_deref(), destination)
    }
}

impl Inner {
    async fn conn(&self) -> StoreResult<Conn> {
        conn::take(&self.pool, self.limits.answer_timeout()).await
    }

    /// The accept writer's connection.
    async fn accept_conn(&self) -> StoreResult<Conn> {
        conn::take(&self.accept_pool, self.limits.answer_timeout()).await
    }
}

/// The URL parsed, with the connect timeout and TCP keepalives Hookwire wants unless the URL
/// sets its own (libpq's names: `connect_timeout`, `keepalives_idle`, `tcp_user_timeout`).
fn bounded_target(url: &str, limits: &Limits) -> StoreResult<Target> {
    let mut target = Target::parse(url)?;
    let config = &mut target.config;
    if !url.contains("connect_timeout=") {
        config.connect_timeout(limits.connect_timeout);
    }
    let tcp = std::time::Duration::from_millis(PG_TCP_TIMEOUT_MS);
    config.keepalives(true);
    if !url.contains("keepalives_idle=") {
        config.keepalives_idle(tcp);
    }
    if !url.contains("tcp_user_timeout=") {
        config.tcp_user_timeout(tcp);
    }
    Ok(target)
}

/// A pool of up to `size` connections to `target` (as `config`), every wait on it bounded by
/// `limits`; a connection's driver runs on the runtime that opened it.
fn new_pool(config: &tokio_postgres::Config, target: &Target, limits: &Limits, size: usize) -> StoreResult<Pool> {
    let recycling = ManagerConfig { recycling_method: RecyclingMethod::Fast };
    let manager = match target.tls.clone() {
        None => Manager::from_config(config.clone(), NoTls, recycling),
        Some(tls) => Manager::from_config(config.clone(), tls, recycling),
    };
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(limits.pool_wait))
        .create_timeout(Some(limits.connect_timeout))
        .recycle_timeout(Some(limits.answer_timeout()))
        .build()
        .map_err(|e| StoreError::Pool(e.to_string()))
}

/// One connection outside the pool, with the TLS the URL asks for, its driver spawned.
async fn connect_driven(target: &Target) -> StoreResult<(tokio_postgres::Client, tokio::task::JoinHandle<()>)> {
    Ok(match target.tls.clone() {
        None => {
            let (client, connection) = target.bounded(target.config.connect(NoTls)).await?;
            (client, tokio::spawn(async move { drop(connection.await) }))
        }
        Some(tls) => {
            let (client, connection) = target.bounded(target.config.connect(tls)).await?;
            (client, tokio::spawn(async move { drop(connection.await) }))
        }
    })
}

/// Applies pending migrations in one transaction under an advisory lock (nodes starting together
/// take turns; the lock is per schema, so separate schemas in one database do not wait).
async fn migrate(client: &mut tokio_postgres::Client) -> StoreResult<usize> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock(hashtext('hookwire_migrate:' || current_schema()))", &[]).await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS hookwire_schema (version BIGINT NOT NULL)").await?;
    let current: i64 = tx.query_one("SELECT coalesce(max(version), 0) FROM hookwire_schema", &[]).await?.get(0);
    let current = current as usize;
    if current > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "database schema version {current} is newer than this binary knows ({})",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        if index + 1 == PARTITIONS_VERSION {
            // Nothing may write between reading the newest id and attaching below it.
            tx.batch_execute("LOCK TABLE messages, message_tags, deliveries, attempts IN ACCESS EXCLUSIVE MODE")
                .await?;
            let newest = partitions::newest_of(&tx.query_one(partitions::NEWEST_ID_SQL, &[]).await?)?;
            tx.batch_execute(&partitions::migration_sql(sql, newest.max(wall_clock_ms()))).await?;
        } else {
            tx.batch_execute(sql).await?;
        }
        tracing::info!(version = index + 1, "applied PostgreSQL migration");
    }
    // The weeks ahead exist before any node writes (an id past them would land in `…_default`).
    // Attaching one locks the default partition: wait for that at most a moment (writers queue
    // behind a lock being waited for), and a week that cannot be made must not stop the node
    // from starting: the sweep tries again. No week is made past one that failed (a gap).
    tx.batch_execute(partitions::LOCK_SQL).await?;
    tx.batch_execute(partitions::LOCK_TIMEOUT_SQL).await?;
    partitions::create_ahead(&tx, wall_clock_ms()).await?;
    tx.execute("DELETE FROM hookwire_schema", &[]).await?;
    tx.execute("INSERT INTO hookwire_schema (version) VALUES ($1)", &[&(MIGRATIONS.len() as i64)]).await?;
    tx.commit().await?;
    Ok(MIGRATIONS.len())
}

/// Now by this machine's clock, which is what ids are made from.
fn wall_clock_ms() -> hookwire_core::time_fmt::Millis {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

async fn check_main_key(client: &tokio_postgres::Client, main_key: Option<&MainKey>) -> StoreResult<()> {
    let stored = client.query_opt("SELECT value FROM settings WHERE key = $1", &[&MAIN_KEY_CANARY_SETTING]).await?;
    let stored: Option<&str> = stored.as_ref().map(|row| row.get(0));
    if let Some(canary) = secrets::check_canary(stored, main_key)? {
        client
            .execute(
                "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                &[&MAIN_KEY_CANARY_SETTING, &canary],
            )
            .await?;
    }
    Ok(())
}

/// Creates an empty schema named `schema` in the database at `url` and returns a URL whose
/// connections use it: a fresh, isolated Hookwire database for a test or a benchmark run.
pub async fn url_with_fresh_schema(url: &str, schema: &str) -> StoreResult<String> {
    on_schema(url, schema, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).await?;
    let separator = if url.contains('?') { '&' } else { '?' };
    Ok(format!("{url}{separator}options=-csearch_path%3D{schema}"))
}

/// Drops `schema` (one [`url_with_fresh_schema`] made) from the database at `url`, with all it holds.
pub async fn drop_schema(url: &str, schema: &str) -> StoreResult<()> {
    on_schema(url, schema, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await
}

/// Runs `sql` about `schema` (a plain name: it is written into the statement) on its own connection.
async fn on_schema(url: &str, schema: &str, sql: &str) -> StoreResult<()> {
    if !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(StoreError::Url(format!("schema name {schema:?} must be letters, digits and _")));
    }
    let (client, driver) = connect_driven(&bounded_target(url, &Limits::default())?).await?;
    client.batch_execute(sql).await?;
    drop(client);
    let _ = driver.await;
    Ok(())
}
