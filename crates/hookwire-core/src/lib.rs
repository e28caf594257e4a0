//! Hookwire's pure domain: typed ids, the stored model, signing, retry policy, matching,
//! destination policy and named limits. No tokio, no SQL, no sockets; time is a parameter.

pub mod body;
pub mod crypto;
pub mod filter;
pub mod ids;
pub mod limits;
pub mod matching;
pub mod model;
pub mod retry;
pub mod schema;
pub mod schemes;
pub mod signing;
pub mod time_fmt;
pub mod url_policy;

pub use ids::{AppId, AttemptId, DeliveryId, EndpointId, MessageId};
