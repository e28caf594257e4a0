//! Properties that must hold for any input, one function per fuzz target (`fuzz/`): the fuzzers
//! call them with what libFuzzer generates, and `tests::the_fuzz_corpus_replays_clean` runs every
//! kept corpus file through them in the ordinary test suite. Each panics when its property breaks.

use serde_json::Value;

use crate::body::Chunking;
use crate::filter::Filter;
use crate::retry::RetryPolicy;
use crate::schemes::{SignatureConfig, signature_headers};
use crate::{payload, signing, url_policy};

/// A request body's parts that Hookwire parses itself: the payload scan must never panic, and
/// whatever it accepts the JSON parser (which the filter, envelope and chunking use) reads; the
/// endpoint options parse and validate without panicking.
pub fn request_body(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if payload::check(text).is_ok() && serde_json::from_str::<&serde_json::value::RawValue>(text).is_ok() {
        let parsed: Result<Value, _> = serde_json::from_str(text);
        assert!(parsed.is_ok(), "the payload scan accepted what the parser cannot read: {text:?}");
    }
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        if let Ok(policy) = serde_json::from_value::<RetryPolicy>(value.clone()) {
            let _ = policy.validate();
        }
        if let Ok(config) = serde_json::from_value::<SignatureConfig>(value.clone()) {
            let _ = config.validate();
        }
        if let Ok(chunking) = serde_json::from_value::<Chunking>(value.clone())
            && chunking.validate().is_ok()
            && let Some(pages) = chunking.pages(&value)
        {
            for page in 1..=pages.min(4) {
                let _ = chunking.page_body(&value, page);
            }
        }
    }
    if let Ok(url) = url_policy::parse_endpoint_url(text) {
        assert!(matches!(url.scheme(), "http" | "https") && url.host().is_some(), "{text:?} became {url}");
    }
}

/// A CEL filter: compiling any text and evaluating what compiles, over any payload, never
/// panics (errors are data).
pub fn filter(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The first line is the expression, the rest the payload it is evaluated on.
    let (source, payload) = text.split_once('\n').unwrap_or((text, "{}"));
    if let Ok(filter) = Filter::compile(source) {
        let data: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
        let _ = filter.matches("fuzz.event", &data, &["fuzz".to_owned()]);
    }
}

/// Signature verification: any header verifies without panicking, and a signature made for the
/// exact content verifies while one for other content does not.
pub fn signature(data: &[u8]) {
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let text = String::from_utf8_lossy(data);
    let (header, body) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = signing::verify(SECRET, "msg_fuzz", 1_700_000_000, body.as_bytes(), header);
    let _ = crate::schemes::verify_ed25519(header, "msg_fuzz", 1_700_000_000, body.as_bytes(), header);
    let made = signature_headers(None, std::iter::once(SECRET), "msg_fuzz", 1_700_000_000, body.as_bytes());
    let value = &made[0].1;
    assert!(signing::verify(SECRET, "msg_fuzz", 1_700_000_000, body.as_bytes(), value));
    let mut other = body.as_bytes().to_vec();
    other.push(b'!');
    assert!(!signing::verify(SECRET, "msg_fuzz", 1_700_000_000, &other, value));
}

#[cfg(test)]
mod tests {
    /// Every input the fuzzers kept (`fuzz/corpus/<target>/`) still holds its property.
    #[test]
    fn the_fuzz_corpus_replays_clean() {
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
        type Check = fn(&[u8]);
        let targets: [(&str, Check); 3] =
            [("request_body", super::request_body), ("filter", super::filter), ("signature", super::signature)];
        for (target, check) in targets {
            let dir = corpus.join(target);
            let files: Vec<_> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .map(|entry| entry.unwrap().path())
                .collect();
            assert!(!files.is_empty(), "{target} has a corpus");
            for file in files {
                check(&std::fs::read(&file).unwrap());
            }
        }
    }
}
