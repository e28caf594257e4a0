//! The CLI's one HTTP client for the Hookwire API: builds `/api/v1/...` URLs from path segments
//! (each percent-encoded), sends the bearer token, turns `{code, detail}` answers into
//! [`ApiError`], and follows list iterators. It knows no resource; the resource modules do.

use std::fmt;
use std::time::Duration;

use anyhow::Context;
use reqwest::{Method, Url};
use serde_json::Value;

use super::PageArgs;

/// How long one API call may take, connecting included.
pub const REQUEST_TIMEOUT_MS: u64 = 30_000;
pub const CONNECT_TIMEOUT_MS: u64 = 10_000;
/// Page size used by `--all` when no `--limit` is given (the server's maximum).
pub const PAGE_LIMIT_ALL: usize = 250;

/// An answer outside 2xx, as the server explained it.
#[derive(Debug)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub detail: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the server answered {} {}: {}", self.status, self.code, self.detail)?;
        if self.status == 401 {
            write!(f, " (give the admin or an application token with --token or HOOKWIRE_TOKEN)")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// One page of a list, or every page with `--all`.
#[derive(Debug, Default)]
pub struct Listing {
    pub data: Vec<Value>,
    pub iterator: Option<String>,
    pub done: bool,
}

pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
}

impl Client {
    pub fn new(base: &str, token: Option<String>) -> anyhow::Result<Self> {
        let base = Url::parse(base).with_context(|| format!("--url {base:?} is not a URL"))?;
        anyhow::ensure!(matches!(base.scheme(), "http" | "https"), "--url must be http:// or https://");
        // https needs a crypto provider; a second install (tests, listen --forward) is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(REQUEST_TIMEOUT_MS))
            .connect_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the HTTP client")?;
        Ok(Self { http, base, token: token.filter(|t| !t.is_empty()) })
    }

    /// `{base}/api/v1/{segments...}?{query}`.
    pub fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        {
            let mut path = url.path_segments_mut().expect("http(s) URLs have a path");
            path.pop_if_empty().extend(["api", "v1"]).extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    pub async fn get(&self, segments: &[&str], query: &[(&str, String)]) -> anyhow::Result<Value> {
        self.send(Method::GET, self.url(segments, query), None, &[]).await
    }

    pub async fn post(&self, segments: &[&str], body: Value) -> anyhow::Result<Value> {
        self.send(Method::POST, self.url(segments, &[]), Some(body), &[]).await
    }

    /// A POST with query parameters (`?dryRun=true`).
    pub async fn post_query(&self, segments: &[&str], query: &[(&str, String)], body: Value) -> anyhow::Result<Value> {
        self.send(Method::POST, self.url(segments, query), Some(body), &[]).await
    }

    /// A POST with extra request headers (`idempotency-key`).
    pub async fn post_with(&self, segments: &[&str], body: Value, headers: &[(&str, String)]) -> anyhow::Result<Value> {
        self.send(Method::POST, self.url(segments, &[]), Some(body), headers).await
    }

    pub async fn patch(&self, segments: &[&str], body: Value) -> anyhow::Result<Value> {
        self.send(Method::PATCH, self.url(segments, &[]), Some(body), &[]).await
    }

    pub async fn delete(&self, segments: &[&str]) -> anyhow::Result<Value> {
        self.send(Method::DELETE, self.url(segments, &[]), None, &[]).await
    }

    /// One page (`--limit`, `--iterator`), or all pages (`--all`) concatenated.
    pub async fn list(&self, segments: &[&str], query: &[(&str, String)], page: &PageArgs) -> anyhow::Result<Listing> {
        let limit = page.limit.or(page.all.then_some(PAGE_LIMIT_ALL));
        let mut iterator = page.iterator.clone();
        let mut listing = Listing::default();
        loop {
            let mut query = query.to_vec();
            query.extend(limit.map(|limit| ("limit", limit.to_string())));
            query.extend(iterator.clone().map(|iterator| ("iterator", iterator)));
            let answer = self.get(segments, &query).await?;
            let data = answer["data"].as_array().cloned().unwrap_or_default();
            listing.done = answer["done"].as_bool().unwrap_or(true);
            listing.iterator = answer["iterator"].as_str().map(str::to_owned);
            let empty = data.is_empty();
            listing.data.extend(data);
            if !page.all || listing.done || empty || listing.iterator.is_none() {
                return Ok(listing);
            }
            iterator = listing.iterator.clone();
        }
    }

    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
        headers: &[(&str, String)],
    ) -> anyhow::Result<Value> {
        let mut request = self.http.request(method.clone(), url.clone());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| format!("{method} {url}"))?;
        let status = response.status();
        let text = response.text().await.with_context(|| format!("reading the answer to {method} {url}"))?;
        let value: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            return Ok(value);
        }
        Err(api_error(status.as_u16(), &value).into())
    }
}

fn api_error(status: u16, body: &Value) -> ApiError {
    let code = body["code"].as_str().unwrap_or("error").to_owned();
    let detail = match &body["detail"] {
        Value::String(detail) => detail.clone(),
        // 422: [{loc: ["body", "url"], msg, type}]
        Value::Array(items) => items
            .iter()
            .map(|item| {
                let loc: Vec<String> = item["loc"]
                    .as_array()
                    .map(|loc| loc.iter().map(|part| part.as_str().map_or(part.to_string(), str::to_owned)).collect())
                    .unwrap_or_default();
                format!("{}: {}", loc.join("."), item["msg"].as_str().unwrap_or(""))
            })
            .collect::<Vec<_>>()
            .join("; "),
        Value::Null => match body {
            Value::String(text) => text.chars().take(200).collect(),
            _ => String::from("(no detail)"),
        },
        other => other.to_string(),
    };
    ApiError { status, code, detail }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn urls_encode_each_segment() {
        let client = Client::new("http://h:1/", None).unwrap();
        let url = client.url(&["app", "a/b c", "msg"], &[("limit", "5".into())]);
        assert_eq!(url.as_str(), "http://h:1/api/v1/app/a%2Fb%20c/msg?limit=5");
    }

    #[test]
    fn errors_name_the_problem() {
        let not_found = api_error(404, &json!({"code": "not_found", "detail": "application not found"}));
        assert_eq!(not_found.to_string(), "the server answered 404 not_found: application not found");
        let invalid = api_error(
            422,
            &json!({"code": "validation", "detail": [{"loc": ["body", "url"], "msg": "bad", "type": "value_error"}]}),
        );
        assert_eq!(invalid.detail, "body.url: bad");
    }
}
