//! The operator dashboard's pages over real HTTP, beyond tests/ui.rs: the attempt log across an
//! application (every filter excludes what it should, paging carries the filters, a retried
//! failure says when), creating, editing and deleting applications and event types through
//! forms (bad input comes back naming the field), and the search across applications.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::TestApp;
use support::browser::{Browser, location};
use support::receiver::{Receiver, Reply};

/// The attempt rows of an attempts page.
fn attempt_rows(html: &str) -> Vec<&str> {
    html.split("<tr data-attempt=").skip(1).map(|row| row.split("</tr>").next().unwrap()).collect()
}

/// An application with two endpoints: `ok` answers 200 to everything; `down` answers 503 to its
/// one `order.paid` message and retries it in an hour. Message A (`order.paid`, tag `vip`) goes
/// to both, message B (`user.created`) to `ok` only: three attempts.
struct Fixture {
    app_id: String,
    ok: String,
    down: String,
    a: String,
    b: String,
}

async fn fixture(app: &TestApp, ok: &Receiver, down: &Receiver) -> Fixture {
    down.script([Reply { status: 503, body: "<b>down</b>".into(), ..Reply::default() }]);
    let app_id = app.create_app().await;
    let ok_endpoint = app.create_endpoint(&app_id, json!({"url": ok.url})).await;
    let down_endpoint = app
        .create_endpoint(
            &app_id,
            json!({"url": down.url, "eventTypes": ["order.paid"], "retryPolicy": {"schedule": [3600]}}),
        )
        .await;
    let messages = format!("/api/v1/app/{app_id}/msg");
    let a = app.post_ok(&messages, json!({"eventType": "order.paid", "tags": ["vip"], "payload": {"n": 1}}), 202).await;
    let a = a["id"].as_str().unwrap().to_owned();
    let b = app.send(&app_id, "user.created", json!({"n": 2})).await["id"].as_str().unwrap().to_owned();
    let (ok, down) = (ok_endpoint["id"].as_str().unwrap().to_owned(), down_endpoint["id"].as_str().unwrap().to_owned());
    app.get_until(&format!("/api/v1/app/{app_id}/attempt/endpoint/{ok}"), |v| v["data"].as_array().unwrap().len() == 2)
        .await;
    // The failure is recorded with its delivery due again: the page can say when.
    app.get_until(&format!("/api/v1/app/{app_id}/msg/{a}/endpoint"), |v| {
        v["data"].as_array().unwrap().iter().any(|d| d["id"] == down.as_str() && d["nextAttempt"].is_string())
    })
    .await;
    Fixture { app_id, ok, down, a, b }
}

