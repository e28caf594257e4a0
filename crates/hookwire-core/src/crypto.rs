//! Secrets at rest: with a main key configured, endpoint secrets and sensitive header values are
//! stored sealed (ChaCha20-Poly1305, a random nonce per value) as `enc:v1:<base64>`. Values
//! without the prefix are plaintext from before a key was set, and are read as they are.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

pub const SEALED_PREFIX: &str = "enc:v1:";
pub const MAIN_KEY_BYTES: usize = 32;

pub struct MainKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for MainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MainKey(…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the main key must be base64 of {MAIN_KEY_BYTES} random bytes (e.g. `openssl rand -base64 32`)")]
    BadKey,
    #[error("a stored secret is sealed with a main key, but none is configured (set HOOKWIRE_MAIN_KEY)")]
    NoKey,
    #[error("a stored secret does not open with the configured main key (wrong HOOKWIRE_MAIN_KEY?)")]
    WrongKey,
}

/// A new random main key, base64.
pub fn generate_main_key() -> String {
    let mut bytes = [0u8; MAIN_KEY_BYTES];
    rand::fill(&mut bytes);
    BASE64.encode(bytes)
}

impl MainKey {
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        let bytes = BASE64.decode(text.trim()).map_err(|_| CryptoError::BadKey)?;
        if bytes.len() != MAIN_KEY_BYTES {
            return Err(CryptoError::BadKey);
        }
        let key = UnboundKey::new(&CHACHA20_POLY1305, &bytes).map_err(|_| CryptoError::BadKey)?;
        Ok(Self { key: LessSafeKey::new(key) })
    }

    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        let mut data = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .expect("sealing a short value cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        format!("{SEALED_PREFIX}{}", BASE64.encode(out))
    }

    fn open_sealed(&self, encoded: &str) -> Result<String, CryptoError> {
        let bytes = BASE64.decode(encoded).map_err(|_| CryptoError::WrongKey)?;
        if bytes.len() < NONCE_LEN {
            return Err(CryptoError::WrongKey);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::WrongKey)?;
        let mut data = sealed.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::empty(), &mut data).map_err(|_| CryptoError::WrongKey)?;
        String::from_utf8(plain.to_vec()).map_err(|_| CryptoError::WrongKey)
    }
}

/// Seals `value` with `key` when there is one.
pub fn seal(key: Option<&MainKey>, value: &str) -> String {
    match key {
        Some(key) if !value.starts_with(SEALED_PREFIX) => key.seal(value),
        _ => value.to_owned(),
    }
}

/// Opens a stored value: sealed ones need the key, plaintext ones pass through.
pub fn open(key: Option<&MainKey>, value: &str) -> Result<String, CryptoError> {
    match (value.strip_prefix(SEALED_PREFIX), key) {
        (None, _) => Ok(value.to_owned()),
        (Some(_), None) => Err(CryptoError::NoKey),
        (Some(encoded), Some(key)) => key.open_sealed(encoded),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_refuses_the_wrong_key() {
        let key = MainKey::parse(&generate_main_key()).unwrap();
        let sealed = seal(Some(&key), "whsec_abc");
        assert!(sealed.starts_with(SEALED_PREFIX) && !sealed.contains("whsec_abc"));
        assert_ne!(sealed, seal(Some(&key), "whsec_abc"), "a fresh nonce every time");
        assert_eq!(open(Some(&key), &sealed).unwrap(), "whsec_abc");
        assert_eq!(open(None, "plain"), Ok("plain".into()));
        assert_eq!(open(None, &sealed), Err(CryptoError::NoKey));
        let other = MainKey::parse(&generate_main_key()).unwrap();
        assert_eq!(open(Some(&other), &sealed), Err(CryptoError::WrongKey));
        assert!(MainKey::parse("too short").is_err());
    }
}
