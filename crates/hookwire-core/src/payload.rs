//! What a message payload must be before it is accepted: a JSON object of at most
//! `PAYLOAD_BYTES_MAX` bytes, nesting at most `PAYLOAD_NESTING_DEPTH_MAX` levels, whose numbers
//! are all representable (a finite double) and whose strings are all valid Unicode (no lone
//! UTF-16 surrogate escape). A payload that broke the last two would be stored as sent but read
//! differently by the filter, the envelope and chunking (which parse it), or not at all.
//!
//! One pass over the text, no allocation: it runs on every accepted message. The text is
//! already known to be JSON (the request parser checked its syntax).

use crate::limits::{PAYLOAD_BYTES_MAX, PAYLOAD_NESTING_DEPTH_MAX};

/// Why a payload is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("payload exceeds {PAYLOAD_BYTES_MAX} bytes")]
    TooLarge,
    #[error("payload nests deeper than {PAYLOAD_NESTING_DEPTH_MAX} levels")]
    TooDeep,
    #[error("must be a JSON object")]
    NotAnObject,
    #[error("the number {0} is out of range (beyond a 64-bit float); send it as a string")]
    NumberOutOfRange(String),
    #[error("a string holds a lone UTF-16 surrogate escape ({0}); it is not valid Unicode")]
    LoneSurrogate(String),
}

/// Checks `text` (JSON) against every rule above.
pub fn check(text: &str) -> Result<(), PayloadError> {
    if text.len() > PAYLOAD_BYTES_MAX {
        return Err(PayloadError::TooLarge);
    }
    if !text.trim_start().starts_with('{') {
        return Err(PayloadError::NotAnObject);
    }
    let bytes = text.as_bytes();
    let (mut depth, mut at) = (0usize, 0usize);
    while at < bytes.len() {
        match bytes[at] {
            b'"' => at = check_string(text, at + 1)?,
            b'[' | b'{' => {
                depth += 1;
                if depth > PAYLOAD_NESTING_DEPTH_MAX {
                    return Err(PayloadError::TooDeep);
                }
                at += 1;
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                at += 1;
            }
            b'-' | b'0'..=b'9' => at = check_number(text, at)?,
            _ => at += 1,
        }
    }
    Ok(())
}

/// Checks a raw payload (any text, sent byte for byte): only its size is bounded.
pub fn check_raw(text: &str) -> Result<(), PayloadError> {
    if text.len() > PAYLOAD_BYTES_MAX {
        return Err(PayloadError::TooLarge);
    }
    Ok(())
}

/// Checks the string whose content starts at `at`; returns the index after its closing quote.
fn check_string(text: &str, mut at: usize) -> Result<usize, PayloadError> {
    let bytes = text.as_bytes();
    while at < bytes.len() {
        match bytes[at] {
            b'"' => return Ok(at + 1),
            b'\\' if bytes.get(at + 1) == Some(&b'u') => {
                let unit = hex_unit(text, at + 2);
                match unit {
                    Some(0xD800..=0xDBFF) => {
                        let low = (bytes.get(at + 6) == Some(&b'\\') && bytes.get(at + 7) == Some(&b'u'))
                            .then(|| hex_unit(text, at + 8))
                            .flatten();
                        if !matches!(low, Some(0xDC00..=0xDFFF)) {
                            return Err(PayloadError::LoneSurrogate(text[at..at + 6].to_owned()));
                        }
                        at += 12;
                    }
                    Some(0xDC00..=0xDFFF) => return Err(PayloadError::LoneSurrogate(text[at..at + 6].to_owned())),
                    _ => at += 6,
                }
            }
            b'\\' => at += 2,
            _ => at += 1,
        }
    }
    Ok(at)
}

fn hex_unit(text: &str, at: usize) -> Option<u16> {
    text.get(at..at + 4).and_then(|hex| u16::from_str_radix(hex, 16).ok())
}

/// Checks the number starting at `at`; returns the index after it. Only numbers that could
/// overflow a double (an exponent, or many digits) are parsed.
fn check_number(text: &str, at: usize) -> Result<usize, PayloadError> {
    let bytes = text.as_bytes();
    let end =
        at + bytes[at..].iter().take_while(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')).count();
    let number = &text[at..end];
    let may_overflow = number.len() > 300 || number.bytes().any(|b| b == b'e' || b == b'E');
    if may_overflow && !number.parse::<f64>().is_ok_and(f64::is_finite) {
        return Err(PayloadError::NumberOutOfRange(number.chars().take(40).collect()));
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_payloads_pass() {
        for good in [
            r#"{}"#,
            r#"{"a": [1, -2.5e10, 1e308, 123456789012345678901234567890], "b": {"c": null}}"#,
            r#"{"emoji": "\ud83d\ude00", "escaped": "a\"\\u0041 [{"}"#,
            r#"  {"tiny": 1e-400}"#,
        ] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn refusals_name_the_problem() {
        let cases = [
            (r#"[1]"#, PayloadError::NotAnObject),
            (r#"{"n": 1e400}"#, PayloadError::NumberOutOfRange("1e400".into())),
            (r#"{"n": -1E+999}"#, PayloadError::NumberOutOfRange("-1E+999".into())),
            (r#"{"s": "\ud800"}"#, PayloadError::LoneSurrogate(r"\ud800".into())),
            (r#"{"s": "\ud800\u0041"}"#, PayloadError::LoneSurrogate(r"\ud800".into())),
            (r#"{"s": "x\udc00"}"#, PayloadError::LoneSurrogate(r"\udc00".into())),
        ];
        for (text, expected) in cases {
            assert_eq!(check(text), Err(expected), "{text}");
        }
        let deep =
            format!("{{\"a\": {}{}}}", "[".repeat(PAYLOAD_NESTING_DEPTH_MAX), "]".repeat(PAYLOAD_NESTING_DEPTH_MAX));
        assert_eq!(check(&deep), Err(PayloadError::TooDeep));
        let big = format!("{{\"a\": \"{}\"}}", "x".repeat(PAYLOAD_BYTES_MAX));
        assert_eq!(check(&big), Err(PayloadError::TooLarge));
    }

    /// What the scan accepts, serde_json reads back as the same value (the filter and chunking
    /// parse payloads with it), and what it refuses serde_json cannot read faithfully.
    #[test]
    fn the_scan_agrees_with_the_parser() {
        for text in [r#"{"n": 1e400}"#, r#"{"s": "\ud800"}"#, r#"{"s": "\udfff x"}"#] {
            assert!(check(text).is_err() && serde_json::from_str::<serde_json::Value>(text).is_err(), "{text}");
        }
        for text in [r#"{"n": 1.7976931348623157e308}"#, r#"{"s": "\ud83d\ude00"}"#] {
            assert!(check(text).is_ok() && serde_json::from_str::<serde_json::Value>(text).is_ok(), "{text}");
        }
    }
}
