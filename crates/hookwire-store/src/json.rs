//! Model values stored as JSON text, the same way in every backend.

use serde::Serialize;

pub(crate) fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("model types always serialize")
}

pub(crate) fn optional_json<T: Serialize>(value: &Option<T>) -> Option<String> {
    value.as_ref().map(to_json)
}
