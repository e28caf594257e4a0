//! The state every handler shares: the store, the dispatcher, identity and configuration.

use std::ops::Deref;
use std::sync::Arc;

use hookwire_core::time_fmt::{Millis, to_millis};
use hookwire_store::Store;

use crate::auth::Auth;
use crate::config::Config;
use crate::delivery::Dispatcher;
use crate::delivery::fanout::Fanout;
use crate::delivery::sender::Sender;
use crate::payload_schemas::PayloadSchemas;

/// Cloned by axum for every extractor and middleware of every request, so one reference count to
/// bump, not one per field (their clones and drops showed in the profile).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub dispatcher: Dispatcher,
    pub auth: Arc<Auth>,
    pub config: Arc<Config>,
    pub fanout: Arc<Fanout>,
    pub schemas: Arc<PayloadSchemas>,
    /// The outbound client, for requests outside deliveries (endpoint verification).
    pub sender: Sender,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// The wall clock, read at the edge (handlers and workers) and passed inward.
pub fn now() -> Millis {
    to_millis(time::OffsetDateTime::now_utc())
}
