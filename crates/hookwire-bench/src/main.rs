//! `hookwire-bench`: starts a fast loopback receiver and the real `hookwire` binary, sends N
//! messages at concurrency C to an application with E endpoints, and reports accept throughput
//! and latency, end-to-end deliveries/s, send→arrival latency, Hookwire's peak RSS, lost and
//! duplicate deliveries, and how much CPU the host stole meanwhile — beside a raw baseline: the
//! same receiver driven by a plain keep-alive client, so every figure reads as a fraction of this
//! machine's loopback limit.

mod wire;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use axum::body::Bytes;
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
    /// `disk` (fsync, the default) or `process` (SQLite only: Hookwire refuses it on PostgreSQL).
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
    /// Give every endpoint a simple transformation (adds a field to each payload), to measure
    /// what running JavaScript per delivery costs.
    #[arg(long)]
    transformation: bool,
    /// FIFO destinations (`fifoEndpoint`) on the application beside the endpoints, each
    /// receiving every message in batches; their events/s is reported.
    #[arg(long, default_value_t = 0)]
    destinations: usize,
    /// Polling endpoints (`pollingEndpoint`) on the application that nobody reads: what the
    /// presence of destinations costs the endpoints' deliveries.
    #[arg(long, default_value_t = 0)]
    pollers: usize,
    /// The destinations' `batchSize`.
    #[arg(long, default_value_t = 100)]
    batch_size: u32,
    /// Create the destinations paused and enable them after every message was accepted: their
    /// rate is then the drain of a backlog, not bounded by the accept rate.
    #[arg(long)]
    drain: bool,
}

/// The handler `--transformation` sets: one field added, the rest (and the receiver's `n` and
/// `sentAt`) kept.
const BENCH_TRANSFORMATION: &str = "function handler(webhook) { webhook.payload.text = `${webhook.eventType} #${webhook.payload.n}`; return webhook; }";

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

fn micros_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_micros() as u64
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64 / 1_000.0
}

/// What one run of requests sends: the path, the bearer token, and the status that counts as
/// success; each request's body comes from `body(n)` and goes to target `n % targets`.
struct Run {
    path: &'static str,
    token: Option<&'static str>,
    expected_status: u16,
}

