//! The state every handler shares: the store, the dispatcher, identity and configuration.

use std::sync::Arc;

use hookwire_core::time_fmt::{Millis, to_millis};
use hookwire_store::Store;

use crate::auth::Auth;
use crate::config::Config;
use crate::delivery::Dispatcher;
use crate::delivery::fanout::Fanout;
use crate::delivery::sender::Sender;
use crate::payload_schemas::PayloadSchemas;

#[derive(Clone)]
pub struct AppState {
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
