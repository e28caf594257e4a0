//! Which endpoints receive a message: event type patterns and channels.

/// `patterns` entries are exact names, prefix wildcards (`reading.*`) or `*`.
/// No patterns (or an empty list) means every event type.
pub fn event_type_matches(patterns: Option<&[String]>, event_type: &str) -> bool {
    let Some(patterns) = patterns.filter(|p| !p.is_empty()) else {
        return true;
    };
    patterns.iter().any(|pattern| match pattern.strip_suffix('*') {
        Some(prefix) => event_type.starts_with(prefix),
        None => pattern == event_type,
    })
}

/// An endpoint with channels receives only messages sharing at least one of them.
pub fn channels_match(endpoint: Option<&[String]>, message: Option<&[String]>) -> bool {
    match endpoint.filter(|c| !c.is_empty()) {
        None => true,
        Some(wanted) => message.is_some_and(|got| got.iter().any(|c| wanted.contains(c))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn event_types() {
        let cases = [
            (None, "a.b", true),
            (Some(vec![]), "a.b", true),
            (Some(strings(&["a.b"])), "a.b", true),
            (Some(strings(&["a.b"])), "a.bc", false),
            (Some(strings(&["reading.*"])), "reading.weight", true),
            (Some(strings(&["reading.*"])), "readings.weight", false),
            (Some(strings(&["*"])), "anything", true),
            (Some(strings(&["x", "order.*"])), "order.status", true),
        ];
        for (patterns, event_type, expected) in cases {
            assert_eq!(event_type_matches(patterns.as_deref(), event_type), expected, "{patterns:?} {event_type}");
        }
    }

    #[test]
    fn channels() {
        let project = strings(&["project_1"]);
        assert!(channels_match(None, None));
        assert!(channels_match(None, Some(&project)));
        assert!(!channels_match(Some(&project), None));
        assert!(channels_match(Some(&project), Some(&strings(&["x", "project_1"]))));
        assert!(!channels_match(Some(&project), Some(&strings(&["x"]))));
    }
}
