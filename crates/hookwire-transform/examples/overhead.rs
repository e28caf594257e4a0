//! What one transformation run costs: process CPU per run through the pool, with the bench's
//! handler and payload (`cargo run --release -p hookwire-transform --example overhead`; `PAD=n`
//! pads the payload with n bytes instead of 1,024).

use std::collections::BTreeMap;
use std::time::Instant;

use hookwire_transform::{Key, Limits, Payload, Pool, Webhook};

const CODE: &str = "function handler(webhook) { webhook.payload.text = `${webhook.eventType} #${webhook.payload.n}`; return webhook; }";

fn cpu_us() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    now.tv_sec as u64 * 1_000_000 + now.tv_nsec as u64 / 1_000
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let pool = std::sync::Arc::new(Pool::new(Limits::default()));
    let payload = format!(
        r#"{{"n":1,"sentAt":1700000000000000,"pad":"{}"}}"#,
        "x".repeat(std::env::var("PAD").map_or(1024, |v| v.parse().unwrap()))
    );
    let variables = BTreeMap::new();
    let runs = 50_000;
    {
        let webhook = Webhook {
            method: "POST",
            url: "http://127.0.0.1:9/e0",
            event_type: "bench.event",
            payload: Payload::Json(&payload),
            variables: &variables,
            time_ms: 1_700_000_000_000,
        };
        let started = cpu_us();
        hookwire_transform::direct_cost_probe(CODE, webhook, runs);
        println!("direct: {:.1} µs CPU per run", (cpu_us() - started) as f64 / runs as f64);
    }
    // Five endpoints (five sandboxes per thread, each its own runtime) taking turns, as a
    // message fanned out to five transformed endpoints runs them.
    for (concurrency, endpoints) in [(1usize, 1usize), (64, 1), (64, 5)] {
        let started = (Instant::now(), cpu_us());
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (pool, payload, variables) = (pool.clone(), payload.clone(), variables.clone());
            tasks.push(tokio::spawn(async move {
                for n in 0..runs / concurrency {
                    let webhook = Webhook {
                        method: "POST",
                        url: "http://127.0.0.1:9/e0",
                        event_type: "bench.event",
                        payload: Payload::Json(&payload),
                        variables: &variables,
                        time_ms: 1_700_000_000_000,
                    };
                    let key = Key { owner: format!("ep_bench{}", n % endpoints), version: 1 };
                    pool.run(key, CODE, webhook).await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let (wall, cpu) = (started.0.elapsed(), cpu_us() - started.1);
        println!(
            "concurrency {concurrency}, {endpoints} endpoint(s): {:.1} µs CPU per run, {:.0} runs/s",
            cpu as f64 / runs as f64,
            runs as f64 / wall.as_secs_f64()
        );
    }
}
