//! Fixtures shared by the unit tests of several modules (the engine, the intake, activity).

use std::sync::Arc;

use hookwire_core::model::{Application, Endpoint};
use hookwire_core::time_fmt::Millis;
use hookwire_store::Store;

/// A fresh SQLite store in `dir` (commits survive the process, not a power loss: tests need no
/// fsync).
pub fn sqlite_store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    let path = dir.path().join("hookwire.db");
    Arc::new(hookwire_store::sqlite::SqliteStore::open(&path, hookwire_store::sqlite::Durability::Process).unwrap())
}

/// The application "Acme" and one endpoint subscribed to everything, stored at `now`.
pub async fn app_with_endpoint(store: &dyn Store, now: Millis) -> (Application, Arc<Endpoint>) {
    let app = Application {
        id: hookwire_core::AppId::generate(),
        uid: None,
        name: "Acme".into(),
        throttle_rate: None,
        metadata: Default::default(),
        created_at: now,
        updated_at: now,
    };
    store.create_app(app.clone()).await.unwrap();
    let secret = hookwire_core::signing::generate_secret();
    let endpoint = Endpoint::new(app.id, "https://example.com/hook".into(), secret, now);
    store.create_endpoint(endpoint.clone()).await.unwrap();
    (app, Arc::new(endpoint))
}
