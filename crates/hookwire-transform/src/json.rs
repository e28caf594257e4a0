//! A handler's payload written as JSON by Rust: QuickJS's `JSON.stringify` quotes strings one
//! character at a time, and was most of a simple handler's cost with a 1 KiB payload. Plain data
//! (objects and arrays with the ordinary prototypes, strings, numbers, booleans, null) is written
//! here as `JSON.stringify` would write it; anything else it has rules for (a function, `toJSON`,
//! a `Date`, a boxed primitive, a symbol, a `BigInt`, deep or circular nesting) makes [`write`]
//! answer `None`, and the caller lets `JSON.stringify` write the whole value instead.

use rquickjs::{Array, Atom, Object, Type, Value};

/// Nesting followed before handing over to `JSON.stringify` (which reports cycles).
const DEPTH_MAX: usize = 64;

/// The prototypes a plain object or array has.
pub(crate) struct Plain<'js> {
    pub object: Object<'js>,
    pub array: Object<'js>,
}

/// Appends `value` to `out`; `None` when only `JSON.stringify` can write it. Top-level
/// `undefined` is written as nothing and answers `Some(false)`.
pub(crate) fn write<'js>(value: &Value<'js>, plain: &Plain<'js>, out: &mut String) -> Option<bool> {
    write_at(value, plain, out, 0)
}

fn write_at<'js>(value: &Value<'js>, plain: &Plain<'js>, out: &mut String, depth: usize) -> Option<bool> {
    if depth > DEPTH_MAX {
        return None;
    }
    match value.type_of() {
        Type::Undefined => return Some(false),
        Type::Null => out.push_str("null"),
        Type::Bool => out.push_str(if value.as_bool()? { "true" } else { "false" }),
        Type::Int => out.push_str(&value.as_int()?.to_string()),
        Type::Float => number(value.as_float()?, out),
        Type::String => {
            let text = value.as_string()?.to_string().ok()?;
            // Infallible: a `str` always serialises.
            out.push_str(&serde_json::to_string(&text).ok()?);
        }
        Type::Array => {
            let array: &Array<'js> = value.as_array()?;
            if array.as_object().get_prototype().as_ref() != Some(&plain.array) {
                return None;
            }
            out.push('[');
            for index in 0..array.len() {
                if index > 0 {
                    out.push(',');
                }
                let item: Value<'js> = array.get(index).ok()?;
                if !write_at(&item, plain, out, depth + 1)? {
                    out.push_str("null");
                }
            }
            out.push(']');
        }
        Type::Object => {
            let object = value.as_object()?;
            let prototype = object.get_prototype();
            if prototype.is_some() && prototype.as_ref() != Some(&plain.object) {
                return None;
            }
            out.push('{');
            let mut first = true;
            for entry in object.props::<Atom<'js>, Value<'js>>() {
                let (key, item) = entry.ok()?;
                let key = key.to_string().ok()?;
                let mark = out.len();
                if !first {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(&key).ok()?);
                out.push(':');
                if write_at(&item, plain, out, depth + 1)? {
                    first = false;
                } else {
                    out.truncate(mark);
                }
            }
            out.push('}');
        }
        _ => return None,
    }
    Some(true)
}

/// A number as `JSON.stringify` writes it: non-finite ones are `null`, integers have no
/// fraction or exponent below 1e21, others the shortest form that reads back the same.
fn number(n: f64, out: &mut String) {
    if !n.is_finite() {
        out.push_str("null");
    } else if n.fract() == 0.0 && n.abs() < 1e21 {
        if n.abs() < 9.0e15 {
            out.push_str(&(n as i64).to_string());
        } else {
            out.push_str(&format!("{n:.0}"));
        }
    } else {
        out.push_str(&serde_json::to_string(&n).unwrap_or_else(|_| "null".into()));
    }
}
