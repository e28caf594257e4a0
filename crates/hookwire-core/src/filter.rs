//! Payload filters: a CEL expression over `{type, data, channels}` decides whether an endpoint
//! receives a message (Impira's triggers: all fields confident, any low-confidence field, a date
//! after a given day, or any custom condition). Compiled once, evaluated per message.

use std::sync::{Arc, LazyLock};

use cel::objects::{Key, Map};
use serde_json::Value;

pub const FILTER_LENGTH_MAX: usize = 4_096;

/// The standard CEL environment, built once (building it per evaluation is costly).
static ENVIRONMENT: LazyLock<Arc<cel::Env>> = LazyLock::new(|| Arc::new(cel::Env::stdlib()));

#[derive(Debug)]
pub struct Filter {
    program: cel::Program,
}

impl Filter {
    /// Compiles `source`, or says why it does not compile.
    pub fn compile(source: &str) -> Result<Self, String> {
        if source.trim().is_empty() || source.len() > FILTER_LENGTH_MAX {
            return Err(format!("a filter is 1..={FILTER_LENGTH_MAX} characters"));
        }
        // The parser recurses on nesting; contain a pathological expression to an error.
        let compiled = std::panic::catch_unwind(|| ENVIRONMENT.compile(source));
        match compiled {
            Ok(Ok(program)) => Ok(Self { program }),
            Ok(Err(errors)) => Err(errors.to_string()),
            Err(_) => Err("the filter is too deeply nested".into()),
        }
    }

    /// True when the message passes. An evaluation error (a missing field, a type mismatch) or a
    /// non-boolean result is an `Err` with the reason; callers treat it as no match.
    pub fn matches(&self, event_type: &str, data: &Value, channels: &[String]) -> Result<bool, String> {
        let mut context = cel::Context::with_env(Arc::clone(&ENVIRONMENT));
        context.add_variable_from_value("type", event_type);
        context.add_variable_from_value("data", to_cel(data));
        context.add_variable_from_value("channels", channels.to_vec());
        match self.program.execute(&context) {
            Ok(cel::Value::Bool(result)) => Ok(result),
            Ok(other) => Err(format!("the filter gave {other:?}, not true or false")),
            Err(error) => Err(error.to_string()),
        }
    }
}

/// JSON to CEL keeping whole numbers signed (`int`), so `data.count + 1` type-checks.
fn to_cel(value: &Value) -> cel::Value {
    match value {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => cel::Value::Int(i),
            (None, Some(u)) => cel::Value::UInt(u),
            _ => cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(items) => cel::Value::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(fields) => cel::Value::Map(Map {
            map: Arc::new(fields.iter().map(|(k, v)| (Key::String(Arc::new(k.clone())), to_cel(v))).collect()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn impira(fields: Value, date: &str) -> Value {
        json!({"file": "invoice.pdf", "invoice_date": date, "fields": fields})
    }

    #[test]
    fn impira_triggers() {
        let confident = impira(json!({"total": {"confidence": 0.97}, "vendor": {"confidence": 0.91}}), "2021-03-01");
        let unsure = impira(json!({"total": {"confidence": 0.97}, "vendor": {"confidence": 0.42}}), "2019-12-31");
        let all_high = Filter::compile("data.fields.all(f, data.fields[f].confidence >= 0.8)").unwrap();
        let any_low = Filter::compile("data.fields.exists(f, data.fields[f].confidence < 0.8)").unwrap();
        let after_2020 = Filter::compile(r#"data.invoice_date > "2020-01-01""#).unwrap();
        let check = |filter: &Filter, data: &Value| filter.matches("record.processed", data, &[]).unwrap();
        assert_eq!((check(&all_high, &confident), check(&all_high, &unsure)), (true, false));
        assert_eq!((check(&any_low, &confident), check(&any_low, &unsure)), (false, true));
        assert_eq!((check(&after_2020, &confident), check(&after_2020, &unsure)), (true, false));
    }

    #[test]
    fn type_and_channels_are_visible() {
        let filter = Filter::compile(r#"type.startsWith("order.") && "eu" in channels"#).unwrap();
        assert!(filter.matches("order.paid", &json!({}), &["eu".into()]).unwrap());
        assert!(!filter.matches("order.paid", &json!({}), &["us".into()]).unwrap());
    }

    #[test]
    fn errors_are_reported_not_fatal() {
        assert!(Filter::compile("data.x ==").is_err());
        assert!(Filter::compile("").is_err());
        let missing = Filter::compile("data.missing.deeper == 1").unwrap();
        assert!(missing.matches("t", &json!({}), &[]).is_err());
        let arithmetic = Filter::compile("data.count + 1 == 3").unwrap();
        assert!(arithmetic.matches("t", &json!({"count": 2}), &[]).unwrap());
        let not_bool = Filter::compile("1 + 1").unwrap();
        assert!(not_bool.matches("t", &json!({}), &[]).unwrap_err().contains("not true or false"));
        let deep = format!("{}1{}", "(".repeat(5_000), ")".repeat(5_000));
        assert!(Filter::compile(&deep).is_err());
    }

    #[test]
    fn compiled_filters_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Filter>();
    }
}
