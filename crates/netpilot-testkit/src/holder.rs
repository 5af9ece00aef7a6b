//! A process with a known name holding known sockets (`holder.py`), driven line by line.

use std::io::{self, BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/holder.py");

pub struct Holder {
    pub name: String,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Holder {
    /// Starts a holder named `name` (at most 15 bytes, the kernel's comm limit) in the
    /// calling thread's network namespace.
    pub fn spawn(name: &str) -> io::Result<Holder> {
        Self::spawn_with(&[], name)
    }

    /// Starts a holder in a network namespace of its own (`unshare --net`); reach it
    /// with [`crate::netns::Veth`].
    pub fn spawn_isolated(name: &str) -> io::Result<Holder> {
        Self::spawn_with(&["unshare", "--net", "--"], name)
    }

    /// Starts a holder under a wrapper command, e.g. `["ip", "netns", "exec", "NAME"]`.
    /// The wrapper must exec the holder, so that the pid is the holder's.
    pub fn spawn_with(wrapper: &[&str], name: &str) -> io::Result<Holder> {
        assert!(name.len() <= 15, "comm names are at most 15 bytes: {name}");
        let (program, args) = match wrapper.split_first() {
            Some((program, args)) => (*program, args.to_vec()),
            None => ("python3", vec![]),
        };
        let mut command = Command::new(program);
        command.args(args);
        if !wrapper.is_empty() {
            command.arg("python3");
        }
        let mut child = command
            .arg(SCRIPT)
            .arg(name)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut holder = Holder {
            name: name.to_string(),
            child,
            stdin,
            stdout,
        };
        let ready = holder.read_line()?;
        if ready != "ready" {
            return Err(io::Error::other(format!("holder {name} said {ready:?}")));
        }
        Ok(holder)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A listening TCP socket that accepts and reads everything sent to it. `kind` is
    /// `tcp`, `tcp6` (dual-stack) or `tcp6only`.
    pub fn listen(&mut self, kind: &str, address: &str, port: u16) -> u16 {
        self.call(&format!("listen {kind} {address} {port}"))[0]
            .parse()
            .expect("a port")
    }

    /// A bound, unconnected UDP socket; `kind` is `udp` or `udp6`.
    pub fn bind_udp(&mut self, kind: &str, address: &str, port: u16) -> u16 {
        self.call(&format!("bind {kind} {address} {port}"))[0]
            .parse()
            .expect("a port")
    }

    /// Connects and returns (connection id, local port).
    pub fn connect(&mut self, kind: &str, address: &str, port: u16) -> (u32, u16) {
        let words = self.call(&format!("connect {kind} {address} {port}"));
        (
            words[0].parse().expect("an id"),
            words[1].parse().expect("a port"),
        )
    }

    /// Sends exactly `bytes` bytes on connection `id`; returns once they are written.
    pub fn send(&mut self, id: u32, bytes: u64) {
        self.call(&format!("send {id} {bytes}"));
    }

    pub fn close(&mut self, id: u32) {
        self.call(&format!("close {id}"));
    }

    /// A bound, unconnected UDP socket that reads everything sent to it; returns (id,
    /// port). `kind` is `udp` or `udp6`; `send_datagrams` sends from it too.
    pub fn udp(&mut self, kind: &str, address: &str, port: u16) -> (u32, u16) {
        let words = self.call(&format!("udp {kind} {address} {port}"));
        (
            words[0].parse().expect("an id"),
            words[1].parse().expect("a port"),
        )
    }

    /// Sends `count` datagrams of `size` bytes on socket `id`: to its peer (a connected
    /// socket), or to `to`.
    pub fn send_datagrams(&mut self, id: u32, size: usize, count: u32, to: Option<(&str, u16)>) {
        let target = to.map_or(String::new(), |(address, port)| {
            format!(" {address} {port}")
        });
        self.call(&format!("datagrams {id} {size} {count}{target}"));
    }

    /// Bytes and datagrams read so far by this holder's UDP sockets.
    pub fn udp_received(&mut self) -> (u64, u64) {
        let words = self.call("udpreceived");
        (
            words[0].parse().expect("bytes"),
            words[1].parse().expect("datagrams"),
        )
    }

    /// Bytes read so far from accepted connections.
    pub fn received(&mut self) -> u64 {
        self.call("received")[0].parse().expect("a count")
    }

    /// Connections accepted so far.
    pub fn accepted(&mut self) -> u64 {
        self.call("accepted")[0].parse().expect("a count")
    }

    fn call(&mut self, command: &str) -> Vec<String> {
        writeln!(self.stdin, "{command}").expect("holder is alive");
        self.stdin.flush().expect("holder is alive");
        let reply = self.read_line().expect("holder answers");
        let mut words = reply.split_whitespace().map(str::to_owned);
        match words.next().as_deref() {
            Some("ok") => words.collect(),
            _ => panic!("holder {} refused {command:?}: {reply}", self.name),
        }
    }

    fn read_line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            return Err(io::Error::other(format!("holder {} exited", self.name)));
        }
        Ok(line.trim_end().to_string())
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
