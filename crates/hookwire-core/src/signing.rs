//! Standard Webhooks signing: `whsec_` secrets, HMAC-SHA256 over `{id}.{timestamp}.{body}`,
//! signatures `v1,<base64>`; several secrets (during a rotation) give a space-separated list.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::limits::{SECRET_BYTES_MAX, SECRET_BYTES_MIN};

pub const SECRET_PREFIX: &str = "whsec_";
/// Size of a generated secret, in bytes.
pub const SECRET_BYTES_GENERATED: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("secret is not valid base64 (optionally prefixed with `whsec_`)")]
    NotBase64,
    #[error("secret must decode to {SECRET_BYTES_MIN}..={SECRET_BYTES_MAX} bytes, got {0}")]
    BadLength(usize),
}

/// A new random secret in its `whsec_…` form.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES_GENERATED];
    rand::fill(&mut bytes);
    format!("{SECRET_PREFIX}{}", BASE64.encode(bytes))
}

/// Checks a user-supplied secret and returns it in its canonical `whsec_…` form.
pub fn normalize_secret(secret: &str) -> Result<String, SecretError> {
    let bytes = secret_bytes(secret)?;
    Ok(format!("{SECRET_PREFIX}{}", BASE64.encode(bytes)))
}

/// The key bytes of a `whsec_…` (or bare base64) secret.
pub fn secret_bytes(secret: &str) -> Result<Vec<u8>, SecretError> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    let bytes = BASE64.decode(encoded).map_err(|_| SecretError::NotBase64)?;
    if !(SECRET_BYTES_MIN..=SECRET_BYTES_MAX).contains(&bytes.len()) {
        return Err(SecretError::BadLength(bytes.len()));
    }
    Ok(bytes)
}

/// `v1,<base64 HMAC-SHA256(key, "{msg_id}.{timestamp}.{body}")>`
pub fn sign(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` value for every secret given (current first), space separated.
pub fn signature_header<'a>(
    secrets: impl IntoIterator<Item = &'a str>,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let mut header = String::new();
    for secret in secrets {
        // Stored secrets were validated on the way in; a corrupt one is skipped, not fatal.
        let Ok(key) = secret_bytes(secret) else {
            continue;
        };
        if !header.is_empty() {
            header.push(' ');
        }
        header.push_str(&sign(&key, msg_id, timestamp, body));
    }
    header
}

/// True when any `v1,` entry of `header` is a valid signature by `secret` (constant-time compare).
pub fn verify(secret: &str, msg_id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Ok(key) = secret_bytes(secret) else {
        return false;
    };
    header.split(' ').filter_map(|entry| entry.strip_prefix("v1,")).any(|encoded| {
        let Ok(expected) = BASE64.decode(encoded) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC accepts any key length");
        mac.update(format!("{msg_id}.{timestamp}.").as_bytes());
        mac.update(body);
        mac.verify_slice(&expected).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The known-answer vector published with the Standard Webhooks specification.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &str = r#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn standard_webhooks_known_answer() {
        let key = secret_bytes(SECRET).unwrap();
        assert_eq!(sign(&key, MSG_ID, TIMESTAMP, BODY.as_bytes()), SIGNATURE);
        assert!(verify(SECRET, MSG_ID, TIMESTAMP, BODY.as_bytes(), SIGNATURE));
        assert!(!verify(SECRET, MSG_ID, TIMESTAMP + 1, BODY.as_bytes(), SIGNATURE));
        assert!(!verify(SECRET, MSG_ID, TIMESTAMP, b"{}", SIGNATURE));
    }

    #[test]
    fn rotation_signs_with_every_secret() {
        let other = generate_secret();
        let header = signature_header([other.as_str(), SECRET], MSG_ID, TIMESTAMP, BODY.as_bytes());
        let entries: Vec<_> = header.split(' ').collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1], SIGNATURE);
        assert!(verify(&other, MSG_ID, TIMESTAMP, BODY.as_bytes(), &header));
    }

    #[test]
    fn secrets_are_checked() {
        assert!(generate_secret().starts_with(SECRET_PREFIX));
        assert_eq!(normalize_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(), SECRET);
        assert_eq!(normalize_secret("not base64!"), Err(SecretError::NotBase64));
        assert_eq!(normalize_secret("whsec_AAAA"), Err(SecretError::BadLength(3)));
    }
}
