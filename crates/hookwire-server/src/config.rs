//! Configuration: defaults, then the TOML file, then environment and flags (the binary merges
//! those; flag wins over environment).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hookwire_core::url_policy::{DestinationPolicy, Network};
use hookwire_store::sqlite::Durability;
use serde::Deserialize;

pub const LISTEN_DEFAULT: &str = "127.0.0.1:8071";
pub const DATA_DIR_DEFAULT: &str = "./hookwire-data";
pub const DELIVERY_CONCURRENCY_DEFAULT: usize = 512;
/// How long shutdown waits for in-flight deliveries before giving up on them (they stay leased
/// and are delivered again after the next start).
pub const SHUTDOWN_GRACE_MS_DEFAULT: u64 = 30_000;
pub const RETENTION_SWEEP_INTERVAL_MS_DEFAULT: u64 = 60_000;
pub const AUTO_DISABLE_AFTER_MS_DEFAULT: u64 = 5 * 24 * 3_600_000;

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// `sqlite://PATH` (embedded, one process) or `postgres://USER@HOST:PORT/DATABASE` (many nodes).
    pub database_url: String,
    pub admin_token: Option<String>,
    /// Base64 of 32 bytes; when set, endpoint secrets and sensitive headers are sealed at rest.
    pub main_key: Option<String>,
    pub allow_private_networks: bool,
    /// Networks deliveries may reach even though they are private (CIDR blocks).
    pub allowed_networks: Vec<Network>,
    /// A PEM file of certificate authorities deliveries trust besides the system's (endpoints
    /// on a private PKI).
    pub delivery_ca_file: Option<PathBuf>,
    pub durability: Durability,
    /// Refuse messages and subscriptions naming event types missing from the catalog.
    pub strict_event_types: bool,
    /// Check message payloads against their event type's JSON Schema (422 naming the path).
    pub validate_payloads: bool,
    /// Payloads and attempt response bodies are purged after this many days (a message may ask
    /// for its own period).
    pub retention_days: u64,
    /// How often the retention sweep runs.
    pub retention_sweep_interval_ms: u64,
    pub delivery_concurrency: usize,
    /// How long delivery work leased by this process stays its own (`LEASE_MS_DEFAULT`); shorter
    /// only in tests of the lease rules, which is why no flag or file key sets it.
    pub delivery_lease_ms: i64,
    pub shutdown_grace_ms: u64,
    /// An endpoint failing without a single success for this long is disabled (default 5 days).
    pub auto_disable_after_ms: u64,
    /// The application (id or uid) whose endpoints receive operational events
    /// (`endpoint.disabled`, `message.attempt.exhausted`).
    pub operational_app: Option<String>,
    /// Base URL users reach this server at (for portal links); defaults to `http://{listen}`.
    pub public_url: Option<String>,
    /// Serve `/metrics` without the admin token (it names endpoint ids; keep it off the internet).
    pub metrics_public: bool,
    /// Endpoints that get their own `endpoint` label in metrics; the rest count as `other`.
    pub metrics_endpoint_labels_max: usize,
    /// How long a request head may take to arrive on the API port; an idle keep-alive
    /// connection is closed after as long.
    pub http_header_timeout_ms: u64,
    /// How long a request body may take to arrive, from the request's start (408 after).
    pub http_body_timeout_ms: u64,
    /// Connections open on the API port at once (503 beyond; lowered to fit the open-file limit).
    pub http_connections_max: usize,
    /// PostgreSQL: how long one statement may run (the server's `statement_timeout`; the node
    /// waits `PG_ANSWER_GRACE_MS` more for an answer; 503 `database_unavailable` after either).
    pub database_query_timeout_ms: u64,
    /// PostgreSQL: how long a request may wait for a pooled connection.
    pub database_pool_wait_ms: u64,
    /// PostgreSQL: how long opening a connection may take (a URL's `connect_timeout` wins).
    pub database_connect_timeout_ms: u64,
    /// The file keys given that only PostgreSQL acts on (refused with a SQLite URL).
    pub postgres_only_keys: Vec<&'static str>,
    /// CPU time one run of an endpoint's transformation may take.
    pub transformation_cpu_ms: u64,
    /// Memory one endpoint's transformation may hold, in MiB.
    pub transformation_memory_mib: usize,
}

