//! Every transformation in docs/recipes.md, run on a sample event: the recipes stay correct.

use std::collections::BTreeMap;

use hookwire_transform::{Limits, Method, Outcome, Payload, Pool, Shaped, Webhook};
use serde_json::{Value, json};

/// The code blocks that follow `<!-- transformation: NAME -->` lines.
fn recipes() -> BTreeMap<String, String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/recipes.md");
    let text = std::fs::read_to_string(path).expect("docs/recipes.md");
    let mut found = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.strip_prefix("<!-- transformation: ").and_then(|l| l.strip_suffix(" -->")) else {
            continue;
        };
        assert_eq!(lines.next(), Some("```js"), "{name}: a js block follows its marker");
        let code: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        found.insert(name.to_owned(), code.join("\n"));
    }
    found
}

async fn run(code: &str, event_type: &str, payload: Value) -> Outcome {
    let pool = Pool::new(Limits::default());
    let payload = payload.to_string();
    let variables = BTreeMap::from([("channel".to_owned(), "#billing".to_owned())]);
    let webhook = Webhook {
        method: "POST",
        url: "https://hooks.example.com/in/",
        event_type,
        payload: Payload::Json(&payload),
        variables: &variables,
        time_ms: 1_700_000_000_000,
    };
    let simulation = pool.simulate(code, webhook).await;
    simulation.outcome.unwrap_or_else(|failure| panic!("{event_type}: {failure}"))
}

fn sent(outcome: Outcome) -> (Shaped, Value) {
    match outcome {
        Outcome::Send(shaped) => {
            let payload = serde_json::from_str(&shaped.payload).unwrap();
            (shaped, payload)
        }
        Outcome::Cancel => panic!("cancelled"),
    }
}

#[tokio::test]
async fn every_recipe_is_present_and_does_what_it_says() {
    let recipes = recipes();
    assert_eq!(recipes.keys().collect::<Vec<_>>(), ["discord", "route", "slack", "teams"]);
    let invoice = json!({"customer": "Acme", "amount": 42, "currency": "EUR", "lines": [1, 2]});

    let (_, slack) = sent(run(&recipes["slack"], "invoice.paid", invoice.clone()).await);
    assert_eq!(slack, json!({"channel": "#billing", "text": "*invoice paid*: Acme paid 42 EUR"}));

    let (_, discord) = sent(run(&recipes["discord"], "invoice.paid", invoice.clone()).await);
    assert_eq!(discord["embeds"][0]["title"], "invoice.paid");
    assert_eq!(discord["embeds"][0]["timestamp"], "2023-11-14T22:13:20.000Z");
    assert!(discord["embeds"][0]["description"].as_str().unwrap().contains("\"customer\": \"Acme\""));

    let (_, teams) = sent(run(&recipes["teams"], "invoice.paid", invoice.clone()).await);
    let card = &teams["attachments"][0]["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["body"][0]["text"], "invoice.paid");
    assert_eq!(card["body"][1]["facts"][0], json!({"title": "amount", "value": "42"}), "keys in the payload's order");
    assert_eq!(card["body"][1]["facts"].as_array().unwrap().len(), 3, "objects and arrays are left out");

    let (shaped, _) = sent(run(&recipes["route"], "invoice.paid", invoice.clone()).await);
    assert_eq!((shaped.method, shaped.url.as_str()), (Method::Post, "https://hooks.example.com/in/billing"));
    let (shaped, _) = sent(run(&recipes["route"], "user.created", json!({})).await);
    assert_eq!((shaped.method, shaped.url.as_str()), (Method::Put, "https://hooks.example.com/in/accounts"));
    assert_eq!(run(&recipes["route"], "audit.logged", json!({})).await, Outcome::Cancel);
}
