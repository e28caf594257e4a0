//! `hookwire destination ...`: an application's destinations (polling endpoints today) and
//! reading one: a page by iterator, or as a named consumer whose position the server keeps.

use clap::Subcommand;
use serde_json::{Value, json};

use super::output::Column;
use super::{Client, Output, PageArgs, parse_time, request_body};

const COLUMNS: &[Column] = &[
    ("ID", "/id"),
    ("UID", "/uid"),
    ("TYPE", "/type"),
    ("STATUS", "/status"),
    ("EVENT TYPES", "/eventTypes"),
    ("BATCH", "/batchSize"),
];
const DETAIL: &[Column] = &[
    ("id", "/id"),
    ("uid", "/uid"),
    ("type", "/type"),
    ("status", "/status"),
    ("eventTypes", "/eventTypes"),
    ("channels", "/channels"),
    ("batchSize", "/batchSize"),
    ("maxWaitSecs", "/maxWaitSecs"),
    ("currentIterator", "/currentIterator"),
    ("metadata", "/metadata"),
    ("createdAt", "/createdAt"),
];
const MESSAGES: &[Column] =
    &[("ID", "/id"), ("EVENT TYPE", "/eventType"), ("TIME", "/timestamp"), ("PAYLOAD", "/payload")];

#[derive(Subcommand, Debug)]
pub enum DestinationCommand {
    /// List an application's destinations, newest first.
    List {
        /// Application id or uid.
        app: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one destination.
    Get {
        /// Application id or uid.
        app: String,
        /// Destination id (`dest_…`) or uid.
        destination: String,
    },
    /// Create a polling endpoint: a stream of the application's messages that consumers pull.
    Create {
        /// Application id or uid.
        app: String,
        /// A uid to name it by.
        #[arg(long)]
        uid: Option<String>,
        /// Only these event types (repeat; `user.*` wildcards); default: all.
        #[arg(long = "event-type")]
        event_types: Vec<String>,
        /// Only messages carrying one of these channels (repeat).
        #[arg(long = "channel")]
        channels: Vec<String>,
        /// Messages per page when a poll gives no limit (1-1000, server default 100).
        #[arg(long)]
        batch_size: Option<u32>,
        /// How long a poll that finds nothing waits for messages, in seconds (0-300).
        #[arg(long)]
        max_wait_secs: Option<u32>,
    },
    /// Pause a destination (polls answer 409; positions are kept).
    Pause {
        /// Application id or uid.
        app: String,
        /// Destination id or uid.
        destination: String,
    },
    /// Enable a paused or disabled destination.
    Enable {
        /// Application id or uid.
        app: String,
        /// Destination id or uid.
        destination: String,
    },
    /// Delete a destination and its consumers' positions.
    Delete {
        /// Application id or uid.
        app: String,
        /// Destination id or uid.
        destination: String,
    },
    /// Read the next page of a polling endpoint: from an iterator, or as a consumer.
    Poll {
        /// Application id or uid.
        app: String,
        /// Destination id or uid.
        destination: String,
        /// Read as this consumer: the server keeps its position and moves it past the page.
        #[arg(long, conflicts_with = "after")]
        consumer: Option<String>,
        /// Read from this iterator (a previous page's).
        #[arg(long)]
        iterator: Option<String>,
        /// Read from the first message created after this time (RFC 3339 or 30m, 12h, 7d ago).
        #[arg(long, value_parser = parse_time, conflicts_with = "iterator")]
        after: Option<String>,
        /// Messages at most.
        #[arg(long)]
        limit: Option<usize>,
        /// Wait this many seconds for messages when there are none.
        #[arg(long)]
        wait_secs: Option<u32>,
    },
    /// Move a consumer to the first message created after a time.
    Seek {
        /// Application id or uid.
        app: String,
        /// Destination id or uid.
        destination: String,
        /// The consumer's name.
        consumer: String,
        /// RFC 3339, or a duration ago (30m, 12h, 7d).
        #[arg(long, value_parser = parse_time)]
        after: String,
    },
}

pub async fn run(client: &Client, out: Output, command: DestinationCommand) -> anyhow::Result<()> {
    use DestinationCommand as C;
    match command {
        C::List { app, page } => out.list(&client.list(&["app", &app, "destination"], &[], &page).await?, COLUMNS),
        C::Get { app, destination } => {
            out.item(&client.get(&["app", &app, "destination", &destination], &[]).await?, DETAIL)
        }
        C::Create { app, uid, event_types, channels, batch_size, max_wait_secs } => {
            let body = request_body(
                None,
                [
                    ("type", Some(json!("pollingEndpoint"))),
                    ("uid", uid.map(Value::from)),
                    ("eventTypes", (!event_types.is_empty()).then(|| json!(event_types))),
                    ("channels", (!channels.is_empty()).then(|| json!(channels))),
                    ("batchSize", batch_size.map(Value::from)),
                    ("maxWaitSecs", max_wait_secs.map(Value::from)),
                ],
            )?;
            out.item(&client.post(&["app", &app, "destination"], body).await?, DETAIL);
        }
        C::Pause { app, destination } => {
            let answer = client.patch(&["app", &app, "destination", &destination], json!({"status": "paused"})).await?;
            out.done(&answer, &format!("Paused destination {destination}"));
        }
        C::Enable { app, destination } => {
            let answer =
                client.patch(&["app", &app, "destination", &destination], json!({"status": "enabled"})).await?;
            out.done(&answer, &format!("Enabled destination {destination}"));
        }
        C::Delete { app, destination } => {
            let answer = client.delete(&["app", &app, "destination", &destination]).await?;
            out.done(&answer, &format!("Deleted destination {destination}"));
        }
        C::Poll { app, destination, consumer, iterator, after, limit, wait_secs } => {
            let mut query: Vec<(&str, String)> = Vec::new();
            query.extend(iterator.map(|i| ("iterator", i)));
            query.extend(after.map(|a| ("after", a)));
            query.extend(limit.map(|l| ("limit", l.to_string())));
            query.extend(wait_secs.map(|w| ("wait_secs", w.to_string())));
            let page = match &consumer {
                Some(name) => client.get(&["app", &app, "poller", &destination, "consumer", name], &query).await?,
                None => client.get(&["app", &app, "poller", &destination], &query).await?,
            };
            if out.json {
                super::output::print_json(&page);
            } else {
                let rows = page["data"].as_array().cloned().unwrap_or_default();
                print!("{}", super::output::table(&rows, MESSAGES));
                println!(
                    "iterator {}{}",
                    page["iterator"].as_str().unwrap_or_default(),
                    if page["done"] == true { " (done)" } else { "" }
                );
            }
        }
        C::Seek { app, destination, consumer, after } => {
            let path = ["app", app.as_str(), "poller", destination.as_str(), "consumer", consumer.as_str(), "seek"];
            let answer = client.post(&path, json!({"after": after})).await?;
            out.done(&answer, &format!("Consumer {consumer} reads on from {after}"));
        }
    }
    Ok(())
}
