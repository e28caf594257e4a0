//! Which endpoints of an application receive a message, and as how many deliveries: event type
//! patterns, channels and the endpoint's CEL filter decide whether; chunking decides how many.
//! Compiled filters are cached per endpoint version.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hookwire_core::filter::Filter;
use hookwire_core::matching::{channels_match, event_type_matches};
use hookwire_core::model::{Delivery, Endpoint, Message, Status, TriggerType};
use hookwire_core::time_fmt::Millis;
use hookwire_core::{DeliveryId, EndpointId};
use serde_json::Value;

/// Cached compiled filters; an endpoint's entry is replaced when its `updated_at` changes.
/// Bounded: when full it is cleared (filters recompile in microseconds).
const FILTER_CACHE_ENTRIES_MAX: usize = 10_000;

/// One delivery to make: the endpoint, and the page when it receives the message in chunks.
pub struct Planned {
    pub endpoint: Arc<Endpoint>,
    pub chunk: Option<u32>,
}

/// A filter that could not be evaluated: counted against its endpoint, treated as no match.
pub struct FilterFailure {
    pub endpoint: EndpointId,
    pub error: String,
}

#[derive(Default)]
pub struct Fanout {
    filters: Mutex<HashMap<EndpointId, (Millis, Arc<Filter>)>>,
}

impl Fanout {
    /// The deliveries `message` needs across `endpoints`, and the filters that failed.
    pub fn plan(&self, endpoints: Vec<Arc<Endpoint>>, message: &Message) -> (Vec<Planned>, Vec<FilterFailure>) {
        let mut payload: Option<Value> = None;
        let mut planned = Vec::new();
        let mut failures = Vec::new();
        let channels = message.channels.as_deref().unwrap_or_default();
        for endpoint in endpoints {
            if endpoint.disabled
                || !event_type_matches(endpoint.event_types.as_deref(), &message.event_type)
                || !channels_match(endpoint.channels.as_deref(), message.channels.as_deref())
            {
                continue;
            }
            if endpoint.filter.is_some() || endpoint.chunking.is_some() {
                payload.get_or_insert_with(|| parse_payload(message));
            }
            let data = payload.as_ref().unwrap_or(&Value::Null);
            if let Some(filter) = self.filter_of(&endpoint) {
                match filter.matches(&message.event_type, data, channels) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(error) => {
                        failures.push(FilterFailure { endpoint: endpoint.id, error });
                        continue;
                    }
                }
            }
            match endpoint.chunking.as_ref().and_then(|c| c.pages(data)) {
                Some(pages) => {
                    for page in 1..=pages {
                        planned.push(Planned { endpoint: endpoint.clone(), chunk: Some(page) });
                    }
                }
                None => planned.push(Planned { endpoint, chunk: None }),
            }
        }
        (planned, failures)
    }

    fn filter_of(&self, endpoint: &Endpoint) -> Option<Arc<Filter>> {
        let source = endpoint.filter.as_deref()?;
        let mut cache = self.filters.lock().expect("filter cache poisoned");
        if let Some((version, filter)) = cache.get(&endpoint.id)
            && *version == endpoint.updated_at
        {
            return Some(filter.clone());
        }
        // Stored filters compiled when they were saved; one that no longer does matches nothing.
        let filter = Arc::new(Filter::compile(source).unwrap_or_else(|_| Filter::compile("false").expect("valid")));
        if cache.len() >= FILTER_CACHE_ENTRIES_MAX {
            cache.clear();
        }
        cache.insert(endpoint.id, (endpoint.updated_at, filter.clone()));
        Some(filter)
    }
}

/// The pages of `message` for `endpoint` (`[None]` when it is not chunked), ignoring its
/// subscription: for sends aimed at one endpoint.
pub fn chunks(endpoint: &Endpoint, message: &Message) -> Vec<Option<u32>> {
    match endpoint.chunking.as_ref().and_then(|c| c.pages(&parse_payload(message))) {
        Some(pages) => (1..=pages).map(Some).collect(),
        None => vec![None],
    }
}

/// A new delivery of `message` to `endpoint`, due at `due_at`, or parked (no due time) while the
/// endpoint is unverified.
pub fn new_delivery(
    message: &Message,
    endpoint: &Endpoint,
    chunk: Option<u32>,
    trigger: TriggerType,
    now: Millis,
    due_at: Millis,
) -> Delivery {
    Delivery {
        id: DeliveryId::generate(),
        app_id: message.app_id,
        msg_id: message.id,
        endpoint_id: endpoint.id,
        status: Status::Pending,
        attempts: 0,
        next_attempt_at: (!endpoint.unverified).then_some(due_at),
        trigger,
        chunk,
        created_at: now,
        updated_at: now,
    }
}

fn parse_payload(message: &Message) -> Value {
    message.payload.as_deref().and_then(|p| serde_json::from_str(p).ok()).unwrap_or(Value::Null)
}
