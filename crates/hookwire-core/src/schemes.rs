//! Per-endpoint signature schemes, so a receiver written for another product's webhooks works
//! unchanged: Standard Webhooks (default), Standard Webhooks asymmetric (`v1a`, ed25519), a
//! configurable HMAC header (Impira, Immuta, Improvado), or the secret itself in a header (Impilo).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer, SigningKey};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};

use crate::signing::{self, SECRET_PREFIX};

pub const ED25519_SECRET_PREFIX: &str = "whsk_";
pub const ED25519_PUBLIC_PREFIX: &str = "whpk_";
/// Plain-string secrets (hmac, secret-header schemes).
pub const PLAIN_SECRET_LENGTH_MAX: usize = 256;
pub const SIGNATURE_PREFIX_LENGTH_MAX: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    #[default]
    Standard,
    Ed25519,
    Hmac,
    SecretHeader,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Sha1,
    #[default]
    Sha256,
    Sha512,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Hex,
    Base64,
}

/// What an HMAC covers: the body alone, or the Standard Webhooks string `{id}.{timestamp}.{body}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Content {
    #[default]
    Body,
    Standard,
}

/// The endpoint's `signature` setting.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignatureConfig {
    #[serde(default)]
    pub scheme: Scheme,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<Algorithm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<Encoding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
}

impl SignatureConfig {
    /// Checks which fields the scheme takes; a refusal names the field at fault and says why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let needs_header = matches!(self.scheme, Scheme::Hmac | Scheme::SecretHeader);
        match (&self.header, needs_header) {
            (None, true) => return Err(("header", "required for the hmac and secret-header schemes".into())),
            (Some(_), false) => {
                return Err(("header", "applies only to the hmac and secret-header schemes".into()));
            }
            _ => {}
        }
        let hmac_only = [
            ("algorithm", self.algorithm.is_some()),
            ("encoding", self.encoding.is_some()),
            ("prefix", self.prefix.is_some()),
            ("content", self.content.is_some()),
        ];
        if self.scheme != Scheme::Hmac
            && let Some((field, _)) = hmac_only.iter().find(|(_, given)| *given)
        {
            return Err((*field, "applies only to the hmac scheme".into()));
        }
        if self.prefix.as_ref().is_some_and(|p| p.len() > SIGNATURE_PREFIX_LENGTH_MAX) {
            return Err(("prefix", format!("at most {SIGNATURE_PREFIX_LENGTH_MAX} bytes")));
        }
        Ok(())
    }
}

/// A new secret of the right kind for `scheme`.
pub fn generate_secret(scheme: Scheme) -> String {
    match scheme {
        Scheme::Ed25519 => {
            let mut seed = [0u8; 32];
            rand::fill(&mut seed);
            format!("{ED25519_SECRET_PREFIX}{}", BASE64.encode(seed))
        }
        _ => signing::generate_secret(),
    }
}

/// Checks a user-supplied secret for `scheme` and returns its stored form.
pub fn normalize_secret(scheme: Scheme, secret: &str) -> Result<String, String> {
    match scheme {
        Scheme::Standard => signing::normalize_secret(secret).map_err(|e| e.to_string()),
        Scheme::Ed25519 => ed25519_key(secret).map(|_| secret.to_owned()),
        Scheme::Hmac | Scheme::SecretHeader => {
            if secret.is_empty() || secret.len() > PLAIN_SECRET_LENGTH_MAX || secret.chars().any(char::is_control) {
                return Err(format!("secret must be 1..={PLAIN_SECRET_LENGTH_MAX} printable characters"));
            }
            Ok(secret.to_owned())
        }
    }
}

/// True when a stored secret is usable with `scheme` (a scheme change may need a new secret).
pub fn secret_fits(scheme: Scheme, secret: &str) -> bool {
    match scheme {
        Scheme::Standard => secret.starts_with(SECRET_PREFIX) && signing::secret_bytes(secret).is_ok(),
        Scheme::Ed25519 => ed25519_key(secret).is_ok(),
        Scheme::Hmac | Scheme::SecretHeader => true,
    }
}

