//! `hookwire verify`: checks a Standard Webhooks signature (`v1` HMAC or `v1a` ed25519) from
//! headers and a body, the way a receiver must. [`check`] is shared with `hookwire listen`; the
//! cryptography is hookwire-core's, not repeated here.

use std::fmt;

use anyhow::Context;
use clap::Args;
use hookwire_core::schemes::{ED25519_PUBLIC_PREFIX, ED25519_SECRET_PREFIX, verify_ed25519};
use hookwire_core::signing;

/// How far `webhook-timestamp` may be from now (either way), as the Standard Webhooks
/// libraries default to: it bounds how long a captured request can be replayed.
pub const TOLERANCE_SECONDS_DEFAULT: u64 = 300;

/// The three signed values of a request, each from `webhook-*` or its `svix-*` twin.
#[derive(Debug, Clone, Default)]
pub struct Signed {
    pub id: Option<String>,
    pub timestamp: Option<String>,
    pub signature: Option<String>,
}

impl Signed {
    /// Reads them from `(name, value)` header pairs (names in any case).
    pub fn from_headers<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut signed = Self::default();
        for (name, value) in headers {
            let name = name.trim().to_ascii_lowercase();
            let Some(field) = name.strip_prefix("webhook-").or_else(|| name.strip_prefix("svix-")) else {
                continue;
            };
            let slot = match field {
                "id" => &mut signed.id,
                "timestamp" => &mut signed.timestamp,
                "signature" => &mut signed.signature,
                _ => continue,
            };
            // webhook-* wins over svix-* when both are present; they carry the same value.
            if slot.is_none() || name.starts_with("webhook-") {
                *slot = Some(value.trim().to_owned());
            }
        }
        signed
    }
}

/// Why a request does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    MissingHeader(&'static str),
    BadTimestamp(String),
    TooOld { age_seconds: i64, tolerance_seconds: u64 },
    TooNew { ahead_seconds: i64, tolerance_seconds: u64 },
    BadSecret(String),
    BadSignature,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingHeader(name) => write!(f, "missing header {name}"),
            Self::BadTimestamp(value) => write!(f, "webhook-timestamp {value:?} is not Unix seconds"),
            Self::TooOld { age_seconds, tolerance_seconds } => {
                write!(f, "timestamp outside tolerance: {age_seconds}s old (tolerance {tolerance_seconds}s)")
            }
            Self::TooNew { ahead_seconds, tolerance_seconds } => {
                write!(
                    f,
                    "timestamp outside tolerance: {ahead_seconds}s in the future (tolerance {tolerance_seconds}s)"
                )
            }
            Self::BadSecret(reason) => write!(f, "unusable secret: {reason}"),
            Self::BadSignature => write!(f, "bad signature: no signature matches this secret and body"),
        }
    }
}

/// Verifies `body` against `signed` with `secret` (`whsec_…` for `v1`; `whpk_…` or `whsk_…` for
/// `v1a`). `tolerance_seconds` 0 skips the timestamp window. Returns the scheme that matched.
pub fn check(
    secret: &str,
    signed: &Signed,
    body: &[u8],
    now_seconds: i64,
    tolerance_seconds: u64,
) -> Result<&'static str, Failure> {
    let id = signed.id.as_deref().ok_or(Failure::MissingHeader("webhook-id"))?;
    let timestamp_text = signed.timestamp.as_deref().ok_or(Failure::MissingHeader("webhook-timestamp"))?;
    let signature = signed.signature.as_deref().ok_or(Failure::MissingHeader("webhook-signature"))?;
    let timestamp: i64 = timestamp_text.parse().map_err(|_| Failure::BadTimestamp(timestamp_text.to_owned()))?;
    if tolerance_seconds > 0 {
        let tolerance = tolerance_seconds.min(i64::MAX as u64) as i64;
        if now_seconds - timestamp > tolerance {
            return Err(Failure::TooOld { age_seconds: now_seconds - timestamp, tolerance_seconds });
        }
        if timestamp - now_seconds > tolerance {
            return Err(Failure::TooNew { ahead_seconds: timestamp - now_seconds, tolerance_seconds });
        }
    }
    let secret = secret.trim();
    if secret.starts_with(ED25519_PUBLIC_PREFIX) || secret.starts_with(ED25519_SECRET_PREFIX) {
        return verify_ed25519(secret, id, timestamp, body, signature).then_some("v1a").ok_or(Failure::BadSignature);
    }
    signing::secret_bytes(secret).map_err(|e| Failure::BadSecret(e.to_string()))?;
    signing::verify(secret, id, timestamp, body, signature).then_some("v1").ok_or(Failure::BadSignature)
}

