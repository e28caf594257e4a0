//! Receivers that misbehave on purpose: each must cost Hookwire one bounded attempt, never
//! memory, connections or workers.

mod support;

use std::time::Duration;

use serde_json::json;
use support::TestApp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy)]
enum Behaviour {
    /// Accepts and never answers.
    Hang,
    /// Accepts, reads the request, and resets the connection.
    Reset,
    /// Answers 200 with a 1 GiB body, as fast as it can.
    HugeBody,
    /// Answers one byte every 200 ms.
    Trickle,
}

async fn read_request(stream: &mut TcpStream) {
    let mut buffer = vec![0u8; 64 * 1024];
    let _ = tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buffer)).await;
}

async fn misbehave(behaviour: Behaviour, mut stream: TcpStream) {
    read_request(&mut stream).await;
    match behaviour {
        Behaviour::Hang => tokio::time::sleep(Duration::from_secs(60)).await,
        Behaviour::Reset => {
            // A zero linger turns the close into a TCP reset; with zero it cannot block.
            #[allow(deprecated)]
            stream.set_linger(Some(Duration::ZERO)).unwrap();
            drop(stream);
        }
        Behaviour::HugeBody => {
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", 1u64 << 30);
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let block = vec![b'x'; 64 * 1024];
            for _ in 0..(1 << 14) {
                if stream.write_all(&block).await.is_err() {
                    return; // Hookwire stopped reading and closed: what we want
                }
            }
        }
        Behaviour::Trickle => {
            for byte in b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok" {
                if stream.write_all(&[*byte]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// A server on 127.0.0.1:0 that treats every connection the same bad way.
async fn hostile(behaviour: Behaviour) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(misbehave(behaviour, stream));
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_receivers_cost_one_bounded_attempt_each() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let cases = [
        (Behaviour::Hang, "hang"),
        (Behaviour::Reset, "reset"),
        (Behaviour::HugeBody, "huge"),
        (Behaviour::Trickle, "trickle"),
    ];
    let mut endpoints = Vec::new();
    for (behaviour, name) in cases {
        let url = hostile(behaviour).await;
        let endpoint = app
            .create_endpoint(&app_id, json!({"url": url, "timeoutMs": 1000, "retryPolicy": {"maxRetries": 0, "intervalMs": 0}, "eventTypes": [name]}))
            .await;
        endpoints.push((name, endpoint["id"].as_str().unwrap().to_owned()));
        app.post_ok(&format!("/api/v1/app/{app_id}/msg"), json!({"eventType": name, "payload": {"n": 1}}), 202).await;
    }
    for (name, endpoint_id) in endpoints {
        let path = format!("/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}");
        let attempts = app.get_until(&path, |v| v["data"].as_array().is_some_and(|d| d.len() == 1)).await;
        let attempt = &attempts["data"][0];
        let response = attempt["response"].as_str().unwrap();
        match name {
            "hang" | "trickle" => assert_eq!(attempt["errorKind"], "timeout", "{name}: {attempt}"),
            "reset" => {
                assert_eq!(attempt["responseStatusCode"], 0, "{attempt}");
                assert!(matches!(attempt["errorKind"].as_str(), Some("io" | "connect")), "{name}: {attempt}");
            }
            "huge" => {
                assert_eq!(
                    (attempt["statusText"].as_str(), attempt["responseStatusCode"].as_i64()),
                    (Some("success"), Some(200))
                );
                assert_eq!(response.len(), 4096, "only the first 4 KiB of a response is kept");
            }
            _ => unreachable!(),
        }
        assert!(
            attempt["responseDurationMs"].as_u64().unwrap() < 10_000,
            "{name} was bounded by the deadline: {attempt}"
        );
    }
    // The workers are free again: a healthy endpoint still gets its message.
    let receiver = support::receiver::Receiver::start().await;
    app.create_endpoint(&app_id, json!({"url": receiver.url, "eventTypes": ["healthy"]})).await;
    app.post_ok(&format!("/api/v1/app/{app_id}/msg"), json!({"eventType": "healthy", "payload": {}}), 202).await;
    receiver.wait_for(1).await;
    app.stop().await;
}