impl Config {
    pub fn destination_policy(&self) -> DestinationPolicy {
        DestinationPolicy {
            allow_private_networks: self.allow_private_networks,
            allowed_networks: self.allowed_networks.clone(),
        }
    }

    /// The bounds of every wait on a PostgreSQL database.
    pub fn database_limits(&self) -> hookwire_store::postgres::Limits {
        use std::time::Duration;
        hookwire_store::postgres::Limits {
            query_timeout: Duration::from_millis(self.database_query_timeout_ms),
            pool_wait: Duration::from_millis(self.database_pool_wait_ms),
            connect_timeout: Duration::from_millis(self.database_connect_timeout_ms),
        }
    }

    /// The database the URL names, refusing what it would ignore: `durability = "process"` on
    /// PostgreSQL (its own `synchronous_commit` decides), the `database_*` bounds on SQLite (no
    /// connection to bound). Every command that opens the database gets it here.
    pub fn database(&self) -> Result<Database, ConfigError> {
        let database = Database::parse(&self.database_url)?;
        self.check_database(&database)?;
        Ok(database)
    }

    fn check_database(&self, database: &Database) -> Result<(), ConfigError> {
        match database {
            Database::Postgres(_) if self.durability == Durability::Process => Err(ConfigError::Value(
                "durability \"process\" applies to SQLite only; on PostgreSQL a commit is as durable as \
                 PostgreSQL's own synchronous_commit setting makes it: remove HOOKWIRE_DURABILITY / \
                 --durability / durability"
                    .into(),
            )),
            Database::Sqlite(_) if !self.postgres_only_keys.is_empty() => Err(ConfigError::Value(format!(
                "{} applies to PostgreSQL only (SQLite runs in this process: there is no connection to \
                 bound); remove it from the config file",
                self.postgres_only_keys.join(", ")
            ))),
            _ => Ok(()),
        }
    }

    /// The bounds of one transformation run.
    pub fn transformation_limits(&self) -> hookwire_transform::Limits {
        hookwire_transform::Limits {
            cpu_ms: self.transformation_cpu_ms,
            memory_bytes: self.transformation_memory_mib << 20,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: LISTEN_DEFAULT.parse().expect("valid default address"),
            database_url: format!("sqlite://{DATA_DIR_DEFAULT}/hookwire.db"),
            admin_token: None,
            main_key: None,
            allow_private_networks: false,
            allowed_networks: Vec::new(),
            delivery_ca_file: None,
            durability: Durability::Disk,
            strict_event_types: false,
            validate_payloads: false,
            retention_days: hookwire_core::limits::RETENTION_DAYS_DEFAULT,
            retention_sweep_interval_ms: RETENTION_SWEEP_INTERVAL_MS_DEFAULT,
            delivery_concurrency: DELIVERY_CONCURRENCY_DEFAULT,
            delivery_lease_ms: crate::delivery::LEASE_MS_DEFAULT,
            shutdown_grace_ms: SHUTDOWN_GRACE_MS_DEFAULT,
            auto_disable_after_ms: AUTO_DISABLE_AFTER_MS_DEFAULT,
            operational_app: None,
            public_url: None,
            metrics_public: false,
            metrics_endpoint_labels_max: crate::metrics::ENDPOINT_LABELS_MAX_DEFAULT,
            http_header_timeout_ms: crate::serve::HEADER_TIMEOUT_MS_DEFAULT,
            http_body_timeout_ms: crate::serve::BODY_TIMEOUT_MS_DEFAULT,
            http_connections_max: crate::serve::CONNECTIONS_MAX_DEFAULT,
            database_query_timeout_ms: hookwire_store::postgres::PG_QUERY_TIMEOUT_MS_DEFAULT,
            database_pool_wait_ms: hookwire_store::postgres::PG_POOL_WAIT_MS_DEFAULT,
            database_connect_timeout_ms: hookwire_store::postgres::PG_CONNECT_TIMEOUT_MS_DEFAULT,
            postgres_only_keys: Vec::new(),
            transformation_cpu_ms: hookwire_transform::TRANSFORMATION_CPU_MS_DEFAULT,
            transformation_memory_mib: hookwire_transform::TRANSFORMATION_MEMORY_MIB_DEFAULT,
        }
    }
}

