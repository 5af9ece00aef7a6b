//! `np-flood send ADDR:PORT SIZE RATE SECONDS` / `np-flood sink ADDR:PORT SECONDS`: the UDP
//! flood of scripts/bench/udp.sh. `send` sends datagrams of SIZE bytes from one connected
//! socket, RATE per second (0: as fast as it can), for SECONDS, and prints
//! `sent DATAGRAMS BYTES SECONDS CPU_TICKS` (its own user and system clock ticks: with a
//! veth, the receiving side's softirq work runs in the sender's syscalls too); `sink` reads for SECONDS after the first datagram (or
//! until 2 s without one) and prints `received DATAGRAMS BYTES`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn send(to: SocketAddr, size: usize, rate: u64, seconds: f64) -> std::io::Result<()> {
    let socket = UdpSocket::bind(if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })?;
    socket.connect(to)?;
    let payload = vec![0x5a; size];
    let start = Instant::now();
    let length = Duration::from_secs_f64(seconds);
    let (mut datagrams, mut bytes) = (0u64, 0u64);
    // Paced in batches of 1 ms so a rate of 200,000/s is 200 datagrams per tick.
    let per_tick = rate.div_ceil(1000).max(1);
    let mut tick = start;
    while start.elapsed() < length {
        for _ in 0..if rate == 0 { 1024 } else { per_tick } {
            match socket.send(&payload) {
                Ok(n) => {
                    datagrams += 1;
                    bytes += n as u64;
                }
                // The peer's port unreachable (no sink yet) or a full queue: try on.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
                Err(e) if e.raw_os_error() == Some(105) => {} // ENOBUFS
                Err(e) => return Err(e),
            }
        }
        if rate > 0 {
            tick += Duration::from_millis(1);
            let now = Instant::now();
            if tick > now {
                std::thread::sleep(tick - now);
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!("sent {datagrams} {bytes} {seconds:.3} {}", cpu_ticks());
    Ok(())
}

/// utime + stime of this process, from /proc/self/stat (fields 14 and 15).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

fn sink(at: SocketAddr, seconds: f64) -> std::io::Result<()> {
    let socket = UdpSocket::bind(at)?;
    socket.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut buffer = vec![0u8; 65536];
    let (mut datagrams, mut bytes) = (0u64, 0u64);
    let mut first: Option<Instant> = None;
    loop {
        match socket.recv(&mut buffer) {
            Ok(n) => {
                first.get_or_insert_with(Instant::now);
                datagrams += 1;
                bytes += n as u64;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if first.is_some() {
                    break;
                }
            }
            Err(e) => return Err(e),
        }
        if first.is_some_and(|f| f.elapsed().as_secs_f64() > seconds + 2.0) {
            break;
        }
    }
    println!("received {datagrams} {bytes}");
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["send", to, size, rate, seconds] => (|| {
            Some(send(
                to.parse().ok()?,
                size.parse().ok()?,
                rate.parse().ok()?,
                seconds.parse().ok()?,
            ))
        })(),
        ["sink", at, seconds] => (|| Some(sink(at.parse().ok()?, seconds.parse().ok()?)))(),
        _ => None,
    };
    match parsed {
        Some(Ok(())) => ExitCode::SUCCESS,
        Some(Err(e)) => {
            eprintln!("np-flood: {e}");
            ExitCode::FAILURE
        }
        None => {
            eprintln!("usage: np-flood send ADDR:PORT SIZE RATE SECONDS | sink ADDR:PORT SECONDS");
            ExitCode::from(2)
        }
    }
}
