//! Model values stored as JSON text, the same way in every backend.

use serde::Serialize;

pub(crate) fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("model types always serialize")
}

pub(crate) fn optional_json<T: Serialize>(value: &Option<T>) -> Option<String> {
    value.as_ref().map(to_json)
}

/// A token's feature flags as stored: a JSON array, or NULL for none.
pub(crate) fn flags_to_text(flags: &[String]) -> Option<String> {
    (!flags.is_empty()).then(|| to_json(&flags))
}

pub(crate) fn flags_from_text(text: Option<&str>) -> crate::StoreResult<Vec<String>> {
    match text {
        None => Ok(Vec::new()),
        Some(text) => {
            serde_json::from_str(text).map_err(|e| crate::StoreError::Corrupt(format!("token feature flags: {e}")))
        }
    }
}