/// The TOML file: every key optional, names as in `Config`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub database_url: Option<String>,
    pub admin_token: Option<String>,
    pub main_key: Option<String>,
    pub allow_private_networks: Option<bool>,
    /// CIDR blocks, e.g. `["10.1.0.0/16"]`.
    pub allowed_networks: Option<Vec<String>>,
    /// A PEM file of extra certificate authorities for deliveries.
    pub delivery_ca_file: Option<PathBuf>,
    /// `"disk"` (default) or `"process"`.
    pub durability: Option<String>,
    pub strict_event_types: Option<bool>,
    pub validate_payloads: Option<bool>,
    pub retention_days: Option<u64>,
    pub delivery_concurrency: Option<usize>,
    pub shutdown_grace_ms: Option<u64>,
    pub auto_disable_after_hours: Option<u64>,
    pub operational_app: Option<String>,
    pub public_url: Option<String>,
    pub metrics_public: Option<bool>,
    pub metrics_endpoint_labels_max: Option<usize>,
    pub http_header_timeout_ms: Option<u64>,
    pub http_body_timeout_ms: Option<u64>,
    pub http_connections_max: Option<usize>,
    pub database_query_timeout_ms: Option<u64>,
    pub database_pool_wait_ms: Option<u64>,
    pub database_connect_timeout_ms: Option<u64>,
    pub transformation_cpu_ms: Option<u64>,
    pub transformation_memory_mib: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{0}")]
    Value(String),
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        toml::from_str(&text).map_err(|e| ConfigError::Invalid { path: path.into(), message: e.to_string() })
    }

    /// Applies the file's settings over `config`.
    pub fn apply(self, config: &mut Config) -> Result<(), ConfigError> {
        if let Some(v) = self.listen {
            config.listen = v;
        }
        if let Some(v) = self.database_url {
            config.database_url = v;
        }
        if let Some(v) = self.admin_token {
            config.admin_token = Some(v);
        }
        if let Some(v) = self.main_key {
            config.main_key = Some(v);
        }
        if let Some(v) = self.allow_private_networks {
            config.allow_private_networks = v;
        }
        if let Some(v) = self.allowed_networks {
            config.allowed_networks = parse_networks(v.iter().map(String::as_str))?;
        }
        if let Some(v) = self.delivery_ca_file {
            config.delivery_ca_file = Some(v);
        }
        if let Some(v) = self.durability {
            config.durability = parse_durability(&v)?;
        }
        if let Some(v) = self.strict_event_types {
            config.strict_event_types = v;
        }
        if let Some(v) = self.validate_payloads {
            config.validate_payloads = v;
        }
        if let Some(v) = self.retention_days {
            if v == 0 || v > hookwire_core::limits::RETENTION_DAYS_MAX {
                return Err(ConfigError::Value(format!(
                    "retention_days must be 1..={}",
                    hookwire_core::limits::RETENTION_DAYS_MAX
                )));
            }
            config.retention_days = v;
        }
        if let Some(v) = self.delivery_concurrency {
            config.delivery_concurrency = positive("delivery_concurrency", v as u64)? as usize;
        }
        if let Some(v) = self.shutdown_grace_ms {
            config.shutdown_grace_ms = v;
        }
        if let Some(v) = self.auto_disable_after_hours {
            config.auto_disable_after_ms = v * 3_600_000;
        }
        if let Some(v) = self.operational_app {
            config.operational_app = Some(v);
        }
        if let Some(v) = self.public_url {
            config.public_url = Some(v);
        }
        if let Some(v) = self.metrics_public {
            config.metrics_public = v;
        }
        if let Some(v) = self.metrics_endpoint_labels_max {
            if v > crate::metrics::ENDPOINT_LABELS_MAX_LIMIT {
                return Err(ConfigError::Value(format!(
                    "metrics_endpoint_labels_max must be at most {}",
                    crate::metrics::ENDPOINT_LABELS_MAX_LIMIT
                )));
            }
            config.metrics_endpoint_labels_max = v;
        }
        if let Some(v) = self.http_header_timeout_ms {
            config.http_header_timeout_ms = positive("http_header_timeout_ms", v)?;
        }
        if let Some(v) = self.http_body_timeout_ms {
            config.http_body_timeout_ms = positive("http_body_timeout_ms", v)?;
        }
        if let Some(v) = self.http_connections_max {
            config.http_connections_max = positive("http_connections_max", v as u64)? as usize;
        }
        for (key, given, setting) in [
            ("database_query_timeout_ms", self.database_query_timeout_ms, &mut config.database_query_timeout_ms),
            ("database_pool_wait_ms", self.database_pool_wait_ms, &mut config.database_pool_wait_ms),
            ("database_connect_timeout_ms", self.database_connect_timeout_ms, &mut config.database_connect_timeout_ms),
        ] {
            if let Some(v) = given {
                *setting = positive(key, v)?;
                config.postgres_only_keys.push(key);
            }
        }
        if let Some(v) = self.transformation_cpu_ms {
            let max = hookwire_transform::TRANSFORMATION_CPU_MS_MAX;
            if v == 0 || v > max {
                return Err(ConfigError::Value(format!("transformation_cpu_ms must be 1..={max}")));
            }
            config.transformation_cpu_ms = v;
        }
        if let Some(v) = self.transformation_memory_mib {
            let max = hookwire_transform::TRANSFORMATION_MEMORY_MIB_MAX;
            if !(1..=max).contains(&v) {
                return Err(ConfigError::Value(format!("transformation_memory_mib must be 1..={max}")));
            }
            config.transformation_memory_mib = v;
        }
        Ok(())
    }
}

