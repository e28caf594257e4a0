//! `hookwire task ...`: background tasks (replays, recoveries), listed and read; and how the
//! endpoint commands that start one follow it to the end with a progress line.

use std::time::{Duration, Instant};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use super::output::{Column, Progress};
use super::{Client, Output, PageArgs, parse_time};

/// How often a command that started a task asks how far it has come.
pub const TASK_POLL_INTERVAL_MS: u64 = 500;
/// How long such a command follows its task by default.
pub const TASK_WAIT_SECONDS_DEFAULT: u64 = 3_600;

const COLUMNS: &[Column] = &[
    ("ID", "/id"),
    ("TASK", "/task"),
    ("STATUS", "/status"),
    ("SENT", "/data/messagesSent"),
    ("MATCHED", "/data/messagesMatched"),
    ("ENDPOINT", "/data/endpointId"),
    ("UPDATED", "/updatedAt"),
];
const DETAIL: &[Column] = &[
    ("id", "/id"),
    ("task", "/task"),
    ("status", "/status"),
    ("appId", "/data/appId"),
    ("endpointId", "/data/endpointId"),
    ("dryRun", "/data/dryRun"),
    ("messagesScanned", "/data/messagesScanned"),
    ("messagesMatched", "/data/messagesMatched"),
    ("messagesSent", "/data/messagesSent"),
    ("messagesExpired", "/data/messagesExpired"),
    ("error", "/data/error"),
    ("updatedAt", "/updatedAt"),
];

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum TaskStatus {
    Running,
    Finished,
    Failed,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum TaskKind {
    /// replay-missing
    #[value(name = "endpoint.replay")]
    Replay,
    #[value(name = "endpoint.recover")]
    Recover,
    #[value(name = "endpoint.bulk-replay")]
    BulkReplay,
}

#[derive(Subcommand, Debug)]
pub enum TaskCommand {
    /// List background tasks, newest first.
    List {
        /// Only tasks in this state.
        #[arg(long, value_enum)]
        status: Option<TaskStatus>,
        /// Only tasks of this kind.
        #[arg(long, value_enum)]
        task: Option<TaskKind>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show a background task and how far it has come.
    Get {
        /// Task id (`qtask_…`).
        id: String,
    },
}

pub async fn run(client: &Client, out: Output, command: TaskCommand) -> anyhow::Result<()> {
    match command {
        TaskCommand::List { status, task, page } => {
            let mut query = Vec::new();
            query.extend(status.and_then(|s| s.to_possible_value()).map(|v| ("status", v.get_name().to_owned())));
            query.extend(task.and_then(|t| t.to_possible_value()).map(|v| ("task", v.get_name().to_owned())));
            out.list(&client.list(&["background-task"], &query, &page).await?, COLUMNS);
        }
        TaskCommand::Get { id } => out.item(&client.get(&["background-task", &id], &[]).await?, DETAIL),
    }
    Ok(())
}

/// The window and the waiting of every command that starts a task.
#[derive(Args, Debug, Clone)]
pub struct TaskWindow {
    /// Oldest message to consider: RFC 3339 or a duration ago (`30m`, `12h`, `7d`).
    #[arg(long, value_parser = parse_time)]
    pub since: String,
    /// Newest message to consider (exclusive), same forms as --since; default: now.
    #[arg(long, value_parser = parse_time)]
    pub until: Option<String>,
    /// Count what would be sent, and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the task's id and return without following it.
    #[arg(long)]
    pub no_wait: bool,
    /// Stop following the task after this many seconds (it goes on in the server).
    #[arg(long, default_value_t = TASK_WAIT_SECONDS_DEFAULT)]
    pub wait_seconds: u64,
}

impl TaskWindow {
    /// The request body: the window, plus `extra` fields.
    pub fn body(&self, extra: impl IntoIterator<Item = (&'static str, Option<Value>)>) -> anyhow::Result<Value> {
        let fields = [("since", Some(json!(self.since))), ("until", self.until.clone().map(Value::from))];
        super::request_body(None, fields.into_iter().chain(extra))
    }
}

/// Starts a task with a POST of `body` to `segments` and, unless `--no-wait`, follows it with a
/// progress line (`verb`: "replaying") until it ends; returns the task as the POST answered it
/// and as last read. A failed task, or one still running when the wait ran out, is an error.
pub async fn start_and_follow(
    client: &Client,
    segments: &[&str],
    body: Value,
    window: &TaskWindow,
    verb: &str,
) -> anyhow::Result<(Value, Value)> {
    let query: Vec<(&str, String)> = if window.dry_run { vec![("dryRun", "true".into())] } else { Vec::new() };
    let started = client.post_query(segments, &query, body).await?;
    let id = started["id"].as_str().unwrap_or_default().to_owned();
    if window.no_wait {
        return Ok((started.clone(), started));
    }
    let deadline = Instant::now() + Duration::from_secs(window.wait_seconds);
    let mut progress = Progress::new();
    loop {
        let task = client.get(&["background-task", &id], &[]).await?;
        let data = &task["data"];
        let count = |field: &str| data[field].as_u64().unwrap_or(0);
        progress.update(&format!(
            "{verb}: {} messages looked at, {} matched, {} sent",
            count("messagesScanned"),
            count("messagesMatched"),
            count("messagesSent")
        ));
        match task["status"].as_str() {
            Some("running") => {}
            Some("failed") => {
                progress.finish();
                let error = data["error"].as_str().unwrap_or("no reason given");
                anyhow::bail!("task {id} failed after sending {} messages: {error}", count("messagesSent"));
            }
            _ => {
                progress.finish();
                return Ok((started, task));
            }
        }
        if Instant::now() >= deadline {
            progress.finish();
            anyhow::bail!(
                "stopped following task {id} after {}s; it goes on in the server (`hookwire task get {id}`)",
                window.wait_seconds
            );
        }
        tokio::time::sleep(Duration::from_millis(TASK_POLL_INTERVAL_MS)).await;
    }
}

/// The one-line summary of a task `start_and_follow` returned: `done` says what the sent
/// messages were ("Replayed {n} missing messages to e").
pub fn summary(task: &Value, window: &TaskWindow, done: impl Fn(u64) -> String) -> String {
    let id = task["id"].as_str().unwrap_or_default();
    if window.no_wait {
        return format!(
            "Started task {id} ({}); follow it with `hookwire task get {id}`",
            task["task"].as_str().unwrap_or("")
        );
    }
    let data = &task["data"];
    let count = |field: &str| data[field].as_u64().unwrap_or(0);
    let expired = match count("messagesExpired") {
        0 => String::new(),
        n => format!(" ({n} more matched but retention had purged their payloads)"),
    };
    if window.dry_run {
        return format!(
            "Dry run: {} messages would be sent{expired}",
            count("messagesMatched") - count("messagesExpired")
        );
    }
    format!("{}{expired}", done(count("messagesSent")))
}
