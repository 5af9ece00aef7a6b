//! `np-floor dump|dump-info|readlink`: the two steps no tool that maps sockets to processes can skip,
//! done with nothing else, so the benchmark can say how close netpilot gets to the floor.
//!
//! - `dump`: one `NETLINK_SOCK_DIAG` dump of every TCP socket (IPv4 and IPv6), reading
//!   and counting the messages without decoding them.
//! - `dump-info`: the same with each socket's `tcp_info`, as a traffic sample asks for it:
//!   the floor of a monitor refresh while TCP is busy.
//! - `readlink`: one `readlink` of every fd of every process under `/proc`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netlink_sys::{Socket, SocketAddr};
use rustix::fs::{Mode, OFlags, RawDir};
use std::mem::MaybeUninit;
use std::process::ExitCode;

const NLMSG_DONE: u16 = 3;
const NLMSG_ERROR: u16 = 2;

fn dump(extensions: ExtensionFlags) -> std::io::Result<u64> {
    let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut sockets = 0;
    for family in [AF_INET, AF_INET6] {
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        let request = InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: extensions.clone(),
            states: StateFlags::all(),
            socket_id: if family == AF_INET {
                SocketId::new_v4()
            } else {
                SocketId::new_v6()
            },
        };
        let mut message = NetlinkMessage::new(
            header,
            NetlinkPayload::InnerMessage(SockDiagMessage::InetRequest(request)),
        );
        message.finalize();
        let mut out = vec![0; message.buffer_len()];
        message.serialize(&mut out);
        socket.send(&out, 0)?;
        'replies: loop {
            let size = socket.recv(&mut &mut buffer[..], 0)?;
            let mut offset = 0;
            while offset + 16 <= size {
                let length =
                    u32::from_ne_bytes(buffer[offset..offset + 4].try_into().expect("4 bytes"))
                        as usize;
                let kind =
                    u16::from_ne_bytes(buffer[offset + 4..offset + 6].try_into().expect("2 bytes"));
                if kind == NLMSG_DONE || kind == NLMSG_ERROR || length == 0 {
                    break 'replies;
                }
                sockets += 1;
                offset += (length + 3) & !3;
            }
        }
    }
    Ok(sockets)
}

fn readlink_all() -> std::io::Result<u64> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let proc = rustix::fs::open("/proc", flags, Mode::empty())?;
    let mut pids_buffer = [MaybeUninit::uninit(); 16 * 1024];
    let mut fds_buffer = [MaybeUninit::uninit(); 8 * 1024];
    let mut link = [MaybeUninit::<u8>::uninit(); 64];
    let mut links = 0;
    let mut pids = RawDir::new(&proc, &mut pids_buffer);
    while let Some(entry) = pids.next() {
        let name = entry?.file_name().to_bytes().to_vec();
        if !name.iter().all(u8::is_ascii_digit) {
            continue;
        }
        let mut path = name;
        path.extend_from_slice(b"/fd");
        let Ok(fd_dir) = rustix::fs::openat(&proc, path.as_slice(), flags, Mode::empty()) else {
            continue;
        };
        let mut fds = RawDir::new(&fd_dir, &mut fds_buffer);
        while let Some(Ok(fd)) = fds.next() {
            if fd.file_name().to_bytes()[0] != b'.'
                && rustix::fs::readlinkat_raw(&fd_dir, fd.file_name(), &mut link).is_ok()
            {
                links += 1;
            }
        }
    }
    Ok(links)
}

fn main() -> ExitCode {
    let result = match std::env::args().nth(1).as_deref() {
        Some("dump") => dump(ExtensionFlags::empty()),
        Some("dump-info") => dump(ExtensionFlags::INFO),
        Some("readlink") => readlink_all(),
        _ => {
            eprintln!("usage: np-floor dump|dump-info|readlink");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(count) => {
            println!("{count}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("np-floor: {e}");
            ExitCode::FAILURE
        }
    }
}
