//! The dashboard (/ui) and the portal (/portal) over real HTTP: sign-in, cookies, escaping,
//! the same-origin rule for POSTs, security headers, and a whole operator flow against a real
//! receiver. The browser itself is exercised by tests/browser.

mod support;

use reqwest::header::{CONTENT_SECURITY_POLICY, SET_COOKIE, X_FRAME_OPTIONS};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use support::browser::{Browser, location};
use support::receiver::Receiver;
use support::{ADMIN_TOKEN, TestApp, eventually};

fn header(response: &Response, name: reqwest::header::HeaderName) -> &str {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn pages_need_sign_in_and_refuse_framing() {
    let app = TestApp::start().await;
    let browser = Browser::new(&app);
    for path in ["/ui", "/ui/overview", "/ui/apps", "/ui/event-types", "/ui/apps/app_00000000000000000000000000"] {
        let response = browser.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        let expected = if path == "/ui" { "/ui/overview" } else { "/ui/login" };
        assert_eq!(location(&response), expected, "{path}");
    }
    let login = browser.get("/ui/login").await;
    assert_eq!(login.status(), 200);
    assert_eq!(header(&login, X_FRAME_OPTIONS), "DENY");
    let csp = header(&login, CONTENT_SECURITY_POLICY);
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("script-src"), "the dashboard runs no script: {csp}");
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_or_application_token_does_not_sign_in() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let portal = app.post_ok(&format!("/api/v1/auth/app-portal-access/{app_id}"), json!({}), 200).await;
    let mut browser = Browser::new(&app);
    for token in ["wrong", portal["token"].as_str().unwrap()] {
        let response = browser.sign_in(token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token}");
        assert!(response.headers().get(SET_COOKIE).is_none());
    }
    // A forged cookie holding a wrong token is not a session either.
    browser.cookie = Some("hookwire_ui=d3Jvbmc".into());
    assert_eq!(browser.get("/ui/apps").await.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

#[tokio::test]
async fn sign_in_sets_a_strict_cookie_and_sign_out_clears_it() {
    let app = TestApp::start().await;
    let mut browser = Browser::new(&app);
    let response = browser.sign_in(ADMIN_TOKEN).await;
    assert_eq!((response.status(), location(&response)), (StatusCode::SEE_OTHER, "/ui/overview"));
    let cookie = header(&response, SET_COOKIE);
    for part in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    use base64::Engine;
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ADMIN_TOKEN);
    assert!(!cookie.contains(ADMIN_TOKEN) && !cookie.contains(&encoded), "the cookie is a session id: {cookie}");
    assert!(cookie.starts_with("hookwire_ui=hws_"), "{cookie}");
    assert!(browser.text("/ui/apps").await.contains("<h1>Applications</h1>"));
    let kept = browser.cookie.clone();
    let origin = app.url.clone();
    let out = browser.post_from("/ui/logout", &[], Some(&origin)).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(header(&out, SET_COOKIE).contains("Max-Age=0"));
    // Signing out ends the session on the server: a kept copy of the cookie no longer works.
    browser.cookie = kept;
    let after = browser.get("/ui/apps").await;
    assert_eq!((after.status(), location(&after)), (StatusCode::SEE_OTHER, "/ui/login"));
    app.stop().await;
}

/// A session belongs to the admin token it was opened with: start the server again with another
/// admin token (the same database) and every old session is over.
#[tokio::test]
async fn changing_the_admin_token_ends_every_dashboard_session() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = support::database_url(&dir).await;
    let start = |token: &'static str| {
        let database_url = database_url.clone();
        async move {
            support::TestApp::start_with(|config| {
                config.database_url = database_url;
                config.admin_token = Some(token.into());
            })
            .await
        }
    };
    let first = start("first-admin-token").await;
    let mut browser = Browser::new(&first);
    browser.sign_in("first-admin-token").await;
    let cookie = browser.cookie.clone();
    first.stop().await;
    let second = start("second-admin-token").await;
    let mut browser = Browser::new(&second);
    browser.cookie = cookie;
    let page = browser.get("/ui/apps").await;
    assert_eq!((page.status(), location(&page)), (StatusCode::SEE_OTHER, "/ui/login"));
    second.stop().await;
}

