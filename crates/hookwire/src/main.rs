//! The `hookwire` binary: command-line parsing and wiring only.

mod cli;
mod environment;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use hookwire_server::Server;
use hookwire_server::config::{Config, Database, FileConfig, parse_durability, parse_networks};

/// mimalloc: the delivery path allocates and frees many small buffers across threads, where
/// glibc's allocator took about a tenth of the CPU under load (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "hookwire",
    version,
    about = "Webhook delivery service: durable fan-out, signing, retries, delivery log."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct Common {
    /// TOML configuration file (flags and environment override it).
    #[arg(long, env = "HOOKWIRE_CONFIG")]
    config: Option<PathBuf>,
    /// `sqlite://PATH` (default `sqlite://./hookwire-data/hookwire.db`) or
    /// `postgres://USER@HOST:PORT/DATABASE` for several nodes sharing one database.
    #[arg(long, env = "HOOKWIRE_DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API and the delivery workers.
    #[command(after_help = environment::serve_after_help())]
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on (default 127.0.0.1:8071; port 0 picks a free port).
        #[arg(long, env = "HOOKWIRE_LISTEN")]
        listen: Option<std::net::SocketAddr>,
        /// Let endpoints on loopback and private networks receive (development and tests).
        #[arg(long, env = "HOOKWIRE_ALLOW_PRIVATE_NETWORKS", num_args = 0..=1, default_missing_value = "true")]
        allow_private_networks: Option<bool>,
        /// A network deliveries may reach although it is private (CIDR; repeatable, or
        /// comma-separated in the environment).
        #[arg(long = "allowed-network", env = "HOOKWIRE_ALLOWED_NETWORKS", value_delimiter = ',')]
        allowed_networks: Vec<String>,
        /// A PEM file of certificate authorities deliveries trust besides the system's (for
        /// endpoints on a private PKI).
        #[arg(long, env = "HOOKWIRE_DELIVERY_CA_FILE")]
        delivery_ca_file: Option<std::path::PathBuf>,
        /// SQLite: `disk` (default: fsync before acknowledging) or `process` (survives a crash, not power loss).
        #[arg(long, env = "HOOKWIRE_DURABILITY")]
        durability: Option<String>,
        /// Refuse event types missing from the catalog (422).
        #[arg(long, env = "HOOKWIRE_STRICT_EVENT_TYPES", num_args = 0..=1, default_missing_value = "true")]
        strict_event_types: Option<bool>,
        /// Check payloads against their event type's JSON Schema (422 naming the failing path).
        #[arg(long, env = "HOOKWIRE_VALIDATE_PAYLOADS", num_args = 0..=1, default_missing_value = "true")]
        validate_payloads: Option<bool>,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        common: Common,
    },
    /// Re-seal every stored secret under a new main key (HOOKWIRE_MAIN_KEY is the current one,
    /// if any). Run it with the server stopped, then start the server with the new key.
    RotateMainKey {
        #[command(flatten)]
        common: Common,
        /// The new key: base64 of 32 random bytes.
        #[arg(long, env = "HOOKWIRE_NEW_MAIN_KEY", conflicts_with_all = ["generate", "remove"])]
        new_key: Option<String>,
        /// Generate the new key and print it.
        #[arg(long, conflicts_with = "remove")]
        generate: bool,
        /// Store secrets in plaintext again.
        #[arg(long)]
        remove: bool,
    },
    /// Applications: list, get, create, update, delete.
    App {
        #[command(flatten)]
        client: cli::ClientArgs,
        #[command(subcommand)]
        command: cli::app::AppCommand,
    },
    /// Endpoints: CRUD, secret, rotate-secret, stats, recover, replay-missing, bulk-replay,
    /// send-example, enable, disable.
    Endpoint {
        #[command(flatten)]
        client: cli::ClientArgs,
        #[command(subcommand)]
        command: cli::endpoint::EndpointCommand,
    },
    /// Messages: send one, list the log, see where one went, expunge a payload.
    Message {
        #[command(flatten)]
        client: cli::ClientArgs,
        #[command(subcommand)]
        command: cli::message::MessageCommand,
    },
    /// Delivery attempts: list, get, resend.
    Attempt {
        #[command(flatten)]
        client: cli::ClientArgs,
        #[command(subcommand)]
        command: cli::attempt::AttemptCommand,
    },
    /// Destinations (polling endpoints): list, get, create, pause, enable, delete, poll, seek.
    Destination {
        #[command(flatten)]
        client: cli::ClientArgs,
        #[command(subcommand)]
        command: cli::destination::DestinationCommand,
    },
    /// Background tasks (replays, recoveries): list, get.
    Task {
        #[command(flatten)]
        client: cli::ClientArgs,
        #[command(subcommand)]
        command: cli::task::TaskCommand,
    },
    /// The event-type catalog: list, get, create, update, delete (archive).
    EventType {
        #[command(flatten)]
        client: cli::ClientArgs,
        #[command(subcommand)]
        command: cli::event_type::EventTypeCommand,
    },
    /// Tokens: an application's portal token, or a fresh admin token.
    Token {
        #[command(subcommand)]
        command: cli::token::TokenCommand,
    },
    /// Receive webhooks locally: print each delivery and check its signature.
    Listen(cli::listen::ListenArgs),
    /// Check a webhook signature from headers and a body (exit 0 valid, 1 invalid).
    Verify(cli::verify::VerifyArgs),
    /// Print a shell completion script (e.g. `hookwire completions bash > /etc/bash_completion.d/hookwire`).
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

