//! How the CLI prints API results: aligned tables and `key: value` blocks for people, the
//! server's JSON unchanged with `--json`. Hints (the next iterator) go to stderr so stdout
//! stays parseable.

use std::fmt::Write as _;

use serde_json::Value;

use super::client::Listing;

/// Longer cells are cut (with `…`) so one payload cannot wreck a table.
pub const CELL_CHARS_MAX: usize = 60;
/// Spaces between table columns.
pub const COLUMN_GAP: usize = 2;

/// A table column: its header and the JSON pointer of the value shown (`/id`, `/metadata/x`).
pub type Column = (&'static str, &'static str);

#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
}

impl Output {
    /// A list: a table of `columns`, or `{data, iterator, done}` with `--json`.
    pub fn list(&self, listing: &Listing, columns: &[Column]) {
        if self.json {
            let value = serde_json::json!({"data": listing.data, "iterator": listing.iterator, "done": listing.done});
            print_json(&value);
            return;
        }
        print!("{}", table(&listing.data, columns));
        if !listing.done
            && let Some(iterator) = &listing.iterator
        {
            eprintln!("More items: add --iterator {iterator} (or --all)");
        }
    }

    /// One object: `field: value` lines for `columns`, or the whole JSON with `--json`.
    pub fn item(&self, value: &Value, columns: &[Column]) {
        if self.json {
            print_json(value);
            return;
        }
        let width = columns.iter().map(|(header, _)| header.len()).max().unwrap_or(0);
        for (header, pointer) in columns {
            println!("{header:<width$}  {}", cell(value.pointer(pointer).unwrap_or(&Value::Null), usize::MAX));
        }
    }

    /// A confirmation for people; with `--json`, the API's answer (or `{}` when it had none).
    pub fn done(&self, value: &Value, text: &str) {
        if self.json {
            let empty = Value::Object(Default::default());
            print_json(if value.is_null() { &empty } else { value });
        } else {
            println!("{text}");
        }
    }
}

pub fn print_json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// Rows under a header line, each column as wide as its widest cell.
pub fn table(rows: &[Value], columns: &[Column]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|(_, pointer)| cell(row.pointer(pointer).unwrap_or(&Value::Null), CELL_CHARS_MAX))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (header, _))| cells.iter().map(|row| row[i].chars().count()).chain([header.len()]).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    let headers: Vec<String> = columns.iter().map(|(header, _)| header.to_string()).collect();
    for row in std::iter::once(&headers).chain(&cells) {
        let mut line = String::new();
        for (i, text) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(text);
            } else {
                let _ = write!(line, "{text}{}", " ".repeat(widths[i] - text.chars().count() + COLUMN_GAP));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A JSON value as one table cell: strings bare, `-` for null, lists comma-separated.
pub fn cell(value: &Value, max_chars: usize) -> String {
    let text = match value {
        Value::Null => "-".to_owned(),
        Value::String(text) => text.clone(),
        Value::Array(items) if items.iter().all(|item| !item.is_object() && !item.is_array()) => {
            items.iter().map(|item| cell(item, usize::MAX)).collect::<Vec<_>>().join(",")
        }
        other => other.to_string(),
    };
    let text = text.replace(['\n', '\r', '\t'], " ");
    if text.chars().count() <= max_chars {
        return text;
    }
    let mut cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A one-line status on stderr, redrawn in place while stderr is a terminal and silent
/// otherwise (logs and pipes get only the final summary, which callers print themselves).
pub struct Progress {
    terminal: bool,
    frame: usize,
}

impl Progress {
    pub fn new() -> Self {
        use std::io::IsTerminal;
        Self { terminal: std::io::stderr().is_terminal(), frame: 0 }
    }

    pub fn update(&mut self, text: &str) {
        const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
        if self.terminal {
            self.frame += 1;
            eprint!("\r\x1b[2K{} {text}", FRAMES[self.frame % FRAMES.len()]);
        }
    }

    pub fn finish(&mut self) {
        if self.terminal {
            eprint!("\r\x1b[2K");
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tables_align_columns() {
        let rows =
            [json!({"id": "app_1", "name": "Acme", "uid": null}), json!({"id": "app_22", "name": "B", "uid": "b"})];
        let text = table(&rows, &[("ID", "/id"), ("NAME", "/name"), ("UID", "/uid")]);
        assert_eq!(text, "ID      NAME  UID\napp_1   Acme  -\napp_22  B     b\n");
    }

    #[test]
    fn cells_are_bounded_and_single_line() {
        assert_eq!(cell(&json!(["a.*", "b"]), 60), "a.*,b");
        assert_eq!(cell(&json!("x\ny"), 60), "x y");
        assert_eq!(cell(&json!("abcdef"), 4), "abc…");
        assert_eq!(cell(&json!({"a": 1}), 60), r#"{"a":1}"#);
    }
}