#[tokio::test]
async fn user_content_is_escaped_everywhere() {
    let app = TestApp::start().await;
    let evil = "<script>alert(1)</script>";
    let created = app.post_ok("/api/v1/app", json!({"name": evil}), 201).await;
    let app_id = created["id"].as_str().unwrap();
    let endpoint = app
        .create_endpoint(app_id, json!({"url": "https://example.com/x?a=1&b=\"2\"", "description": "<b>bold</b>"}))
        .await;
    let message = app
        .post_ok(
            &format!("/api/v1/app/{app_id}/msg"),
            json!({"eventType": "user.created", "eventId": "<img src=x onerror=alert(1)>",
                "payload": {"html": "</pre><script>x()</script>"}}),
            202,
        )
        .await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ADMIN_TOKEN).await;
    let pages = [
        "/ui/overview?period=1h".to_owned(),
        "/ui/apps".to_owned(),
        format!("/ui/apps/{app_id}"),
        format!("/ui/apps/{app_id}/endpoints/{}", endpoint["id"].as_str().unwrap()),
        format!("/ui/apps/{app_id}/messages"),
        format!("/ui/apps/{app_id}/messages/{}", message["id"].as_str().unwrap()),
        format!("/ui/apps/{app_id}/messages?event_type=%3Cscript%3E"),
    ];
    for path in pages {
        let html = browser.text(&path).await;
        for raw in ["<script", "<img", "<b>bold", "b=\"2\""] {
            assert!(!html.contains(raw), "{path} contains {raw}");
        }
    }
    let apps = browser.text("/ui/apps").await;
    assert!(apps.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{apps}");
    app.stop().await;
}

#[tokio::test]
async fn posts_from_other_origins_are_refused() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ADMIN_TOKEN).await;
    let path = format!("/ui/apps/{app_id}/endpoints");
    let form = [("url", receiver.url.as_str()), ("event_types", "a.b")];
    for origin in [Some("http://evil.example"), Some("null"), None] {
        let response = browser.post_from(&path, &form, origin).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "origin {origin:?}");
    }
    let cross = browser
        .client
        .post(format!("{}{path}", app.url))
        .header("cookie", browser.cookie.clone().unwrap())
        .header("sec-fetch-site", "cross-site")
        .header("origin", app.url.clone())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("url=http%3A%2F%2F127.0.0.1%3A9%2F")
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    // Sign-in is a POST too: a cross-site page cannot log the browser in (login CSRF).
    let login = browser.post_from("/ui/login", &[("token", ADMIN_TOKEN)], Some("http://evil.example")).await;
    assert_eq!(login.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get(&format!("/api/v1/app/{app_id}/endpoint")).await.1["data"], json!([]));
    let origin = app.url.clone();
    let ok = browser.post_from(&path, &form, Some(&origin)).await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&format!("/api/v1/app/{app_id}/endpoint")).await.1["data"][0]["url"], json!(receiver.url));
    app.stop().await;
}

