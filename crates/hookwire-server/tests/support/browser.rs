//! A browser-like client for the dashboard and the portal over HTTP: no redirects followed, so
//! each answer can be checked, and the session cookie kept once signed in.

use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode};

use super::{ADMIN_TOKEN, TestApp};

pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
    /// The session cookie sent with every request (a test may forge one).
    pub cookie: Option<String>,
}

impl Browser {
    /// Not signed in.
    pub fn new(app: &TestApp) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { client, base: app.url.clone(), cookie: None }
    }

    /// Signed in with the admin token.
    pub async fn signed_in(app: &TestApp) -> Self {
        let mut browser = Self::new(app);
        let response = browser.sign_in(ADMIN_TOKEN).await;
        assert!(browser.cookie.is_some(), "signed in: {}", response.status());
        browser
    }

    /// Signs in with `token`, keeping the session cookie if one is set.
    pub async fn sign_in(&mut self, token: &str) -> Response {
        let response = self.post("/ui/login", &[("token", token)]).await;
        if let Some(set) = response.headers().get(SET_COOKIE) {
            self.cookie = Some(set.to_str().unwrap().split(';').next().unwrap().to_owned());
        }
        response
    }

    pub async fn get(&self, path: &str) -> Response {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        request.send().await.unwrap()
    }

    /// A page that must answer 200.
    pub async fn text(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.unwrap()
    }

    /// The status and page of a GET that is refused.
    pub async fn refused(&self, path: &str) -> (StatusCode, String) {
        let response = self.get(path).await;
        (response.status(), response.text().await.unwrap())
    }

    /// A form POST as a page of this origin sends it.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        let origin = self.base.clone();
        self.post_from(path, form, Some(&origin)).await
    }

    /// A form POST with the `Origin` header given (or none).
    pub async fn post_from(&self, path: &str, form: &[(&str, &str)], origin: Option<&str>) -> Response {
        let body = serde_urlencoded::to_string(form).unwrap();
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        request.send().await.unwrap()
    }
}

/// Where a redirect points ("" when it does not).
pub fn location(response: &Response) -> &str {
    response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
}
