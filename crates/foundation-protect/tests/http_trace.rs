//! The HTTP client manager sends the current trace context as W3C headers, checked against a
//! real local server that records what it receives.
#![cfg(feature = "http")]

use std::collections::HashMap;
use std::net::SocketAddr;

use foundation_core::trace::{TraceContext, TraceState};
use foundation_core::{Error, TelemetryBus};
use foundation_protect::pool::Pool;
use foundation_protect::pool::http::HttpManager;
use foundation_protect::protection::Protection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

type Headers = HashMap<String, String>;

/// An HTTP/1.1 server answering 200 to everything and sending each request's headers
/// (lowercased names) to `received`. Aborted (with its connections) on drop.
struct Server {
    addr: SocketAddr,
    received: mpsc::Receiver<Headers>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    async fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, received) = mpsc::channel(16);
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((socket, _)) = listener.accept().await {
                connections.spawn(answer(socket, tx.clone()));
            }
        });
        Server {
            addr,
            received,
            task,
        }
    }

    async fn next_request(&mut self) -> Headers {
        self.received.recv().await.expect("the server is running")
    }
}

async fn answer(mut socket: TcpStream, received: mpsc::Sender<Headers>) {
    loop {
        let mut request = Vec::new();
        let mut chunk = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&chunk[..n]),
            }
        }
        let text = String::from_utf8_lossy(&request);
        let headers = text
            .lines()
            .skip(1)
            .filter_map(|line| line.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        if received.send(headers).await.is_err() {
            return;
        }
        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        if socket.write_all(reply).await.is_err() {
            return;
        }
    }
}

fn pool(server: &Server) -> Pool<HttpManager> {
    let manager = HttpManager::new(format!("http://{}", server.addr)).unwrap();
    Pool::builder(manager)
        .name("api")
        .bus(TelemetryBus::new())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_protected_request_carries_the_callers_trace_and_the_calls_span() {
    let mut server = Server::start().await;
    let protection = Protection::builder("api")
        .bus(TelemetryBus::new())
        .build()
        .unwrap()
        .with_pool(pool(&server))
        .unwrap();
    let caller = TraceContext::new_root().with_tracestate(TraceState::parse("vendor=abc,other=1"));

    let call_trace = caller
        .clone()
        .scope(protection.run(|worker, ctx| async move {
            worker.execute(worker.get("/orders")).await?;
            Ok::<_, Error>(ctx.trace().cloned().expect("the call is traced"))
        }))
        .await
        .unwrap();

    let headers = server.next_request().await;
    let sent = TraceContext::from_headers(
        &headers["traceparent"],
        headers.get("tracestate").map(String::as_str),
    )
    .unwrap();
    assert_eq!(sent.trace_id(), caller.trace_id());
    // The dependency's parent is the protected call's span, not the caller's.
    assert_eq!(sent.span_id(), call_trace.span_id());
    assert_ne!(sent.span_id(), caller.span_id());
    assert_eq!(sent.flags(), caller.flags());
    assert_eq!(headers["tracestate"], "vendor=abc,other=1");
}

#[tokio::test]
async fn an_untraced_request_sends_no_trace_headers() {
    let mut server = Server::start().await;
    let pool = pool(&server);
    let worker = pool.get().await.unwrap();
    worker.execute(worker.get("/plain")).await.unwrap();
    let headers = server.next_request().await;
    assert!(!headers.contains_key("traceparent"));
    assert!(!headers.contains_key("tracestate"));

    // A context without trace state sends only `traceparent`.
    let ctx = TraceContext::new_root();
    ctx.clone()
        .scope(async { worker.execute(worker.post("/traced")).await })
        .await
        .unwrap();
    let headers = server.next_request().await;
    assert_eq!(headers["traceparent"], ctx.traceparent());
    assert!(!headers.contains_key("tracestate"));
}