#[tokio::test]
async fn operator_flow_create_test_event_resend_recover() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ADMIN_TOKEN).await;
    let origin = app.url.clone();
    let created = browser
        .post_from(
            &format!("/ui/apps/{app_id}/endpoints"),
            &[("url", &receiver.url), ("event_types", "order.paid")],
            Some(&origin),
        )
        .await;
    let endpoint_page = location(&created).to_owned();
    assert!(endpoint_page.starts_with(&format!("/ui/apps/{app_id}/endpoints/ep_")), "{endpoint_page}");
    let endpoint_path = endpoint_page.split('?').next().unwrap().to_owned();
    let sent =
        browser.post_from(&format!("{endpoint_path}/test"), &[("event_type", "order.paid")], Some(&origin)).await;
    let message_page = location(&sent).to_owned();
    assert!(message_page.contains("/messages/msg_"), "{message_page}");
    receiver.wait_for(1).await;
    let message_path = message_page.split('?').next().unwrap().to_owned();
    let html = eventually("a success on the message page", || async {
        let html = browser.text(&message_path).await;
        html.contains("badge ok\">success").then_some(html)
    })
    .await;
    assert!(html.contains("HTTP 200") && html.contains("order.paid"), "{html}");
    let resend_path = format!("{message_path}/resend/{}", endpoint_path.rsplit('/').next().unwrap());
    assert_eq!(browser.post_from(&resend_path, &[], Some(&origin)).await.status(), StatusCode::SEE_OTHER);
    receiver.wait_for(2).await;
    eventually("two attempts on the endpoint page", || async {
        let html = browser.text(&endpoint_path).await;
        (html.matches("<span class=\"badge ok\">success</span></td>").count() == 2).then_some(())
    })
    .await;
    let search = browser.text(&format!("/ui/apps/{app_id}/messages?event_type=order.paid&status=success")).await;
    assert!(search.contains(&message_path), "{search}");
    let none = browser.text(&format!("/ui/apps/{app_id}/messages?status=fail")).await;
    assert!(none.contains("No messages match."), "{none}");
    let recovered = browser
        .post_from(&format!("{endpoint_path}/recover"), &[("since", "2000-01-01T00:00:00Z")], Some(&origin))
        .await;
    assert!(location(&recovered).contains("background%20task%20qtask_"), "{}", location(&recovered));
    let disabled = browser.post_from(&format!("{endpoint_path}/enabled"), &[("enabled", "false")], Some(&origin)).await;
    assert_eq!(disabled.status(), StatusCode::SEE_OTHER);
    let (_, endpoints) = app.get(&format!("/api/v1/app/{app_id}/endpoint")).await;
    assert_eq!(endpoints["data"][0]["disabled"], json!(true));
    assert!(browser.text(&format!("/ui/apps/{app_id}")).await.contains("100%"));
    let portal = browser.post_from(&format!("/ui/apps/{app_id}/portal"), &[], Some(&origin)).await;
    assert!(location(&portal).starts_with("/portal/#token=hwp_"), "{}", location(&portal));
    app.stop().await;
}

