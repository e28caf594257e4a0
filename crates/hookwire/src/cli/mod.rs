//! The command-line client: one module per API resource (`app`, `endpoint`, `message`,
//! `attempt`, `event_type`, `task`, `token`), the local tools that need no server (`verify`, `listen`),
//! the one HTTP client they share (`client.rs`) and how results are printed (`output.rs`).
//! Nothing here touches the store or the server's internals: it speaks the public API only.

pub mod app;
pub mod attempt;
pub mod client;
pub mod destination;
pub mod endpoint;
pub mod event_type;
pub mod listen;
pub mod message;
pub mod output;
pub mod task;
pub mod token;
pub mod verify;

use clap::Args;

pub use client::Client;
pub use output::Output;

/// The server's address when neither `--url` nor HOOKWIRE_URL is given.
pub const SERVER_URL_DEFAULT: &str = "http://127.0.0.1:8071";

/// Where the server is, who we are, and how to print: shared by every API command.
#[derive(Args, Debug, Clone)]
pub struct ClientArgs {
    /// Base URL of the Hookwire server.
    #[arg(long, env = "HOOKWIRE_URL", default_value = SERVER_URL_DEFAULT, hide_env_values = true, global = true)]
    pub url: String,
    /// API token: the admin token, or an application token (which sees one application only).
    #[arg(long, env = "HOOKWIRE_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

impl ClientArgs {
    pub fn connect(&self) -> anyhow::Result<(Client, Output)> {
        Ok((Client::new(&self.url, self.token.clone())?, Output { json: self.json }))
    }
}

/// `--limit`, `--iterator` and `--all`, for every list command.
#[derive(Args, Debug, Clone, Default)]
pub struct PageArgs {
    /// How many items to ask for (the server's default is 50, its maximum 250).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Start after this item: the `iterator` a previous page printed.
    #[arg(long, conflicts_with = "all")]
    pub iterator: Option<String>,
    /// Follow the iterator until the last page and print everything.
    #[arg(long)]
    pub all: bool,
}

/// `--before` and `--after`, for list commands that filter by time.
#[derive(Args, Debug, Clone, Default)]
pub struct TimeRange {
    /// Only items from before this time (RFC 3339 or a duration ago: 30m, 12h, 7d).
    #[arg(long, value_parser = parse_time)]
    pub before: Option<String>,
    /// Only items from after this time (same forms as --before).
    #[arg(long, value_parser = parse_time)]
    pub after: Option<String>,
}

impl TimeRange {
    /// The range as query parameters.
    pub fn query(self) -> impl Iterator<Item = (&'static str, String)> {
        self.before.map(|t| ("before", t)).into_iter().chain(self.after.map(|t| ("after", t)))
    }
}

/// `--metadata key=value`, `--header name=value`: splits at the first `=`.
pub fn parse_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(key, value)| (key.trim().to_owned(), value.to_owned()))
        .filter(|(key, _)| !key.is_empty())
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))
}

/// A JSON argument given inline, as `@FILE`, or as `-` (stdin).
pub fn read_json(text: &str) -> anyhow::Result<serde_json::Value> {
    use anyhow::Context;
    let source = read_text(text)?;
    serde_json::from_str(&source).with_context(|| format!("{text:?} is not JSON"))
}

/// A text argument given inline, as `@FILE`, or as `-` (stdin).
pub fn read_text(text: &str) -> anyhow::Result<String> {
    use anyhow::Context;
    use std::io::Read;
    if text == "-" {
        let mut source = String::new();
        std::io::stdin().read_to_string(&mut source).context("reading stdin")?;
        return Ok(source);
    }
    match text.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}")),
        None => Ok(text.to_owned()),
    }
}

/// The request body: `--body` (a JSON object) with the named flags' fields set on top.
pub fn request_body(
    extra: Option<&str>,
    fields: impl IntoIterator<Item = (&'static str, Option<serde_json::Value>)>,
) -> anyhow::Result<serde_json::Value> {
    let mut body = match extra {
        Some(text) => read_json(text)?,
        None => serde_json::Value::Object(Default::default()),
    };
    let object = body.as_object_mut().ok_or_else(|| anyhow::anyhow!("--body must be a JSON object"))?;
    for (name, value) in fields {
        if let Some(value) = value {
            object.insert(name.to_owned(), value);
        }
    }
    Ok(body)
}

/// `--metadata k=v` pairs as a JSON object, or nothing when none were given.
pub fn metadata(pairs: &[(String, String)]) -> Option<serde_json::Value> {
    (!pairs.is_empty()).then(|| pairs.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect())
}

/// Now, in Unix milliseconds (the CLI's one clock read, outside `listen`/`verify`'s `now`).
pub fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A point in time for `--since`/`--before`/...: RFC 3339, or a duration ago (`90s`, `30m`,
/// `12h`, `7d`). Returns RFC 3339, as the API wants it.
pub fn parse_time(text: &str) -> Result<String, String> {
    use hookwire_core::time_fmt::{format_millis, parse_human};
    parse_human(text, now_millis()).map(format_millis)
}

/// Ends a client command: an error is printed as one `error: ...` line (its causes joined,
/// no backtrace) and the process exits 1.
pub fn finish(result: anyhow::Result<()>) -> anyhow::Result<()> {
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
    Ok(())
}
