use netpilot_core::ErrorCode;
use netpilot_linux::netns;
use netpilot_testkit::netns::{NamedNetns, current_id};

#[test]
fn entering_a_named_namespace_moves_this_thread_there() {
    if !netpilot_testkit::require_root("entering_a_named_namespace_moves_this_thread_there") {
        return;
    }
    let named = NamedNetns::create("np-enter").unwrap();
    let expected = rustix::fs::stat(format!("/run/netns/{}", named.name).as_str())
        .unwrap()
        .st_ino;
    let name = named.name.clone();
    let inside = std::thread::spawn(move || {
        netns::enter(&name).unwrap();
        current_id().unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(inside, expected);
    assert_ne!(
        current_id().unwrap(),
        expected,
        "only the entering thread moved"
    );
}

#[test]
fn unknown_and_malformed_names_are_refused_clearly() {
    let error = netns::enter("np-no-such-namespace").unwrap_err();
    assert_eq!(error.code, ErrorCode::NetnsNotFound);
    assert!(
        error.message.contains("np-no-such-namespace"),
        "{}",
        error.message
    );
    assert_eq!(error.hint.as_deref(), Some("list them with: ip netns list"));
    assert_eq!(
        netns::enter("../etc").unwrap_err().code,
        ErrorCode::InvalidArgument
    );
}
