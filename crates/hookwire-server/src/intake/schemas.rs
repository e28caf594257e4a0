//! Optional validation of message payloads against their event type's JSON Schema (on when
//! `validate_payloads` is set). Compiled schemas are cached per event type, by the schema itself
//! (a changed schema compiles again, however quickly it changed).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hookwire_core::schema::{PayloadSchema, latest};
use hookwire_store::Store;
use serde_json::Value;

use super::IntakeError;

/// Cached compiled schemas, cleared when full.
const SCHEMA_CACHE_ENTRIES_MAX: usize = 1_000;

/// An event type's newest schema (`None`: it has none) and its compiled form.
type CachedSchema = (Option<Value>, Option<Arc<PayloadSchema>>);

#[derive(Default)]
pub struct PayloadSchemas {
    compiled: Mutex<HashMap<String, CachedSchema>>,
}

impl PayloadSchemas {
    /// Fails naming the path where `payload` breaks the newest schema of `event_type`. Types
    /// missing from the catalog, or without a schema, pass.
    pub async fn check(&self, store: &dyn Store, event_type: &str, payload: &Value) -> Result<(), IntakeError> {
        let Some(definition) = store.get_event_type(event_type).await? else { return Ok(()) };
        let source = definition.schemas.as_ref().and_then(latest);
        let schema = {
            let mut cache = self.compiled.lock().expect("schema cache poisoned");
            match cache.get(event_type) {
                Some((cached, schema)) if cached.as_ref() == source => schema.clone(),
                _ => {
                    let schema = source.and_then(|s| PayloadSchema::compile(s).ok()).map(Arc::new);
                    if cache.len() >= SCHEMA_CACHE_ENTRIES_MAX {
                        cache.clear();
                    }
                    cache.insert(event_type.to_owned(), (source.cloned(), schema.clone()));
                    schema
                }
            }
        };
        let Some(schema) = schema else { return Ok(()) };
        schema.check(payload).map_err(|(path, message)| IntakeError::Schema {
            event_type: event_type.to_owned(),
            path,
            message,
        })
    }
}
