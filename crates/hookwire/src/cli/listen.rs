//! `hookwire listen`: a local receiver for development. Binds loopback only, prints every
//! request it gets with its signature checked (by [`super::verify::check`]), answers 200 — or
//! 401 when a secret is given and the signature fails, so the sender's retries show — and can
//! forward each request to a local app and register itself as an endpoint.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use clap::Args;
use serde_json::{Value, json};

use super::verify::{Signed, TOLERANCE_SECONDS_DEFAULT, check, now_seconds};
use super::{Client, ClientArgs};

/// The port `listen` binds when none is given (the server's default port plus one).
pub const LISTEN_PORT_DEFAULT: u16 = 8072;
/// Bodies larger than this are refused (413); deliveries are far smaller.
pub const BODY_BYTES_MAX: usize = 4 * 1024 * 1024;
/// How long a forwarded request may take.
pub const FORWARD_TIMEOUT_MS: u64 = 30_000;

#[derive(Args, Debug)]
pub struct ListenArgs {
    /// Port on 127.0.0.1 (0 picks a free one; the first line printed says which).
    #[arg(long, default_value_t = LISTEN_PORT_DEFAULT)]
    pub port: u16,
    /// Verify signatures with this secret (`whsec_…`, or the `whpk_…` key of an ed25519
    /// endpoint); failures are answered 401.
    #[arg(long, env = "HOOKWIRE_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Seconds webhook-timestamp may be from now, either way; 0 accepts any timestamp.
    #[arg(long, default_value_t = TOLERANCE_SECONDS_DEFAULT)]
    pub tolerance: u64,
    /// Also send each request (same headers and body) to this URL and answer with its status.
    #[arg(long)]
    pub forward: Option<String>,
    /// Create an endpoint pointing here in this application (via --url/--token), verify with its
    /// secret, and delete it on exit. The server must allow private networks.
    #[arg(long, value_name = "APP")]
    pub register: Option<String>,
    /// Event types the registered endpoint receives (repeatable; default all).
    #[arg(long = "event-type", requires = "register")]
    pub event_types: Vec<String>,
    /// Print JSON bodies indented instead of on one line.
    #[arg(long)]
    pub pretty: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

struct Listener {
    secret: Option<String>,
    tolerance: u64,
    forward: Option<(reqwest::Client, String)>,
    pretty: bool,
    json: bool,
    count: AtomicU64,
}

/// Runs until SIGINT or SIGTERM.
pub async fn run(args: ListenArgs) -> anyhow::Result<()> {
    // Before the first line is printed: a script may stop us as soon as it reads one, and a signal
    // that came before the handler would end the process without deleting what it registered.
    let shutdown = crate::shutdown_signal()?;
    let socket = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)))
        .await
        .with_context(|| format!("binding 127.0.0.1:{}", args.port))?;
    let url = format!("http://{}", socket.local_addr()?);
    let json_output = args.client.json;
    // The first line is the contract scripts read.
    if json_output {
        println!("{}", json!({"listening": url}));
    } else {
        println!("Listening on {url}");
    }
    let mut secret = args.secret.clone();
    let registered = match &args.register {
        Some(app) => {
            let (client, _) = args.client.connect()?;
            let (endpoint, key) = register(&client, app, &url, &args.event_types).await?;
            if json_output {
                println!("{}", json!({"registered": {"app": app, "endpoint": endpoint, "secret": key}}));
            } else {
                println!("Registered endpoint {endpoint} in {app}; secret {key}");
            }
            secret = secret.or(Some(key));
            Some((client, app.clone(), endpoint))
        }
        None => None,
    };
    if secret.is_none() && !json_output {
        println!("No --secret: signatures are shown, not checked");
    }
    let forward = match args.forward {
        Some(target) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let client = reqwest::Client::builder()
                .timeout(std::time::Duration::from_millis(FORWARD_TIMEOUT_MS))
                .redirect(reqwest::redirect::Policy::none())
                .build()?;
            Some((client, target))
        }
        None => None,
    };
    let listener = Arc::new(Listener {
        secret,
        tolerance: args.tolerance,
        forward,
        pretty: args.pretty,
        json: json_output,
        count: AtomicU64::new(0),
    });
    let router = axum::Router::new()
        .fallback(receive)
        .layer(axum::extract::DefaultBodyLimit::max(BODY_BYTES_MAX))
        .with_state(listener);
    axum::serve(socket, router).with_graceful_shutdown(shutdown).await.context("serving")?;
    if let Some((client, app, endpoint)) = registered {
        // The server may have stopped first: then there is nothing to clean up from here.
        match client.delete(&["app", &app, "endpoint", &endpoint]).await {
            Ok(_) if !json_output => println!("Deleted endpoint {endpoint}"),
            Ok(_) => {}
            Err(error) => eprintln!(
                "note: could not delete the registered endpoint {endpoint} ({error:#}); delete it later if it remains"
            ),
        }
    }
    Ok(())
}

