//! `hookwire endpoint ...`: an application's endpoints, their secrets, statistics, and the
//! operations on them (recover, replay-missing and bulk-replay as followed background tasks,
//! send-example, enable/disable, verify).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use hookwire_core::model::Status;
use serde_json::{Value, json};

use super::output::{Column, Progress};
use super::task::{TaskWindow, start_and_follow, summary};
use super::{Client, Output, PageArgs, metadata, parse_pair, request_body};

/// How often `recover` asks for the attempts made since its task finished.
pub const RECOVER_POLL_INTERVAL_MS: u64 = 500;
/// Attempts read per poll (the server's page maximum).
const RECOVER_PAGE_LIMIT: usize = 250;

const COLUMNS: &[Column] = &[
    ("ID", "/id"),
    ("UID", "/uid"),
    ("URL", "/url"),
    ("STATUS", "/status"),
    ("DISABLED", "/disabled"),
    ("EVENT TYPES", "/eventTypes"),
];
const DETAIL: &[Column] = &[
    ("id", "/id"),
    ("uid", "/uid"),
    ("url", "/url"),
    ("description", "/description"),
    ("status", "/status"),
    ("disabled", "/disabled"),
    ("eventTypes", "/eventTypes"),
    ("channels", "/channels"),
    ("throttleRate", "/throttleRate"),
    ("filter", "/filter"),
    ("signature", "/signature"),
    ("retryPolicy", "/retryPolicy"),
    ("timeoutMs", "/timeoutMs"),
    ("metadata", "/metadata"),
    ("createdAt", "/createdAt"),
    ("updatedAt", "/updatedAt"),
];
const TRANSFORMATION: &[Column] = &[
    ("enabled", "/enabled"),
    ("updatedAt", "/updatedAt"),
    ("variables", "/variables"),
    ("sensitiveVariables", "/sensitiveVariables"),
    ("code", "/code"),
];
const SIMULATION: &[Column] = &[
    ("method", "/method"),
    ("url", "/url"),
    ("payload", "/payload"),
    ("cancel", "/cancel"),
    ("error", "/error"),
    ("console", "/console"),
];
const STATS: &[Column] = &[
    ("success", "/success"),
    ("pending", "/pending"),
    ("sending", "/sending"),
    ("fail", "/fail"),
    ("canceled", "/canceled"),
    ("filterErrors", "/filterErrors"),
    ("lastFilterError", "/lastFilterError"),
];

/// A delivery status, as `bulk-replay --status` takes it.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum ReplayStatus {
    Success,
    Pending,
    Fail,
    Sending,
}

impl ReplayStatus {
    fn code(self) -> i64 {
        match self {
            Self::Success => Status::Success,
            Self::Pending => Status::Pending,
            Self::Fail => Status::Fail,
            Self::Sending => Status::Sending,
        }
        .code()
    }
}

/// An endpoint, named by its application and its own id or uid.
#[derive(Args, Debug)]
pub struct Target {
    /// Application id (`app_…`) or uid.
    pub app: String,
    /// Endpoint id (`ep_…`) or uid.
    pub endpoint: String,
}

/// The endpoint fields that have flags; anything else goes through `--body`.
#[derive(Args, Debug)]
pub struct Fields {
    /// Description shown in the dashboard and portal.
    #[arg(long)]
    pub description: Option<String>,
    /// Your own unique id for the endpoint.
    #[arg(long)]
    pub uid: Option<String>,
    /// Event type it receives; wildcards like `user.*` (repeatable; none means all).
    #[arg(long = "event-type")]
    pub event_types: Vec<String>,
    /// Channel it receives (repeatable).
    #[arg(long = "channel")]
    pub channels: Vec<String>,
    /// Deliveries per second, at most.
    #[arg(long)]
    pub throttle_rate: Option<u32>,
    /// CEL expression over `{type, data, channels}`; only messages it accepts are delivered.
    #[arg(long)]
    pub filter: Option<String>,
    /// Request timeout in milliseconds (1000-30000).
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Custom request header NAME=VALUE (repeatable).
    #[arg(long = "header", value_parser = parse_pair)]
    pub headers: Vec<(String, String)>,
    /// Metadata entry KEY=VALUE (repeatable).
    #[arg(long = "metadata", value_parser = parse_pair)]
    pub metadata: Vec<(String, String)>,
    /// Further request fields as a JSON object (inline, @FILE or - for stdin), e.g.
    /// `{"signature": {"scheme": "ed25519"}, "retryPolicy": {"schedule": [5, 60]}}`.
    #[arg(long)]
    pub body: Option<String>,
}