#[tokio::test]
async fn the_attempt_log_lists_an_applications_attempts_and_every_filter_filters() {
    let app = TestApp::start().await;
    let (ok, down) = (Receiver::start().await, Receiver::start().await);
    let f = fixture(&app, &ok, &down).await;
    let browser = Browser::signed_in(&app).await;
    let page = format!("/ui/apps/{}/attempts", f.app_id);
    assert!(browser.text(&format!("/ui/apps/{}", f.app_id)).await.contains(&format!("href=\"{page}\"")));

    let html = browser.text(&page).await;
    let rows = attempt_rows(&html);
    assert_eq!(rows.len(), 3, "{html}");
    let ids: Vec<&str> = rows.iter().map(|r| r.split('"').nth(1).unwrap()).collect();
    assert!(ids.windows(2).all(|pair| pair[0] > pair[1]), "newest first (ids are time-ordered): {ids:?}");
    let failed = rows.iter().find(|r| r.contains(&down.url)).expect("the failed attempt");
    for shown in [
        "badge bad\">fail",
        "badge wait\">retrying</span> next at <time",
        "HTTP 503",
        "HTTP 503: &lt;b&gt;down&lt;/b&gt;",
        &format!("/ui/apps/{}/messages/{}", f.app_id, f.a),
        &format!("/ui/apps/{}/endpoints/{}", f.app_id, f.down),
    ] {
        assert!(failed.contains(shown), "the failed row shows {shown}: {failed}");
    }
    assert!(!html.contains("<b>down"), "the answer is escaped");
    assert_eq!(html.matches("retrying</span>").count(), 1, "only the failure goes again");

    // Each filter: which messages' attempts remain, as (count, must contain, must not contain).
    let a_down = format!("{}\"", f.down);
    let cases: [(&str, usize, &[&str], &[&str]); 11] = [
        ("status=fail", 1, &[&a_down], &[&f.b]),
        ("status=success", 2, &[&f.b, &f.a], &["retrying"]),
        ("event_types=user.created", 1, &[&f.b], &[&f.a]),
        ("event_types=user.created,+order.paid", 3, &[&f.a, &f.b], &[]),
        (&format!("endpoint={}", f.down), 1, &[&f.a], &[&f.b]),
        (&format!("endpoint={}", f.ok), 2, &[&f.a, &f.b], &[&a_down]),
        ("code_class=5xx", 1, &[&f.a], &[&f.b]),
        ("code_class=2xx", 2, &[&f.b], &["retrying"]),
        ("tag=vip", 2, &[&f.a], &[&f.b]),
        ("since=12h&until=now", 3, &[&f.a, &f.b], &[]),
        ("since=&until=yesterday&status=&tag=", 0, &["No attempts match."], &[&f.a, &f.b]),
    ];
    for (query, count, present, absent) in cases {
        let html = browser.text(&format!("{page}?{query}")).await;
        assert_eq!(attempt_rows(&html).len(), count, "{query}: {html}");
        for text in present {
            assert!(html.contains(text), "{query} shows {text}");
        }
        for text in absent {
            assert!(!attempt_rows(&html).iter().any(|r| r.contains(text)), "{query} leaves out {text}");
        }
    }
    let chosen = browser.text(&format!("{page}?endpoint={}", f.down)).await;
    assert!(chosen.contains(&format!("<option value=\"{}\" selected>", f.down)), "the form keeps the filter");
    app.stop().await;
}

#[tokio::test]
async fn the_attempt_log_pages_with_its_filters_and_refuses_what_it_cannot_read() {
    let app = TestApp::start().await;
    let (ok, down) = (Receiver::start().await, Receiver::start().await);
    let f = fixture(&app, &ok, &down).await;
    let browser = Browser::signed_in(&app).await;
    let page = format!("/ui/apps/{}/attempts", f.app_id);

    let first = browser.text(&format!("{page}?status=success&limit=1")).await;
    assert_eq!(attempt_rows(&first).len(), 1);
    let start = first.find("<p class=\"pager\"><a href=\"").expect("a next page") + 26;
    let next = first[start..].split('"').next().unwrap().replace("&amp;", "&");
    assert!(next.contains("status=success") && next.contains("limit=1") && next.contains("iterator=atmpt_"), "{next}");
    let second = browser.text(&next).await;
    let rows = attempt_rows(&second);
    assert_eq!(rows.len(), 1, "{second}");
    let both = format!("{}{}", attempt_rows(&first)[0], rows[0]);
    assert!(both.contains(&f.a) && both.contains(&f.b), "the two successes, one a page: {both}");
    assert!(rows[0].contains(&format!("{}\"", f.ok)), "to the endpoint that answers: {}", rows[0]);
    assert!(!second.contains("class=\"pager\""), "no third page");

    for (query, field) in [
        ("status=pending", "query.status"),
        ("code_class=6xx", "query.code_class"),
        ("endpoint=ep_nope", "query.endpoint"),
        ("since=last%20tuesday", "query.since"),
        ("iterator=msg_nope", "query.iterator"),
        ("event_types=not%20a%20type", "query.event_types"),
        ("colour=blue", "query.colour"),
    ] {
        let (status, html) = browser.refused(&format!("{page}?{query}")).await;
        assert_eq!(status, 422, "{query}");
        assert!(html.contains(field), "{query} names {field}: {html}");
    }
    app.stop().await;
}

