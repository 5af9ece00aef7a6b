use super::*;
use std::time::Duration;

#[test]
fn a_slow_file_store_never_holds_up_the_runtime() {
    let dir = std::env::temp_dir().join(format!("np-store-slow-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let file = SecretFile::at(dir.join("netpilot/secrets.json"));
    let store = SecretStore::File(file.clone());
    // A slow operation in progress, standing in for a slow disk: it holds the store's
    // lock until the test lets go.
    let slow = file.hold();
    let (told, heard) = std::sync::mpsc::channel();
    // The daemon's runtime: one thread, which the store must never block.
    let runtime = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let load = tokio::spawn(async move {
                store
                    .load("uuid-1", "802-11-wireless-security")
                    .await
                    .map(|found| found.len())
            });
            // Fires only if the thread is free while the load waits for the disk.
            tokio::time::sleep(Duration::from_millis(50)).await;
            told.send(load.is_finished()).unwrap();
            load.await.unwrap()
        })
    });
    let while_slow = heard.recv_timeout(Duration::from_secs(5));
    drop(slow);
    let loaded = runtime.join().unwrap();
    assert_eq!(
        while_slow,
        Ok(false),
        "a timer fires while the store operation is still waiting"
    );
    assert_eq!(
        loaded,
        Ok(0),
        "and the operation completes once the disk answers"
    );
    let _ = std::fs::remove_dir_all(dir);
}
