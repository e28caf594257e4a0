//! `hookwire attempt ...`: the delivery log (one row per HTTP attempt) and manual resends.

use clap::{Subcommand, ValueEnum};
use hookwire_core::model::Status;
use serde_json::json;

use super::output::Column;
use super::{Client, Output, PageArgs, TimeRange};

const COLUMNS: &[Column] = &[
    ("ID", "/id"),
    ("MESSAGE", "/msgId"),
    ("ENDPOINT", "/endpointId"),
    ("STATUS", "/statusText"),
    ("CODE", "/responseStatusCode"),
    ("MS", "/responseDurationMs"),
    ("ERROR", "/errorKind"),
    ("TIMESTAMP", "/timestamp"),
];
const DETAIL: &[Column] = &[
    ("id", "/id"),
    ("msgId", "/msgId"),
    ("endpointId", "/endpointId"),
    ("url", "/url"),
    ("status", "/statusText"),
    ("triggerType", "/triggerType"),
    ("responseStatusCode", "/responseStatusCode"),
    ("responseDurationMs", "/responseDurationMs"),
    ("errorKind", "/errorKind"),
    ("timestamp", "/timestamp"),
    ("response", "/response"),
];

/// An attempt's outcome, as the `status` filter takes it.
#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum AttemptStatus {
    Success,
    Pending,
    Fail,
    Sending,
    Canceled,
}

impl AttemptStatus {
    /// The API's numeric code.
    fn code(self) -> i64 {
        let status = match self {
            Self::Success => Status::Success,
            Self::Pending => Status::Pending,
            Self::Fail => Status::Fail,
            Self::Sending => Status::Sending,
            Self::Canceled => Status::Canceled,
        };
        status.code()
    }
}

#[derive(Subcommand, Debug)]
pub enum AttemptCommand {
    /// List attempts, newest first: those to one endpoint (--endpoint) or of one message (--msg).
    #[command(group = clap::ArgGroup::new("scope").args(["endpoint", "msg"]).required(true).multiple(true))]
    List {
        /// Application id or uid.
        app: String,
        /// Attempts to this endpoint (id or uid).
        #[arg(long)]
        endpoint: Option<String>,
        /// Attempts of this message (with --endpoint too: of this message to that endpoint).
        #[arg(long)]
        msg: Option<String>,
        /// Only attempts with this outcome.
        #[arg(long, value_enum)]
        status: Option<AttemptStatus>,
        /// Only answers of this class: 200, 300, 400 or 500 (0: no answer).
        #[arg(long)]
        status_code_class: Option<u16>,
        #[command(flatten)]
        time: TimeRange,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one attempt with the start of the receiver's answer.
    Get {
        /// Application id or uid.
        app: String,
        /// Message id.
        msg: String,
        /// Attempt id (`atmpt_…`).
        attempt: String,
    },
    /// Send a message again: to the endpoint of an attempt, or to --endpoint.
    Resend {
        /// Application id or uid.
        app: String,
        /// Message id.
        msg: String,
        /// Attempt whose endpoint receives the message again.
        #[arg(required_unless_present = "endpoint", conflicts_with = "endpoint")]
        attempt: Option<String>,
        /// Endpoint (id or uid) that receives the message again.
        #[arg(long)]
        endpoint: Option<String>,
    },
}

pub async fn run(client: &Client, out: Output, command: AttemptCommand) -> anyhow::Result<()> {
    match command {
        AttemptCommand::List { app, endpoint, msg, status, status_code_class, time, page } => {
            let mut query = Vec::new();
            query.extend(status.map(|s| ("status", s.code().to_string())));
            query.extend(status_code_class.map(|c| ("status_code_class", c.to_string())));
            query.extend(time.query());
            let segments = match (&msg, &endpoint) {
                (Some(msg), endpoint) => {
                    query.extend(endpoint.clone().map(|e| ("endpoint_id", e)));
                    vec!["app", app.as_str(), "attempt", "msg", msg.as_str()]
                }
                (None, Some(endpoint)) => vec!["app", app.as_str(), "attempt", "endpoint", endpoint.as_str()],
                (None, None) => anyhow::bail!("give --endpoint or --msg"),
            };
            out.list(&client.list(&segments, &query, &page).await?, COLUMNS);
        }
        AttemptCommand::Get { app, msg, attempt } => {
            out.item(&client.get(&["app", &app, "msg", &msg, "attempt", &attempt], &[]).await?, DETAIL);
        }
        AttemptCommand::Resend { app, msg, attempt, endpoint } => {
            let (segments, to) = match (&attempt, &endpoint) {
                (Some(attempt), _) => {
                    (vec!["app", &app, "msg", &msg, "attempt", attempt, "resend"], format!("the endpoint of {attempt}"))
                }
                (None, Some(endpoint)) => {
                    (vec!["app", &app, "msg", &msg, "endpoint", endpoint, "resend"], endpoint.clone())
                }
                (None, None) => anyhow::bail!("give an attempt id or --endpoint"),
            };
            let answer = client.post(&segments, json!({})).await?;
            out.done(&answer, &format!("Queued {msg} for {to}"));
        }
    }
    Ok(())
}
