//! `hookwire app ...`: applications (the tenants whose endpoints receive messages).

use clap::Subcommand;
use serde_json::{Value, json};

use super::output::Column;
use super::{Client, Output, PageArgs, metadata, parse_pair, request_body};

const COLUMNS: &[Column] = &[("ID", "/id"), ("UID", "/uid"), ("NAME", "/name"), ("CREATED", "/createdAt")];
const DETAIL: &[Column] = &[
    ("id", "/id"),
    ("uid", "/uid"),
    ("name", "/name"),
    ("throttleRate", "/throttleRate"),
    ("metadata", "/metadata"),
    ("createdAt", "/createdAt"),
    ("updatedAt", "/updatedAt"),
];

#[derive(Subcommand, Debug)]
pub enum AppCommand {
    /// List applications, oldest first.
    List {
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one application.
    Get {
        /// Application id (`app_…`) or uid.
        app: String,
    },
    /// Create an application.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Your own unique id for it, usable wherever an application id is.
        #[arg(long)]
        uid: Option<String>,
        /// Deliveries per second to each of its endpoints, at most.
        #[arg(long)]
        throttle_rate: Option<u32>,
        /// Metadata entry KEY=VALUE (repeatable).
        #[arg(long = "metadata", value_parser = parse_pair)]
        metadata: Vec<(String, String)>,
        /// Further request fields as a JSON object (inline, @FILE or - for stdin).
        #[arg(long)]
        body: Option<String>,
    },
    /// Change an application's name, uid, throttle rate or metadata (fields not given stay).
    Update {
        /// Application id or uid.
        app: String,
        /// New display name.
        #[arg(long)]
        name: Option<String>,
        /// New uid.
        #[arg(long)]
        uid: Option<String>,
        /// New throttle rate (deliveries per second per endpoint).
        #[arg(long)]
        throttle_rate: Option<u32>,
        /// Replace the metadata with these KEY=VALUE entries (repeatable).
        #[arg(long = "metadata", value_parser = parse_pair)]
        metadata: Vec<(String, String)>,
        /// Further request fields as a JSON object (inline, @FILE or - for stdin).
        #[arg(long)]
        body: Option<String>,
    },
    /// Delete an application with its endpoints and messages.
    Delete {
        /// Application id or uid.
        app: String,
    },
}

pub async fn run(client: &Client, out: Output, command: AppCommand) -> anyhow::Result<()> {
    match command {
        AppCommand::List { page } => out.list(&client.list(&["app"], &[], &page).await?, COLUMNS),
        AppCommand::Get { app } => out.item(&client.get(&["app", &app], &[]).await?, DETAIL),
        AppCommand::Create { name, uid, throttle_rate, metadata: pairs, body } => {
            let body = request_body(
                body.as_deref(),
                [
                    ("name", Some(json!(name))),
                    ("uid", uid.map(Value::from)),
                    ("throttleRate", throttle_rate.map(Value::from)),
                    ("metadata", metadata(&pairs)),
                ],
            )?;
            out.item(&client.post(&["app"], body).await?, DETAIL);
        }
        AppCommand::Update { app, name, uid, throttle_rate, metadata: pairs, body } => {
            let body = request_body(
                body.as_deref(),
                [
                    ("name", name.map(Value::from)),
                    ("uid", uid.map(Value::from)),
                    ("throttleRate", throttle_rate.map(Value::from)),
                    ("metadata", metadata(&pairs)),
                ],
            )?;
            out.item(&client.patch(&["app", &app], body).await?, DETAIL);
        }
        AppCommand::Delete { app } => {
            let answer = client.delete(&["app", &app]).await?;
            out.done(&answer, &format!("Deleted application {app}"));
        }
    }
    Ok(())
}
