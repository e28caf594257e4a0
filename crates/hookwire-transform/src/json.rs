//! A handler's payload written as JSON by Rust: QuickJS's `JSON.stringify` quotes strings one
//! character at a time, and was most of a simple handler's cost with a 1 KiB payload. Plain data
//! (objects and arrays with the ordinary prototypes, strings, numbers, booleans, null) is written
//! here as `JSON.stringify` would write it; anything else it has rules for (a function, `toJSON`,
//! a `Date`, a boxed primitive, a symbol, a `BigInt`, deep or circular nesting) makes [`write`]
//! answer `None`, and the caller lets `JSON.stringify` write the whole value instead.

use std::fmt::Write as _;

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
        Type::Int => {
            let _ = write!(out, "{}", value.as_int()?);
        }
        Type::Float => number(value.as_float()?, out),
        Type::String => quote_js(value.as_string()?.clone(), out)?,
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
                let mark = out.len();
                if !first {
                    out.push(',');
                }
                quote_js(key.to_js_string().ok()?, out)?;
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

/// Appends a JavaScript string quoted as `JSON.stringify` quotes it, read in place (QuickJS
/// lends an ASCII string's own bytes); `None` for a string that is not UTF-8 (a lone
/// surrogate), which `JSON.stringify` writes as `\uXXXX`.
fn quote_js(text: rquickjs::String<'_>, out: &mut String) -> Option<()> {
    let text = text.to_cstring().ok()?;
    // Read through the pointer, not `as_str()`/`as_ref()`: those make a `str` of bytes that are
    // not UTF-8 when the string holds a lone surrogate.
    // SAFETY: QuickJS's C string is `len` bytes at `ptr`, alive while `text` is.
    let bytes = unsafe { std::slice::from_raw_parts(text.as_ptr().cast::<u8>(), text.len()) };
    quote(std::str::from_utf8(bytes).ok()?, out);
    Some(())
}

/// Appends `text` as a JSON string, escaped as `JSON.stringify` escapes it: `"`, `\\` and the
/// control characters; eight bytes at a time while none of them needs escaping.
pub(crate) fn quote(text: &str, out: &mut String) {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES << 7;
    let zero_byte = |word: u64| word.wrapping_sub(ONES) & !word & HIGH;
    let escapes = |word: u64| {
        word.wrapping_sub(ONES * 0x20) & !word & HIGH
            | zero_byte(word ^ (ONES * u64::from(b'"')))
            | zero_byte(word ^ (ONES * u64::from(b'\\')))
    };
    out.reserve(text.len() + 2);
    out.push('"');
    let bytes = text.as_bytes();
    let (mut copied, mut at) = (0, 0);
    while at < bytes.len() {
        if let Some(word) = bytes.get(at..at + 8)
            && escapes(u64::from_ne_bytes(word.try_into().expect("eight bytes"))) == 0
        {
            at += 8;
            continue;
        }
        let escaped = match bytes[at] {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            byte @ 0..0x20 => {
                out.push_str(&text[copied..at]);
                let _ = write!(out, "\\u{byte:04x}");
                at += 1;
                copied = at;
                continue;
            }
            _ => {
                at += 1;
                continue;
            }
        };
        out.push_str(&text[copied..at]);
        out.push_str(escaped);
        at += 1;
        copied = at;
    }
    out.push_str(&text[copied..]);
    out.push('"');
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