fn load_config(common: &Common) -> anyhow::Result<Config> {
    let mut config = Config::default();
    if let Some(path) = &common.config {
        FileConfig::load(path)?.apply(&mut config)?;
    }
    if let Some(url) = &common.database_url {
        config.database_url = url.clone();
    }
    if let Ok(key) = std::env::var("HOOKWIRE_MAIN_KEY")
        && !key.is_empty()
    {
        config.main_key = Some(key);
    }
    if let Ok(app) = std::env::var("HOOKWIRE_OPERATIONAL_APP")
        && !app.is_empty()
    {
        config.operational_app = Some(app);
    }
    if let Ok(token) = std::env::var("HOOKWIRE_ADMIN_TOKEN")
        && !token.is_empty()
    {
        config.admin_token = Some(token);
    }
    if let Ok(public) = std::env::var("HOOKWIRE_METRICS_PUBLIC")
        && !public.is_empty()
    {
        config.metrics_public = public.parse().context("HOOKWIRE_METRICS_PUBLIC must be true or false")?;
    }
    Ok(config)
}

/// Registers SIGTERM and SIGINT handlers now (so a signal right after start is never lost to
/// the default action) and returns the future that resolves on the first of them.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        tracing::info!("shutdown requested");
    })
}

async fn serve(mut config: Config) -> anyhow::Result<()> {
    let shutdown = shutdown_signal()?;
    let server = Server::build(config.clone()).await?;
    config.listen = server.local_addr();
    // These lines are the contract scripts and tests read: keep them on stdout, one each.
    println!("Hookwire listening on http://{}", config.listen);
    println!("Database: {}", server.database);
    if let Some(token) = &server.generated_admin_token {
        println!("Admin token (shown once; store it now): {token}");
    }
    server.run(shutdown).await?;
    println!("Hookwire stopped");
    Ok(())
}

async fn rotate_main_key(config: Config, new_key: Option<String>, print_key: bool) -> anyhow::Result<()> {
    use hookwire_core::crypto::MainKey;
    let current = config.main_key.as_deref().map(MainKey::parse).transpose().context("HOOKWIRE_MAIN_KEY")?;
    let next = new_key.as_deref().map(MainKey::parse).transpose().context("the new main key")?;
    let database = config.database()?;
    let count = match &database {
        Database::Sqlite(path) => {
            let _lock = hookwire_server::app::lock_data_dir(path)?;
            let store = hookwire_store::sqlite::SqliteStore::open_with_key(path, config.durability, current)?;
            store.reseal_secrets(next).await?
        }
        // Every node must be stopped: one still running with the old key cannot read new secrets.
        Database::Postgres(url) => {
            let background = hookwire_store::postgres::Background::default();
            let store =
                hookwire_store::postgres::PgStore::open_with(url, current, &background, config.database_limits())
                    .await?;
            let count = store.reseal_secrets(next).await?;
            background.stop.cancel();
            count
        }
    };
    println!("Re-sealed the secrets of {count} endpoints in {}", database.describe());
    match (new_key, print_key) {
        (Some(key), true) => println!("New main key (start Hookwire with HOOKWIRE_MAIN_KEY set to it): {key}"),
        (Some(_), false) => println!("Start Hookwire with HOOKWIRE_MAIN_KEY set to the new key."),
        (None, _) => println!("Secrets are stored in plaintext; start Hookwire without HOOKWIRE_MAIN_KEY."),
    }
    Ok(())
}

/// Applies pending migrations of the configured database.
async fn migrate(config: Config) -> anyhow::Result<()> {
    let database = config.database()?;
    let version = match &database {
        Database::Sqlite(path) => hookwire_store::sqlite::SqliteStore::migrate_only(path)?,
        Database::Postgres(url) => {
            hookwire_store::postgres::PgStore::migrate_only(url, &config.database_limits()).await?
        }
    };
    println!("Database {} is at schema version {version}", database.describe());
    Ok(())
}

/// Every `HOOKWIRE_*` variable a flag of any command reads.
fn declared_variables() -> Vec<String> {
    fn walk(command: &clap::Command, names: &mut Vec<String>) {
        names.extend(command.get_arguments().filter_map(|a| a.get_env()).map(|e| e.to_string_lossy().into_owned()));
        command.get_subcommands().for_each(|sub| walk(sub, names));
    }
    let mut names = Vec::new();
    walk(&Cli::command(), &mut names);
    names
}

