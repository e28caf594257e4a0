//! Endpoint and destination secrets at rest, for every backend: sealed under the main key when one is configured,
//! and a canary that tells at start whether the configured key is the one the data was sealed with.

use hookwire_core::crypto::{self, CryptoError, MainKey};
use hookwire_core::destination::Destination;
use hookwire_core::model::Endpoint;

use crate::error::{StoreError, StoreResult};

/// The setting holding a sealed known value.
pub(crate) const MAIN_KEY_CANARY_SETTING: &str = "main_key_canary";
const MAIN_KEY_CANARY: &str = "hookwire";

/// What holds secrets sealed at rest: endpoints and destinations.
pub(crate) trait Sealed: Sized {
    fn map_secrets<E>(self, f: impl FnMut(&str) -> Result<String, E>) -> Result<Self, E>;
}

impl Sealed for Endpoint {
    fn map_secrets<E>(self, f: impl FnMut(&str) -> Result<String, E>) -> Result<Self, E> {
        Endpoint::map_secrets(self, f)
    }
}

impl Sealed for Destination {
    fn map_secrets<E>(self, f: impl FnMut(&str) -> Result<String, E>) -> Result<Self, E> {
        Destination::map_secrets(self, f)
    }
}

/// Seals the secrets of `value` for storage (identity without a main key).
pub(crate) fn seal<T: Sealed>(key: Option<&MainKey>, value: T) -> T {
    let sealed = value.map_secrets(|secret| Ok::<_, std::convert::Infallible>(crypto::seal(key, secret)));
    match sealed {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

/// Opens the stored secrets of `value`.
pub(crate) fn open<T: Sealed>(key: Option<&MainKey>, value: T) -> StoreResult<T> {
    value.map_secrets(|secret| crypto::open(key, secret)).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Opens with `current` and seals with `new` (a main-key rotation of one stored value).
pub(crate) fn reseal<T: Sealed>(current: Option<&MainKey>, new: Option<&MainKey>, value: T) -> StoreResult<T> {
    Ok(seal(new, open(current, value)?))
}

/// The canary value to store for `key`.
pub(crate) fn canary(key: &MainKey) -> String {
    key.seal(MAIN_KEY_CANARY)
}

/// Checks `main_key` against the stored canary. Returns the canary to plant when the data has
/// none yet and a key is configured.
pub(crate) fn check_canary(stored: Option<&str>, main_key: Option<&MainKey>) -> StoreResult<Option<String>> {
    let refuse = |error: CryptoError| Err(StoreError::Corrupt(error.to_string()));
    match (stored, main_key) {
        (Some(_), None) => refuse(CryptoError::NoKey),
        (Some(sealed), Some(key)) => match crypto::open(Some(key), sealed) {
            Ok(text) if text == MAIN_KEY_CANARY => Ok(None),
            _ => refuse(CryptoError::WrongKey),
        },
        (None, Some(key)) => Ok(Some(canary(key))),
        (None, None) => Ok(None),
    }
}
