//! The state every handler shares: the store, the intake, identity, configuration and the clock.

use std::ops::Deref;
use std::sync::Arc;

use hookwire_store::Store;

use crate::auth::Auth;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::delivery::Dispatcher;
use crate::delivery::sender::Sender;
use crate::intake::Intake;

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
    /// Where every message, resend and recovery enters the delivery pipeline.
    pub intake: Arc<Intake>,
    /// Background tasks (replays, recoveries): started by handlers, run beside them.
    pub tasks: crate::ops::tasks::Tasks,
    /// The delivery engine's handle (its flow-control state, for metrics).
    pub dispatcher: Dispatcher,
    pub auth: Arc<Auth>,
    pub config: Arc<Config>,
    /// The outbound client, for requests outside deliveries (endpoint verification, and the
    /// destination check when an endpoint is created).
    pub sender: Sender,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Delivery activity over time, for the charts.
    pub activity: Arc<crate::activity::Activity>,
    pub clock: SharedClock,
    /// Whether the database answers (`/api/v1/health`).
    pub health: crate::health::Health,
}