/// A setting that must be at least 1.
fn positive(key: &str, value: u64) -> Result<u64, ConfigError> {
    if value == 0 {
        return Err(ConfigError::Value(format!("{key} must be at least 1")));
    }
    Ok(value)
}

/// CIDR blocks from configuration text.
pub fn parse_networks<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Vec<Network>, ConfigError> {
    items.into_iter().filter(|s| !s.trim().is_empty()).map(|s| s.parse().map_err(ConfigError::Value)).collect()
}

pub fn parse_durability(text: &str) -> Result<Durability, ConfigError> {
    match text {
        "disk" => Ok(Durability::Disk),
        "process" => Ok(Durability::Process),
        other => Err(ConfigError::Value(format!("durability must be \"disk\" or \"process\", got {other:?}"))),
    }
}

/// Which database a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// `sqlite://PATH`: the embedded store, one process per data directory.
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`: shared by any number of nodes.
    Postgres(String),
}

impl Database {
    pub fn parse(database_url: &str) -> Result<Self, ConfigError> {
        if let Some(path) = database_url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(ConfigError::Value(
                    "database URL sqlite:// needs a path, e.g. sqlite://./data/hookwire.db".into(),
                ));
            }
            if let Some((_, query)) = path.split_once('?') {
                return Err(ConfigError::Value(format!(
                    "database URL sqlite://PATH takes no parameters; got ?{query} (SQLite's settings are \
                     Hookwire's own, e.g. durability)"
                )));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
            return Ok(Self::Postgres(database_url.to_owned()));
        }
        Err(ConfigError::Value(format!(
            "database URL must be sqlite://PATH or postgres://USER@HOST:PORT/DATABASE, got {:?}",
            redact_password(database_url)
        )))
    }

    /// For logs and the start banner: the SQLite path, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => path.display().to_string(),
            Self::Postgres(url) => redact_password(url),
        }
    }
}

/// `scheme://user:secret@host/…` → `scheme://user:***@host/…`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((credentials, host)) = rest.split_once('@') else { return url.to_owned() };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../hookwire.example.toml");

    /// The example file with every `# key = value` line uncommented.
    fn example_uncommented() -> String {
        EXAMPLE
            .lines()
            .filter_map(|line| line.strip_prefix("# "))
            .filter(|line| line.split_once(" = ").is_some_and(|(key, _)| !key.contains(' ')))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Every key `FileConfig` accepts, as serde names them when refusing an unknown one.
    fn file_config_keys() -> Vec<String> {
        let error = toml::from_str::<FileConfig>("no_such_key = 1").unwrap_err().to_string();
        let expected = error.split("expected one of ").nth(1).expect("serde lists the expected keys");
        expected.split(", ").map(|key| key.trim().trim_matches('`').to_owned()).collect()
    }

    #[test]
    fn the_example_file_names_every_key_and_each_parses() {
        let text = example_uncommented();
        let parsed: FileConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("example does not parse: {e}"));
        let mut config = Config::default();
        parsed.apply(&mut config).expect("every example value is valid");
        let named: Vec<&str> = text.lines().filter_map(|l| l.split_once(" = ").map(|(k, _)| k)).collect();
        let keys = file_config_keys();
        assert!(keys.len() > 10, "{keys:?}");
        for key in &keys {
            assert!(named.contains(&key.as_str()), "hookwire.example.toml lacks {key}");
        }
    }

    /// What one database would ignore is refused, naming it: the `database_*` bounds on SQLite,
    /// `durability = "process"` on PostgreSQL, parameters on a SQLite URL, zero workers.
    #[test]
    fn settings_a_database_would_ignore_are_refused_by_name() {
        let sqlite = Database::parse("sqlite://./data/hookwire.db").unwrap();
        let postgres = Database::parse("postgres://hookwire@db:5432/hookwire").unwrap();
        let mut config = Config::default();
        let file: FileConfig =
            toml::from_str("database_pool_wait_ms = 500\ndatabase_connect_timeout_ms = 900").unwrap();
        file.apply(&mut config).unwrap();
        let refused = config.check_database(&sqlite).unwrap_err().to_string();
        assert!(refused.contains("database_pool_wait_ms, database_connect_timeout_ms"), "{refused}");
        config.check_database(&postgres).expect("PostgreSQL acts on them");
        assert_eq!(config.database_limits().pool_wait, std::time::Duration::from_millis(500));

        let mut config = Config { durability: Durability::Process, ..Config::default() };
        config.check_database(&sqlite).expect("SQLite acts on it");
        let refused = config.check_database(&postgres).unwrap_err().to_string();
        assert!(refused.contains("synchronous_commit"), "{refused}");
        config.durability = Durability::Disk;
        config.check_database(&postgres).expect("disk is what PostgreSQL does by default");

        let refused = Database::parse("sqlite://./data/hookwire.db?mode=memory").unwrap_err().to_string();
        assert!(refused.contains("?mode=memory"), "{refused}");
        let file: FileConfig = toml::from_str("delivery_concurrency = 0").unwrap();
        let refused = file.apply(&mut Config::default()).unwrap_err().to_string();
        assert!(refused.contains("delivery_concurrency"), "{refused}");
    }

    #[test]
    fn the_example_defaults_are_the_defaults() {
        let defaults = Config::default();
        let text = example_uncommented();
        let value = |key: &str| {
            text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(" = ")).unwrap_or_else(|| panic!("{key}"))
        };
        assert_eq!(value("listen"), format!("{:?}", defaults.listen.to_string()));
        assert_eq!(value("database_url"), format!("{:?}", defaults.database_url));
        assert_eq!(value("retention_days"), defaults.retention_days.to_string());
        assert_eq!(value("delivery_concurrency"), defaults.delivery_concurrency.to_string());
        assert_eq!(value("shutdown_grace_ms"), defaults.shutdown_grace_ms.to_string());
        assert_eq!(value("auto_disable_after_hours"), (defaults.auto_disable_after_ms / 3_600_000).to_string());
        assert_eq!(value("metrics_endpoint_labels_max"), defaults.metrics_endpoint_labels_max.to_string());
        assert_eq!(value("allow_private_networks"), "false");
        assert_eq!(value("durability"), "\"disk\"");
    }
}