#[tokio::test]
async fn applications_are_created_edited_and_deleted_from_forms() {
    let app = TestApp::start().await;
    let browser = Browser::signed_in(&app).await;
    let apps = browser.text("/ui/apps").await;
    assert!(apps.contains("action=\"/ui/apps\"") && apps.contains("name=\"rate_limit\""), "the create form");

    let created = browser
        .post("/ui/apps", &[("name", "Acme"), ("uid", "acme"), ("rate_limit", "5"), ("metadata", "tier = gold\n\n")])
        .await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    assert!(location(&created).ends_with("?notice=Application%20created"), "{}", location(&created));
    let (_, acme) = app.get("/api/v1/app/acme").await;
    assert_eq!(
        (&acme["name"], &acme["throttleRate"], &acme["metadata"]),
        (&json!("Acme"), &json!(5), &json!({"tier": "gold"}))
    );
    let id = acme["id"].as_str().unwrap();
    let shown = browser.text(location(&created)).await;
    assert!(shown.contains("Application created") && shown.contains("action=\"/ui/apps/") && shown.contains("/edit\""));

    // Bad input comes back with the form as typed and the error naming the field.
    for (form, status, says, marked) in [
        (vec![("name", "Bad"), ("uid", "has space")], 422, "UID: may contain only", "uid"),
        (vec![("name", "Bad"), ("rate_limit", "fast")], 422, "Rate limit: &quot;fast&quot; is not", "rate_limit"),
        (vec![("name", "Bad"), ("metadata", "no equals sign")], 422, "Metadata: line 1", "metadata"),
        (vec![("name", "Again"), ("uid", "acme")], 409, "UID: ", "uid"),
        (vec![("name", "")], 422, "Name: ", "name"),
    ] {
        let response = browser.post("/ui/apps", &form).await;
        assert_eq!(response.status().as_u16(), status, "{form:?}");
        let html = response.text().await.unwrap();
        assert!(html.contains(says), "{form:?} says {says}: {html}");
        assert!(html.contains(&format!("name=\"{marked}\"")), "{form:?}");
        let input = html.split(&format!("name=\"{marked}\"")).nth(1).unwrap();
        assert!(input.split('>').next().unwrap().contains("aria-invalid=\"true\""), "{marked} is marked: {html}");
        assert!(html.contains(&format!("value=\"{}\"", form[0].1)), "what was typed is kept");
    }
    let unknown = browser.post("/ui/apps", &[("name", "X"), ("colour", "blue")]).await;
    assert_eq!(unknown.status(), 422, "as the API answers an unknown field");
    assert!(unknown.text().await.unwrap().contains("body.colour"), "an unknown field is refused by name");
    assert_eq!(app.get("/api/v1/app").await.1["data"].as_array().unwrap().len(), 1, "nothing else was created");

    let edit = format!("/ui/apps/{id}/edit");
    let refused = browser.post(&edit, &[("name", "Acme"), ("uid", "app_x!"), ("rate_limit", "")]).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("UID: "));
    let saved = browser.post(&edit, &[("name", "Acme Two"), ("uid", ""), ("rate_limit", "")]).await;
    assert_eq!(
        (saved.status(), location(&saved)),
        (StatusCode::SEE_OTHER, format!("/ui/apps/{id}?notice=Application%20saved").as_str())
    );
    let (_, after) = app.get(&format!("/api/v1/app/{id}")).await;
    assert_eq!(
        (&after["name"], &after["uid"], &after["throttleRate"], &after["metadata"]),
        (&json!("Acme Two"), &Value::Null, &Value::Null, &json!({"tier": "gold"})),
        "metadata is not on the edit form and stays"
    );

    let delete = format!("/ui/apps/{id}/delete");
    let unconfirmed = browser.post(&delete, &[("confirm", "Acme")]).await;
    assert_eq!(unconfirmed.status(), 422);
    assert!(unconfirmed.text().await.unwrap().contains("Confirm: type the application&#39;s name (Acme Two)"));
    assert_eq!(app.get(&format!("/api/v1/app/{id}")).await.0, 200, "not deleted");
    let deleted = browser.post(&delete, &[("confirm", "Acme Two")]).await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    assert!(browser.text(location(&deleted)).await.contains("Application Acme Two deleted"));
    assert_eq!(app.get(&format!("/api/v1/app/{id}")).await.0, 404);
    app.stop().await;
}