async fn register(client: &Client, app: &str, url: &str, event_types: &[String]) -> anyhow::Result<(String, String)> {
    let mut body = json!({"url": url, "description": "hookwire listen"});
    if !event_types.is_empty() {
        body["eventTypes"] = json!(event_types);
    }
    let endpoint = client.post(&["app", app, "endpoint"], body).await.context("registering the endpoint")?;
    let id = endpoint["id"].as_str().context("the server's endpoint has no id")?.to_owned();
    let secret = client.get(&["app", app, "endpoint", &id, "secret"], &[]).await?;
    let key = secret["key"].as_str().context("the server sent no secret")?.to_owned();
    Ok((id, key))
}

async fn receive(
    State(listener): State<Arc<Listener>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let number = listener.count.fetch_add(1, Ordering::Relaxed) + 1;
    let pairs: Vec<(&str, &str)> =
        headers.iter().filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str(), v))).collect();
    let signed = Signed::from_headers(pairs.iter().copied());
    let verdict =
        listener.secret.as_deref().map(|secret| check(secret, &signed, &body, now_seconds(), listener.tolerance));
    let (mut status, mut answer) = match &verdict {
        Some(Err(failure)) => (StatusCode::UNAUTHORIZED, failure.to_string()),
        _ => (StatusCode::OK, "ok".to_owned()),
    };
    let mut forwarded = None;
    if let Some((client, target)) = &listener.forward
        && status == StatusCode::OK
    {
        let mut request = client.request(method.clone(), target.as_str()).body(body.clone());
        for (name, value) in headers.iter().filter(|(name, _)| *name != "host" && *name != "content-length") {
            request = request.header(name.as_str(), value.as_bytes());
        }
        (status, answer, forwarded) = match request.send().await {
            Ok(response) => {
                let code = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
                (code, response.text().await.unwrap_or_default(), Some(Ok(code.as_u16())))
            }
            Err(error) => (StatusCode::BAD_GATEWAY, error.to_string(), Some(Err(error.to_string()))),
        };
    }
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let event_type = parsed.as_ref().and_then(|p| p["type"].as_str().or_else(|| p["eventType"].as_str()));
    let received_at = hookwire_core::time_fmt::format_millis(super::now_millis());
    if listener.json {
        let line = json!({
            "n": number,
            "receivedAt": received_at,
            "method": method.as_str(),
            "path": uri.to_string(),
            "webhookId": signed.id,
            "timestamp": signed.timestamp,
            "eventType": event_type,
            "verified": verdict.as_ref().map(Result::is_ok),
            "scheme": verdict.as_ref().and_then(|v| v.as_ref().ok()),
            "reason": verdict.as_ref().and_then(|v| v.as_ref().err().map(ToString::to_string)),
            "forwarded": forwarded.as_ref().map(|f| match f { Ok(code) => json!(code), Err(e) => json!(e) }),
            "status": status.as_u16(),
            "headers": pairs.iter().map(|(n, v)| (n.to_string(), Value::from(*v))).collect::<serde_json::Map<_, _>>(),
            "body": parsed.clone().unwrap_or_else(|| Value::String(String::from_utf8_lossy(&body).into_owned())),
        });
        println!("{line}");
    } else {
        let check = match &verdict {
            None => "· not checked".to_owned(),
            Some(Ok(scheme)) => format!("✓ valid ({scheme})"),
            Some(Err(failure)) => format!("✗ {failure}"),
        };
        let forward = match &forwarded {
            None => String::new(),
            Some(Ok(code)) => format!("  forwarded: {code}"),
            Some(Err(error)) => format!("  forward failed: {error}"),
        };
        let id = signed.id.as_deref().unwrap_or("-");
        println!(
            "#{number} {received_at} {method} {uri}  {id}  {}  {check}  → {}{forward}",
            event_type.unwrap_or("-"),
            status.as_u16()
        );
        let text = match &parsed {
            Some(value) if listener.pretty => serde_json::to_string_pretty(value).unwrap_or_default(),
            Some(value) => value.to_string(),
            None => String::from_utf8_lossy(&body).into_owned(),
        };
        println!("{text}");
    }
    (status, answer)
}
