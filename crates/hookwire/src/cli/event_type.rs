//! `hookwire event-type ...`: the event-type catalog (names, descriptions, payload schemas).

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::output::Column;
use super::{Client, Output, PageArgs, read_json, request_body};

const COLUMNS: &[Column] = &[
    ("NAME", "/name"),
    ("DESCRIPTION", "/description"),
    ("GROUP", "/groupName"),
    ("ARCHIVED", "/archived"),
    ("DEPRECATED", "/deprecated"),
];
const DETAIL: &[Column] = &[
    ("name", "/name"),
    ("description", "/description"),
    ("groupName", "/groupName"),
    ("archived", "/archived"),
    ("deprecated", "/deprecated"),
    ("featureFlags", "/featureFlags"),
    ("schemas", "/schemas"),
    ("createdAt", "/createdAt"),
    ("updatedAt", "/updatedAt"),
];

/// The event-type fields that have flags; anything else goes through `--body`.
#[derive(Args, Debug)]
pub struct Fields {
    /// Group shown in the portal's event catalog.
    #[arg(long)]
    pub group_name: Option<String>,
    /// Mark it deprecated (`--deprecated false` to undo).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub deprecated: Option<bool>,
    /// Payload schemas by version, e.g. `{"1": {JSON Schema}}` (inline, @FILE or -).
    #[arg(long)]
    pub schemas: Option<String>,
    /// Further request fields as a JSON object (inline, @FILE or - for stdin).
    #[arg(long)]
    pub body: Option<String>,
}

impl Fields {
    fn body(self, more: Vec<(&'static str, Option<Value>)>) -> anyhow::Result<Value> {
        let mut fields = vec![
            ("groupName", self.group_name.map(Value::from)),
            ("deprecated", self.deprecated.map(Value::from)),
            ("schemas", self.schemas.as_deref().map(read_json).transpose()?),
        ];
        fields.extend(more);
        request_body(self.body.as_deref(), fields)
    }
}

#[derive(Subcommand, Debug)]
pub enum EventTypeCommand {
    /// List the catalog.
    List {
        /// Include archived event types.
        #[arg(long)]
        include_archived: bool,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one event type with its schemas.
    Get {
        /// Event type name, e.g. `user.created`.
        name: String,
    },
    /// Add an event type.
    Create {
        /// Event type name, e.g. `user.created`.
        name: String,
        /// What the event means.
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        fields: Fields,
    },
    /// Change an event type (only the fields given).
    Update {
        /// Event type name.
        name: String,
        /// New description.
        #[arg(long)]
        description: Option<String>,
        /// Archive (`true`) or restore (`false`) it.
        #[arg(long)]
        archived: Option<bool>,
        #[command(flatten)]
        fields: Fields,
    },
    /// Archive an event type (it stays readable; messages of its type are still accepted).
    Delete {
        /// Event type name.
        name: String,
    },
}

pub async fn run(client: &Client, out: Output, command: EventTypeCommand) -> anyhow::Result<()> {
    match command {
        EventTypeCommand::List { include_archived, page } => {
            let query = [("include_archived", include_archived.to_string())];
            out.list(&client.list(&["event-type"], &query, &page).await?, COLUMNS);
        }
        EventTypeCommand::Get { name } => out.item(&client.get(&["event-type", &name], &[]).await?, DETAIL),
        EventTypeCommand::Create { name, description, fields } => {
            let body = fields.body(vec![("name", Some(json!(name))), ("description", Some(json!(description)))])?;
            out.item(&client.post(&["event-type"], body).await?, DETAIL);
        }
        EventTypeCommand::Update { name, description, archived, fields } => {
            let body = fields
                .body(vec![("description", description.map(Value::from)), ("archived", archived.map(Value::from))])?;
            out.item(&client.patch(&["event-type", &name], body).await?, DETAIL);
        }
        EventTypeCommand::Delete { name } => {
            let answer = client.delete(&["event-type", &name]).await?;
            out.done(&answer, &format!("Archived event type {name}"));
        }
    }
    Ok(())
}
