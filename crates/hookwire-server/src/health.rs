//! Whether this node can serve: its database answers. `/api/v1/health` is public, so the
//! database is asked at most once per `HEALTH_CACHE_MS` however often load balancers ask (one
//! probe at a time, each bounded by `HEALTH_PROBE_MS`), and a struggling database is not given
//! more work by the checks meant to spare it.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use hookwire_store::Store;

use crate::api::error::ApiError;

/// How long a probe's answer is reused.
pub const HEALTH_CACHE_MS: u64 = 1_000;
/// How long a probe may wait for the database.
pub const HEALTH_PROBE_MS: u64 = 2_000;

#[derive(Default)]
pub struct Health {
    last: std::sync::Mutex<Option<(Instant, bool)>>,
    probing: tokio::sync::Mutex<()>,
}

impl Health {
    /// 204 when the database answered (recently), 503 `database_unavailable` when it did not.
    pub async fn check(&self, store: &dyn Store) -> Result<StatusCode, ApiError> {
        let fresh = || {
            let last = *self.last.lock().expect("health cache poisoned");
            last.filter(|(at, _)| at.elapsed() < Duration::from_millis(HEALTH_CACHE_MS)).map(|(_, up)| up)
        };
        let up = match fresh() {
            Some(up) => up,
            None => {
                let _one_probe = self.probing.lock().await;
                match fresh() {
                    Some(up) => up,
                    None => {
                        let probe = tokio::time::timeout(Duration::from_millis(HEALTH_PROBE_MS), store.ping()).await;
                        let up = matches!(probe, Ok(Ok(())));
                        *self.last.lock().expect("health cache poisoned") = Some((Instant::now(), up));
                        up
                    }
                }
            }
        };
        match up {
            true => Ok(StatusCode::NO_CONTENT),
            false => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "the database is not answering; this node cannot serve",
            )),
        }
    }
}
