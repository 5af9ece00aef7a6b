//! `/metrics` over HTTP/1.1: a GET, a response, the connection closed. Prometheus asks no
//! more of an exporter, so this is a request line and headers read with bounds, not a web
//! framework.

use super::{Metrics, text};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request's head larger than this is refused (Prometheus sends a few hundred bytes).
const HEAD_LIMIT: usize = 8 * 1024;
/// A scraper that has not sent its request by then is dropped.
const REQUEST_WITHIN: Duration = Duration::from_secs(10);
/// Scrapes served at once; more wait in the kernel's backlog.
const AT_ONCE: usize = 32;

/// Serves scrapes until the daemon stops; `clients` says how many API clients there are.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    clients: impl Fn() -> usize + Send + Sync + 'static,
) {
    let clients = Arc::new(clients);
    let slots = Arc::new(tokio::sync::Semaphore::new(AT_ONCE));
    loop {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "metrics: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (metrics, clients) = (Arc::clone(&metrics), Arc::clone(&clients));
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(error) = answer(stream, &metrics, || clients()).await {
                tracing::debug!(%error, "metrics: scrape ended early");
            }
        });
    }
}

async fn answer(
    mut stream: TcpStream,
    metrics: &Metrics,
    clients: impl Fn() -> usize,
) -> std::io::Result<()> {
    let head = match tokio::time::timeout(REQUEST_WITHIN, read_head(&mut stream)).await {
        Ok(head) => head?,
        Err(_) => return Ok(()),
    };
    let response = match Request::parse(&head) {
        None => response(
            "400 Bad Request",
            "text/plain",
            "a request line was expected\n",
        ),
        Some(request) if request.method != "GET" && request.method != "HEAD" => {
            response("405 Method Not Allowed", "text/plain", "only GET\n")
        }
        Some(request) => match request.path {
            "/metrics" => {
                let openmetrics = text::wants_openmetrics(request.accept);
                let kind = if openmetrics {
                    text::OPENMETRICS
                } else {
                    text::CLASSIC
                };
                let body = metrics.encode(openmetrics, clients());
                let mut out = response("200 OK", kind, &body);
                if request.method == "HEAD" {
                    out.truncate(out.len() - body.len());
                }
                out
            }
            "/" => response(
                "200 OK",
                "text/plain",
                "netpilot daemon: the metrics are at /metrics\n",
            ),
            _ => response("404 Not Found", "text/plain", "not found; see /metrics\n"),
        },
    };
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// Reads up to the blank line that ends the headers.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > HEAD_LIMIT {
            return Err(std::io::Error::other("request head too large"));
        }
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..read]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

struct Request<'a> {
    method: &'a str,
    path: &'a str,
    accept: Option<&'a str>,
}

impl<'a> Request<'a> {
    fn parse(head: &'a str) -> Option<Request<'a>> {
        let mut lines = head.split("\r\n");
        let mut first = lines.next()?.split(' ');
        let (method, target) = (first.next()?, first.next()?);
        first.next().filter(|v| v.starts_with("HTTP/"))?;
        let path = target.split('?').next().unwrap_or(target);
        let accept = lines
            .take_while(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("accept"))
            .map(|(_, value)| value.trim());
        Some(Request {
            method,
            path,
            accept,
        })
    }
}

fn response(status: &str, kind: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_request_is_read_with_its_accept_header() {
        let head =
            "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\naccept: application/openmetrics-text\r\n\r\n";
        let request = Request::parse(head).expect("parsed");
        assert_eq!(request.method, "GET");
        assert_eq!(request.path, "/metrics");
        assert_eq!(request.accept, Some("application/openmetrics-text"));
        assert!(Request::parse("garbage\r\n\r\n").is_none());
        assert!(Request::parse("GET / FTP\r\n\r\n").is_none());
    }
}