pub fn now_seconds() -> i64 {
    super::now_millis().div_euclid(1_000)
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The endpoint's secret: `whsec_…` (v1), or the `whpk_…` public key (v1a, ed25519).
    #[arg(long, env = "HOOKWIRE_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: String,
    /// A request header, `name: value` (repeatable); webhook-id, webhook-timestamp and
    /// webhook-signature are read (or their svix-* twins).
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// The webhook-id (overrides --header).
    #[arg(long)]
    pub id: Option<String>,
    /// The webhook-timestamp, Unix seconds (overrides --header).
    #[arg(long)]
    pub timestamp: Option<String>,
    /// The webhook-signature, e.g. `v1,BASE64` (overrides --header).
    #[arg(long)]
    pub signature: Option<String>,
    /// The raw body as given (exactly the bytes received; no trailing newline is added).
    #[arg(long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// File holding the raw body; `-` reads stdin.
    #[arg(long, required_unless_present = "body")]
    pub body_file: Option<String>,
    /// Seconds the timestamp may be from now, either way; 0 accepts any timestamp.
    #[arg(long, default_value_t = TOLERANCE_SECONDS_DEFAULT)]
    pub tolerance: u64,
}

/// Prints `valid (v1)` and returns, or prints `invalid: REASON` and exits 1.
pub fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let mut pairs = Vec::new();
    for header in &args.headers {
        let (name, value) =
            header.split_once(':').with_context(|| format!("--header {header:?}: expected `name: value`"))?;
        pairs.push((name.to_owned(), value.to_owned()));
    }
    let mut signed = Signed::from_headers(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    signed.id = args.id.or(signed.id);
    signed.timestamp = args.timestamp.or(signed.timestamp);
    signed.signature = args.signature.or(signed.signature);
    let body = match (args.body, args.body_file.as_deref()) {
        (Some(body), _) => body.into_bytes(),
        (None, Some("-")) => {
            use std::io::Read;
            let mut body = Vec::new();
            std::io::stdin().read_to_end(&mut body).context("reading the body from stdin")?;
            body
        }
        (None, Some(path)) => std::fs::read(path).with_context(|| format!("reading {path}"))?,
        (None, None) => anyhow::bail!("give --body or --body-file"),
    };
    match check(&args.secret, &signed, &body, now_seconds(), args.tolerance) {
        Ok(scheme) => {
            println!("valid ({scheme})");
            Ok(())
        }
        Err(failure) => {
            println!("invalid: {failure}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Standard Webhooks specification's known-answer vector.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const NOW: i64 = 1_614_265_330;

    fn signed() -> Signed {
        Signed::from_headers([
            ("Webhook-Id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
            ("webhook-timestamp", "1614265330"),
            ("svix-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
        ])
    }

    #[test]
    fn outcomes() {
        type Case = (&'static str, Signed, &'static [u8], i64, Result<&'static str, Failure>);
        let cases: [Case; 7] = [
            ("valid", signed(), BODY, NOW, Ok("v1")),
            ("tampered body", signed(), b"{}", NOW, Err(Failure::BadSignature)),
            ("old", signed(), BODY, NOW + 301, Err(Failure::TooOld { age_seconds: 301, tolerance_seconds: 300 })),
            ("future", signed(), BODY, NOW - 400, Err(Failure::TooNew { ahead_seconds: 400, tolerance_seconds: 300 })),
            ("no id", Signed { id: None, ..signed() }, BODY, NOW, Err(Failure::MissingHeader("webhook-id"))),
            (
                "bad timestamp",
                Signed { timestamp: Some("soon".into()), ..signed() },
                BODY,
                NOW,
                Err(Failure::BadTimestamp("soon".into())),
            ),
            (
                "no signature",
                Signed { signature: None, ..signed() },
                BODY,
                NOW,
                Err(Failure::MissingHeader("webhook-signature")),
            ),
        ];
        for (name, signed, body, now, expected) in cases {
            assert_eq!(check(SECRET, &signed, body, now, TOLERANCE_SECONDS_DEFAULT), expected, "{name}");
        }
        assert_eq!(check(SECRET, &signed(), BODY, NOW + 10_000, 0), Ok("v1"), "tolerance 0 skips the window");
        assert!(matches!(check("whsec_!!", &signed(), BODY, NOW, 300), Err(Failure::BadSecret(_))));
    }
}
