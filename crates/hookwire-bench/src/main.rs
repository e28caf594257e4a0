//! `hookwire-bench`: starts a fast loopback receiver and the real `hookwire` binary, sends N
//! messages at concurrency C to an application with E endpoints, and reports accept throughput
//! and latency, end-to-end deliveries/s, send→arrival latency, Hookwire's peak RSS, and lost and
//! duplicate deliveries — beside a raw baseline: the same receiver driven by a plain keep-alive
//! client, so every figure reads as a fraction of this machine's loopback limit.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use axum::body::Bytes;
use axum::http::HeaderMap;
use clap::Parser;
use serde_json::json;

const TOKEN: &str = "hookwire-bench-token";
/// How long to wait for the last deliveries before counting the rest as lost.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Parser)]
#[command(about = "Benchmark Hookwire on loopback against a raw keep-alive baseline")]
struct Args {
    /// Messages to send.
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Requests in flight (API calls, and baseline requests).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Endpoints per message.
    #[arg(long, default_value_t = 1)]
    endpoints: usize,
    /// Payload size in bytes.
    #[arg(long, default_value_t = 1024)]
    payload_bytes: usize,
    /// The hookwire binary to run.
    #[arg(long, default_value = "target/release/hookwire")]
    hookwire: String,
    /// `disk` (fsync, the default) or `process`.
    #[arg(long, default_value = "disk")]
    durability: String,
    /// Send at this many messages per second instead of as fast as possible (latency runs).
    #[arg(long)]
    rate: Option<u64>,
    /// Point the endpoints at a listener that never answers, and report memory with the
    /// resulting backlog instead of waiting for deliveries.
    #[arg(long)]
    dead: bool,
    /// A PostgreSQL database to run on (`postgres://…`; the run uses a fresh schema in it), or an
    /// existing SQLite file (`sqlite://PATH`, used as it is), instead of a fresh SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    /// Hookwire processes sharing the PostgreSQL database; messages are sent to them in turn.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
}

/// A listener that accepts connections and never answers.
async fn start_dead_receiver() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    Ok(url)
}

#[derive(Default)]
struct Arrivals {
    count: AtomicUsize,
    by_id: Mutex<HashMap<String, u32>>,
    latencies_us: Mutex<Vec<u64>>,
}

fn micros_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_micros() as u64
}

/// The receiver: counts deliveries by webhook-id and their send→arrival latency.
async fn start_receiver(arrivals: Arc<Arrivals>) -> anyhow::Result<String> {
    let handler = move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
        let arrivals = arrivals.clone();
        async move {
            let now = micros_now();
            if let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok()) {
                // One delivery per endpoint shares a webhook-id: count per endpoint path.
                *arrivals.by_id.lock().unwrap().entry(format!("{} {id}", uri.path())).or_default() += 1;
                if let Some(sent) = sent_at(&body) {
                    arrivals.latencies_us.lock().unwrap().push(now.saturating_sub(sent));
                }
            }
            arrivals.count.fetch_add(1, Ordering::Relaxed);
            "ok"
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(handler)).await });
    Ok(url)
}

/// `"sentAt":<micros>` from a payload, found without parsing the whole body.
fn sent_at(body: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("\"sentAt\":")? + 9;
    text[start..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64 / 1_000.0
}

/// Runs `total` requests made by `make` with `concurrency` in flight, at most `rate` per second
/// when given; returns (elapsed, latencies µs).
async fn drive<F, Fut>(total: usize, concurrency: usize, rate: Option<u64>, make: F) -> (Duration, Vec<u64>)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let make = Arc::new(make);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (next, make) = (next.clone(), make.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return latencies;
                }
                if let Some(rate) = rate {
                    let due = started + Duration::from_secs_f64(n as f64 / rate as f64);
                    tokio::time::sleep_until(due.into()).await;
                }
                let sent = Instant::now();
                if make(n).await {
                    latencies.push(sent.elapsed().as_micros() as u64);
                }
            }
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    for task in tasks {
        latencies.extend(task.await.unwrap_or_default());
    }
    latencies.sort_unstable();
    (started.elapsed(), latencies)
}

/// The database URL every node uses: a fresh SQLite file in `dir`, or a fresh schema in the
/// PostgreSQL database given.
async fn database_url(args: &Args, dir: &std::path::Path) -> anyhow::Result<String> {
    match &args.database_url {
        // An existing SQLite file, used as it is (e.g. one holding millions of old attempts).
        Some(url) if url.starts_with("sqlite://") => Ok(url.clone()),
        Some(url) => {
            let schema = format!("hookwire_bench_{}", std::process::id());
            Ok(hookwire_store::postgres::url_with_fresh_schema(url, &schema).await?)
        }
        None if args.nodes > 1 => bail!("--nodes above 1 needs --database-url postgres://…"),
        None => Ok(format!("sqlite://{}", dir.join("hookwire.db").display())),
    }
}

fn start_hookwire(args: &Args, database_url: &str) -> anyhow::Result<(Child, String)> {
    let mut child = Command::new(&args.hookwire)
        .args(["serve", "--listen", "127.0.0.1:0", "--allow-private-networks", "--durability", &args.durability])
        .arg("--database-url")
        .arg(database_url)
        .env("HOOKWIRE_ADMIN_TOKEN", TOKEN)
        .env("HOOKWIRE_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {} (build it with `cargo build --release`)", args.hookwire))?;
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().context("stdout")?).read_line(&mut line)?;
    let url = line.trim().strip_prefix("Hookwire listening on ").context("unexpected first line")?.to_owned();
    Ok((child, url))
}

