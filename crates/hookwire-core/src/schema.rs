//! Optional payload validation against an event type's JSON Schema. Remote and file `$ref`s
//! cannot be fetched (the validator is built without those resolvers): a schema can never make
//! Hookwire read a file or call a URL.

use serde_json::Value;

/// A compiled schema for one event type version.
pub struct PayloadSchema {
    validator: jsonschema::Validator,
}

impl PayloadSchema {
    pub fn compile(schema: &Value) -> Result<Self, String> {
        jsonschema::validator_for(schema).map(|validator| Self { validator }).map_err(|e| e.to_string())
    }

    /// `Err((path, message))` for the first violation; the path is a JSON pointer into the payload.
    pub fn check(&self, payload: &Value) -> Result<(), (String, String)> {
        match self.validator.iter_errors(payload).next() {
            None => Ok(()),
            Some(error) => Err((error.instance_path().to_string(), error.to_string())),
        }
    }
}

/// The newest schema in an event type's `schemas` (`{"1": {...}, "2": {...}}`), by version number.
pub fn latest(schemas: &Value) -> Option<&Value> {
    schemas.as_object()?.iter().max_by_key(|(version, _)| version.parse::<u64>().unwrap_or(0)).map(|(_, schema)| schema)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_the_failing_path() {
        let schemas = json!({"1": {"type": "object"}, "2": {"type": "object", "required": ["patient"],
            "properties": {"patient": {"type": "object", "properties": {"weight": {"type": "number"}}}}}});
        let schema = PayloadSchema::compile(latest(&schemas).unwrap()).unwrap();
        assert!(schema.check(&json!({"patient": {"weight": 80.5}})).is_ok());
        let (path, message) = schema.check(&json!({"patient": {"weight": "heavy"}})).unwrap_err();
        assert_eq!(path, "/patient/weight");
        assert!(message.contains("number"), "{message}");
        assert!(schema.check(&json!({})).is_err());
    }

    #[test]
    fn remote_references_are_not_fetched() {
        let schema = json!({"$ref": "http://127.0.0.1:9/schema.json"});
        let compiled = PayloadSchema::compile(&schema);
        assert!(compiled.is_err() || compiled.unwrap().check(&json!({})).is_err());
        assert!(PayloadSchema::compile(&json!({"$ref": "file:///etc/passwd"})).is_err());
    }
}