#[tokio::test]
async fn portal_is_a_frameable_static_page_with_a_strict_policy() {
    let app = TestApp::start().await;
    let browser = Browser::new(&app);
    let page = browser.get("/portal/").await;
    assert_eq!(page.status(), 200);
    assert!(header(&page, reqwest::header::CONTENT_TYPE).starts_with("text/html"));
    assert!(page.headers().get(X_FRAME_OPTIONS).is_none(), "the portal is meant for iframes");
    let csp = header(&page, CONTENT_SECURITY_POLICY).to_owned();
    assert!(csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"), "{csp}");
    assert!(!csp.contains("frame-ancestors") && !csp.contains("unsafe-inline"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<script type="module" src="/portal/assets/main.js"></script>"#), "the entry module");
    assert!(!html.contains("<script>"), "no inline script");
    assert_eq!(browser.get("/portal/assets/style.css").await.status(), 200);
    app.stop().await;
}

/// The portal's script is ES modules with no build: every module the entry imports, directly or
/// not, is served with a JavaScript type (a browser runs no module script without one), every
/// module file is reached that way, and any other asset name is a 404.
#[tokio::test]
async fn every_portal_module_is_served_as_javascript() {
    let app = TestApp::start().await;
    let browser = Browser::new(&app);
    let mut served = std::collections::BTreeSet::new();
    let mut queue = vec!["main.js".to_owned()];
    while let Some(name) = queue.pop() {
        if !served.insert(name.clone()) {
            continue;
        }
        let response = browser.get(&format!("/portal/assets/{name}")).await;
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(header(&response, reqwest::header::CONTENT_TYPE), "text/javascript; charset=utf-8", "{name}");
        assert_eq!(header(&response, reqwest::header::CACHE_CONTROL), "no-store", "{name}");
        let source = response.text().await.unwrap();
        queue.extend(source.split("from \"./").skip(1).map(|rest| rest.split('"').next().unwrap().to_owned()));
    }
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/src/ui/assets/portal");
    let files: std::collections::BTreeSet<String> =
        std::fs::read_dir(directory).unwrap().map(|entry| entry.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(served, files, "every module file is imported from main.js, and served");
    for unknown in ["portal.js", "nope.js", "portal.html", "main.js.map", "..%2Fportal.html"] {
        assert_eq!(browser.get(&format!("/portal/assets/{unknown}")).await.status(), 404, "{unknown}");
    }
    app.stop().await;
}

/// The source of the portal's module `name`, as served.
async fn portal_module(browser: &Browser, name: &str) -> String {
    browser.text(&format!("/portal/assets/{name}")).await
}

/// An endpoint that sets no retry policy or timeout is shown the server's: the portal's copies of
/// the defaults agree with hookwire-core's. Its settings forms are all on the page.
#[tokio::test]
async fn the_portal_shows_the_servers_retry_defaults() {
    use hookwire_core::limits::DELIVERY_TIMEOUT_MS_DEFAULT;
    use hookwire_core::retry::{DEFAULT_SCHEDULE_SECONDS, JITTER_FRACTION};
    let app = TestApp::start().await;
    let browser = Browser::new(&app);
    let script = portal_module(&browser, "retries.js").await;
    let constant = |name: &str| {
        let declaration = format!("const {name} = ");
        script.lines().find_map(|line| Some(line.trim().strip_prefix(&declaration)?.trim_end_matches(';').to_owned()))
    };
    let schedule = DEFAULT_SCHEDULE_SECONDS.map(|s| s.to_string()).join(", ");
    assert_eq!(constant("DEFAULT_RETRY_SCHEDULE_SECONDS"), Some(format!("[{schedule}]")));
    assert_eq!(constant("DEFAULT_RETRY_JITTER_PERCENT"), Some((JITTER_FRACTION * 100.0).round().to_string()));
    assert_eq!(constant("DEFAULT_TIMEOUT_MS"), Some(DELIVERY_TIMEOUT_MS_DEFAULT.to_string()));
    let html = browser.text("/portal/").await;
    for form in ["endpoint-settings", "filter-test", "endpoint-signature", "endpoint-retries"] {
        assert!(html.contains(&format!("<form id=\"{form}\"")), "the portal has the form {form}");
    }
    let settings = portal_module(&browser, "settings.js").await;
    assert!(settings.contains("\"/filter/test\""), "the filter is tested through the API");
    app.stop().await;
}

#[tokio::test]
async fn a_portal_token_reaches_only_its_application() {
    let app = TestApp::start().await;
    let own = app.create_app().await;
    let other = app.create_app().await;
    app.create_endpoint(&other, json!({"url": "https://example.com/other"})).await;
    let access = app.post_ok(&format!("/api/v1/auth/app-portal-access/{own}"), json!({}), 200).await;
    let url = access["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/portal/#token=hwp_", app.url)) && url.ends_with(&format!("&app={own}")),
        "{url}"
    );
    let token = access["token"].as_str().unwrap();
    let call = |method: Method, path: String, body| {
        let app = &app;
        async move { app.request_as(Some(token), method, &path, body).await }
    };
    let created =
        call(Method::POST, format!("/api/v1/app/{own}/endpoint"), Some(json!({"url": "https://example.com/own"})))
            .await;
    assert_eq!(created.0, 201);
    let endpoint = created.1["id"].as_str().unwrap().to_owned();
    for path in [
        format!("/api/v1/app/{own}/endpoint/{endpoint}/secret"),
        format!("/api/v1/app/{own}/attempt/endpoint/{endpoint}?with_msg=true"),
        format!("/api/v1/app/{own}"),
    ] {
        assert_eq!(call(Method::GET, path.clone(), None).await.0, 200, "{path}");
    }
    let rotated =
        call(Method::POST, format!("/api/v1/app/{own}/endpoint/{endpoint}/secret/rotate"), Some(json!({}))).await;
    assert_eq!(rotated.0, 200);
    for path in
        [format!("/api/v1/app/{other}"), format!("/api/v1/app/{other}/endpoint"), format!("/api/v1/app/{other}/msg")]
    {
        assert_eq!(call(Method::GET, path.clone(), None).await.0, 404, "{path}");
    }
    assert_eq!(call(Method::GET, "/api/v1/app".into(), None).await.0, 403);
    // A portal token is not a dashboard session.
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in(token).await.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn the_dashboard_edits_tests_and_removes_a_transformation() {
    let app = TestApp::start().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ADMIN_TOKEN).await;
    let origin = browser.base.clone();
    let origin = Some(origin.as_str());
    let app_id = app.create_app().await;
    let endpoint = app.create_endpoint(&app_id, json!({"url": "https://example.com/hook"})).await;
    let page = format!("/ui/apps/{app_id}/endpoints/{}", endpoint["id"].as_str().unwrap());
    let html = browser.text(&page).await;
    assert!(html.contains("Currently: none") && html.contains("function handler(webhook)"), "the template is offered");

    let code =
        "function handler(w) { console.log('seen', w.eventType); w.payload = {text: '<b>' + w.eventType}; return w; }";
    let tested = browser
        .post_from(
            &format!("{page}/transformation/test"),
            &[("code", code), ("event_type", "user.created"), ("payload", "{\"id\": 1}"), ("enabled", "true")],
            origin,
        )
        .await;
    assert_eq!(tested.status(), 200);
    let html = tested.text().await.unwrap();
    assert!(html.contains("would send") && html.contains("&lt;b&gt;user.created"), "result shown, escaped: {html}");
    assert!(html.contains("seen user.created"), "console output shown");
    assert!(html.contains("Currently: none"), "a test saves nothing");

    let broken = browser.post_from(&format!("{page}/transformation"), &[("code", "function handler( {")], origin).await;
    assert_eq!(broken.status(), 422);
    assert!(broken.text().await.unwrap().contains("line 1: SyntaxError"));

    let saved =
        browser.post_from(&format!("{page}/transformation"), &[("code", code), ("enabled", "true")], origin).await;
    assert_eq!(saved.status(), 303);
    let api = format!("/api/v1/app/{app_id}/endpoint/{}/transformation", endpoint["id"].as_str().unwrap());
    assert_eq!(app.get(&api).await.1["enabled"], true);
    assert!(browser.text(&page).await.contains("Currently: enabled"));
    let unchecked = browser.post_from(&format!("{page}/transformation"), &[("code", code)], origin).await;
    assert_eq!(unchecked.status(), 303);
    assert_eq!(app.get(&api).await.1["enabled"], false, "an unchecked box disables it");
    let removed = browser.post_from(&format!("{page}/transformation"), &[("code", "  ")], origin).await;
    assert_eq!(removed.status(), 303);
    assert_eq!(app.get(&api).await.1["code"], serde_json::Value::Null);
    app.stop().await;
}

#[tokio::test]
async fn failing_endpoints_show_their_rate_and_reason_and_searches_take_relative_times() {
    let app = TestApp::start().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ADMIN_TOKEN).await;
    let app_id = app.create_app().await;
    let endpoint = app
        .create_endpoint(
            &app_id,
            json!({"url": "http://no-such-host.invalid/hook", "retryPolicy": {"schedule": [3600]}}),
        )
        .await;
    let endpoint_id = endpoint["id"].as_str().unwrap().to_owned();
    app.send(&app_id, "order.created", json!({"n": 1})).await;
    let attempts = format!("/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}");
    app.get_until(&attempts, |v| v["data"].as_array().is_some_and(|a| !a.is_empty())).await;

    let overview = browser.text(&format!("/ui/apps/{app_id}")).await;
    assert!(
        overview.contains("0% <span class=\"muted\">(0 of the last 1 attempts)"),
        "a retrying failure counts: {overview}"
    );
    assert!(overview.contains("dns: "), "the last attempt says why: {overview}");
    let page = browser.text(&format!("/ui/apps/{app_id}/endpoints/{endpoint_id}")).await;
    assert!(page.contains("Response or reason") && page.contains("no-such-host.invalid"), "the DNS reason is shown");

    for since in ["yesterday", "12h", "today"] {
        let found = browser.text(&format!("/ui/apps/{app_id}/messages?since={since}")).await;
        assert!(found.contains("order.created"), "since={since} finds the message");
    }
    let refused = browser.get(&format!("/ui/apps/{app_id}/messages?since=last%20tuesday")).await;
    assert_eq!(refused.status(), 422);
    let text = refused.text().await.unwrap();
    assert!(text.contains("yesterday") && text.contains("12h"), "the error says what is accepted: {text}");
    let catalog = browser.text("/ui/event-types").await;
    assert!(!catalog.contains("<th></th>"), "every column has a heading");
    app.stop().await;
}

/// A FIFO destination whose receiver is down: the application page and the destination's page
/// say so (status, lag, next retry, the receiver's answer, escaped), and the dashboard's buttons
/// force a retry, skip the backlog, pause, enable and delete, each seen through the API.
#[tokio::test]
async fn the_dashboard_shows_destinations_and_steers_a_fifo() {
    use support::receiver::Reply;
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    // Down twice, each time asking for a long wait: nothing goes again unless forced.
    let down = Reply {
        status: 503,
        body: "<b>maintenance</b>".into(),
        headers: vec![("retry-after", "600".into())],
        ..Reply::default()
    };
    receiver.script([down.clone(), down]);
    let app_id = app.create_app().await;
    let destinations = format!("/api/v1/app/{app_id}/destination");
    let fifo = app
        .post_ok(
            &destinations,
            json!({"type": "fifoEndpoint", "uid": "ledger", "batchSize": 7, "eventTypes": ["order.*"],
                   "config": {"url": receiver.url}}),
            201,
        )
        .await;
    let feed = app.post_ok(&destinations, json!({"type": "pollingEndpoint", "uid": "feed"}), 201).await;
    app.send(&app_id, "order.created", json!({"n": 1})).await;
    let api_path = format!("{destinations}/ledger");
    let retrying = app.get_until(&api_path, |d| d["status"] == "retrying").await;
    assert_eq!(retrying["lag"], json!(1), "{retrying}");

    let mut browser = Browser::new(&app);
    browser.sign_in(ADMIN_TOKEN).await;
    let overview = browser.text(&format!("/ui/apps/{app_id}")).await;
    let row = |html: &str, id: &str| -> String {
        let start = html.find(&format!("<tr data-destination=\"{id}\">")).expect("a row for the destination");
        html[start..].split("</tr>").next().unwrap().to_owned()
    };
    let ledger = row(&overview, fifo["id"].as_str().unwrap());
    for shown in [
        ">ledger</a>",
        "<code>fifoEndpoint</code>",
        &receiver.url,
        "<span class=\"badge wait\">retrying</span>",
        "<td class=\"num\">1</td>",
        "HTTP 503: &lt;b&gt;maintenance&lt;/b&gt;",
        "<code>order.*</code>",
        "<td class=\"num\">7</td>",
        "<time datetime=",
    ] {
        assert!(ledger.contains(shown), "the row shows {shown}: {ledger}");
    }
    assert!(!overview.contains("<b>maintenance"), "the receiver's answer is escaped");
    let polling = row(&overview, feed["id"].as_str().unwrap());
    assert!(polling.contains("polled by its consumers") && polling.contains("badge ok\">enabled"), "{polling}");

    let page = format!("/ui/apps/{app_id}/destinations/{}", fifo["id"].as_str().unwrap());
    let html = browser.text(&page).await;
    for shown in ["badge wait\">retrying", "HTTP 503: &lt;b&gt;maintenance&lt;/b&gt;", "Recent attempts", "batch_msg_"]
    {
        assert!(html.contains(shown), "the page shows {shown}: {html}");
    }
    assert!(html.contains("<dt>Lag</dt><dd>1</dd>"), "{html}");
    assert!(html.contains("Skip backlog") && html.contains("Force retry") && html.contains(">Pause</button>"));
    let origin = app.url.clone();
    let origin = Some(origin.as_str());
    let forged = browser.post_from(&format!("{page}/skip"), &[], Some("http://evil.example")).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let forced = browser.post_from(&format!("{page}/force-retry"), &[], origin).await;
    assert_eq!(forced.status(), StatusCode::SEE_OTHER);
    assert!(location(&forced).contains("notice=Retry%20forced"), "{}", location(&forced));
    receiver.wait_for(2).await;
    let failing_again = app.get_until(&api_path, |d| d["status"] == "retrying" && d["nextRetryAt"].is_string()).await;
    assert_eq!(failing_again["lag"], json!(1));
    let attempts = browser.text(&page).await;
    assert_eq!(attempts.matches("<span class=\"badge bad\">fail</span>").count(), 2, "both tries are listed");

    let skipped = browser.post_from(&format!("{page}/skip"), &[], origin).await;
    assert_eq!(skipped.status(), StatusCode::SEE_OTHER);
    let (_, after_skip) = app.get(&api_path).await;
    assert_eq!(
        (&after_skip["status"], &after_skip["failureReason"], &after_skip["lag"]),
        (&json!("enabled"), &Value::Null, &json!(0)),
        "the backlog is dropped"
    );
    assert!(browser.text(location(&skipped)).await.contains("Backlog skipped"), "{}", location(&skipped));

    let paused = browser.post_from(&format!("{page}/status"), &[("status", "paused")], origin).await;
    assert_eq!(paused.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&api_path).await.1["status"], "paused");
    let html = browser.text(&page).await;
    assert!(html.contains("badge muted\">paused") && html.contains(">Enable</button>"), "{html}");
    let enabled = browser.post_from(&format!("{page}/status"), &[("status", "enabled")], origin).await;
    assert_eq!(enabled.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&api_path).await.1["status"], "enabled");
    let refused = browser.post_from(&format!("{page}/status"), &[("status", "asleep")], origin).await;
    assert_eq!(refused.status(), 422, "the API's own check applies");

    let feed_page = format!("/ui/apps/{app_id}/destinations/feed");
    let html = browser.text(&feed_page).await;
    assert!(!html.contains("Skip backlog") && !html.contains("Transformation"), "a polling endpoint is read");
    let deleted = browser.post_from(&format!("{feed_page}/delete"), &[], origin).await;
    assert_eq!(
        (deleted.status(), location(&deleted)),
        (StatusCode::SEE_OTHER, format!("/ui/apps/{app_id}?notice=Destination%20deleted#destinations").as_str())
    );
    assert_eq!(app.get(&format!("{destinations}/feed")).await.0, 404);
    app.stop().await;
}