/// The peak RSS of every node, summed.
fn peak_rss_mib(children: &[Child]) -> f64 {
    let kib: f64 = children
        .iter()
        .map(|child| {
            let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
                .unwrap_or(0.0)
        })
        .sum();
    kib / 1024.0
}

fn stop(children: Vec<Child>) {
    for mut child in children {
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let _ = child.wait();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency).build()?;
    let arrivals = Arc::new(Arrivals::default());
    let receiver = start_receiver(arrivals.clone()).await?;
    let pad = "x".repeat(args.payload_bytes.saturating_sub(40));

    // Baseline: the same receiver, a plain keep-alive client, the same body size.
    let baseline_body = Bytes::from(json!({"pad": pad, "sentAt": 0}).to_string());
    let (elapsed, _) = {
        let (client, url, body) = (client.clone(), receiver.clone(), baseline_body);
        drive(args.messages, args.concurrency, None, move |_| {
            let request = client.post(&url).header("webhook-id", "baseline").body(body.clone());
            async move { request.send().await.is_ok_and(|r| r.status().is_success()) }
        })
        .await
    };
    let baseline_rps = args.messages as f64 / elapsed.as_secs_f64();
    arrivals.by_id.lock().unwrap().clear();
    arrivals.latencies_us.lock().unwrap().clear();
    arrivals.count.store(0, Ordering::Relaxed);

    let dir = tempfile::tempdir()?;
    let database = database_url(&args, dir.path()).await?;
    let mut children = Vec::new();
    let mut urls = Vec::new();
    for _ in 0..args.nodes.max(1) {
        let (child, url) = start_hookwire(&args, &database)?;
        children.push(child);
        urls.push(url);
    }
    let url = urls[0].clone();
    let api = |path: &str| format!("{url}{path}");
    client.post(api("/api/v1/app")).bearer_auth(TOKEN).json(&json!({"name": "bench", "uid": "bench"})).send().await?;
    let target = if args.dead { start_dead_receiver().await? } else { receiver.clone() };
    for n in 0..args.endpoints {
        let endpoint = json!({"url": format!("{target}/e{n}")});
        let response = client.post(api("/api/v1/app/bench/endpoint")).bearer_auth(TOKEN).json(&endpoint).send().await?;
        if !response.status().is_success() {
            bail!("creating an endpoint failed: {}", response.text().await?);
        }
    }

    let accepted = Arc::new(AtomicUsize::new(0));
    let (send_elapsed, accept_latencies) = {
        let targets: Vec<String> = urls.iter().map(|url| format!("{url}/api/v1/app/bench/msg")).collect();
        let (client, pad, accepted) = (client.clone(), pad.clone(), accepted.clone());
        drive(args.messages, args.concurrency, args.rate, move |n| {
            let body = json!({"eventType": "bench.event", "payload": {"n": n, "sentAt": micros_now(), "pad": pad}});
            let request = client.post(&targets[n % targets.len()]).bearer_auth(TOKEN).json(&body);
            let accepted = accepted.clone();
            async move {
                let ok = request.send().await.is_ok_and(|r| r.status().as_u16() == 202);
                if ok {
                    accepted.fetch_add(1, Ordering::Relaxed);
                }
                ok
            }
        })
        .await
    };
    let sent_started = Instant::now() - send_elapsed;
    let expected = accepted.load(Ordering::Relaxed) * args.endpoints;
    if args.dead {
        let rss = peak_rss_mib(&children);
        println!(
            "dead endpoints: {} messages accepted ({} deliveries queued) at {:.0}/s; Hookwire peak RSS {rss:.0} MiB",
            accepted.load(Ordering::Relaxed),
            expected,
            accepted.load(Ordering::Relaxed) as f64 / send_elapsed.as_secs_f64()
        );
        stop(children);
        return Ok(());
    }
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while arrivals.count.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let end_to_end = sent_started.elapsed();
    let rss = peak_rss_mib(&children);
    let children_count = children.len();
    stop(children);

    let (distinct, duplicates) = {
        let by_id = arrivals.by_id.lock().unwrap();
        (by_id.len(), by_id.values().map(|c| (*c as usize).saturating_sub(1)).sum::<usize>())
    };
    let mut latencies = arrivals.latencies_us.lock().unwrap().clone();
    latencies.sort_unstable();
    let delivered = arrivals.count.load(Ordering::Relaxed);
    let deliveries_per_second = delivered as f64 / end_to_end.as_secs_f64();
    if let Some(rate) = args.rate {
        println!("(paced at {rate} messages/s)");
    }
    println!(
        "| database | nodes | messages | endpoints | concurrency | durability | baseline req/s | accepted/s | accept p50 ms | accept p99 ms | delivered/s | of baseline | send→arrival p50 ms | p99 ms | peak RSS MiB | lost | duplicates |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {} | {} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.0} | {:.0} % | {:.2} | {:.2} | {:.0} | {} | {} |",
        if args.database_url.as_deref().is_some_and(|u| u.starts_with("postgres")) { "PostgreSQL" } else { "SQLite" },
        children_count,
        args.messages,
        args.endpoints,
        args.concurrency,
        args.durability,
        baseline_rps,
        accepted.load(Ordering::Relaxed) as f64 / send_elapsed.as_secs_f64(),
        percentile(&accept_latencies, 0.50),
        percentile(&accept_latencies, 0.99),
        deliveries_per_second,
        100.0 * deliveries_per_second / baseline_rps,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        rss,
        expected.saturating_sub(distinct),
        duplicates,
    );
    Ok(())
}