impl Fields {
    fn body(self, more: Vec<(&'static str, Option<Value>)>) -> anyhow::Result<Value> {
        let list = |items: Vec<String>| (!items.is_empty()).then(|| json!(items));
        let headers = (!self.headers.is_empty())
            .then(|| self.headers.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect());
        let mut fields = vec![
            ("description", self.description.map(Value::from)),
            ("uid", self.uid.map(Value::from)),
            ("eventTypes", list(self.event_types)),
            ("channels", list(self.channels)),
            ("throttleRate", self.throttle_rate.map(Value::from)),
            ("filter", self.filter.map(Value::from)),
            ("timeoutMs", self.timeout_ms.map(Value::from)),
            ("headers", headers),
            ("metadata", metadata(&self.metadata)),
        ];
        fields.extend(more);
        request_body(self.body.as_deref(), fields)
    }
}

#[derive(Subcommand, Debug)]
pub enum EndpointCommand {
    /// List an application's endpoints, newest first.
    List {
        /// Application id or uid.
        app: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one endpoint.
    Get {
        #[command(flatten)]
        target: Target,
    },
    /// Create an endpoint; prints it (its secret: `endpoint secret`).
    Create {
        /// Application id or uid.
        app: String,
        /// Where deliveries are POSTed (http or https).
        #[arg(value_name = "URL")]
        endpoint_url: String,
        /// Signing secret (`whsec_…`); generated when absent.
        #[arg(long)]
        secret: Option<String>,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
        #[command(flatten)]
        fields: Fields,
    },
    /// Change an endpoint (only the fields given).
    Update {
        #[command(flatten)]
        target: Target,
        /// New URL deliveries are POSTed to (`--url` is the server's).
        #[arg(long)]
        endpoint_url: Option<String>,
        #[command(flatten)]
        fields: Fields,
    },
    /// Delete an endpoint.
    Delete {
        #[command(flatten)]
        target: Target,
    },
    /// Print the signing secret (for ed25519 endpoints, the `whpk_` public key).
    Secret {
        #[command(flatten)]
        target: Target,
    },
    /// Rotate the signing secret; the previous one keeps signing during the grace period.
    RotateSecret {
        #[command(flatten)]
        target: Target,
        /// The new secret; generated when absent.
        #[arg(long)]
        key: Option<String>,
        /// How long the previous secret keeps signing, in seconds (server default 24 h).
        #[arg(long)]
        grace_period_seconds: Option<u64>,
    },
    /// Deliveries to this endpoint by status.
    Stats {
        #[command(flatten)]
        target: Target,
    },
    /// Send again every message whose delivery to this endpoint failed, created in a window (a
    /// background task), then wait until each has been attempted and print how many succeeded.
    Recover {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        window: TaskWindow,
    },
    /// Send this endpoint every message of a window that it subscribes to now (event types,
    /// channels, filter) and never received: a background task, followed with progress.
    ReplayMissing {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        window: TaskWindow,
    },
    /// Send again the messages of a window that were sent to this endpoint, delivered or not,
    /// narrowed by the filters: a background task, followed with progress.
    BulkReplay {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        window: TaskWindow,
        /// Only messages of this event type (repeat for several).
        #[arg(long = "event-type")]
        event_types: Vec<String>,
        /// Only messages in this channel.
        #[arg(long)]
        channel: Option<String>,
        /// Only messages with this tag.
        #[arg(long)]
        tag: Option<String>,
        /// Only messages whose delivery to the endpoint is in this status.
        #[arg(long, value_enum)]
        status: Option<ReplayStatus>,
        /// Only messages the endpoint answered with this class: 200, 300, 400 or 500 (0: no answer).
        #[arg(long)]
        status_code_class: Option<u16>,
    },
    /// Send a test message of an event type to this endpoint only.
    SendExample {
        #[command(flatten)]
        target: Target,
        /// Event type of the test message.
        #[arg(long)]
        event_type: String,
        /// Payload (JSON object, inline, @FILE or -); default: the event type's schema example.
        #[arg(long)]
        payload: Option<String>,
        /// Which of the schema's examples to send.
        #[arg(long)]
        example_index: Option<usize>,
    },
    /// Enable a disabled endpoint.
    Enable {
        #[command(flatten)]
        target: Target,
    },
    /// Disable an endpoint (nothing is delivered to it until enabled).
    Disable {
        #[command(flatten)]
        target: Target,
    },
    /// Run the verification challenge of an endpoint created with `verification`.
    Verify {
        #[command(flatten)]
        target: Target,
    },
    /// The endpoint's transformation: JavaScript that reshapes or cancels each request.
    #[command(subcommand)]
    Transformation(TransformationCommand),
}

#[derive(Subcommand, Debug)]
pub enum TransformationCommand {
    /// Print the code, whether it is enabled, and its variables.
    Get {
        #[command(flatten)]
        target: Target,
    },
    /// Set the code (checked: a compile error names its line), enable or disable it, or set its
    /// variables.
    Set {
        #[command(flatten)]
        target: Target,
        /// The code declaring `function handler(webhook)` (inline, @FILE or -).
        #[arg(long)]
        code: Option<String>,
        /// Run it on deliveries (the default when code is set).
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Keep it, but send requests unchanged.
        #[arg(long)]
        disable: bool,
        /// A variable the code reads as `webhook.variables.NAME` (repeat; replaces them all).
        #[arg(long = "variable", value_name = "NAME=VALUE", value_parser = parse_pair)]
        variables: Vec<(String, String)>,
        /// Remove the transformation.
        #[arg(long, conflicts_with_all = ["code", "enable", "disable", "variables"])]
        remove: bool,
    },
    /// Run code (given, or the endpoint's) on a payload and print what would be sent; nothing is.
    Simulate {
        #[command(flatten)]
        target: Target,
        /// Event type the code sees (`webhook.eventType`).
        #[arg(long)]
        event_type: String,
        /// Payload (JSON, inline, @FILE or -); default: the event type's schema example.
        #[arg(long)]
        payload: Option<String>,
        /// Code to try instead of the saved one (inline, @FILE or -).
        #[arg(long)]
        code: Option<String>,
    },
}

pub async fn run(client: &Client, out: Output, command: EndpointCommand) -> anyhow::Result<()> {
    use EndpointCommand as C;
    match command {
        C::List { app, page } => out.list(&client.list(&["app", &app, "endpoint"], &[], &page).await?, COLUMNS),
        C::Get { target } => out.item(&client.get(&path(&target, &[]), &[]).await?, DETAIL),
        C::Create { app, endpoint_url, secret, disabled, fields } => {
            let body = fields.body(vec![
                ("url", Some(json!(endpoint_url))),
                ("secret", secret.map(Value::from)),
                ("disabled", disabled.then_some(Value::Bool(true))),
            ])?;
            out.item(&client.post(&["app", &app, "endpoint"], body).await?, DETAIL);
        }
        C::Update { target, endpoint_url, fields } => {
            let body = fields.body(vec![("url", endpoint_url.map(Value::from))])?;
            out.item(&client.patch(&path(&target, &[]), body).await?, DETAIL);
        }
        C::Delete { target } => {
            let answer = client.delete(&path(&target, &[])).await?;
            out.done(&answer, &format!("Deleted endpoint {}", target.endpoint));
        }
        C::Secret { target } => {
            let answer = client.get(&path(&target, &["secret"]), &[]).await?;
            out.done(&answer, answer["key"].as_str().unwrap_or_default());
        }
        C::RotateSecret { target, key, grace_period_seconds } => {
            let body = request_body(
                None,
                [("key", key.map(Value::from)), ("gracePeriodSeconds", grace_period_seconds.map(Value::from))],
            )?;
            let answer = client.post(&path(&target, &["secret", "rotate"]), body).await?;
            out.done(&answer, answer["key"].as_str().unwrap_or_default());
        }
        C::Stats { target } => out.item(&client.get(&path(&target, &["stats"]), &[]).await?, STATS),
        C::Recover { target, window } => recover(client, out, &target, &window).await?,
        C::ReplayMissing { target, window } => {
            let body = window.body([])?;
            let (_, task) =
                start_and_follow(client, &path(&target, &["replay-missing"]), body, &window, "replaying").await?;
            let done = |sent| format!("Replayed {sent} missing messages to {}", target.endpoint);
            out.done(&task, &summary(&task, &window, done));
        }
        C::BulkReplay { target, window, event_types, channel, tag, status, status_code_class } => {
            let body = window.body([
                ("eventTypes", (!event_types.is_empty()).then(|| json!(event_types))),
                ("channel", channel.map(Value::from)),
                ("tag", tag.map(Value::from)),
                ("status", status.map(|s| json!(s.code()))),
                ("statusCodeClass", status_code_class.map(Value::from)),
            ])?;
            let (_, task) =
                start_and_follow(client, &path(&target, &["bulk-replay"]), body, &window, "replaying").await?;
            let done = |sent| format!("Replayed {sent} messages to {}", target.endpoint);
            out.done(&task, &summary(&task, &window, done));
        }
        C::SendExample { target, event_type, payload, example_index } => {
            let payload = payload.as_deref().map(super::read_json).transpose()?;
            let body = request_body(
                None,
                [
                    ("eventType", Some(json!(event_type))),
                    ("payload", payload),
                    ("exampleIndex", example_index.map(Value::from)),
                ],
            )?;
            let answer = client.post(&path(&target, &["send-example"]), body).await?;
            let id = answer["id"].as_str().unwrap_or_default();
            out.done(&answer, &format!("Sent {id} ({event_type}) to {}", target.endpoint));
        }
        C::Enable { target } => set_disabled(client, out, &target, false).await?,
        C::Disable { target } => set_disabled(client, out, &target, true).await?,
        C::Transformation(command) => transformation(client, out, command).await?,
        C::Verify { target } => {
            let answer = client.post(&path(&target, &["verify"]), json!({})).await?;
            out.done(
                &answer,
                &format!("Verified endpoint {}: {}", target.endpoint, answer["status"].as_str().unwrap_or("")),
            );
        }
    }
    Ok(())
}

async fn transformation(client: &Client, out: Output, command: TransformationCommand) -> anyhow::Result<()> {
    use TransformationCommand as T;
    match command {
        T::Get { target } => {
            let answer = client.get(&path(&target, &["transformation"]), &[]).await?;
            out.item(&answer, TRANSFORMATION);
        }
        T::Set { target, code, enable, disable, variables, remove } => {
            let body = if remove {
                json!({"code": null})
            } else {
                let code = code.as_deref().map(super::read_text).transpose()?;
                let enabled = (enable || disable).then_some(enable);
                anyhow::ensure!(
                    code.is_some() || enabled.is_some() || !variables.is_empty(),
                    "nothing to change: give --code, --enable, --disable, --variable or --remove"
                );
                let variables: serde_json::Map<String, Value> =
                    variables.into_iter().map(|(k, v)| (k, Value::from(v))).collect();
                request_body(
                    None,
                    [
                        ("code", code.map(Value::from)),
                        ("enabled", enabled.map(Value::from)),
                        ("variables", (!variables.is_empty()).then_some(Value::Object(variables))),
                    ],
                )?
            };
            let answer = client.patch(&path(&target, &["transformation"]), body).await?;
            let what = if remove { "Removed" } else { "Updated" };
            out.done(&answer, &format!("{what} the transformation of endpoint {}", target.endpoint));
        }
        T::Simulate { target, event_type, payload, code } => {
            let payload = payload.as_deref().map(super::read_json).transpose()?;
            let code = code.as_deref().map(super::read_text).transpose()?;
            let body = request_body(
                None,
                [("eventType", Some(json!(event_type))), ("payload", payload), ("code", code.map(Value::from))],
            )?;
            let answer = client.post(&path(&target, &["transformation", "simulate"]), body).await?;
            out.item(&answer, SIMULATION);
        }
    }
    Ok(())
}

fn path<'a>(target: &'a Target, rest: &[&'a str]) -> Vec<&'a str> {
    let mut segments = vec!["app", target.app.as_str(), "endpoint", target.endpoint.as_str()];
    segments.extend_from_slice(rest);
    segments
}

async fn set_disabled(client: &Client, out: Output, target: &Target, disabled: bool) -> anyhow::Result<()> {
    let answer = client.patch(&path(target, &[]), json!({"disabled": disabled})).await?;
    let verb = if disabled { "Disabled" } else { "Enabled" };
    out.done(&answer, &format!("{verb} endpoint {}", target.endpoint));
    Ok(())
}

/// What the attempts made since a recover say so far.
#[derive(Debug, Default)]
struct RecoverTally {
    attempted: u64,
    succeeded: u64,
}

async fn recover(client: &Client, out: Output, target: &Target, window: &TaskWindow) -> anyhow::Result<()> {
    let watch = !window.no_wait && !window.dry_run;
    let mut progress = Progress::new();
    // Which messages are about to be recovered (one entry per failed delivery, so a chunked
    // message counts once per page): their next attempts are the progress, not the endpoint's
    // other traffic.
    let mut awaited = match watch {
        true => failed_deliveries(client, target, &window.since, window.until.as_deref(), &mut progress).await?,
        false => HashMap::new(),
    };
    let body = window.body([])?;
    let (started, mut task) = start_and_follow(client, &path(target, &["recover"]), body, window, "recovering").await?;
    let recovered = task["data"]["messagesSent"].as_u64().unwrap_or(0);
    let expected: u64 = awaited.values().sum();
    let mut tally = RecoverTally::default();
    let mut timed_out = false;
    if watch && recovered > 0 && expected > 0 {
        // Attempts after the server's `updatedAt`, oldest first, resuming from the last page.
        let started = started["updatedAt"].as_str().and_then(|t| hookwire_core::time_fmt::parse(t).ok());
        let after = hookwire_core::time_fmt::format_millis(started.unwrap_or_else(super::now_millis) - 1);
        let deadline = Instant::now() + Duration::from_secs(window.wait_seconds);
        let attempts = ["app", target.app.as_str(), "attempt", "endpoint", target.endpoint.as_str()];
        let mut iterator: Option<String> = None;
        loop {
            let mut query = vec![("order", "ascending".to_owned()), ("after", after.clone())];
            query.push(("limit", RECOVER_PAGE_LIMIT.to_string()));
            query.extend(iterator.clone().map(|i| ("iterator", i)));
            let page = client.get(&attempts, &query).await?;
            for attempt in page["data"].as_array().into_iter().flatten() {
                let Some(left) = attempt["msgId"].as_str().and_then(|id| awaited.get_mut(id)).filter(|n| **n > 0)
                else {
                    continue;
                };
                *left -= 1;
                tally.attempted += 1;
                tally.succeeded += u64::from(attempt["status"].as_i64() == Some(Status::Success.code()));
            }
            iterator = page["iterator"].as_str().map(str::to_owned).or(iterator);
            let failed = tally.attempted - tally.succeeded;
            progress.update(&format!(
                "recovering: {}/{expected} attempted ({} succeeded, {failed} failed again)",
                tally.attempted, tally.succeeded
            ));
            if tally.attempted >= expected {
                break;
            }
            if Instant::now() >= deadline {
                timed_out = true;
                break;
            }
            if page["done"].as_bool().unwrap_or(true) {
                tokio::time::sleep(Duration::from_millis(RECOVER_POLL_INTERVAL_MS)).await;
            }
        }
    }
    progress.finish();
    let failed = tally.attempted - tally.succeeded;
    let endpoint = &target.endpoint;
    let text = summary(&task, window, |sent| match watch && sent > 0 {
        false => format!("Recovered {sent} messages of {endpoint}"),
        true => format!(
            "Recovered {sent} messages of {endpoint}: {} attempted, {} succeeded, {failed} failed again{}",
            tally.attempted,
            tally.succeeded,
            if timed_out { " (stopped waiting)" } else { "" }
        ),
    });
    if let Some(object) = task.as_object_mut().filter(|_| watch) {
        object.insert("attempted".into(), json!(tally.attempted));
        object.insert("succeeded".into(), json!(tally.succeeded));
        object.insert("failed".into(), json!(failed));
    }
    out.done(&task, &text);
    anyhow::ensure!(!timed_out, "stopped waiting after {}s: {text}", window.wait_seconds);
    Ok(())
}

/// The endpoint's failed deliveries created in `[since, until)`, counted by message id, read
/// from its message log (`status=2`), with a progress line while many pages are read.
async fn failed_deliveries(
    client: &Client,
    target: &Target,
    since: &str,
    until: Option<&str>,
    progress: &mut Progress,
) -> anyhow::Result<HashMap<String, u64>> {
    // The log's `after` is exclusive and recover's `since` inclusive: start one millisecond earlier.
    let since = hookwire_core::time_fmt::parse(since).map_err(anyhow::Error::msg)?;
    let mut query = vec![
        ("status", Status::Fail.code().to_string()),
        ("with_content", "false".to_owned()),
        ("after", hookwire_core::time_fmt::format_millis(since - 1)),
    ];
    query.extend(until.map(|until| ("before", until.to_owned())));
    let page = PageArgs { limit: Some(RECOVER_PAGE_LIMIT), iterator: None, all: false };
    let mut iterator = None;
    let mut failed: HashMap<String, u64> = HashMap::new();
    loop {
        let listing = client
            .list(&path(target, &["msg"]), &query, &PageArgs { iterator: iterator.clone(), ..page.clone() })
            .await?;
        for message in &listing.data {
            if let Some(id) = message["id"].as_str() {
                *failed.entry(id.to_owned()).or_default() += 1;
            }
        }
        progress.update(&format!("finding failed deliveries: {}", failed.values().sum::<u64>()));
        if listing.done || listing.data.is_empty() {
            return Ok(failed);
        }
        iterator = listing.iterator;
    }
}
