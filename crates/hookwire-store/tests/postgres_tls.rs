//! `sslmode=verify-ca` and `verify-full` against a cluster of the test's own serving a
//! certificate from a test CA: the right CA and name connect; a wrong name (verify-full) or a
//! different CA is refused before anything is sent.

#[path = "support/pg_cluster.rs"]
mod pg_cluster;

use std::path::PathBuf;

use hookwire_store::postgres::PgStore;
use hookwire_store::prelude::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../hookwire-server/tests/fixtures/tls").join(name)
}

/// A CA of its own (not the one that signed the server's certificate), as a PEM file.
fn other_ca(dir: &std::path::Path) -> PathBuf {
    let (key, cert) = (dir.join("other.key"), dir.join("other.pem"));
    let status = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj"])
        .arg("/CN=Some Other CA")
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    cert
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_and_verify_ca_check_the_servers_certificate() {
    if !pg_cluster::available("verify_full_and_verify_ca_check_the_servers_certificate") {
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cluster = pg_cluster::Cluster::primary();
    cluster.put_file("server.crt", &std::fs::read(fixture("localhost.pem")).unwrap());
    cluster.put_file("server.key", &std::fs::read(fixture("localhost.key")).unwrap());
    cluster.configure(&["ssl = on", "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'"]);
    cluster.restart();
    let ca = fixture("ca.pem");
    let url = |host: &str, mode: &str, root: &std::path::Path| {
        format!("postgres://postgres@{host}:{}/postgres?sslmode={mode}&sslrootcert={}", cluster.port, root.display())
    };

    // The right CA, and the name the certificate carries.
    let store = PgStore::open(&url("localhost", "verify-full", &ca), None, &Default::default()).await.unwrap();
    store.ping().await.unwrap();
    let encrypted = cluster.sql("SELECT count(*) FROM pg_stat_ssl WHERE ssl");
    assert!(encrypted.trim().parse::<u32>().unwrap() >= 1, "{encrypted}");
    drop(store);

    // verify-full checks the name: the certificate says localhost, not 127.0.0.1.
    let wrong_name = PgStore::open(&url("127.0.0.1", "verify-full", &ca), None, &Default::default()).await;
    let error = wrong_name.err().expect("a certificate for another name is refused").to_string();
    assert!(error.contains("certificate") || error.contains("TLS") || error.contains("tls"), "{error}");

    // verify-ca checks the chain only.
    let store = PgStore::open(&url("127.0.0.1", "verify-ca", &ca), None, &Default::default()).await.unwrap();
    store.ping().await.unwrap();
    drop(store);

    // Another CA signed nothing the server shows.
    let dir = tempfile::tempdir().unwrap();
    let other = other_ca(dir.path());
    for mode in ["verify-ca", "verify-full"] {
        let refused = PgStore::open(&url("localhost", mode, &other), None, &Default::default()).await;
        assert!(refused.is_err(), "{mode} with another CA connects");
    }
}