fn ed25519_key(secret: &str) -> Result<SigningKey, String> {
    let encoded = secret
        .strip_prefix(ED25519_SECRET_PREFIX)
        .ok_or_else(|| format!("an ed25519 secret starts with `{ED25519_SECRET_PREFIX}`"))?;
    let seed: [u8; 32] = BASE64
        .decode(encoded)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or("an ed25519 secret is `whsk_` + base64 of 32 bytes")?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The `whpk_…` public key receivers verify `v1a` signatures with.
pub fn public_key(secret: &str) -> Option<String> {
    let key = ed25519_key(secret).ok()?;
    Some(format!("{ED25519_PUBLIC_PREFIX}{}", BASE64.encode(key.verifying_key().to_bytes())))
}

/// True when any `v1a,` entry of `header` is a valid ed25519 signature of
/// `{msg_id}.{timestamp}.{body}` by `key`: the `whpk_` public key receivers hold, or the
/// `whsk_` secret itself.
pub fn verify_ed25519(key: &str, msg_id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};
    let public = match key.strip_prefix(ED25519_PUBLIC_PREFIX) {
        Some(encoded) => {
            let bytes: Option<[u8; 32]> = BASE64.decode(encoded).ok().and_then(|b| b.try_into().ok());
            match bytes.map(|b| VerifyingKey::from_bytes(&b)) {
                Some(Ok(public)) => public,
                _ => return false,
            }
        }
        None => match ed25519_key(key) {
            Ok(secret) => secret.verifying_key(),
            Err(_) => return false,
        },
    };
    let mut message = format!("{msg_id}.{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    header.split(' ').filter_map(|entry| entry.strip_prefix("v1a,")).any(|encoded| {
        let bytes: Option<[u8; 64]> = BASE64.decode(encoded).ok().and_then(|b| b.try_into().ok());
        bytes.is_some_and(|b| public.verify(&message, &Signature::from_bytes(&b)).is_ok())
    })
}

/// The signature headers of one request. `secrets` yields the current secret first, then any
/// still in their rotation grace period (schemes with one value per header use only the first).
pub fn signature_headers<'a>(
    config: Option<&SignatureConfig>,
    mut secrets: impl Iterator<Item = &'a str>,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(String, String)> {
    let default = SignatureConfig::default();
    let config = config.unwrap_or(&default);
    match config.scheme {
        Scheme::Standard => {
            let value = signing::signature_header(secrets, msg_id, timestamp, body);
            vec![("webhook-signature".into(), value.clone()), ("svix-signature".into(), value)]
        }
        Scheme::Ed25519 => {
            let content = format!("{msg_id}.{timestamp}.");
            let value = secrets
                .filter_map(|s| ed25519_key(s).ok())
                .map(|key| {
                    let mut message = content.clone().into_bytes();
                    message.extend_from_slice(body);
                    format!("v1a,{}", BASE64.encode(key.sign(&message).to_bytes()))
                })
                .collect::<Vec<_>>()
                .join(" ");
            vec![("webhook-signature".into(), value.clone()), ("svix-signature".into(), value)]
        }
        Scheme::Hmac => {
            let secret = secrets.next().unwrap_or_default();
            let digest = hmac_digest(
                config.algorithm.unwrap_or_default(),
                secret.as_bytes(),
                config.content.unwrap_or_default(),
                msg_id,
                timestamp,
                body,
            );
            let encoded = match config.encoding.unwrap_or_default() {
                Encoding::Hex => crate::hex(&digest),
                Encoding::Base64 => BASE64.encode(&digest),
            };
            let header = config.header.clone().unwrap_or_default();
            vec![(header, format!("{}{encoded}", config.prefix.as_deref().unwrap_or("")))]
        }
        Scheme::SecretHeader => {
            let header = config.header.clone().unwrap_or_default();
            vec![(header, secrets.next().unwrap_or_default().to_owned())]
        }
    }
}

