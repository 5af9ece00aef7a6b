//! Secrets: given, stored, asked of every subscriber; wrong ones never resent.

use super::*;

#[tokio::test(start_paused = true)]
async fn without_a_password_the_prompt_goes_to_subscribers_and_the_first_answer_wins() {
    let mut h = start(true).await;
    h.handle.connect(params("home", None, true)).await.unwrap();
    h.settle().await;
    let responder = h.ask_secrets("home", false).await;
    let prompt = h.next_prompt().await;
    assert_eq!(
        (
            prompt.ssid.as_str(),
            prompt.reason.as_str(),
            prompt.fields.as_slice()
        ),
        ("home", REASON_REQUIRED, &["psk".to_string()][..])
    );
    assert_eq!(
        h.handle.pending().await.unwrap(),
        vec![prompt.clone()],
        "re-delivered to late subscribers"
    );

    let short = vec![("psk".to_string(), Secret::new("short"))];
    let error = h
        .handle
        .submit(prompt.token.clone(), short, None)
        .await
        .unwrap_err();
    assert_eq!(
        error.code,
        ErrorCode::InvalidArgument,
        "an invalid answer leaves the prompt pending"
    );
    let missing = h
        .handle
        .submit(prompt.token.clone(), vec![], None)
        .await
        .unwrap_err();
    assert_eq!(missing.code, ErrorCode::InvalidParams);

    let good = vec![("psk".to_string(), Secret::new("home-secret-1"))];
    h.handle
        .submit(prompt.token.clone(), good.clone(), Some(false))
        .await
        .unwrap();
    let second = h
        .handle
        .submit(prompt.token.clone(), good.clone(), None)
        .await
        .unwrap_err();
    assert_eq!(
        second.code,
        ErrorCode::UnknownToken,
        "the second answer loses"
    );
    h.settle().await;
    assert_eq!(responder.answer(), Some(SecretAnswer::Secrets(good)));
    assert!(h.handle.pending().await.unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_wrong_password_prompts_again_with_the_reason() {
    let mut h = start(true).await;
    h.handle.connect(params("home", None, true)).await.unwrap();
    h.settle().await;
    let _first = h.ask_secrets("home", false).await;
    let prompt = h.next_prompt().await;
    h.handle
        .submit(
            prompt.token,
            vec![("psk".into(), Secret::new("wrong-password"))],
            None,
        )
        .await
        .unwrap();
    let again = h.ask_secrets("home", true).await;
    let reprompt = h.next_prompt().await;
    assert_eq!(reprompt.reason, REASON_INCORRECT);
    h.handle.cancel(reprompt.token.clone()).await.unwrap();
    h.settle().await;
    assert_eq!(again.answer(), Some(SecretAnswer::UserCanceled));
    let after_cancel = h
        .handle
        .submit(
            reprompt.token,
            vec![("psk".into(), Secret::new("home-secret-1"))],
            None,
        )
        .await;
    assert_eq!(
        after_cancel.unwrap_err().code,
        ErrorCode::UnknownToken,
        "submit after cancel"
    );
    // Cancelling ends the attempt at once, without waiting for NetworkManager.
    let failed = loop {
        let state = h.next_network().await;
        if !state.is_connecting && !state.last_error.is_empty() {
            break state;
        }
    };
    assert_eq!(failed.last_error, "user-canceled");
    h.settle().await;
    assert_eq!(
        h.backend.abandoned.lock().unwrap().len(),
        1,
        "the profile made for the attempt is removed"
    );
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_prompt_expires_after_two_minutes() {
    let mut h = start(true).await;
    h.handle.connect(params("home", None, true)).await.unwrap();
    h.settle().await;
    let responder = h.ask_secrets("home", false).await;
    let prompt = h.next_prompt().await;
    let start = Instant::now();
    let resolved = loop {
        if let ServiceEvent::PromptResolved { token, outcome } = h.next().await {
            break (token, outcome);
        }
    };
    assert_eq!(resolved, (prompt.token, PromptOutcome::Expired));
    assert!(
        start.elapsed() >= Duration::from_secs(120) - Duration::from_millis(100),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(responder.answer(), Some(SecretAnswer::UserCanceled));
    let state = h.handle.status().await.unwrap();
    assert_eq!(state.last_error, "timeout");
}

#[tokio::test(start_paused = true)]
async fn what_networkmanager_does_before_the_join_reports_back_counts() {
    let mut h = start(true).await;
    *h.backend.join_delay.lock().unwrap() = Duration::from_secs(2);
    let asked = Instant::now();
    h.handle.connect(params("home", None, true)).await.unwrap();
    // NetworkManager asks, the user cancels, the activation fails: all before the
    // join call returns.
    let _request = h.ask_secrets("home", false).await;
    let prompt = h.next_prompt().await;
    h.handle.cancel(prompt.token).await.unwrap();
    h.device(DeviceState::Failed, FailureReason::NoSecrets)
        .await;
    let failed = loop {
        let state = h.next_network().await;
        if !state.is_connecting && !state.last_error.is_empty() {
            break state;
        }
    };
    assert_eq!(failed.last_error, "user-canceled");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
    // The profile the late join made is removed once it reports back.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(h.backend.abandoned.lock().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn requests_for_other_networks_are_answered_from_the_store_or_declined() {
    let h = start(true).await;
    h.backend
        .remember(
            "uuid-1",
            "home",
            "802-11-wireless-security",
            &[("psk".into(), Secret::new("home-secret-1"))],
        )
        .await
        .unwrap();
    let stored = h.ask_secrets("home", false).await;
    h.settle().await;
    assert!(
        matches!(stored.answer(), Some(SecretAnswer::Secrets(_))),
        "autoconnect of a saved network"
    );
    let rejected = h.ask_secrets("home", true).await;
    h.settle().await;
    assert_eq!(
        rejected.answer(),
        Some(SecretAnswer::NoSecrets),
        "a rejected stored password is not resent"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stopping_daemon_withdraws_its_prompts_and_ends_its_attempt() {
    let mut h = start(true).await;
    h.handle.connect(params("home", None, true)).await.unwrap();
    h.settle().await;
    let responder = h.ask_secrets("home", false).await;
    let prompt = h.next_prompt().await;
    h.handle.withdraw().await.unwrap();
    let resolved = loop {
        if let ServiceEvent::PromptResolved { token, outcome } = h.next().await {
            break (token, outcome);
        }
    };
    assert_eq!(resolved, (prompt.token, PromptOutcome::Withdrawn));
    h.settle().await;
    assert_eq!(
        responder.answer(),
        Some(SecretAnswer::NoSecrets),
        "NetworkManager may ask another agent"
    );
    assert!(h.handle.pending().await.unwrap().is_empty());
    let state = h.handle.status().await.unwrap();
    assert!(!state.is_connecting, "the attempt ended: {state:?}");
    assert_eq!(
        h.backend.abandoned.lock().unwrap().len(),
        1,
        "the profile it made was deleted before the daemon went"
    );
}
