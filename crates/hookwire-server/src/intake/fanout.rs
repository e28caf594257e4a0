//! Which endpoints of an application receive a message, and as how many deliveries: event type
//! patterns, channels and the endpoint's CEL filter decide whether; chunking decides how many.
//! Compiled filters are cached per endpoint version.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

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
pub type FilterFailure = (EndpointId, String);

/// A message's payload, parsed on first use and then shared by whatever needs it (the schema
/// check, every endpoint's filter, chunking): at most one parse per message.
pub struct ParsedPayload<'a> {
    message: &'a Message,
    value: OnceLock<Value>,
}

impl<'a> ParsedPayload<'a> {
    pub fn new(message: &'a Message) -> Self {
        Self { message, value: OnceLock::new() }
    }

    /// The payload as JSON (`null` once expunged); a raw payload is its text, as a string.
    pub fn value(&self) -> &Value {
        self.value.get_or_init(|| match (&self.message.payload, self.message.is_raw()) {
            (Some(raw), true) => Value::String(raw.clone()),
            (Some(payload), false) => serde_json::from_str(payload).unwrap_or(Value::Null),
            (None, _) => Value::Null,
        })
    }
}

#[derive(Default)]
pub struct Fanout {
    /// Each endpoint's compiled filter with its source: a changed filter compiles again, however
    /// quickly it changed (an `updatedAt` can repeat within a millisecond).
    filters: Mutex<HashMap<EndpointId, (String, Arc<Filter>)>>,
}

impl Fanout {
    /// The deliveries `message` needs across `endpoints`, and the filters that failed.
    pub fn plan(
        &self,
        endpoints: Vec<Arc<Endpoint>>,
        message: &Message,
        payload: &ParsedPayload<'_>,
    ) -> (Vec<Planned>, Vec<FilterFailure>) {
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
            if let Some(filter) = self.filter_of(&endpoint) {
                match filter.matches(&message.event_type, payload.value(), channels) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(error) => {
                        failures.push((endpoint.id, error));
                        continue;
                    }
                }
            }
            // A raw payload is sent whole, whatever the endpoint's chunking.
            let pages = match &endpoint.chunking {
                Some(chunking) if !message.is_raw() => chunking.pages(payload.value()),
                _ => None,
            };
            match pages {
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
        if let Some((cached, filter)) = cache.get(&endpoint.id)
            && cached.as_str() == source
        {
            return Some(filter.clone());
        }
        // Stored filters compiled when they were saved; one that no longer does matches nothing.
        let filter = Arc::new(Filter::compile(source).unwrap_or_else(|_| Filter::compile("false").expect("valid")));
        if cache.len() >= FILTER_CACHE_ENTRIES_MAX {
            cache.clear();
        }
        cache.insert(endpoint.id, (source.to_owned(), filter.clone()));
        Some(filter)
    }
}

/// The deliveries of a message for `endpoint` alone, ignoring its subscription (sends aimed at
/// one endpoint): one per page when it is chunked, else one.
pub fn chunks(endpoint: &Arc<Endpoint>, payload: &ParsedPayload<'_>) -> Vec<Planned> {
    let pages = endpoint.chunking.as_ref().filter(|_| !payload.message.is_raw()).and_then(|c| c.pages(payload.value()));
    match pages {
        Some(pages) => (1..=pages).map(|page| Planned { endpoint: endpoint.clone(), chunk: Some(page) }).collect(),
        None => vec![Planned { endpoint: endpoint.clone(), chunk: None }],
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
