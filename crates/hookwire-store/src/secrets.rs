//! Endpoint secrets at rest, for every backend: sealed under the main key when one is configured,
//! and a canary that tells at start whether the configured key is the one the data was sealed with.

use hookwire_core::crypto::{self, CryptoError, MainKey};
use hookwire_core::model::Endpoint;

use crate::error::{StoreError, StoreResult};

/// The setting holding a sealed known value.
pub(crate) const MAIN_KEY_CANARY_SETTING: &str = "main_key_canary";
const MAIN_KEY_CANARY: &str = "hookwire";

/// Seals the endpoint's secrets for storage (identity without a main key).
pub(crate) fn seal_endpoint(key: Option<&MainKey>, endpoint: Endpoint) -> Endpoint {
    let sealed = endpoint.map_secrets(|value| Ok::<_, std::convert::Infallible>(crypto::seal(key, value)));
    match sealed {
        Ok(endpoint) => endpoint,
        Err(never) => match never {},
    }
}

/// Opens the endpoint's stored secrets.
pub(crate) fn open_endpoint(key: Option<&MainKey>, endpoint: Endpoint) -> StoreResult<Endpoint> {
    endpoint.map_secrets(|value| crypto::open(key, value)).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Opens with `current` and seals with `new` (a main-key rotation of one endpoint).
pub(crate) fn reseal_endpoint(
    current: Option<&MainKey>,
    new: Option<&MainKey>,
    endpoint: Endpoint,
) -> StoreResult<Endpoint> {
    Ok(seal_endpoint(new, open_endpoint(current, endpoint)?))
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
