//! The HTTP client manager against a real local HTTP/1.1 server over a real socket.
#![cfg(feature = "http")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use foundation_core::{Error, ErrorCode};
use foundation_protect::pool::http::HttpManager;
use foundation_protect::pool::{Pool, PoolConfig, RecyclePolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// A tiny HTTP/1.1 server: `/hello` → 200, `/health` → 200 or 503, `/unavailable` → 503,
/// `/slow` → never answers, anything else → 404. Aborted (with its connections) on drop.
struct Server {
    addr: SocketAddr,
    healthy: Arc<AtomicBool>,
    health_hits: Arc<AtomicUsize>,
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
        let healthy = Arc::new(AtomicBool::new(true));
        let health_hits = Arc::new(AtomicUsize::new(0));
        let (h, hits) = (healthy.clone(), health_hits.clone());
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((socket, _)) = listener.accept().await {
                connections.spawn(answer(socket, h.clone(), hits.clone()));
            }
        });
        Server {
            addr,
            healthy,
            health_hits,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn answer(mut socket: TcpStream, healthy: Arc<AtomicBool>, hits: Arc<AtomicUsize>) {
    let mut request = Vec::new();
    let mut chunk = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&request);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (status, body) = match path.as_str() {
        "/hello" => ("200 OK", "hello"),
        "/health" => {
            hits.fetch_add(1, SeqCst);
            if healthy.load(SeqCst) {
                ("200 OK", "ok")
            } else {
                ("503 Service Unavailable", "down")
            }
        }
        "/unavailable" => ("503 Service Unavailable", "down"),
        "/slow" => return std::future::pending().await,
        _ => ("404 Not Found", "no such path"),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}

fn pool(manager: HttpManager, recycle: RecyclePolicy) -> Pool<HttpManager> {
    Pool::builder(manager)
        .name("api")
        .config(PoolConfig {
            max_size: 2,
            recycle,
            ..PoolConfig::default()
        })
        .build()
        .unwrap()
}

fn source_code(err: &Error) -> ErrorCode {
    std::error::Error::source(err)
        .and_then(|s| s.downcast_ref::<Error>())
        .expect("the manager's error is the source")
        .code()
}

#[tokio::test]
async fn pooled_worker_sends_requests_under_the_base_url() {
    let server = Server::start().await;
    let pool = pool(
        HttpManager::new(server.url()).unwrap(),
        RecyclePolicy::Background,
    );
    let response = pool
        .get()
        .await
        .unwrap()
        .get("/hello")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "hello");

    let worker = pool.get().await.unwrap();
    assert_eq!(worker.url("hello"), format!("{}/hello", server.url()));
    let response = worker.execute(worker.get("/hello")).await.unwrap();
    assert_eq!(response.text().await.unwrap(), "hello");
    drop(worker);
    assert_eq!(pool.status().created, 1, "the worker was reused");
}

#[tokio::test]
async fn error_statuses_and_refused_connections_are_translated() {
    let server = Server::start().await;
    let pool = pool(
        HttpManager::new(server.url()).unwrap(),
        RecyclePolicy::Background,
    );
    let worker = pool.get().await.unwrap();
    let err = worker
        .execute(worker.get("/unavailable"))
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::UNAVAILABLE), "{err}");
    assert_eq!(err.context_value("status"), Some("503"));
    let err = worker.execute(worker.get("/missing")).await.unwrap_err();
    assert!(err.is(ErrorCode::APPLICATION), "{err}");
    assert_eq!(err.context_value("status"), Some("404"));

    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let pool = pool_for(&format!("http://{addr}"));
    let worker = pool.get().await.unwrap();
    let err = worker.execute(worker.get("/hello")).await.unwrap_err();
    assert!(err.is(ErrorCode::NETWORK), "{err}");
}

fn pool_for(url: &str) -> Pool<HttpManager> {
    pool(HttpManager::new(url).unwrap(), RecyclePolicy::Background)
}

#[tokio::test(start_paused = true)]
async fn a_request_that_never_answers_is_an_external_timeout() {
    let server = Server::start().await;
    let manager = HttpManager::new(server.url())
        .unwrap()
        .timeout(Duration::from_secs(2));
    let pool = pool(manager, RecyclePolicy::Background);
    let worker = pool.get().await.unwrap();
    let err = worker.execute(worker.get("/slow")).await.unwrap_err();
    assert!(err.is(ErrorCode::EXTERNAL_TIMEOUT), "{err}");
}

#[tokio::test]
async fn health_check_gates_creation_and_recycle() {
    let server = Server::start().await;
    let manager = HttpManager::new(server.url())
        .unwrap()
        .health_check("/health");
    let pool = pool(manager, RecyclePolicy::OnCheckout);

    server.healthy.store(false, SeqCst);
    let err = pool.get().await.unwrap_err();
    assert!(err.is(ErrorCode::POOL_CONNECT_FAILED), "{err}");
    assert_eq!(source_code(&err), ErrorCode::UNAVAILABLE);
    assert_eq!(pool.status().size, 0);

    server.healthy.store(true, SeqCst);
    drop(pool.get().await.unwrap()); // created after a health check
    drop(pool.get().await.unwrap()); // recycled with a health check
    assert_eq!(server.health_hits.load(SeqCst), 3);
    assert_eq!(pool.status().created, 1);

    server.healthy.store(false, SeqCst);
    let err = pool.get().await.unwrap_err();
    assert!(err.is(ErrorCode::POOL_CONNECT_FAILED), "{err}");
    let s = pool.status();
    assert_eq!(
        (s.size, s.closed),
        (0, 1),
        "the unhealthy worker was dropped"
    );
}

#[tokio::test]
async fn a_worker_marked_broken_is_discarded_on_return() {
    let server = Server::start().await;
    let pool = pool(
        HttpManager::new(server.url()).unwrap(),
        RecyclePolicy::Background,
    );
    let mut worker = pool.get().await.unwrap();
    worker.mark_broken();
    drop(worker);
    let s = pool.status();
    assert_eq!((s.size, s.closed), (0, 1));
}

#[test]
fn bad_base_urls_are_refused_by_field() {
    for url in ["not a url", "ftp://example.com"] {
        let err = HttpManager::new(url).unwrap_err();
        assert!(err.is(ErrorCode::INVALID_CONFIG));
        assert_eq!(err.context_value("field"), Some("base_url"), "{url}");
    }
}
