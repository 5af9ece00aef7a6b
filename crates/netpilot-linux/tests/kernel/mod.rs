mod flows;
mod link_watch;
mod links;
mod netns;
mod probes;
mod procfs;
mod sockdiag;

use netpilot_core::Socket;
use netpilot_core::ports::{SocketQuery, SocketSource};
use netpilot_linux::SockDiag;

/// Enters a fresh namespace, or returns false (printing why) when not root.
fn fresh_namespace(test: &str) -> bool {
    if !netpilot_testkit::require_root(test) {
        return false;
    }
    netpilot_testkit::netns::enter_fresh().expect("a fresh network namespace");
    true
}

fn dump(query: &SocketQuery) -> Vec<Socket> {
    SockDiag::open()
        .expect("sock_diag opens")
        .sockets(query)
        .expect("sock_diag dumps")
}

fn inode_of(socket: &impl std::os::fd::AsFd) -> u64 {
    rustix::fs::fstat(socket).expect("fstat").st_ino
}