/// Sends `total` requests with `concurrency` in flight (each lane its own keep-alive connection
/// per target), at most `rate` per second when given; returns (elapsed, sorted latencies µs) and
/// how many answered with the expected status.
async fn drive<F>(
    total: usize,
    concurrency: usize,
    rate: Option<u64>,
    targets: Arc<Vec<std::net::SocketAddr>>,
    run: Run,
    body: F,
) -> (Duration, Vec<u64>, usize)
where
    F: Fn(usize) -> Bytes + Send + Sync + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let (body, run) = (Arc::new(body), Arc::new(run));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (next, body, run, targets) = (next.clone(), body.clone(), run.clone(), targets.clone());
        tasks.push(tokio::spawn(async move {
            let mut lane = wire::Lane::new(targets.clone());
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
                match lane.post(n % targets.len(), run.path, run.token, body(n)).await {
                    Ok(status) if status == run.expected_status => latencies.push(sent.elapsed().as_micros() as u64),
                    Ok(_) => {}
                    Err(error) => eprintln!("request {n} failed: {error:#}"),
                }
            }
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    for task in tasks {
        latencies.extend(task.await.unwrap_or_default());
    }
    latencies.sort_unstable();
    let succeeded = latencies.len();
    (started.elapsed(), latencies, succeeded)
}

/// The database URL every node uses: a fresh SQLite file in `dir`, or a fresh schema in the
/// PostgreSQL database given.
async fn database_url(args: &Args, dir: &std::path::Path) -> anyhow::Result<String> {
    match &args.database_url {
        // An existing SQLite file, used as it is (e.g. one holding millions of old attempts).
        Some(url) if url.starts_with("sqlite://") => Ok(url.clone()),
        Some(url) => Ok(hookwire_store::postgres::url_with_fresh_schema(url, &bench_schema()).await?),
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

/// CPU time (user and system) every node has used so far, summed, in µs; with `--nodes` on one
/// machine the sum is what the machine paid.
fn cpu_used_us(children: &[Child]) -> u64 {
    let ticks_per_second = 100; // USER_HZ, 100 on every Linux this runs on
    children
        .iter()
        .map(|child| {
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap_or_default();
            // Fields after the command name (which may hold spaces) start at the state, field 3.
            let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
            let ticks: u64 = fields.get(11..13).map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
            ticks * 1_000_000 / ticks_per_second
        })
        .sum()
}

/// The machine's CPU time so far, in ticks: (stolen by the hypervisor, all). A virtual machine
/// whose host is busy loses time to steal, and every figure of the run with it, so the report
/// says how much was stolen.
fn cpu_ticks() -> (u64, u64) {
    stolen_and_total_ticks(&std::fs::read_to_string("/proc/stat").unwrap_or_default())
}

/// (steal, all) from the first line of `/proc/stat`:
/// `cpu  user nice system idle iowait irq softirq steal guest guest_nice`; guest time is already
/// counted in user, so the total is the first eight.
fn stolen_and_total_ticks(stat: &str) -> (u64, u64) {
    let ticks: Vec<u64> =
        stat.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    (ticks.get(7).copied().unwrap_or(0), ticks.iter().take(8).sum())
}

/// The share of the machine's CPU time stolen since `before` (from [`cpu_ticks`]), in percent.
fn steal_percent(before: (u64, u64)) -> f64 {
    let (steal, total) = cpu_ticks();
    100.0 * steal.saturating_sub(before.0) as f64 / total.saturating_sub(before.1).max(1) as f64
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

/// The run's Hookwire nodes, stopped when it ends however it ends (an error on the way too,
/// before `main` drops their schema).
struct Nodes(Vec<Child>);

impl std::ops::Deref for Nodes {
    type Target = [Child];

    fn deref(&self) -> &[Child] {
        &self.0
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let postgres = args.database_url.clone().filter(|url| !url.starts_with("sqlite://"));
    let result = bench(args).await;
    // The run's schema goes with it, whatever the run's outcome.
    if let Some(url) = postgres
        && let Err(error) = hookwire_store::postgres::drop_schema(&url, &bench_schema()).await
    {
        eprintln!("could not drop the run's schema {}: {error}", bench_schema());
    }
    result
}

/// The PostgreSQL schema a run uses (made fresh at its start, dropped at its end).
fn bench_schema() -> String {
    format!("hookwire_bench_{}", std::process::id())
}

async fn bench(args: Args) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().build()?;
    let arrivals = Arc::new(wire::Arrivals::new(args.messages, args.endpoints));
    let receiver = wire::start_receiver(arrivals.clone()).await?;
    let pad = "x".repeat(args.payload_bytes.saturating_sub(40));

    // Baseline: the same receiver, a plain keep-alive client, the same body size.
    let baseline_body = Bytes::from(json!({"pad": pad, "sentAt": 0}).to_string());
    let (elapsed, _, _) = {
        let targets = Arc::new(vec![wire::socket_addr(&receiver)?]);
        let run = Run { path: "/", token: None, expected_status: 200 };
        drive(args.messages, args.concurrency, None, targets, run, move |_| baseline_body.clone()).await
    };
    let baseline_rps = args.messages as f64 / elapsed.as_secs_f64();
    arrivals.reset();

    let dir = tempfile::tempdir()?;
    let database = database_url(&args, dir.path()).await?;
    let mut children = Nodes(Vec::new());
    let mut urls = Vec::new();
    for _ in 0..args.nodes.max(1) {
        let (child, url) = start_hookwire(&args, &database)?;
        children.0.push(child);
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
        if args.transformation {
            let created: serde_json::Value = response.json().await?;
            let id = created["id"].as_str().unwrap_or_default();
            let path = format!("/api/v1/app/bench/endpoint/{id}/transformation");
            let code = json!({"code": BENCH_TRANSFORMATION});
            let response = client.patch(api(&path)).bearer_auth(TOKEN).json(&code).send().await?;
            if !response.status().is_success() {
                bail!("setting the transformation failed: {}", response.text().await?);
            }
        }
    }
    if args.transformation {
        println!("every endpoint transforms: {BENCH_TRANSFORMATION}");
    }
    for _ in 0..args.pollers {
        let poller = json!({"type": "pollingEndpoint"});
        let response =
            client.post(api("/api/v1/app/bench/destination")).bearer_auth(TOKEN).json(&poller).send().await?;
        if !response.status().is_success() {
            bail!("creating a polling endpoint failed: {}", response.text().await?);
        }
    }
    let mut destinations = Vec::new();
    for n in 0..args.destinations {
        let status = if args.drain { "paused" } else { "enabled" };
        let destination = json!({"type": "fifoEndpoint", "batchSize": args.batch_size, "status": status,
                                 "config": {"url": format!("{receiver}/d{n}")}});
        let response =
            client.post(api("/api/v1/app/bench/destination")).bearer_auth(TOKEN).json(&destination).send().await?;
        if !response.status().is_success() {
            bail!("creating a destination failed: {}", response.text().await?);
        }
        let created: serde_json::Value = response.json().await?;
        destinations.push(created["id"].as_str().unwrap_or_default().to_owned());
    }

    let cpu_before_us = cpu_used_us(&children);
    let ticks_before = cpu_ticks();
    let (send_elapsed, accept_latencies, accepted) = {
        let targets = Arc::new(urls.iter().map(|url| wire::socket_addr(url)).collect::<anyhow::Result<Vec<_>>>()?);
        let run = Run { path: "/api/v1/app/bench/msg", token: Some(TOKEN), expected_status: 202 };
        drive(args.messages, args.concurrency, args.rate, targets, run, move |n| {
            let body = format!(
                r#"{{"eventType":"bench.event","payload":{{"n":{n},"sentAt":{},"pad":"{pad}"}}}}"#,
                micros_now()
            );
            Bytes::from(body)
        })
        .await
    };
    let sent_started = Instant::now() - send_elapsed;
    let expected = accepted * args.endpoints;
    if args.dead {
        let rss = peak_rss_mib(&children);
        println!(
            "dead endpoints: {} messages accepted ({} deliveries queued) at {:.0}/s; Hookwire peak RSS {rss:.0} MiB; CPU stolen by the host {:.0} %",
            accepted,
            expected,
            accepted as f64 / send_elapsed.as_secs_f64(),
            steal_percent(ticks_before),
        );
        drop(children);
        return Ok(());
    }
    let drain_started = Instant::now();
    let drain_cpu_before_us = cpu_used_us(&children);
    if args.drain {
        for id in &destinations {
            let path = format!("/api/v1/app/bench/destination/{id}");
            client.patch(api(&path)).bearer_auth(TOKEN).json(&json!({"status": "enabled"})).send().await?;
        }
    }
    let expected_events = accepted * args.destinations;
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    let mut end_to_end = None;
    loop {
        let delivered = arrivals.count.load(Ordering::Relaxed) >= expected;
        if delivered && end_to_end.is_none() {
            end_to_end = Some(sent_started.elapsed());
        }
        if delivered && arrivals.batched_events.load(Ordering::Relaxed) >= expected_events || Instant::now() > deadline
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let end_to_end = end_to_end.unwrap_or_else(|| sent_started.elapsed());
    let drain_cpu_us = cpu_used_us(&children) - drain_cpu_before_us;
    if args.destinations > 0 {
        let (from, elapsed) = match args.drain {
            true => ("enabled after the send", drain_started.elapsed()),
            false => ("the send's start", sent_started.elapsed()),
        };
        let events = arrivals.batched_events.load(Ordering::Relaxed);
        let drain_cpu = match args.drain {
            true => format!("; Hookwire CPU {:.1} µs/event", drain_cpu_us as f64 / events.max(1) as f64),
            false => String::new(),
        };
        println!(
            "destinations: {} fifoEndpoint, batchSize {}: {events} of {expected_events} events in {} batches, {:.2} s from {from} = {:.0} events/s{drain_cpu}",
            args.destinations,
            args.batch_size,
            arrivals.batches.load(Ordering::Relaxed),
            elapsed.as_secs_f64(),
            events as f64 / elapsed.as_secs_f64(),
        );
    }
    let rss = peak_rss_mib(&children);
    let cpu_per_message_us = (cpu_used_us(&children) - cpu_before_us) as f64 / accepted.max(1) as f64;
    let stolen = steal_percent(ticks_before);
    let children_count = children.len();
    drop(children);

    let (distinct, duplicates, latencies) = arrivals.summary();
    let delivered = arrivals.count.load(Ordering::Relaxed);
    let deliveries_per_second = delivered as f64 / end_to_end.as_secs_f64();
    if let Some(rate) = args.rate {
        println!("(paced at {rate} messages/s)");
    }
    println!(
        "| database | nodes | messages | endpoints | concurrency | durability | baseline req/s | accepted/s | accept p50 ms | accept p99 ms | delivered/s | of baseline | send→arrival p50 ms | p99 ms | peak RSS MiB | Hookwire CPU µs/msg | lost | duplicates | host steal |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {} | {} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.0} | {:.0} % | {:.2} | {:.2} | {:.0} | {:.0} | {} | {} | {:.0} % |",
        if args.database_url.as_deref().is_some_and(|u| u.starts_with("postgres")) { "PostgreSQL" } else { "SQLite" },
        children_count,
        args.messages,
        args.endpoints,
        args.concurrency,
        args.durability,
        baseline_rps,
        accepted as f64 / send_elapsed.as_secs_f64(),
        percentile(&accept_latencies, 0.50),
        percentile(&accept_latencies, 0.99),
        deliveries_per_second,
        100.0 * deliveries_per_second / baseline_rps,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        rss,
        cpu_per_message_us,
        expected.saturating_sub(distinct),
        duplicates,
        stolen,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::stolen_and_total_ticks;

    #[test]
    fn steal_is_the_eighth_field_and_guest_time_is_not_counted_twice() {
        let stat = "cpu  100 2 30 800 5 1 2 60 40 0\ncpu0 50 1 15 400 2 0 1 30 20 0\n";
        assert_eq!(stolen_and_total_ticks(stat), (60, 1000));
        assert_eq!(stolen_and_total_ticks(""), (0, 0), "no /proc/stat: nothing stolen");
    }
}
