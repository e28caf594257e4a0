//! A fresh schema on the test database (`HOOKWIRE_TEST_POSTGRES_URL`; `None`, the test skipped,
//! without it) and a side connection to it.

use hookwire_core::MessageId;

pub async fn fresh_schema() -> Option<String> {
    let base = std::env::var("HOOKWIRE_TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty());
    let Some(base) = base else {
        eprintln!("skipped: set HOOKWIRE_TEST_POSTGRES_URL to run on PostgreSQL");
        return None;
    };
    let schema = format!("hw_test_{}", MessageId::generate().to_string().trim_start_matches("msg_"));
    Some(hookwire_store::postgres::url_with_fresh_schema(&base, &schema).await.unwrap())
}

/// A side connection on the test's schema, for what only the catalog (or a lock) can tell.
pub async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}
