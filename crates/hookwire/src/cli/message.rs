//! `hookwire message ...`: send messages, read the message log, see where one went, expunge
//! a payload.

use clap::Subcommand;
use serde_json::{Value, json};

use super::output::Column;
use super::{Client, Output, PageArgs, TimeRange, read_json, request_body};

const COLUMNS: &[Column] = &[
    ("ID", "/id"),
    ("EVENT TYPE", "/eventType"),
    ("EVENT ID", "/eventId"),
    ("CHANNELS", "/channels"),
    ("TIMESTAMP", "/timestamp"),
];
const DETAIL: &[Column] = &[
    ("id", "/id"),
    ("eventType", "/eventType"),
    ("eventId", "/eventId"),
    ("channels", "/channels"),
    ("tags", "/tags"),
    ("timestamp", "/timestamp"),
    ("payload", "/payload"),
];
const DESTINATIONS: &[Column] = &[
    ("ENDPOINT", "/id"),
    ("URL", "/url"),
    ("STATUS", "/statusText"),
    ("ATTEMPTS", "/attempts"),
    ("NEXT ATTEMPT", "/nextAttempt"),
    ("UPDATED", "/updatedAt"),
];

#[derive(Subcommand, Debug)]
pub enum MessageCommand {
    /// List an application's messages, newest first.
    List {
        /// Application id or uid.
        app: String,
        /// Only these event types (repeatable).
        #[arg(long = "event-type")]
        event_types: Vec<String>,
        /// Only messages on this channel.
        #[arg(long)]
        channel: Option<String>,
        #[command(flatten)]
        time: TimeRange,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one message with its payload.
    Get {
        /// Application id or uid.
        app: String,
        /// Message id (`msg_…`) or event id.
        msg: String,
    },
    /// Send a message: it is delivered to every endpoint subscribed to its event type.
    Create {
        /// Application id or uid.
        app: String,
        /// Event type, e.g. `user.created`.
        #[arg(long)]
        event_type: String,
        /// Payload: a JSON object, inline, @FILE or - for stdin.
        #[arg(long, default_value = "{}")]
        payload: String,
        /// Your own unique id for the event (deduplicates).
        #[arg(long)]
        event_id: Option<String>,
        /// Channel (repeatable).
        #[arg(long = "channel")]
        channels: Vec<String>,
        /// Tag (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Deliver at this time instead of now (RFC 3339).
        #[arg(long)]
        deliver_at: Option<String>,
        /// `idempotency-key` header: a retry with the same key returns the first answer.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Further request fields as a JSON object (inline, @FILE or - for stdin).
        #[arg(long)]
        body: Option<String>,
    },
    /// The endpoints a message goes to, with each delivery's status.
    Endpoints {
        /// Application id or uid.
        app: String,
        /// Message id.
        msg: String,
    },
    /// Delete a message's payload (the message and its attempts stay).
    Expunge {
        /// Application id or uid.
        app: String,
        /// Message id.
        msg: String,
    },
}

pub async fn run(client: &Client, out: Output, command: MessageCommand) -> anyhow::Result<()> {
    match command {
        MessageCommand::List { app, event_types, channel, time, page } => {
            let mut query = Vec::new();
            if !event_types.is_empty() {
                query.push(("event_types", event_types.join(",")));
            }
            query.extend(channel.map(|c| ("channel", c)));
            query.extend(time.query());
            out.list(&client.list(&["app", &app, "msg"], &query, &page).await?, COLUMNS);
        }
        MessageCommand::Get { app, msg } => out.item(&client.get(&["app", &app, "msg", &msg], &[]).await?, DETAIL),
        MessageCommand::Create {
            app,
            event_type,
            payload,
            event_id,
            channels,
            tags,
            deliver_at,
            idempotency_key,
            body,
        } => {
            let list = |items: Vec<String>| (!items.is_empty()).then(|| json!(items));
            let body = request_body(
                body.as_deref(),
                [
                    ("eventType", Some(json!(event_type))),
                    ("payload", Some(read_json(&payload)?)),
                    ("eventId", event_id.map(Value::from)),
                    ("channels", list(channels)),
                    ("tags", list(tags)),
                    ("deliverAt", deliver_at.map(Value::from)),
                ],
            )?;
            let headers: Vec<(&str, String)> =
                idempotency_key.map(|key| ("idempotency-key", key)).into_iter().collect();
            out.item(&client.post_with(&["app", &app, "msg"], body, &headers).await?, DETAIL);
        }
        MessageCommand::Endpoints { app, msg } => {
            out.list(
                &client.list(&["app", &app, "msg", &msg, "endpoint"], &[], &PageArgs::default()).await?,
                DESTINATIONS,
            );
        }
        MessageCommand::Expunge { app, msg } => {
            let answer = client.delete(&["app", &app, "msg", &msg, "content"]).await?;
            out.done(&answer, &format!("Expunged the payload of {msg}"));
        }
    }
    Ok(())
}
