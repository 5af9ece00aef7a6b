//! Property tests of the protocol with the fake backend: whatever a client sends — random
//! bytes, random JSON, every method with random params — the daemon answers each frame
//! with one response (a result or an error it names), within its own timeouts, and goes
//! on serving. A fixed seed: a failure here fails the same way every run.

use crate::harness::Daemon;
use netpilot_api::dispatch::RateLimit;
use netpilot_api::protocol::METHODS;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};
use std::time::Duration;

/// Longer than any method may take with the fake backend (a device link's `up` waits for
/// its join, 30 s): time is paused, so this costs nothing unless the daemon hangs.
const ANSWERED_WITHIN: Duration = Duration::from_secs(300);

fn runner(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

/// Every error code the daemon may send, as docs/json.md names them.
fn known_code(code: &str) -> bool {
    serde_json::from_value::<netpilot_core::ErrorCode>(json!(code)).is_ok()
}

/// Sends `frame` and returns the response to it (events that come meanwhile are skipped).
async fn answer(client: &mut crate::harness::Client, frame: &str) -> Result<Value, String> {
    client.send(frame).await;
    let deadline = tokio::time::Instant::now() + ANSWERED_WITHIN;
    loop {
        let line = tokio::time::timeout_at(deadline, client.lines.recv())
            .await
            .map_err(|_| format!("no answer to {frame:?} within {ANSWERED_WITHIN:?}"))?
            .ok_or_else(|| format!("the session ended after {frame:?}"))?;
        let message: Value =
            serde_json::from_str(&line).map_err(|e| format!("not JSON ({e}): {line}"))?;
        if message.get("success").is_some() {
            return Ok(message);
        }
    }
}

fn check_response(response: &Value) -> Result<(), TestCaseError> {
    let success = response["success"]
        .as_bool()
        .ok_or_else(|| TestCaseError::fail(format!("success is no bool: {response}")))?;
    if !success {
        let code = response["error"]["code"].as_str().unwrap_or_default();
        prop_assert!(known_code(code), "an unknown error code: {response}");
    }
    Ok(())
}

/// JSON values of every kind, nested a few levels.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
            prop::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Objects shaped like requests, with every part possibly wrong.
fn request_like() -> impl Strategy<Value = Value> {
    let method = prop_oneof![
        prop::sample::select(METHODS.to_vec()).prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
        any_json(),
    ];
    (
        prop::option::of(any_json()),
        prop::option::of(method),
        prop::option::of(any_json()),
    )
        .prop_map(|(id, method, params)| {
            let mut request = serde_json::Map::new();
            for (key, value) in [("id", id), ("method", method), ("params", params)] {
                if let Some(value) = value {
                    request.insert(key.into(), value);
                }
            }
            Value::Object(request)
        })
}

#[test]
fn random_bytes_get_an_error_or_a_result_and_the_session_goes_on() {
    let runtime = paused_runtime();
    let daemon = runtime.block_on(Daemon::start(RateLimit::default()));
    let _in_runtime = runtime.enter();
    // The runner wants a `Fn`: the one client is borrowed for each case.
    let client = std::cell::RefCell::new(daemon.client());
    let frames = prop::collection::vec(any::<u8>(), 1..2048)
        .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .prop_filter("a blank line is no frame", |f| !f.trim().is_empty());
    runner(3000)
        .run(&frames, |frame| {
            let response = runtime
                .block_on(answer(&mut client.borrow_mut(), &frame))
                .map_err(TestCaseError::fail)?;
            check_response(&response)
        })
        .unwrap();
    // Still serving.
    let status = runtime
        .block_on(answer(
            &mut client.borrow_mut(),
            r#"{"id": 1, "method": "network.status"}"#,
        ))
        .unwrap();
    assert_eq!(status["success"], true);
}

#[test]
fn random_json_gets_an_error_or_a_result_with_the_id_it_came_with() {
    let runtime = paused_runtime();
    let daemon = runtime.block_on(Daemon::start(RateLimit::default()));
    let _in_runtime = runtime.enter();
    // The runner wants a `Fn`: the one client is borrowed for each case.
    let client = std::cell::RefCell::new(daemon.client());
    runner(3000)
        .run(&prop_oneof![any_json(), request_like()], |value| {
            let frame = value.to_string();
            let response = runtime
                .block_on(answer(&mut client.borrow_mut(), &frame))
                .map_err(TestCaseError::fail)?;
            check_response(&response)?;
            // A number or string id of an object is echoed; anything else is answered
            // without one.
            if let Some(id) = value
                .get("id")
                .filter(|id| id.is_number() || id.is_string())
            {
                prop_assert_eq!(&response["id"], id);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn every_method_with_random_params_is_answered_and_the_daemon_goes_on() {
    let runtime = paused_runtime();
    let daemon = runtime.block_on(Daemon::start(RateLimit::default()));
    let _in_runtime = runtime.enter();
    // The runner wants a `Fn`: the one client is borrowed for each case.
    let client = std::cell::RefCell::new(daemon.client());
    let calls = (
        prop::sample::select(METHODS.to_vec()),
        prop::collection::btree_map(
            prop_oneof![
                Just("ssid".to_string()),
                Just("name".to_string()),
                Just("interface".to_string()),
                Just("token".to_string()),
                Just("services".to_string()),
                Just("password".to_string()),
                Just("secrets".to_string()),
                Just("kind".to_string()),
                "[a-zA-Z]{1,10}",
            ],
            any_json(),
            0..5,
        ),
    );
    let ids = std::cell::Cell::new(0u64);
    runner(3000)
        .run(&calls, |(method, params)| {
            let id = ids.get() + 1;
            ids.set(id);
            let frame = json!({"id": id, "method": method, "params": params}).to_string();
            let response = runtime
                .block_on(answer(&mut client.borrow_mut(), &frame))
                .map_err(TestCaseError::fail)?;
            check_response(&response)?;
            prop_assert_eq!(&response["id"], &json!(id));
            Ok(())
        })
        .unwrap();
    let status = runtime
        .block_on(answer(
            &mut client.borrow_mut(),
            r#"{"id": "last", "method": "network.status"}"#,
        ))
        .unwrap();
    assert_eq!(status["success"], true);
}
