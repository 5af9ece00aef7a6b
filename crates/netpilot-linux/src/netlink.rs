//! One synchronous netlink request/dump exchange, shared by rtnetlink and sock_diag.

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN, NetlinkBuffer,
    NetlinkDeserializable, NetlinkHeader, NetlinkMessage, NetlinkPayload, NetlinkSerializable,
    Parseable,
};
use netlink_sys::{Socket, SocketAddr};
use std::cell::Cell;
use std::io;

/// The kernel sizes dump batches by the reader's buffer, up to 32 KiB
/// (`netlink_recvmsg`: `max_recvmsg_len`); a bigger buffer means fewer syscalls.
const RECV_BUFFER: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("cannot open a netlink socket: {0}")]
    Open(#[source] io::Error),
    #[error("netlink send failed: {0}")]
    Send(#[source] io::Error),
    #[error("netlink receive failed: {0}")]
    Recv(#[source] io::Error),
    #[error("the kernel refused the request: {0}")]
    Kernel(#[source] io::Error),
    #[error("could not decode the kernel's reply: {0}")]
    Decode(String),
}

impl NetlinkError {
    /// The errno behind the failure, if the kernel gave one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetlinkError::Open(e)
            | NetlinkError::Send(e)
            | NetlinkError::Recv(e)
            | NetlinkError::Kernel(e) => e.raw_os_error(),
            NetlinkError::Decode(_) => None,
        }
    }
}

/// A netlink socket bound to the network namespace of the thread that opened it.
pub struct Netlink {
    socket: Socket,
    sequence: Cell<u32>,
    buffer: std::cell::RefCell<Vec<u8>>,
}

impl Netlink {
    pub fn open(protocol: isize) -> Result<Self, NetlinkError> {
        let mut socket = Socket::new(protocol).map_err(NetlinkError::Open)?;
        socket.bind_auto().map_err(NetlinkError::Open)?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(NetlinkError::Open)?;
        Ok(Netlink {
            socket,
            sequence: Cell::new(0),
            buffer: std::cell::RefCell::new(vec![0; RECV_BUFFER]),
        })
    }

    /// Sends `request` as a dump and calls `each` with the header and payload of every
    /// reply until the kernel says it is done. Payloads are borrowed from the receive
    /// buffer: a caller that needs a few fields of 100,000 replies decodes only those.
    pub fn dump_raw(
        &self,
        request: impl NetlinkSerializable + std::fmt::Debug,
        mut each: impl FnMut(&NetlinkHeader, &[u8]) -> Result<(), NetlinkError>,
    ) -> Result<(), NetlinkError> {
        let sequence = self.sequence.get().wrapping_add(1);
        self.sequence.set(sequence);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        header.sequence_number = sequence;
        let mut message = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(request));
        message.finalize();
        let mut out = vec![0; message.buffer_len()];
        message.serialize(&mut out);
        self.socket.send(&out, 0).map_err(NetlinkError::Send)?;

        let mut buffer = self.buffer.borrow_mut();
        loop {
            let size = self
                .socket
                .recv(&mut &mut buffer[..], 0)
                .map_err(NetlinkError::Recv)?;
            for message in messages(&buffer[..size]) {
                let (header, payload) = message?;
                if header.sequence_number != sequence {
                    continue; // a late reply to an earlier, abandoned request
                }
                match header.message_type {
                    NLMSG_DONE => {
                        return match status(payload) {
                            code if code < 0 => {
                                Err(NetlinkError::Kernel(io::Error::from_raw_os_error(-code)))
                            }
                            _ => Ok(()),
                        };
                    }
                    NLMSG_ERROR => match status(payload) {
                        0 => {} // an acknowledgement
                        code => {
                            return Err(NetlinkError::Kernel(io::Error::from_raw_os_error(
                                code.abs(),
                            )));
                        }
                    },
                    NLMSG_NOOP => {}
                    NLMSG_OVERRUN => {
                        return Err(NetlinkError::Recv(io::Error::other("netlink overrun")));
                    }
                    _ => each(&header, payload)?,
                }
            }
        }
    }

    /// [`Netlink::dump_raw`], decoding each reply as `Resp`.
    pub fn dump<Req, Resp>(
        &self,
        request: Req,
        mut each: impl FnMut(Resp) -> Result<(), NetlinkError>,
    ) -> Result<(), NetlinkError>
    where
        Req: NetlinkSerializable + std::fmt::Debug,
        Resp: NetlinkDeserializable,
    {
        self.dump_raw(request, |header, payload| {
            let reply = Resp::deserialize(header, payload)
                .map_err(|e| NetlinkError::Decode(e.to_string()))?;
            each(reply)
        })
    }
}

const NETLINK_HEADER_LEN: usize = 16;

/// The messages of one datagram, each as its header and payload; stops at the first
/// that cannot be decoded.
pub fn messages(
    datagram: &[u8],
) -> impl Iterator<Item = Result<(NetlinkHeader, &[u8]), NetlinkError>> {
    let mut offset = 0;
    std::iter::from_fn(move || {
        if offset >= datagram.len() {
            return None;
        }
        let frame = match NetlinkBuffer::new_checked(&datagram[offset..]) {
            Ok(frame) => frame,
            Err(e) => {
                offset = datagram.len();
                return Some(Err(NetlinkError::Decode(e.to_string())));
            }
        };
        let header = match NetlinkHeader::parse(&frame) {
            Ok(header) => header,
            Err(e) => {
                offset = datagram.len();
                return Some(Err(NetlinkError::Decode(e.to_string())));
            }
        };
        let length = header.length as usize;
        if length < NETLINK_HEADER_LEN {
            offset = datagram.len();
            return Some(Err(NetlinkError::Decode(format!(
                "netlink message of {length} bytes"
            ))));
        }
        let payload = &datagram[offset + NETLINK_HEADER_LEN..offset + length];
        // Messages are padded to 4 bytes (NLMSG_ALIGN).
        offset += (length + 3) & !3;
        Some(Ok((header, payload)))
    })
}

/// The `int` status that opens NLMSG_DONE and NLMSG_ERROR payloads.
fn status(payload: &[u8]) -> i32 {
    payload
        .get(..4)
        .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}
