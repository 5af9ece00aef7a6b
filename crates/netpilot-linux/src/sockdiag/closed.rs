//! Final counters of TCP sockets as the kernel frees them.
//!
//! `sock_diag` broadcasts an `inet_diag_msg` with `INET_DIAG_INFO` (the final `tcp_info`)
//! to the `SKNLGRP_INET{,6}_TCP_DESTROY` groups when a TCP socket is freed
//! (`sock_diag_broadcast_destroy`, net/core/sock.c). Bytes a socket moved after the last
//! sample and before it closed are therefore not lost. The message carries the socket
//! cookie but no inode, so the engine attributes it through the cookie it saw earlier.

use netlink_packet_core::NetlinkBuffer;
use netlink_packet_sock_diag::constants::SOCK_DIAG_BY_FAMILY;
use netlink_sys::Socket;
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netpilot_core::ports::{ClosedSocket, ClosedSocketFeed};
use rustix::io::Errno;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

// include/uapi/linux/sock_diag.h, enum sknetlink_groups.
const SKNLGRP_INET_TCP_DESTROY: u32 = 1;
const SKNLGRP_INET6_TCP_DESTROY: u32 = 3;
/// How often the reader looks at the stop flag.
const POLL: Duration = Duration::from_millis(200);

#[derive(Default)]
struct Shared {
    closed: Mutex<Vec<ClosedSocket>>,
    lost: AtomicU64,
    stop: AtomicBool,
}

/// Listens for TCP socket destruction in the network namespace it was started in.
pub struct ClosedSocketListener {
    shared: Arc<Shared>,
    reader: Option<JoinHandle<()>>,
}

impl ClosedSocketListener {
    /// Joins the destroy groups; `None` when the kernel refuses (old kernel, or a
    /// namespace where the caller may not listen).
    pub fn start() -> Option<Self> {
        let mut socket = Socket::new(NETLINK_SOCK_DIAG).ok()?;
        socket.bind_auto().ok()?;
        socket.add_membership(SKNLGRP_INET_TCP_DESTROY).ok()?;
        socket.add_membership(SKNLGRP_INET6_TCP_DESTROY).ok()?;
        // A burst of closes between two reads must fit; forcing past rmem_max needs
        // CAP_NET_ADMIN, so fall back to the ordinary limit.
        const WANTED: usize = 16 * 1024 * 1024;
        if rustix::net::sockopt::set_socket_recv_buffer_size_force(&socket, WANTED).is_err() {
            let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&socket, WANTED);
        }
        rustix::net::sockopt::set_socket_timeout(
            &socket,
            rustix::net::sockopt::Timeout::Recv,
            Some(POLL),
        )
        .ok()?;
        let shared = Arc::new(Shared::default());
        let reader = std::thread::Builder::new()
            .name("closed-sockets".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || read_loop(&socket, &shared)
            })
            .ok()?;
        Some(ClosedSocketListener {
            shared,
            reader: Some(reader),
        })
    }
}

impl ClosedSocketFeed for ClosedSocketListener {
    fn take_closed(&mut self) -> Vec<ClosedSocket> {
        let mut closed = self.shared.closed.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *closed)
    }

    fn lost(&mut self) -> u64 {
        self.shared.lost.swap(0, Ordering::Relaxed)
    }
}

impl Drop for ClosedSocketListener {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

fn read_loop(socket: &Socket, shared: &Shared) {
    let mut buffer = vec![0u8; 64 * 1024];
    while !shared.stop.load(Ordering::Relaxed) {
        let size = match socket.recv(&mut &mut buffer[..], 0) {
            Ok(size) => size,
            Err(e) => match Errno::from_io_error(&e) {
                Some(Errno::AGAIN | Errno::INTR) => continue,
                // The kernel dropped notices it could not queue: count the overrun.
                Some(Errno::NOBUFS) => {
                    shared.lost.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                _ => return,
            },
        };
        let mut batch = Vec::new();
        let mut offset = 0;
        while let Ok(frame) = NetlinkBuffer::new_checked(&buffer[offset..size]) {
            let length = frame.length() as usize;
            if length == 0 {
                break;
            }
            offset += (length + 3) & !3;
            if frame.message_type() == SOCK_DIAG_BY_FAMILY
                && let Some(closed) = super::closed_from(frame.payload())
            {
                batch.push(closed);
            }
        }
        if !batch.is_empty() {
            shared
                .closed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(batch);
        }
    }
}
