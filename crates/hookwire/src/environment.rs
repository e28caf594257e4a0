//! The process environment: the settings that exist only as `HOOKWIRE_*` variables, the logging
//! they configure (checked, never silently ignored), and the warning for a `HOOKWIRE_*` variable
//! nothing reads (a typo such as `HOOKWIRE_ALLOW_PRIVATE_NETWORK` would otherwise do nothing).

use std::io::IsTerminal;

use anyhow::{Context, bail};

/// Settings read only from the environment (no flag), with what they do: shown in
/// `hookwire serve --help` and accepted by the unknown-variable check.
pub const ENV_ONLY: &[(&str, &str)] = &[
    ("HOOKWIRE_ADMIN_TOKEN", "the admin bearer token (default: generated on first start, printed once)"),
    ("HOOKWIRE_MAIN_KEY", "base64 of 32 bytes: seals endpoint secrets at rest"),
    ("HOOKWIRE_OPERATIONAL_APP", "application (id or uid) whose endpoints receive operational events"),
    ("HOOKWIRE_METRICS_PUBLIC", "true: serve /metrics without the admin token"),
    ("HOOKWIRE_LOG", "log level (trace, debug, info, warn, error, off) or target=level directives; default info"),
    ("HOOKWIRE_LOG_FORMAT", "text (default) or json"),
];

/// Variables Hookwire's own test scripts set for the processes they start.
const TEST_HARNESS: &[&str] = &["HOOKWIRE_BIN", "HOOKWIRE_REQUIRE_POSTGRES"];
const TEST_HARNESS_PREFIX: &str = "HOOKWIRE_TEST_";

const LOG_LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];

/// The text `hookwire serve --help` ends with: the environment-only settings and the example file.
pub fn serve_after_help() -> String {
    let mut text = String::from("Settings only in the environment:\n");
    for (name, what) in ENV_ONLY {
        text.push_str(&format!("  {name:<26} {what}\n"));
    }
    text.push_str(
        "\nEvery setting, its TOML key and its default: hookwire.example.toml in the source tree.\n\
         Precedence: flag, then environment, then the --config file.",
    );
    text
}

/// Starts logging to stderr from `HOOKWIRE_LOG` and `HOOKWIRE_LOG_FORMAT`; an invalid value is an
/// error naming what is accepted. Colours only when stderr is a terminal (and `NO_COLOR` unset).
pub fn init_logging() -> anyhow::Result<()> {
    let level = std::env::var("HOOKWIRE_LOG").ok().filter(|v| !v.trim().is_empty());
    let filter = match level {
        Some(text) => {
            check_log_directives(&text)?;
            tracing_subscriber::EnvFilter::try_new(&text).with_context(|| format!("HOOKWIRE_LOG={text:?}"))?
        }
        None => tracing_subscriber::EnvFilter::new("info"),
    };
    let json = match std::env::var("HOOKWIRE_LOG_FORMAT").ok().as_deref().map(str::trim) {
        None | Some("") | Some("text") => false,
        Some("json") => true,
        Some(other) => bail!("HOOKWIRE_LOG_FORMAT={other:?} is not a log format; use text (the default) or json"),
    };
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi && !json);
    if json {
        // One JSON object per line: the event's fields at the top level, the request span's
        // fields (request_id, method, path) under "span".
        builder.json().flatten_event(true).with_current_span(true).with_span_list(false).init();
    } else {
        builder.init();
    }
    Ok(())
}

/// `HOOKWIRE_LOG` must be a level, or directives `target=level` (tracing's syntax): a bare word
/// that is not a level would silently mean "only logs of the target named so", i.e. nothing.
fn check_log_directives(text: &str) -> anyhow::Result<()> {
    for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let level = match directive.rsplit_once('=') {
            Some((_, level)) => level,
            None => directive,
        };
        if !LOG_LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            bail!(
                "HOOKWIRE_LOG={text:?}: {directive:?} is not a log level; use one of {} or target=level \
                 directives such as hookwire_server=debug",
                LOG_LEVELS.join(", ")
            );
        }
    }
    Ok(())
}

/// Warns once for every `HOOKWIRE_*` variable that no flag and no setting reads. `known` are the
/// variables the command line declares (every flag's `env`).
pub fn warn_unknown_variables(known: &[String]) {
    let variables = std::env::vars_os().filter_map(|(name, _)| name.into_string().ok());
    for name in unknown_variables(variables, known) {
        match closest(&name, known.iter().map(String::as_str).chain(ENV_ONLY.iter().map(|(n, _)| *n))) {
            Some(guess) => {
                tracing::warn!(variable = %name, "unknown environment variable, ignored (did you mean {guess}?)")
            }
            None => tracing::warn!(variable = %name, "unknown environment variable, ignored"),
        }
    }
}

fn unknown_variables(names: impl Iterator<Item = String>, known: &[String]) -> Vec<String> {
    let mut unknown: Vec<String> = names
        .filter(|name| name.starts_with("HOOKWIRE_"))
        .filter(|name| !known.contains(name) && !ENV_ONLY.iter().any(|(n, _)| n == name))
        .filter(|name| !TEST_HARNESS.contains(&name.as_str()) && !name.starts_with(TEST_HARNESS_PREFIX))
        .collect();
    unknown.sort();
    unknown
}

/// The known name nearest to `name`, when it is plausibly a typo of it.
fn closest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    known.map(|k| (edit_distance(name, k), k)).filter(|(d, _)| *d <= 3).min().map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels_and_directives_are_checked() {
        for good in ["info", "DEBUG", "warn,hookwire_server=debug", "hyper=off", "a::b[span]=trace"] {
            check_log_directives(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for bad in ["verbose", "info,loud", "hookwire=noisy"] {
            let error = check_log_directives(bad).unwrap_err().to_string();
            assert!(error.contains("trace, debug, info, warn, error, off"), "{bad}: {error}");
        }
    }

    #[test]
    fn unknown_variables_are_found_and_typos_get_a_suggestion() {
        let known = vec!["HOOKWIRE_ALLOW_PRIVATE_NETWORKS".to_owned(), "HOOKWIRE_LISTEN".to_owned()];
        let names = [
            "HOOKWIRE_ALLOW_PRIVATE_NETWORK",
            "HOOKWIRE_LISTEN",
            "HOOKWIRE_ADMIN_TOKEN",
            "HOOKWIRE_TEST_BACKEND",
            "HOOKWIRE_BIN",
            "HOOKWIRE_REQUIRE_POSTGRES",
            "PATH",
            "HOOKWIRE_WHATEVER_ELSE",
        ];
        let unknown = unknown_variables(names.iter().map(|n| n.to_string()), &known);
        assert_eq!(unknown, ["HOOKWIRE_ALLOW_PRIVATE_NETWORK", "HOOKWIRE_WHATEVER_ELSE"]);
        let all = known.iter().map(String::as_str);
        assert_eq!(closest("HOOKWIRE_ALLOW_PRIVATE_NETWORK", all.clone()), Some("HOOKWIRE_ALLOW_PRIVATE_NETWORKS"));
        assert_eq!(closest("HOOKWIRE_WHATEVER_ELSE", all), None);
    }
}
