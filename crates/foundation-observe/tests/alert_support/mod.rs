//! Helpers shared by the alerting tests: webhook servers on 127.0.0.1 and a small HTTP client.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use foundation_observe::alert::{AlertFilter, AlertManager, AlertView};

/// A server on 127.0.0.1, stopped when dropped.
pub struct Server {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// The URL of `path` on the server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Serves `router`.
    pub async fn serve(router: Router) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Server { addr, task }
    }

    /// A webhook endpoint answering the status in `status` to every POST to `/hook`, sending
    /// each body it receives (as JSON) into the returned channel and counting requests.
    pub async fn webhook(
        status: Arc<AtomicU16>,
    ) -> (Server, mpsc::Receiver<Value>, Arc<AtomicUsize>) {
        let (tx, rx) = mpsc::channel(64);
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let router = Router::new().route(
            "/hook",
            post(move |body: String| {
                let tx = tx.clone();
                let counter = counter.clone();
                let status = StatusCode::from_u16(status.load(Ordering::SeqCst)).unwrap();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let json: Value = serde_json::from_str(&body).unwrap();
                    let _ = tx.try_send(json);
                    status
                }
            }),
        );
        (Server::serve(router).await, rx, hits)
    }

    /// A server that accepts connections and never answers; counts connections.
    pub async fn hanging() -> (Server, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held: Vec<TcpStream> = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        (Server { addr, task }, accepted)
    }
}

/// Every alert of `manager`.
pub fn all(manager: &AlertManager) -> Vec<AlertView> {
    manager.alerts(&AlertFilter::default())
}

/// The alert named `alertname`.
pub fn named(manager: &AlertManager, alertname: &str) -> AlertView {
    all(manager)
        .into_iter()
        .find(|a| a.labels["alertname"] == alertname)
        .unwrap_or_else(|| panic!("no alert named {alertname}"))
}
