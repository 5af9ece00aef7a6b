//! One synchronous netlink request/dump exchange, shared by rtnetlink and sock_diag.

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkDeserializable, NetlinkHeader, NetlinkMessage,
    NetlinkPayload, NetlinkSerializable,
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
        socket.connect(&SocketAddr::new(0, 0)).map_err(NetlinkError::Open)?;
        Ok(Netlink {
            socket,
            sequence: Cell::new(0),
            buffer: std::cell::RefCell::new(vec![0; RECV_BUFFER]),
        })
    }

    /// Sends `request` as a dump and calls `each` for every reply until the kernel says
    /// it is done.
    pub fn dump<Req, Resp>(
        &self,
        request: Req,
        mut each: impl FnMut(Resp) -> Result<(), NetlinkError>,
    ) -> Result<(), NetlinkError>
    where
        Req: NetlinkSerializable + std::fmt::Debug,
        Resp: NetlinkDeserializable + std::fmt::Debug,
    {
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
            let size = self.socket.recv(&mut &mut buffer[..], 0).map_err(NetlinkError::Recv)?;
            let mut offset = 0;
            while offset < size {
                let reply = <NetlinkMessage<Resp>>::deserialize(&buffer[offset..size])
                    .map_err(|e| NetlinkError::Decode(e.to_string()))?;
                let length = reply.header.length as usize;
                if length == 0 {
                    return Err(NetlinkError::Decode("zero-length netlink message".into()));
                }
                offset += length;
                if reply.header.sequence_number != sequence {
                    continue; // a late reply to an earlier, abandoned request
                }
                match reply.payload {
                    NetlinkPayload::InnerMessage(inner) => each(inner)?,
                    NetlinkPayload::Done(done) if done.code < 0 => {
                        return Err(NetlinkError::Kernel(io::Error::from_raw_os_error(-done.code)));
                    }
                    NetlinkPayload::Done(_) => return Ok(()),
                    NetlinkPayload::Error(e) if e.code.is_some() => {
                        return Err(NetlinkError::Kernel(e.to_io()));
                    }
                    NetlinkPayload::Error(_) | NetlinkPayload::Noop => {}
                    NetlinkPayload::Overrun(_) => {
                        return Err(NetlinkError::Recv(io::Error::other("netlink overrun")));
                    }
                    _ => {}
                }
            }
        }
    }
}
