//! What a delivery's request body is: the payload as received, optionally one chunk of its
//! records (Impler) and optionally wrapped in an `{id, type, timestamp, data}` envelope.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::time_fmt::{Millis, format_millis};

pub const CHUNK_SIZE_MAX: u32 = 10_000;
pub const RECORDS_FIELD_LENGTH_MAX: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Envelope {
    /// The payload is the body.
    #[default]
    Raw,
    /// `{"id", "type", "timestamp", "data"}` with the payload as `data`.
    Wrapped,
}

/// Deliver a payload's records array in pages of `chunk_size`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Chunking {
    pub records_field: String,
    pub chunk_size: u32,
}

impl Chunking {
    pub fn validate(&self) -> Result<(), String> {
        if self.records_field.is_empty() || self.records_field.len() > RECORDS_FIELD_LENGTH_MAX {
            return Err(format!("recordsField must be 1..={RECORDS_FIELD_LENGTH_MAX} characters"));
        }
        if !(1..=CHUNK_SIZE_MAX).contains(&self.chunk_size) {
            return Err(format!("chunkSize must be 1..={CHUNK_SIZE_MAX}"));
        }
        Ok(())
    }

    /// How many requests deliver `payload`: `None` when it has no array at the records field
    /// (it is then delivered whole), else ceil(len / chunk_size).
    pub fn pages(&self, payload: &Value) -> Option<u32> {
        let records = payload.get(&self.records_field)?.as_array()?;
        Some(records.len().div_ceil(self.chunk_size as usize) as u32)
    }

    /// The body of page `page` (1-based): the payload without the records field, plus `data`,
    /// `page`, `totalPages`, `pageSize` and `totalRecords`.
    pub fn page_body(&self, payload: &Value, page: u32) -> Value {
        let mut body: Map<String, Value> = payload.as_object().cloned().unwrap_or_default();
        let records = match body.remove(&self.records_field) {
            Some(Value::Array(records)) => records,
            _ => Vec::new(),
        };
        let size = self.chunk_size as usize;
        let total_records = records.len();
        let start = (page.saturating_sub(1) as usize * size).min(total_records);
        let chunk: Vec<Value> = records[start..(start + size).min(total_records)].to_vec();
        body.insert("pageSize".into(), chunk.len().into());
        body.insert("data".into(), Value::Array(chunk));
        body.insert("page".into(), page.into());
        body.insert("totalPages".into(), total_records.div_ceil(size).into());
        body.insert("totalRecords".into(), total_records.into());
        Value::Object(body)
    }
}

/// The request body for a message (or one chunk of it) as an endpoint wants it: a payload given
/// owned that goes as it is is taken, not copied.
pub fn request_body<'a>(
    payload: impl Into<std::borrow::Cow<'a, str>>,
    msg_id: &str,
    event_type: &str,
    created_at: Millis,
    envelope: Envelope,
    chunk: Option<(&Chunking, u32)>,
) -> String {
    let payload = payload.into();
    if envelope == Envelope::Raw && chunk.is_none() {
        return payload.into_owned();
    }
    let parsed: Value = serde_json::from_str(&payload).unwrap_or(Value::Object(Map::new()));
    let data = match chunk {
        Some((chunking, page)) => chunking.page_body(&parsed, page),
        None => parsed,
    };
    let body = match envelope {
        Envelope::Raw => data,
        Envelope::Wrapped => serde_json::json!({
            "id": msg_id,
            "type": event_type,
            "timestamp": format_millis(created_at),
            "data": data,
        }),
    };
    body.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chunks_records_into_pages() {
        let chunking = Chunking { records_field: "records".into(), chunk_size: 2 };
        let payload = json!({"uploadId": "u1", "template": "T", "extra": {"k": 1}, "records": [1, 2, 3, 4, 5]});
        assert_eq!(chunking.pages(&payload), Some(3));
        assert_eq!(chunking.pages(&json!({"records": []})), Some(0));
        assert_eq!(chunking.pages(&json!({"records": "no"})), None);
        assert_eq!(
            chunking.page_body(&payload, 3),
            json!({"uploadId": "u1", "template": "T", "extra": {"k": 1}, "data": [5], "page": 3, "totalPages": 3, "pageSize": 1, "totalRecords": 5})
        );
        assert_eq!(chunking.page_body(&payload, 1)["data"], json!([1, 2]));
    }

    #[test]
    fn envelope_wraps_the_payload() {
        let body = request_body(r#"{"a":1}"#, "msg_1", "t.x", 0, Envelope::Wrapped, None);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            json!({"id": "msg_1", "type": "t.x", "timestamp": "1970-01-01T00:00:00.000Z", "data": {"a": 1}})
        );
        assert_eq!(
            request_body(r#"{"a":  1}"#, "m", "t", 0, Envelope::Raw, None),
            r#"{"a":  1}"#,
            "raw bodies are sent byte for byte"
        );
    }
}
