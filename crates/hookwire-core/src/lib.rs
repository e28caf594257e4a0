//! Hookwire's pure domain: typed ids, the stored model, signing, retry policy, matching,
//! destination policy and named limits. No tokio, no SQL, no sockets; time is a parameter.

pub mod access;
pub mod activity;
pub mod body;
pub mod crypto;
pub mod destination;
pub mod filter;
#[doc(hidden)]
pub mod fuzz_checks;
pub mod ids;
pub mod limits;
pub mod matching;
pub mod model;
pub mod payload;
pub mod retry;
pub mod schema;
pub mod schemes;
pub mod signing;
pub mod task;
pub mod time_fmt;
pub mod url_policy;

pub use ids::{AppId, AttemptId, DeliveryId, DestinationId, EndpointId, MessageId, TaskId};

/// Lowercase hex of `bytes` (digests, challenges), without a formatter call per byte.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[(byte >> 4) as usize] as char);
        out.push(DIGITS[(byte & 0xf) as usize] as char);
    }
    out
}
