//! `hookwire token ...`: application-scoped portal tokens (from the server) and fresh admin
//! tokens (generated locally, for HOOKWIRE_ADMIN_TOKEN).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Subcommand;
use serde_json::Value;

use super::{ClientArgs, request_body};

/// Random bytes in a generated admin token (the server generates its own with as many).
pub const ADMIN_TOKEN_RANDOM_BYTES: usize = 32;
/// The prefix the server gives admin tokens.
pub const ADMIN_TOKEN_PREFIX: &str = "hw_";

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Issue a token scoped to one application and print it with its portal URL (admin only).
    Portal {
        /// Application id or uid.
        app: String,
        /// Lifetime in seconds (server default and maximum: 7 days).
        #[arg(long)]
        expiry: Option<u64>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Print a new random admin token; start the server with HOOKWIRE_ADMIN_TOKEN set to it.
    Generate,
}

pub async fn run(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Portal { app, expiry, client } => {
            let (client, out) = client.connect()?;
            let body = request_body(None, [("expiry", expiry.map(Value::from))])?;
            let answer = client.post(&["auth", "app-portal-access", &app], body).await?;
            let token = answer["token"].as_str().unwrap_or_default();
            let url = answer["url"].as_str().unwrap_or_default();
            out.done(&answer, &format!("Token: {token}\nPortal: {url}"));
        }
        TokenCommand::Generate => println!("{}", generate_admin_token()),
    }
    Ok(())
}

pub fn generate_admin_token() -> String {
    let mut bytes = [0u8; ADMIN_TOKEN_RANDOM_BYTES];
    rand::fill(&mut bytes);
    format!("{ADMIN_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}
