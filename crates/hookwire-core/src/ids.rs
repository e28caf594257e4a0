//! Typed, prefixed identifiers. Each id is a UUIDv7 (time-ordered, so ids sort by creation)
//! displayed as `prefix_` + 26 lowercase Crockford base32 characters. Parsing refuses other prefixes.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const ENCODED_LEN: usize = 26;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} id {value:?}: expected `{prefix}` followed by 26 base32 characters")]
pub struct IdParseError {
    pub kind: &'static str,
    pub prefix: &'static str,
    pub value: String,
}

fn encode(value: u128, out: &mut String) {
    for i in (0..ENCODED_LEN).rev() {
        let shift = i * 5;
        let index = if shift >= 128 { 0 } else { (value >> shift) & 0x1f };
        out.push(ALPHABET[index as usize] as char);
    }
}

fn decode(text: &str) -> Option<u128> {
    if text.len() != ENCODED_LEN {
        return None;
    }
    let mut value: u128 = 0;
    for (position, byte) in text.bytes().enumerate() {
        let digit = ALPHABET.iter().position(|&c| c == byte.to_ascii_lowercase())? as u128;
        // The first character carries only the top 3 bits of 128 (26 * 5 = 130).
        if position == 0 && digit > 7 {
            return None;
        }
        value = (value << 5) | digit;
    }
    Some(value)
}

macro_rules! typed_id {
    ($name:ident, $prefix:literal, $kind:literal) => {
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new time-ordered id. Ids are the one place core reads the system clock:
            /// they need uniqueness and rough order, not a testable notion of "now".
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The smallest id that can be generated at `millis` (ids are time-ordered, so
            /// this finds them by time).
            pub fn first_at(millis: i64) -> Self {
                Self(uuid::Builder::from_unix_timestamp_millis(millis.max(0) as u64, &[0; 10]).into_uuid())
            }

            pub fn uuid(&self) -> Uuid {
                self.0
            }

            /// When the id was generated, in Unix milliseconds (its first 48 bits).
            pub fn millis(&self) -> i64 {
                (self.0.as_u128() >> 80) as i64
            }

            /// True when `text` has this id's prefix (used to tell ids from user-chosen uids).
            pub fn looks_like(text: &str) -> bool {
                text.starts_with($prefix) && text.len() == $prefix.len() + ENCODED_LEN
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut out = String::with_capacity($prefix.len() + ENCODED_LEN);
                out.push_str($prefix);
                encode(self.0.as_u128(), &mut out);
                f.write_str(&out)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                text.strip_prefix($prefix)
                    .and_then(decode)
                    .map(|value| Self(Uuid::from_u128(value)))
                    .ok_or_else(|| IdParseError { kind: $kind, prefix: $prefix, value: text.to_owned() })
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

typed_id!(AppId, "app_", "application");
typed_id!(EndpointId, "ep_", "endpoint");
typed_id!(MessageId, "msg_", "message");
typed_id!(AttemptId, "atmpt_", "attempt");
typed_id!(DeliveryId, "dlv_", "delivery");
typed_id!(TaskId, "qtask_", "background task");
typed_id!(DestinationId, "dest_", "destination");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_keeps_order() {
        let first = MessageId::generate();
        let second = MessageId::generate();
        let (a, b) = (first.to_string(), second.to_string());
        assert!(a.starts_with("msg_") && a.len() == 4 + ENCODED_LEN);
        assert_eq!(a.parse::<MessageId>().unwrap(), first);
        assert!(a < b, "ids must sort by creation: {a} {b}");
    }

    #[test]
    fn refuses_other_prefixes_and_garbage() {
        let app = AppId::generate().to_string();
        assert!(app.parse::<EndpointId>().is_err());
        assert!("app_".parse::<AppId>().is_err());
        assert!("app_zzzzzzzzzzzzzzzzzzzzzzzzzz".parse::<AppId>().is_err());
        assert!("app_0000000000000000000000000u".parse::<AppId>().is_err());
        assert_eq!("app_00000000000000000000000001".parse::<AppId>().unwrap().uuid().as_u128(), 1);
        assert!(AppId::looks_like(&app));
        assert!(!AppId::looks_like("my-customer"));
    }

    #[test]
    fn an_ids_time_is_when_it_was_made_and_first_at_bounds_it() {
        let at = 1_796_000_000_123;
        let first = MessageId::first_at(at);
        assert_eq!(first.millis(), at);
        assert_eq!(MessageId::first_at(at + 1).millis(), at + 1);
        let now = MessageId::generate();
        assert!(first.to_string() < now.to_string() || now.millis() < at);
        assert!(MessageId::first_at(now.millis()).to_string() <= now.to_string());
        assert!(MessageId::first_at(now.millis() + 1).to_string() > now.to_string());
    }
}
