//! The portal's theme on app-portal-access: every field checked (a 422 naming it), a valid one
//! carried in the returned URL's fragment and nowhere else, and the portal's CSP letting the
//! page show an https logo without opening anything else. The browser side (the theme applied
//! through CSS custom properties) is exercised by tests/browser.

mod support;

use reqwest::header::CONTENT_SECURITY_POLICY;
use serde_json::{Value, json};
use support::TestApp;

/// Asks for a portal link with `theme`; returns the status and, for a 422, the field it names.
async fn check(app: &TestApp, app_id: &str, theme: Value) -> (u16, Value) {
    let (status, body) = app.post(&format!("/api/v1/auth/app-portal-access/{app_id}"), json!({"theme": theme})).await;
    (status.as_u16(), if status.as_u16() == 422 { body["detail"][0]["loc"].clone() } else { Value::Null })
}

/// The theme a portal URL's fragment carries, decoded.
fn theme_of(url: &str) -> Option<Value> {
    let (_, fragment) = url.split_once('#')?;
    let encoded = fragment.split('&').find_map(|pair| pair.strip_prefix("theme="))?;
    let text = percent_encoding::percent_decode_str(encoded).decode_utf8().unwrap();
    Some(serde_json::from_str(&text).unwrap())
}

#[tokio::test]
async fn each_theme_field_is_checked_and_a_bad_one_named() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let long_font = "a".repeat(101);
    let refused = [
        (json!({"primaryColor": "red"}), "primaryColor"),
        (json!({"primaryColor": "#12345"}), "primaryColor"),
        (json!({"primaryColor": "#ggg"}), "primaryColor"),
        (json!({"primaryColor": "#fff;background:url(x)"}), "primaryColor"),
        (json!({"logoUrl": "http://example.com/logo.png"}), "logoUrl"),
        (json!({"logoUrl": "javascript:alert(1)"}), "logoUrl"),
        (json!({"logoUrl": "logo.png"}), "logoUrl"),
        (json!({"fontFamily": "Inter; color: red"}), "fontFamily"),
        (json!({"fontFamily": "Inter)"}), "fontFamily"),
        (json!({"fontFamily": long_font}), "fontFamily"),
        (json!({"fontFamily": "  "}), "fontFamily"),
        (json!({"darkMode": "yes"}), "darkMode"),
        (json!({"primaryColour": "#fff"}), "primaryColour"),
    ];
    for (theme, field) in refused {
        let answer = check(&app, &app_id, theme.clone()).await;
        assert_eq!(answer, (422, json!(["body", "theme", field])), "{theme}");
    }
    let accepted = [
        json!({"primaryColor": "#0a7"}),
        json!({"primaryColor": "#0A7F"}),
        json!({"primaryColor": "#00aa77"}),
        json!({"primaryColor": "#00aa77cc"}),
        json!({"logoUrl": "https://cdn.example.com/logo.svg?v=2"}),
        json!({"fontFamily": "'Inter', \"Noto Sans\", sans-serif"}),
        json!({"fontFamily": "a".repeat(100)}),
        json!({"darkMode": false}),
        json!({}),
    ];
    for theme in accepted {
        assert_eq!(check(&app, &app_id, theme.clone()).await, (200, Value::Null), "{theme}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_theme_rides_in_the_fragment_and_nowhere_else() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let theme = json!({
        "primaryColor": "#0a7f5c",
        "logoUrl": "https://cdn.example.com/logo.svg?size=2&x=%20",
        "fontFamily": "'Inter', sans-serif",
        "darkMode": true,
    });
    let access =
        app.post_ok(&format!("/api/v1/auth/app-portal-access/{app_id}"), json!({"theme": theme.clone()}), 200).await;
    let url = access["url"].as_str().unwrap();
    let (before, fragment) = url.split_once('#').unwrap();
    assert!(
        before.ends_with("/portal/") && !before.contains("theme"),
        "nothing of the theme before the fragment: {url}"
    );
    assert!(fragment.starts_with("token=hwp_") && fragment.contains(&format!("&app={app_id}&theme=")), "{url}");
    assert_eq!(theme_of(url), Some(theme), "the theme, whole, percent-encoded: {url}");
    // Only the fields given are carried.
    let partial = app
        .post_ok(&format!("/api/v1/auth/app-portal-access/{app_id}"), json!({"theme": {"darkMode": false}}), 200)
        .await;
    assert_eq!(theme_of(partial["url"].as_str().unwrap()), Some(json!({"darkMode": false})));
    // No theme, no `theme=`: the link is as it always was.
    let plain = app.post_ok(&format!("/api/v1/auth/app-portal-access/{app_id}"), json!({}), 200).await;
    let plain_url = plain["url"].as_str().unwrap();
    assert!(plain_url.ends_with(&format!("&app={app_id}")) && theme_of(plain_url).is_none(), "{plain_url}");
    // The themed token is an ordinary token: nothing of the theme is kept with it.
    let token = access["token"].as_str().unwrap();
    let (status, info) = app.request_as(Some(token), reqwest::Method::GET, "/api/v1/auth/token", None).await;
    assert_eq!(status, 200);
    assert!(!info.to_string().contains("0a7f5c"), "{info}");
    app.stop().await;
}

#[tokio::test]
async fn the_portal_may_show_an_https_logo_and_nothing_more() {
    let app = TestApp::start().await;
    let page = app.client.get(format!("{}/portal/", app.url)).send().await.unwrap();
    let csp = page.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    let img = csp.split(';').map(str::trim).find(|d| d.starts_with("img-src")).unwrap();
    assert_eq!(img, "img-src 'self' data: https:", "{csp}");
    assert!(csp.contains("style-src 'self';") && !csp.contains("unsafe-inline"), "no inline style: {csp}");
    assert!(csp.contains("connect-src 'self';"), "{csp}");
    app.stop().await;
}