/// A start failure is one line on stderr (its causes joined), never a backtrace, and exit 1.
fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Flags a command accepts (they are shared) but would not act on, refused by name: `listen`
/// talks to the server only to `--register` (from the environment they stay harmless defaults).
fn refuse_unused_flags(matches: &clap::ArgMatches) -> anyhow::Result<()> {
    if let Some(("listen", listen)) = matches.subcommand() {
        let given = |id: &str| listen.value_source(id) == Some(clap::parser::ValueSource::CommandLine);
        if listen.get_one::<String>("register").is_none()
            && let Some(flag) = ["url", "token"].into_iter().find(|id| given(id))
        {
            anyhow::bail!("listen uses --{flag} only with --register APP (to create its endpoint there)");
        }
    }
    Ok(())
}

fn run() -> anyhow::Result<()> {
    environment::init_logging()?;
    let matches = Cli::command().get_matches();
    refuse_unused_flags(&matches)?;
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    environment::warn_unknown_variables(&declared_variables());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    match cli.command {
        Command::Serve {
            common,
            listen,
            allow_private_networks,
            durability,
            strict_event_types,
            validate_payloads,
            allowed_networks,
            delivery_ca_file,
        } => {
            let mut config = load_config(&common)?;
            if let Some(listen) = listen {
                config.listen = listen;
            }
            if let Some(allow) = allow_private_networks {
                config.allow_private_networks = allow;
            }
            if !allowed_networks.is_empty() {
                config.allowed_networks = parse_networks(allowed_networks.iter().map(String::as_str))?;
            }
            if let Some(path) = delivery_ca_file {
                config.delivery_ca_file = Some(path);
            }
            if let Some(durability) = durability {
                config.durability = parse_durability(&durability)?;
            }
            if let Some(strict) = strict_event_types {
                config.strict_event_types = strict;
            }
            if let Some(validate) = validate_payloads {
                config.validate_payloads = validate;
            }
            runtime.block_on(serve(config))
        }
        Command::RotateMainKey { common, new_key, generate, remove } => {
            let config = load_config(&common)?;
            let new_key = match (new_key, generate, remove) {
                (Some(key), _, _) => Some(key),
                (None, true, _) => Some(hookwire_core::crypto::generate_main_key()),
                (None, false, true) => None,
                (None, false, false) => anyhow::bail!("give --new-key KEY, --generate or --remove"),
            };
            runtime.block_on(rotate_main_key(config, new_key, generate))
        }
        Command::App { client, command } => cli::finish(runtime.block_on(async {
            let (client, out) = client.connect()?;
            cli::app::run(&client, out, command).await
        })),
        Command::Endpoint { client, command } => cli::finish(runtime.block_on(async {
            let (client, out) = client.connect()?;
            cli::endpoint::run(&client, out, command).await
        })),
        Command::Message { client, command } => cli::finish(runtime.block_on(async {
            let (client, out) = client.connect()?;
            cli::message::run(&client, out, command).await
        })),
        Command::Attempt { client, command } => cli::finish(runtime.block_on(async {
            let (client, out) = client.connect()?;
            cli::attempt::run(&client, out, command).await
        })),
        Command::Destination { client, command } => cli::finish(runtime.block_on(async {
            let (client, out) = client.connect()?;
            cli::destination::run(&client, out, command).await
        })),
        Command::Task { client, command } => cli::finish(runtime.block_on(async {
            let (client, out) = client.connect()?;
            cli::task::run(&client, out, command).await
        })),
        Command::EventType { client, command } => cli::finish(runtime.block_on(async {
            let (client, out) = client.connect()?;
            cli::event_type::run(&client, out, command).await
        })),
        Command::Token { command } => cli::finish(runtime.block_on(cli::token::run(command))),
        Command::Listen(args) => cli::finish(runtime.block_on(cli::listen::run(args))),
        Command::Verify(args) => cli::finish(cli::verify::run(args)),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "hookwire", &mut script);
            // `hookwire completions bash | head` closes the pipe early: that is not an error.
            match std::io::stdout().write_all(&script) {
                Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
                _ => Ok(()),
            }
        }
        Command::Migrate { common } => {
            let config = load_config(&common)?;
            runtime.block_on(migrate(config))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap's own consistency checks (unique flags, including global ones, valid defaults).
    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// `--help` is complete: every command and every argument says what it is for.
    #[test]
    fn every_command_and_argument_is_documented() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for sub in command.get_subcommands().filter(|c| c.get_name() != "help") {
                let path = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(path.clone());
                }
                for arg in sub.get_arguments().filter(|a| !matches!(a.get_id().as_str(), "help" | "version")) {
                    if arg.get_help().is_none() {
                        missing.push(format!("{path} {}", arg.get_id()));
                    }
                }
                walk(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "hookwire", &mut missing);
        assert!(missing.is_empty(), "undocumented: {missing:?}");
    }
}
