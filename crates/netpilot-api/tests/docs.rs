//! docs/protocol.md's examples, played against the fake backend so they cannot go stale.
//! Each ```protocol block is one conversation with a fresh daemon: `>` lines the client
//! sends, `!` lines NetworkManager's side (fixture actions), and after each of those the
//! `<` lines the daemon says. `NETPILOT_BLESS=1` rewrites the `<` lines from what it said.

use crate::fixtures::play;
use crate::harness::Daemon;
use netpilot_api::dispatch::RateLimit;
use netpilot_api::protocol::{METHODS, SERVICES};
use serde_json::Value;
use std::path::Path;

/// One step of an example: what is done, and what the page says the daemon answers.
struct Step {
    line: String,
    says: Vec<String>,
}

fn page() -> (std::path::PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/protocol.md");
    let text = std::fs::read_to_string(&path).expect("docs/protocol.md");
    (path, text)
}

/// The examples: for each block, its line range in the page and its steps.
fn examples(text: &str) -> Vec<(std::ops::Range<usize>, Vec<Step>)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut at = 0;
    while at < lines.len() {
        if lines[at].trim() != "```protocol" {
            at += 1;
            continue;
        }
        let start = at + 1;
        let mut end = start;
        while lines[end].trim() != "```" {
            end += 1;
        }
        let mut steps: Vec<Step> = Vec::new();
        for line in &lines[start..end] {
            if let Some(said) = line.strip_prefix("< ") {
                steps
                    .last_mut()
                    .expect("a `<` line follows a `>` or `!` line")
                    .says
                    .push(said.to_string());
            } else if let Some(done) = line.strip_prefix("> ").or(line.strip_prefix("! ")) {
                steps.push(Step {
                    line: done.to_string(),
                    says: Vec::new(),
                });
            }
        }
        found.push((start..end, steps));
        at = end + 1;
    }
    found
}

/// A message as the page shows it: the envelope's keys in reading order.
fn shown(message: &Value) -> String {
    let order = [
        "id", "success", "message", "result", "error", "service", "data",
    ];
    let object = message.as_object().expect("messages are objects");
    let fields: Vec<String> = order
        .iter()
        .filter_map(|key| object.get(*key).map(|v| format!("\"{key}\": {v}")))
        .collect();
    assert_eq!(
        fields.len(),
        object.len(),
        "unexpected envelope key in {message}"
    );
    format!("{{{}}}", fields.join(", "))
}

#[tokio::test(start_paused = true)]
async fn every_example_in_the_protocol_page_is_what_the_daemon_says() {
    let bless = std::env::var_os("NETPILOT_BLESS").is_some();
    let (path, text) = page();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut failures = Vec::new();
    // From the last block up, so rewriting one keeps the line numbers of the others.
    for (range, steps) in examples(&text).into_iter().rev() {
        let mut daemon = Daemon::start(RateLimit::default()).await;
        let mut client = daemon.client();
        let mut rewritten = Vec::new();
        for step in &steps {
            let said = play(&mut daemon, &mut client, &step.line).await;
            let prefix = if step.line.contains("\"fixture\"") {
                "!"
            } else {
                ">"
            };
            rewritten.push(format!("{prefix} {}", step.line));
            rewritten.extend(said.iter().map(|m| format!("< {}", shown(m))));
            let expected: Vec<Value> = step
                .says
                .iter()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
                .collect();
            if said != expected {
                failures.push(format!(
                    "line {}: after {}\nthe page says:\n{}\nthe daemon said:\n{}",
                    range.start + 1,
                    step.line,
                    step.says.join("\n"),
                    said.iter().map(shown).collect::<Vec<_>>().join("\n")
                ));
            }
        }
        lines.splice(range, rewritten);
    }
    if bless {
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        return;
    }
    assert!(
        failures.is_empty(),
        "docs/protocol.md is stale:\n{}",
        failures.join("\n\n")
    );
}

#[test]
fn the_protocol_page_shows_every_method_and_every_event() {
    let (_, text) = page();
    let examples = examples(&text);
    let steps = || examples.iter().flat_map(|(_, steps)| steps);
    for method in METHODS {
        assert!(
            steps().any(
                |s| serde_json::from_str::<Value>(&s.line).is_ok_and(|v| v["method"] == method)
            ),
            "docs/protocol.md has no example of {method}"
        );
    }
    for service in SERVICES {
        assert!(
            steps().flat_map(|s| &s.says).any(|said| {
                serde_json::from_str::<Value>(said).is_ok_and(|v| v["service"] == service)
            }),
            "docs/protocol.md has no example of a {service} event"
        );
    }
}
