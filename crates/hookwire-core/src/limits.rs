//! Every bound Hookwire enforces, named once, units last.

/// Largest accepted API request body.
pub const REQUEST_BODY_BYTES_MAX: usize = 1024 * 1024;
/// Largest message payload (the JSON `payload` member).
pub const PAYLOAD_BYTES_MAX: usize = REQUEST_BODY_BYTES_MAX - 4 * 1024;
pub const NAME_LENGTH_MAX: usize = 256;
pub const UID_LENGTH_MAX: usize = 256;
pub const DESCRIPTION_LENGTH_MAX: usize = 4096;
pub const URL_LENGTH_MAX: usize = 2048;
pub const EVENT_TYPE_NAME_LENGTH_MAX: usize = 256;
pub const EVENT_TYPES_PER_ENDPOINT_MAX: usize = 256;
pub const CHANNEL_LENGTH_MAX: usize = 128;
pub const CHANNELS_PER_MESSAGE_MAX: usize = 10;
pub const CHANNELS_PER_ENDPOINT_MAX: usize = 64;
pub const HEADERS_PER_ENDPOINT_MAX: usize = 32;
pub const HEADER_VALUE_LENGTH_MAX: usize = 4096;
pub const METADATA_ENTRIES_MAX: usize = 64;
pub const IDEMPOTENCY_KEY_LENGTH_MAX: usize = 256;
/// Tags on one message, and a tag's length (Svix's bounds).
pub const TAGS_PER_MESSAGE_MAX: usize = 5;
pub const TAG_LENGTH_MAX: usize = 128;

pub const PAGE_LIMIT_DEFAULT: usize = 50;
pub const PAGE_LIMIT_MAX: usize = 250;

/// Per-request deadline for a delivery, and its bounds.
pub const DELIVERY_TIMEOUT_MS_DEFAULT: u64 = 15_000;
pub const DELIVERY_TIMEOUT_MS_MIN: u64 = 1_000;
pub const DELIVERY_TIMEOUT_MS_MAX: u64 = 30_000;
/// How much of a receiver's response body is kept on the attempt.
pub const RESPONSE_BODY_BYTES_MAX: usize = 4 * 1024;
/// A `Retry-After` answer is honoured up to this delay.
pub const RETRY_AFTER_SECONDS_MAX: u64 = 3_600;
/// Explicit retry schedules: number of steps and the longest step.
pub const RETRY_SCHEDULE_STEPS_MAX: usize = 50;
pub const RETRY_DELAY_SECONDS_MAX: u64 = 7 * 24 * 3_600;
/// Grace period for the previous secret after a rotation.
pub const SECRET_ROTATION_GRACE_SECONDS_DEFAULT: u64 = 24 * 3_600;
pub const SECRET_ROTATION_GRACE_SECONDS_MAX: u64 = 7 * 24 * 3_600;
/// Raw secret size bounds (bytes after base64 decoding), per Standard Webhooks.
pub const SECRET_BYTES_MIN: usize = 24;
pub const SECRET_BYTES_MAX: usize = 64;
/// Payload retention: the server default and the longest any message may ask for.
pub const RETENTION_DAYS_DEFAULT: u64 = 90;
pub const RETENTION_DAYS_MAX: u64 = 3_650;
/// How far ahead `deliverAt` may schedule a message.
pub const DELIVER_AT_DAYS_MAX: u64 = 90;
/// How long idempotency keys are remembered.
pub const IDEMPOTENCY_WINDOW_SECONDS: i64 = 24 * 3_600;
/// Deepest nesting of arrays and objects accepted in a payload.
pub const PAYLOAD_NESTING_DEPTH_MAX: usize = 64;

/// How deeply arrays and objects nest in a JSON text, in one pass without parsing (so a hostile
/// payload costs no recursion). Brackets inside strings do not count.
pub fn json_nesting_depth(text: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::json_nesting_depth;

    #[test]
    fn nesting_depth_ignores_strings() {
        assert_eq!(json_nesting_depth("{}"), 1);
        assert_eq!(json_nesting_depth(r#"{"a": [1, {"b": [[]]}]}"#), 5);
        assert_eq!(json_nesting_depth(r#"{"a": "[[[[\"{{"}"#), 1);
        assert_eq!(json_nesting_depth("1"), 0);
    }
}
