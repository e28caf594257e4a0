//! Deliveries over TLS, end to end: a receiver with a certificate from a test CA (fixtures/tls,
//! valid until 2126) is reached when that CA is configured as `delivery_ca_file`, and without
//! it the attempt is recorded as a TLS failure naming the cause.

mod support;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use support::TestApp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls").join(name)
}

/// An HTTPS receiver for `localhost` answering every request 200; keeps each request's head.
struct TlsReceiver {
    url: String,
    heads: Arc<Mutex<Vec<String>>>,
}

impl TlsReceiver {
    async fn start() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let cert = CertificateDer::from_pem_file(fixture("localhost.pem")).unwrap();
        let key = PrivateKeyDer::from_pem_file(fixture("localhost.key")).unwrap();
        let config = rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(vec![cert], key).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://localhost:{}/hook", listener.local_addr().unwrap().port());
        let heads: Arc<Mutex<Vec<String>>> = Arc::default();
        let kept = heads.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, kept) = (acceptor.clone(), kept.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let mut buffer = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        // One request: the head, then content-length bytes of body.
                        let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
                            match tls.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                            }
                            continue;
                        };
                        let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                            })
                            .and_then(|v| v.parse::<usize>().ok())
                            .unwrap_or(0);
                        while buffer.len() < end + 4 + length {
                            match tls.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                            }
                        }
                        buffer.drain(..end + 4 + length);
                        kept.lock().unwrap().push(head);
                        if tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self { url, heads }
    }
}

async fn first_attempt(app: &TestApp, app_id: &str, msg_id: &str) -> Value {
    let body = app
        .get_until(&format!("/api/v1/app/{app_id}/attempt/msg/{msg_id}"), |v| {
            v["data"].as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    body["data"][0].clone()
}

#[tokio::test]
async fn a_receiver_on_a_private_ca_is_reached_once_the_ca_is_configured() {
    let receiver = TlsReceiver::start().await;
    let app = TestApp::start_with(|config| config.delivery_ca_file = Some(fixture("ca.pem"))).await;
    let app_id = app.create_app().await;
    app.create_endpoint(&app_id, json!({"url": receiver.url})).await;
    let msg_id = app.send(&app_id, "a.b", json!({"n": 1})).await["id"].as_str().unwrap().to_owned();
    let attempt = first_attempt(&app, &app_id, &msg_id).await;
    assert_eq!((attempt["responseStatusCode"].as_i64(), attempt["response"].as_str()), (Some(200), Some("ok")));
    let heads = receiver.heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 1);
    assert!(heads[0].starts_with("POST /hook HTTP/1.1"), "{}", heads[0]);
    assert!(heads[0].to_ascii_lowercase().contains("webhook-signature: v1,"), "{}", heads[0]);
    app.stop().await;
}

#[tokio::test]
async fn without_the_ca_the_attempt_is_a_tls_failure_naming_the_cause() {
    let receiver = TlsReceiver::start().await;
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let once = json!({"maxRetries": 0, "intervalMs": 0});
    app.create_endpoint(&app_id, json!({"url": receiver.url, "retryPolicy": once})).await;
    let msg_id = app.send(&app_id, "a.b", json!({})).await["id"].as_str().unwrap().to_owned();
    let attempt = first_attempt(&app, &app_id, &msg_id).await;
    assert_eq!((attempt["errorKind"].as_str(), attempt["responseStatusCode"].as_i64()), (Some("tls"), Some(0)));
    assert!(attempt["response"].as_str().unwrap().contains("certificate"), "{attempt}");
    assert!(receiver.heads.lock().unwrap().is_empty(), "nothing was sent in the clear or otherwise");
    app.stop().await;
}

#[tokio::test]
async fn a_ca_file_without_certificates_stops_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    for (file, expected) in [(empty, "holds no PEM certificate"), (dir.path().join("missing.pem"), "missing.pem")] {
        let config = hookwire_server::Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: support::database_url(&dir).await,
            delivery_ca_file: Some(file.clone()),
            ..Default::default()
        };
        let error = hookwire_server::Server::build(config).await.err().expect("refuses to start").to_string();
        assert!(error.contains(&file.display().to_string()) && error.contains(expected), "{error}");
    }
}