#[tokio::test]
async fn the_dashboard_tests_and_saves_a_fifo_transformation() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    // Paused: what is sent stays waiting, the next pending batch.
    app.post_ok(
        &format!("/api/v1/app/{app_id}/destination"),
        json!({"type": "fifoEndpoint", "uid": "bulk", "status": "paused", "config": {"url": receiver.url}}),
        201,
    )
    .await;
    app.send(&app_id, "row.added", json!({"n": 41})).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ADMIN_TOKEN).await;
    let origin = app.url.clone();
    let origin = Some(origin.as_str());
    let page = format!("/ui/apps/{app_id}/destinations/bulk");
    let html = browser.text(&page).await;
    assert!(html.contains("Currently: none") && html.contains("function handler(input)"), "the template is offered");

    let code = "function handler(input) { console.log('events', input.events.length); \
                return {rows: input.events.map(e => '<' + e.eventType + '>' + e.payload.n)}; }";
    // On PostgreSQL the message joins the log once every older transaction has ended.
    let pending = eventually("the pending batch", || async {
        let answer = browser.post_from(&format!("{page}/transformation/test"), &[("code", code)], origin).await;
        (answer.status() == StatusCode::OK).then_some(answer)
    })
    .await;
    let html = pending.text().await.unwrap();
    assert!(html.contains("would send") && html.contains("&lt;row.added&gt;41"), "the pending batch, escaped: {html}");
    assert!(html.contains("events 1"), "console output shown");
    let one = browser
        .post_from(
            &format!("{page}/transformation/test"),
            &[("code", code), ("event_type", "user.created"), ("payload", "{\"n\": 7}")],
            origin,
        )
        .await;
    let html = one.text().await.unwrap();
    assert!(html.contains("&lt;user.created&gt;7") && html.contains("Currently: none"), "a test saves nothing");
    let throwing = browser
        .post_from(
            &format!("{page}/transformation/test"),
            &[("code", "function handler(i) { throw new Error('no'); }")],
            origin,
        )
        .await;
    assert!(throwing.text().await.unwrap().contains("badge bad\">failed"));

    let saved =
        browser.post_from(&format!("{page}/transformation"), &[("code", code), ("enabled", "true")], origin).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let api = format!("/api/v1/app/{app_id}/destination/bulk/transformation");
    let (_, transformation) = app.get(&api).await;
    assert_eq!((&transformation["enabled"], &transformation["code"]), (&json!(true), &json!(code)));
    assert!(browser.text(&page).await.contains("Currently: enabled"));
    let broken = browser.post_from(&format!("{page}/transformation"), &[("code", "function handler( {")], origin).await;
    assert_eq!(broken.status(), 422);
    let removed = browser.post_from(&format!("{page}/transformation"), &[("code", " ")], origin).await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&api).await.1["code"], Value::Null);
    app.stop().await;
}
