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

/// Reads from `stream` until it closes (`true`) or `within` passes (`false`).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

/// Hostile clients of the API port: a socket that says nothing, half a request head, an idle
/// keep-alive connection and a body trickled a byte at a time are each cut off within their
/// bound; beyond the connection cap a client gets a 503 at once, and the API answers again as soon
/// as connections free up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_of_the_api_are_bounded() {
    let app = TestApp::start_with(|config| {
        config.http_header_timeout_ms = 500;
        config.http_body_timeout_ms = 1_000;
        config.http_connections_max = 8;
    })
    .await;
    let address = app.url.trim_start_matches("http://").to_owned();
    let connect = || TcpStream::connect(address.clone());

    let mut silent = connect().await.unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(5)).await, "a silent socket is closed");
    let mut half = connect().await.unwrap();
    half.write_all(b"GET /api/v1/health HTTP/1.1\r\nhost: x\r\n").await.unwrap();
    assert!(closed_within(&mut half, Duration::from_secs(5)).await, "half a head is cut off");

    let mut idle = connect().await.unwrap();
    idle.write_all(b"GET /api/v1/health HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    let mut answer = [0u8; 256];
    let read = idle.read(&mut answer).await.unwrap();
    assert!(String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 204"), "the request is answered");
    assert!(closed_within(&mut idle, Duration::from_secs(5)).await, "an idle keep-alive connection is closed");

    let mut trickle = connect().await.unwrap();
    let head = format!(
        "POST /api/v1/app HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\n\
         content-length: 64\r\n\r\n",
        support::ADMIN_TOKEN
    );
    trickle.write_all(head.as_bytes()).await.unwrap();
    let started = tokio::time::Instant::now();
    let mut response = Vec::new();
    for byte in b"{\"name\": \"slowly, slowly, one byte at a time\"}".iter().cycle() {
        if trickle.write_all(&[*byte]).await.is_err() {
            break;
        }
        let mut buffer = [0u8; 512];
        if let Ok(Ok(read)) = tokio::time::timeout(Duration::from_millis(200), trickle.read(&mut buffer)).await {
            response.extend_from_slice(&buffer[..read]);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "a trickled body is cut off");
    }
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("request_timeout"), "{response}");

    // Fill the cap with silent sockets: the next client is refused with a 503 at once.
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(connect().await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await; // let the server take them all
    let mut refused = connect().await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), refused.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503") && answer.contains("too_many_connections"), "{answer}");
    // The silent ones time out, and the API answers again.
    let health = async {
        loop {
            if let Ok(response) = app.client.get(format!("{}/api/v1/health", app.url)).send().await
                && response.status() == 204
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), health).await.expect("the API answers once the cap frees");
    drop(held);
    app.stop().await;
}