fn hmac_digest(
    algorithm: Algorithm,
    key: &[u8],
    content: Content,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<u8> {
    fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }
    let prefix = match content {
        Content::Body => String::new(),
        Content::Standard => format!("{msg_id}.{timestamp}."),
    };
    let parts: [&[u8]; 2] = [prefix.as_bytes(), body];
    match algorithm {
        Algorithm::Sha1 => run::<Hmac<sha1::Sha1>>(key, &parts),
        Algorithm::Sha256 => run::<Hmac<sha2::Sha256>>(key, &parts),
        Algorithm::Sha512 => run::<Hmac<sha2::Sha512>>(key, &parts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hmac_config(
        algorithm: Algorithm,
        encoding: Encoding,
        prefix: Option<&str>,
        content: Content,
    ) -> SignatureConfig {
        SignatureConfig {
            scheme: Scheme::Hmac,
            header: Some("x-sig".into()),
            algorithm: Some(algorithm),
            encoding: Some(encoding),
            prefix: prefix.map(Into::into),
            content: Some(content),
        }
    }

    fn one(config: &SignatureConfig, secret: &str, body: &str) -> String {
        signature_headers(Some(config), [secret].into_iter(), "msg_1", 1_614_265_330, body.as_bytes()).remove(0).1
    }

    #[test]
    fn hmac_known_answers() {
        // RFC 4231 test case 2 (key "Jefe"), and the matching SHA-1 value from RFC 2202.
        let body = "what do ya want for nothing?";
        let cases = [
            (
                Algorithm::Sha256,
                Encoding::Hex,
                None,
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (Algorithm::Sha1, Encoding::Hex, None, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
            (
                Algorithm::Sha256,
                Encoding::Base64,
                Some("sha256="),
                "sha256=W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=",
            ),
        ];
        for (algorithm, encoding, prefix, expected) in cases {
            assert_eq!(one(&hmac_config(algorithm, encoding, prefix, Content::Body), "Jefe", body), expected);
        }
        let sha512 = one(&hmac_config(Algorithm::Sha512, Encoding::Hex, None, Content::Body), "Jefe", body);
        assert!(sha512.starts_with("164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"), "{sha512}");
    }

    #[test]
    fn standard_content_signs_id_and_timestamp_too() {
        let standard = one(&hmac_config(Algorithm::Sha256, Encoding::Hex, None, Content::Standard), "k", "{}");
        let body_only =
            one(&hmac_config(Algorithm::Sha256, Encoding::Hex, None, Content::Body), "k", "msg_1.1614265330.{}");
        assert_eq!(standard, body_only);
    }

    #[test]
    fn secret_header_sends_the_secret() {
        let config = SignatureConfig {
            scheme: Scheme::SecretHeader,
            header: Some("Impilo-Webhook-Secret".into()),
            ..Default::default()
        };
        assert_eq!(
            signature_headers(Some(&config), ["s3cret"].into_iter(), "m", 0, b""),
            [("Impilo-Webhook-Secret".to_owned(), "s3cret".to_owned())]
        );
    }

    #[test]
    fn ed25519_signatures_verify_with_the_public_key() {
        use ed25519_dalek::{Signature, Verifier, VerifyingKey};
        let secret = generate_secret(Scheme::Ed25519);
        let config = SignatureConfig { scheme: Scheme::Ed25519, ..Default::default() };
        let value = signature_headers(Some(&config), [secret.as_str()].into_iter(), "msg_1", 5, b"{}").remove(0).1;
        let signature: [u8; 64] = BASE64.decode(value.strip_prefix("v1a,").unwrap()).unwrap().try_into().unwrap();
        let public = public_key(&secret).unwrap();
        let key: [u8; 32] =
            BASE64.decode(public.strip_prefix(ED25519_PUBLIC_PREFIX).unwrap()).unwrap().try_into().unwrap();
        VerifyingKey::from_bytes(&key).unwrap().verify(b"msg_1.5.{}", &Signature::from_bytes(&signature)).unwrap();
    }

    #[test]
    fn ed25519_verifies_with_public_key_or_secret() {
        let secret = generate_secret(Scheme::Ed25519);
        let config = SignatureConfig { scheme: Scheme::Ed25519, ..Default::default() };
        let header = signature_headers(Some(&config), [secret.as_str()].into_iter(), "msg_1", 5, b"{}").remove(0).1;
        let public = public_key(&secret).unwrap();
        assert!(verify_ed25519(&public, "msg_1", 5, b"{}", &header));
        assert!(verify_ed25519(&secret, "msg_1", 5, b"{}", &header));
        assert!(!verify_ed25519(&public, "msg_1", 5, b"{ }", &header));
        assert!(!verify_ed25519(&public, "msg_1", 6, b"{}", &header));
        assert!(!verify_ed25519("whpk_nope", "msg_1", 5, b"{}", &header));
    }

    #[test]
    fn configs_are_checked() {
        let bad = [
            SignatureConfig { scheme: Scheme::Hmac, ..Default::default() },
            SignatureConfig { scheme: Scheme::Standard, header: Some("x".into()), ..Default::default() },
            SignatureConfig {
                scheme: Scheme::SecretHeader,
                header: Some("x".into()),
                algorithm: Some(Algorithm::Sha1),
                ..Default::default()
            },
        ];
        for (config, field) in bad.into_iter().zip(["header", "header", "algorithm"]) {
            assert_eq!(config.validate().map_err(|e| e.0), Err(field), "{config:?}");
        }
        assert!(normalize_secret(Scheme::Ed25519, "whsec_abc").is_err());
        assert!(normalize_secret(Scheme::Hmac, "any token").is_ok());
        let wire: SignatureConfig = serde_json::from_str(r#"{"scheme":"secret-header","header":"h"}"#).unwrap();
        assert_eq!(wire.scheme, Scheme::SecretHeader);
    }
}
