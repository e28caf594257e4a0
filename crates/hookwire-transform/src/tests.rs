use super::*;

const LIMITS: Limits = Limits { cpu_ms: 50, memory_bytes: 8 << 20 };

fn webhook<'a>(payload: &'a str, variables: &'a BTreeMap<String, String>) -> Webhook<'a> {
    Webhook {
        method: "POST",
        url: "https://example.com/hook",
        event_type: "invoice.paid",
        payload: Payload::Json(payload),
        variables,
        time_ms: 1_700_000_000_000,
    }
}

async fn run(pool: &Pool, version: i64, code: &str, payload: &str) -> Result<Outcome, Failure> {
    let variables = BTreeMap::from([("channel".to_owned(), "#billing".to_owned())]);
    pool.run(Key { owner: "ep_1".into(), version }, code, webhook(payload, &variables)).await
}

fn sent(outcome: Result<Outcome, Failure>) -> Shaped {
    match outcome {
        Ok(Outcome::Send(shaped)) => shaped,
        other => panic!("expected a request, got {other:?}"),
    }
}

#[tokio::test]
async fn the_handler_reshapes_method_url_and_payload() {
    let pool = Pool::new(LIMITS);
    let code = r#"
        function handler(webhook) {
          webhook.method = "PUT";
          webhook.url = webhook.url + "/" + webhook.eventType;
          webhook.payload = { text: `paid ${webhook.payload.amount}`, channel: webhook.variables.channel,
                              at: new Date().toISOString() };
          return webhook;
        }"#;
    let shaped = sent(run(&pool, 1, code, r#"{"amount": 42}"#).await);
    assert_eq!(shaped.method, Method::Put);
    assert_eq!(shaped.url, "https://example.com/hook/invoice.paid");
    let payload: serde_json::Value = serde_json::from_str(&shaped.payload).unwrap();
    assert_eq!(payload["text"], "paid 42");
    assert_eq!(payload["channel"], "#billing");
    assert_eq!(payload["at"], "2023-11-14T22:13:20.000Z", "the clock is the message's time");
}

#[tokio::test]
async fn cancel_sends_nothing_and_async_handlers_are_awaited() {
    let pool = Pool::new(LIMITS);
    let code = "function handler(w) { w.cancel = w.payload.skip; return w; }";
    assert_eq!(run(&pool, 1, code, r#"{"skip": true}"#).await, Ok(Outcome::Cancel));
    assert!(matches!(run(&pool, 1, code, r#"{"skip": false}"#).await, Ok(Outcome::Send(_))));
    let code = "async function handler(w) { await null; w.payload = 7; return w; }";
    assert_eq!(sent(run(&pool, 2, code, "{}").await).payload, "7");
    // Cancelled, the payload is not written: one that cannot be (a cycle) does not fail the run,
    // and `cancel` counts when merely truthy.
    let code = "function handler(w) { w.payload.self = w.payload; w.cancel = 'yes'; return w; }";
    assert_eq!(run(&pool, 3, code, "{}").await, Ok(Outcome::Cancel));
}

#[tokio::test]
async fn errors_name_their_cause_and_line() {
    let pool = Pool::new(LIMITS);
    let failure = pool.check("function handler(w) {\n  return w;\n}\nlet x = ;\n").await.unwrap_err();
    assert!(matches!(failure, Failure::Compile { line: Some(4), .. }), "{failure:?}");
    assert!(failure.to_string().starts_with("line 4: SyntaxError"), "{failure}");
    assert_eq!(pool.check("function handle(w) { return w }").await, Err(Failure::NoHandler));
    assert_eq!(pool.check("const handler = 3;").await, Err(Failure::NoHandler));
    pool.check("function handler(w) { return w }").await.unwrap();

    let thrown = run(&pool, 1, "function handler(w) {\n  throw new TypeError('no ' + w.eventType);\n}", "{}").await;
    assert_eq!(thrown, Err(Failure::Thrown { line: Some(2), message: "TypeError: no invoice.paid".into() }));
    assert_eq!(thrown.unwrap_err().to_string(), "the handler threw at line 2: TypeError: no invoice.paid");

    let nothing = run(&pool, 2, "function handler(w) { w.payload = 1 }", "{}").await.unwrap_err();
    assert!(nothing.to_string().contains("must return the webhook object, not undefined"), "{nothing}");
    let bigint = run(&pool, 3, "function handler(w) { w.payload = 10n; return w }", "{}").await.unwrap_err();
    assert!(bigint.to_string().contains("BigInt"), "{bigint}");
    let cyclic = run(&pool, 4, "function handler(w) { w.payload = {}; w.payload.self = w.payload; return w }", "{}");
    assert!(cyclic.await.unwrap_err().to_string().contains("circular"), "a cycle is named");
    let method = run(&pool, 5, "function handler(w) { w.method = 'DELETE'; return w }", "{}").await.unwrap_err();
    assert_eq!(method.to_string(), "the handler returned method \"DELETE\": only POST and PUT are sent");
    let no_payload = run(&pool, 6, "function handler(w) { w.payload = undefined; return w }", "{}").await;
    assert!(no_payload.unwrap_err().to_string().contains("no payload"));
}

#[tokio::test]
async fn an_infinite_loop_or_a_memory_bomb_fails_that_run_only() {
    let pool = Pool::new(LIMITS);
    let code = "function handler(w) { if (w.payload.loop) { try { for (;;) {} } catch (e) {} } \
                if (w.payload.bomb) { const a = []; for (;;) a.push('x'.repeat(65536) + a.length); } \
                if (w.payload.regex) { /(a+)+$/.test('a'.repeat(40) + 'b'); } \
                if (w.payload.deep) { const f = (n) => f(n + 1) + 1; f(0); } \
                return w; }";
    for _ in 0..2 {
        assert_eq!(run(&pool, 1, code, r#"{"loop": true}"#).await, Err(Failure::CpuLimit { ms: 50 }));
        assert_eq!(run(&pool, 1, code, r#"{"regex": true}"#).await, Err(Failure::CpuLimit { ms: 50 }));
        assert_eq!(run(&pool, 1, code, r#"{"bomb": true}"#).await, Err(Failure::MemoryLimit { bytes: 8 << 20 }));
        let deep = run(&pool, 1, code, r#"{"deep": true}"#).await.unwrap_err();
        assert!(deep.to_string().contains("RangeError"), "{deep}");
        // The same compiled code still answers.
        assert!(matches!(run(&pool, 1, code, r#"{"fine": true}"#).await, Ok(Outcome::Send(_))));
    }
    assert_eq!(pool.check("for (;;) {}").await, Err(Failure::CpuLimit { ms: 50 }), "the top level is bounded too");
}

#[tokio::test]
async fn what_the_fast_reader_leaves_reaches_the_handler_and_the_argument_is_bounded_too() {
    let pool = Pool::new(LIMITS);
    let code = "function handler(w) { w.payload.seen = w.payload.s.length; return w; }";
    // A lone surrogate, and (on its own) nesting past the reader's depth: QuickJS's parser reads
    // them.
    let shaped = sent(run(&pool, 1, code, r#"{"s":"\ud800"}"#).await);
    assert_eq!(shaped.payload, r#"{"s":"\ud800","seen":1}"#);
    let deep = format!("{}1{}", "[".repeat(80), "]".repeat(80));
    let shaped = sent(run(&pool, 1, code, &format!(r#"{{"s":"abc","d":{deep}}}"#)).await);
    assert_eq!(shaped.payload, format!(r#"{{"s":"abc","d":{deep},"seen":3}}"#));
    // A payload larger than the memory limit fails the run as a memory bomb does.
    let huge = format!(r#"{{"s":"{}"}}"#, "x".repeat(16 << 20));
    assert_eq!(run(&pool, 1, code, &huge).await, Err(Failure::MemoryLimit { bytes: 8 << 20 }));
    assert_eq!(sent(run(&pool, 1, code, r#"{"s":"ab"}"#).await).payload, r#"{"s":"ab","seen":2}"#);
}

#[tokio::test]
async fn there_is_no_host_to_reach_and_no_state_between_versions() {
    let pool = Pool::new(LIMITS);
    let code = "function handler(w) { w.payload = ['fetch', 'require', 'process', 'std', 'os', 'XMLHttpRequest', \
                'WebAssembly', 'setTimeout', 'performance', 'Proxy'].filter(n => typeof globalThis[n] !== 'undefined'); \
                return w; }";
    assert_eq!(sent(run(&pool, 1, code, "{}").await).payload, "[]");
    let counting = "let n = 0; function handler(w) { w.payload = ++n; return w; }";
    assert_eq!(sent(run(&pool, 2, counting, "{}").await).payload, "1");
    let changed = "let n = 100; function handler(w) { w.payload = ++n; return w; }";
    assert_eq!(sent(run(&pool, 3, changed, "{}").await).payload, "101", "a new version compiles again");
}

#[tokio::test]
async fn a_simulation_keeps_the_console_and_raw_payloads_are_strings() {
    let pool = Pool::new(LIMITS);
    let variables = BTreeMap::new();
    let code = "function handler(w) { console.log('type', w.eventType, {a: 1}); w.payload = w.payload.toUpperCase(); return w; }";
    let mut hook = webhook("", &variables);
    hook.payload = Payload::Text("a=1&b=2");
    let simulation = pool.simulate(code, hook).await;
    assert_eq!(simulation.console, ["type invoice.paid {\"a\":1}"]);
    let shaped = sent(simulation.outcome);
    assert_eq!(shaped.text().as_deref(), Some("A=1&B=2"));
}

#[test]
fn the_input_carries_the_payload_verbatim() {
    let variables = BTreeMap::from([("k".to_owned(), "v\"".to_owned())]);
    let input = webhook(r#"{"a":[1,2]}"#, &variables).input();
    let parsed: serde_json::Value = serde_json::from_str(input.json()).unwrap();
    assert_eq!(parsed["payload"]["a"][1], 2);
    assert_eq!(parsed["variables"]["k"], "v\"");
    assert_eq!(parsed["cancel"], false);
}

#[tokio::test]
async fn payloads_are_written_as_json_stringify_writes_them() {
    let pool = Pool::new(LIMITS);
    // Each case is built in JavaScript; the handler returns it with JSON.stringify's own text.
    let cases = [
        "'plain \"quoted\" \\\\ \\n \\u0001 é ☃ 😀'",
        "[1, -0, 1.5, 1e21, 1e-7, 2 ** 53, NaN, Infinity, -1e300, 0.1 + 0.2]",
        "{a: 1, b: undefined, c: [undefined, null, , 3], 2: 'two', 1: 'one', nested: {deep: [[[]]]}}",
        "{when: new Date(0), list: new Map([[1, 2]]), set: new Set([1]), f() {}, s: Symbol('x')}",
        "Object.assign(Object.create(null), {bare: true})",
        "new (class Point { constructor() { this.x = 1; } })()",
        "{toJSON() { return 'custom'; }}",
        "[new String('boxed'), new Number(4), new Boolean(false)]",
        "{big: 'x'.repeat(5000), unicode: '\\u2028\\u2029'}",
        "true",
        "null",
        "42",
    ];
    for (n, case) in cases.iter().enumerate() {
        let code =
            format!("function handler(w) {{ const v = ({case}); w.payload = [v, JSON.stringify(v)]; return w; }}");
        let shaped = sent(run(&pool, n as i64 + 1, &code, "{}").await);
        let both: serde_json::Value = serde_json::from_str(&shaped.payload).unwrap();
        let expected: serde_json::Value = serde_json::from_str(both[1].as_str().unwrap()).unwrap();
        assert_eq!(both[0], expected, "{case}: {}", shaped.payload);
    }
}

#[tokio::test]
async fn strings_are_written_byte_for_byte_as_json_stringify_writes_them() {
    let pool = Pool::new(LIMITS);
    // Escapes at every offset of the eight-byte steps, keys that need escaping, Latin-1 and
    // wide strings, DEL and U+2028 (left as they are), and a lone surrogate (JSON.stringify's own).
    let cases = [
        r#"{'k"ey\n': 'a\u001fb\u007fc', s: 'café ☃ 😀 1234567"x\\', t: '\u2028'}"#,
        r#"Array.from({length: 24}, (_, n) => 'x'.repeat(n) + '"' + 'y'.repeat(24 - n) + '\u001f' + 'z'.repeat(n % 9) + '\\' + 'w'.repeat(9))"#,
        r#"{lone: '\ud800', n: -12}"#,
    ];
    for (n, case) in cases.iter().enumerate() {
        let ours = format!("function handler(w) {{ w.payload = ({case}); return w; }}");
        let theirs = format!("function handler(w) {{ w.payload = JSON.stringify({case}); return w; }}");
        let ours = sent(run(&pool, 2 * n as i64 + 1, &ours, "{}").await).payload;
        let theirs = sent(run(&pool, 2 * n as i64 + 2, &theirs, "{}").await).text().unwrap();
        assert_eq!(ours, theirs, "{case}");
    }
    // The handler's argument is quoted the same way.
    let variables = BTreeMap::from([("a\"b".to_owned(), "line\nnext\u{1}".to_owned())]);
    let input = Webhook { event_type: "x\\y", ..webhook("{}", &variables) }.input();
    let parsed: serde_json::Value = serde_json::from_str(input.json()).unwrap();
    assert_eq!(parsed["variables"]["a\"b"], "line\nnext\u{1}");
    assert_eq!(parsed["eventType"], "x\\y");
}

#[tokio::test]
async fn a_destination_handler_turns_a_batch_into_the_body() {
    let pool = Pool::new(LIMITS);
    let variables = BTreeMap::from([("team".to_owned(), "ops".to_owned())]);
    let batch = |events| Batch { url: "https://example.com/in", events, variables: &variables, time_ms: 0 };
    let code = "function handler(input) { return { team: input.variables.team, count: input.events.length, \
                types: input.events.map(e => e.eventType), total: input.events.reduce((s, e) => s + e.payload.n, 0) }; }";
    let events = r#"[{"eventType":"a.b","payload":{"n":2}},{"eventType":"c.d","payload":{"n":3}}]"#;
    let body = pool.run_batch(Key { owner: "dest_1".into(), version: 1 }, code, batch(events)).await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body, serde_json::json!({"team": "ops", "count": 2, "types": ["a.b", "c.d"], "total": 5}));
    let nothing =
        pool.run_batch(Key { owner: "dest_1".into(), version: 2 }, "function handler(i) {}", batch("[]")).await;
    assert!(nothing.unwrap_err().to_string().contains("must return the body to send"));
}