#[tokio::test]
async fn event_types_are_created_edited_archived_and_restored_from_forms() {
    let app = TestApp::start().await;
    let browser = Browser::signed_in(&app).await;
    let schema = r#"{"type": "object", "properties": {"amount": {"type": "integer"}}}"#;
    let created = browser
        .post(
            "/ui/event-types",
            &[("name", "invoice.paid"), ("description", "Paid"), ("feature_flags", "beta, early"), ("schema", schema)],
        )
        .await;
    assert_eq!(
        (created.status(), location(&created)),
        (StatusCode::SEE_OTHER, "/ui/event-types/invoice.paid?notice=Event%20type%20added")
    );
    let (_, saved) = app.get("/api/v1/event-type/invoice.paid").await;
    assert_eq!(saved["featureFlags"], json!(["beta", "early"]));
    assert_eq!(saved["schemas"]["1"]["properties"]["amount"]["type"], "integer");
    let list = browser.text("/ui/event-types").await;
    assert!(list.contains("<a href=\"/ui/event-types/invoice.paid\"><code>invoice.paid</code></a>"), "{list}");

    for (form, status, says, marked) in [
        (vec![("name", "bad name!")], 422, "Name: ", "name"),
        (vec![("name", "invoice.paid")], 409, "Name: ", "name"),
        (vec![("name", "x.y"), ("schema", "{not json")], 422, "JSON Schema: not JSON", "schema"),
        (vec![("name", "x.y"), ("schema", r#"{"type": 12}"#)], 422, "JSON Schema: not a valid JSON Schema", "schema"),
        (vec![("name", "x.y"), ("feature_flags", "no spaces allowed")], 422, "Feature flags: ", "feature_flags"),
    ] {
        let response = browser.post("/ui/event-types", &form).await;
        assert_eq!(response.status().as_u16(), status, "{form:?}");
        let html = response.text().await.unwrap();
        assert!(html.contains(says), "{form:?} says {says}: {html}");
        let input = html.split(&format!("name=\"{marked}\"")).nth(1).unwrap();
        assert!(input.split('>').next().unwrap().contains("aria-invalid=\"true\""), "{marked} is marked");
    }
    assert_eq!(app.get("/api/v1/event-type/x.y").await.0, 404);

    let page = "/ui/event-types/invoice.paid";
    let html = browser.text(page).await;
    assert!(html.contains("&quot;amount&quot;") && html.contains("value=\"beta, early\""), "the saved values");
    let edited = browser
        .post(
            page,
            &[
                ("description", "An invoice was paid"),
                ("feature_flags", ""),
                ("deprecated", "true"),
                ("schema_version", "1"),
                ("schema", r#"{"type": "object", "required": ["amount"]}"#),
            ],
        )
        .await;
    assert_eq!(edited.status(), StatusCode::SEE_OTHER);
    let (_, after) = app.get("/api/v1/event-type/invoice.paid").await;
    assert_eq!(
        (&after["description"], &after["featureFlags"], &after["deprecated"], &after["schemas"]["1"]["required"]),
        (&json!("An invoice was paid"), &Value::Null, &json!(true), &json!(["amount"]))
    );
    let bad = browser.post(page, &[("schema_version", "1"), ("schema", r#"{"type": 12}"#)]).await;
    assert_eq!(bad.status(), 422);
    let html = bad.text().await.unwrap();
    assert!(html.contains("JSON Schema: not a valid JSON Schema") && html.contains("{&quot;type&quot;: 12}"), "{html}");
    let cleared = browser.post(page, &[("schema_version", "1"), ("schema", "")]).await;
    assert_eq!(cleared.status(), StatusCode::SEE_OTHER);
    let (_, after) = app.get("/api/v1/event-type/invoice.paid").await;
    assert_eq!((&after["schemas"], &after["deprecated"]), (&Value::Null, &json!(false)), "empty box, unticked box");

    let archived = browser.post(&format!("{page}/archived"), &[("archived", "true")]).await;
    assert_eq!(archived.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/api/v1/event-type/invoice.paid").await.1["archived"], true);
    let html = browser.text(location(&archived)).await;
    assert!(html.contains("Event type archived") && html.contains(">Restore</button>"));
    browser.post(&format!("{page}/archived"), &[("archived", "false")]).await;
    assert_eq!(app.get("/api/v1/event-type/invoice.paid").await.1["archived"], false);
    assert_eq!(browser.get("/ui/event-types/no.such").await.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn the_search_finds_a_message_in_whichever_application_holds_it() {
    let app = TestApp::start().await;
    let first = app.post_ok("/api/v1/app", json!({"name": "First"}), 201).await["id"].as_str().unwrap().to_owned();
    let second = app.post_ok("/api/v1/app", json!({"name": "Second"}), 201).await["id"].as_str().unwrap().to_owned();
    let other = app.send(&first, "user.created", json!({})).await["id"].as_str().unwrap().to_owned();
    let wanted = app
        .post_ok(
            &format!("/api/v1/app/{second}/msg"),
            json!({"eventType": "order.paid", "eventId": "evt-42", "tags": ["batch-7"], "payload": {}}),
            202,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let browser = Browser::signed_in(&app).await;
    assert!(browser.text("/ui/apps").await.contains("action=\"/ui/search\""), "the header has the search box");
    let link = format!("<a href=\"/ui/apps/{second}/messages/{wanted}\">");
    for (query, by) in [(wanted.as_str(), "message id"), ("evt-42", "event id"), ("batch-7", "tag")] {
        let html = browser.text(&format!("/ui/search?q={query}")).await;
        assert!(html.contains(&link) && html.contains(&format!("<td>{by}</td>")), "{query}: {html}");
        assert!(html.contains(">Second</a>") && !html.contains(&other), "{query}");
    }
    let none = browser.text("/ui/search?q=evt-43").await;
    assert!(none.contains("No message has this id, event id or tag."), "{none}");
    assert!(browser.text("/ui/search?q=").await.contains("message id"), "an empty search explains itself");
    let (status, html) = browser.refused("/ui/search?q=x&app=1").await;
    assert_eq!(status, 422);
    assert!(html.contains("query.app"), "{html}");
    app.stop().await;
}

#[tokio::test]
async fn the_application_page_lists_failing_endpoints_first_with_rate_latency_and_deliveries() {
    let app = TestApp::start().await;
    let (ok, down) = (Receiver::start().await, Receiver::start().await);
    let f = fixture(&app, &ok, &down).await;
    let browser = Browser::signed_in(&app).await;
    let html = browser.text(&format!("/ui/apps/{}", f.app_id)).await;
    let rows: Vec<&str> =
        html.split("<tr data-endpoint=").skip(1).map(|row| row.split("</tr>").next().unwrap()).collect();
    assert_eq!(rows.len(), 2, "{html}");
    assert!(rows[0].starts_with(&format!("\"{}\" class=\"failing\"", f.down)), "the failing one first: {}", rows[0]);
    assert!(rows[0].contains("0% <span class=\"muted\">(0 of the last 1 attempts)"), "{}", rows[0]);
    assert!(rows[0].contains("badge wait\">1 pending"), "its delivery waits for a retry: {}", rows[0]);
    assert!(rows[1].starts_with(&format!("\"{}\">", f.ok)), "{}", rows[1]);
    assert!(rows[1].contains("100% <span class=\"muted\">(2 of the last 2 attempts)"), "{}", rows[1]);
    for row in &rows {
        let latency = row.split("<td class=\"num\">").nth(2).unwrap();
        assert!(latency.contains(" ms / ") && latency.contains(" ms</td>"), "p50 / p95 shown: {latency}");
    }
    assert!(html.contains("<th>Latency p50 / p95</th><th>Deliveries</th>"), "{html}");
    app.stop().await;
}

/// The overview draws every application's activity from the counts Hookwire keeps, for the
/// period asked, and lists the endpoints that failed most first; an application's and an
/// endpoint's pages draw their own.
#[tokio::test]
async fn the_overview_charts_activity_and_lists_the_most_failed_endpoints_first() {
    let app = TestApp::start().await;
    let ok = Receiver::start().await;
    let down = Receiver::start().await;
    let f = fixture(&app, &ok, &down).await;
    let browser = Browser::signed_in(&app).await;
    // `/ui` opens on the overview.
    assert_eq!(location(&browser.get("/ui").await), "/ui/overview");

    let html = browser.text("/ui/overview?period=1h").await;
    assert!(html.contains("<h1>Overview</h1>"), "{html}");
    assert!(html.contains("aria-current=\"page\" class=\"current\">Last hour</a>"), "{html}");
    assert!(html.contains("by the minute"), "{html}");
    for title in ["Attempts", "Success rate", "Latency", "Queue depth"] {
        assert!(html.contains(&format!("<figcaption>{title}</figcaption>")), "{title}: {html}");
    }
    // 61 minute buckets (the hour from a minute's middle), each with its hover title.
    let attempts_chart =
        html.split("<figcaption>Attempts</figcaption>").nth(1).unwrap().split("</figure>").next().unwrap();
    assert_eq!(attempts_chart.matches("<title>").count(), 61, "{attempts_chart}");
    // The fixture's failing endpoint (down) comes first, marked failing, before the good one.
    let table = html.split("Most failed endpoints").nth(1).unwrap();
    let down_at = table.find(&down.url).expect("the failing endpoint is listed");
    let ok_at = table.find(&ok.url).expect("the good endpoint is listed");
    assert!(down_at < ok_at, "failing first: {table}");
    assert!(table.contains("<tr class=\"failing\">"), "{table}");
    let summary = attempts_chart.split("aria-label=\"").nth(1).unwrap().split('"').next().unwrap();
    assert!(summary.starts_with("Attempts, 61 buckets, by the minute; Succeeded "), "{summary}");
    assert!(!summary.contains("Failed 0 in all"), "the failures are drawn: {summary}");

    // The default period is the day, by the hour; a period that is not offered is refused.
    let day = browser.text("/ui/overview").await;
    assert!(day.contains("aria-current=\"page\" class=\"current\">Last day</a>") && day.contains("by the hour"));
    let (status, page) = browser.refused("/ui/overview?period=5m").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("period"), "{page}");

    // The application's page and the endpoint's page have their own activity.
    let app_page = browser.text(&format!("/ui/apps/{}?period=7d", f.app_id)).await;
    assert!(app_page.contains("<section class=\"activity\"") && app_page.contains("Last week"), "{app_page}");
    let endpoint_page = browser.text(&format!("/ui/apps/{}/endpoints/{}", f.app_id, f.down)).await;
    let section = endpoint_page.split("<section class=\"activity\"").nth(1).expect("activity section");
    assert!(section.contains("<figcaption>Latency</figcaption>"), "{section}");
    assert!(!section.contains("<span class=\"figure\">0</span><span class=\"label\">attempts"), "{section}");
    app.stop().await;
}
