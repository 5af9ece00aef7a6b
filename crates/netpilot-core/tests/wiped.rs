//! A dropped `Secret` leaves no copy of its bytes in the memory it gives back: an
//! allocator looks at every block as it is freed and counts those that still hold a
//! marker. A plain `String` with the marker is counted (so the watch works); a `Secret`
//! and its clone are not.
// The allocator is `unsafe` by nature; it only forwards to the system's and reads blocks.
#![allow(unsafe_code)]

use netpilot_core::Secret;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

const MARKER: &[u8] = b"np-wipe-marker-4f1c9a2e";

static FREED_WITH_MARKER: AtomicUsize = AtomicUsize::new(0);

struct Watching;

unsafe impl GlobalAlloc for Watching {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let freed = unsafe { std::slice::from_raw_parts(block, layout.size()) };
        if freed.windows(MARKER.len()).any(|window| window == MARKER) {
            FREED_WITH_MARKER.fetch_add(1, Ordering::SeqCst);
        }
        unsafe { System.dealloc(block, layout) }
    }
}

#[global_allocator]
static WATCHING: Watching = Watching;

fn marked() -> String {
    String::from_utf8(MARKER.to_vec()).expect("ASCII")
}

fn freed_with_marker() -> usize {
    FREED_WITH_MARKER.load(Ordering::SeqCst)
}

#[test]
fn a_dropped_secret_and_its_clones_leave_no_copy_in_freed_memory() {
    let before = freed_with_marker();
    drop(black_box(marked()));
    assert_eq!(
        freed_with_marker(),
        before + 1,
        "a plain String is freed with its bytes: the allocator sees it"
    );

    let before = freed_with_marker();
    let secret = black_box(Secret::new(marked()));
    let copy = black_box(secret.clone());
    assert_eq!(copy.expose().as_bytes(), MARKER);
    drop(copy);
    drop(secret);
    assert_eq!(
        freed_with_marker(),
        before,
        "a Secret's memory was given back holding the secret"
    );
}
