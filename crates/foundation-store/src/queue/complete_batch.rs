//! Completing many leased tasks in one transaction: what a busy worker does instead of one
//! commit per finished task.

use std::collections::HashSet;
use std::fmt::Write as _;

use foundation_core::error::Result;

use super::TaskQueue;
use super::task::{Lease, TaskId};
use crate::error::translate;
use crate::sql::with_pool;

/// Leases per statement: two parameters each, far under SQLite's and PostgreSQL's limits on
/// parameters per statement.
const LEASES_PER_STATEMENT: usize = 500;

impl TaskQueue {
    /// Marks every task in `leases` completed whose lease the caller still holds, in one
    /// transaction (one commit, however many leases), and returns the ids of the others, in
    /// the order given: tasks whose lease was lost (expired and handed on, cancelled, or
    /// already completed or failed). Ownership is checked exactly as in
    /// [`complete`](TaskQueue::complete); a lost lease does not stop the others from
    /// completing. A lease passed twice completes once and is not reported.
    ///
    /// An empty slice does nothing. On a store error nothing is completed.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use std::time::Duration;
    /// use foundation_store::{NewTask, QueueSettings, Store};
    /// use serde_json::json;
    ///
    /// let store = Store::open("sqlite::memory:").await.unwrap();
    /// let tasks = store.tasks();
    /// tasks.declare("mail", QueueSettings::default()).await.unwrap();
    /// for n in 0..3 {
    ///     tasks.enqueue(NewTask::new("mail", json!({ "n": n }))).await.unwrap();
    /// }
    /// let leased = tasks.fetch("mail", "worker-1", 10, Duration::from_secs(30)).await.unwrap();
    /// let leases: Vec<_> = leased.into_iter().map(|l| l.lease).collect();
    /// let lost = tasks.complete_batch(&leases).await.unwrap();
    /// assert!(lost.is_empty());
    /// # });
    /// ```
    pub async fn complete_batch(&self, leases: &[Lease]) -> Result<Vec<TaskId>> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        let statements = statements(leases);
        let now = self.store.now_ms();
        let completed = with_pool!(&self.store.backend, |pool, dialect| {
            async {
                let mut tx = pool.begin_with(dialect.begin_write).await?;
                let mut completed = HashSet::new();
                for chunk in &statements {
                    let sql = update_sql(chunk.len());
                    let mut query = sqlx::query_scalar::<_, i64>(&sql).bind(now);
                    for lease in chunk {
                        query = query.bind(lease.task_id).bind(lease.token.as_str());
                    }
                    for id in query.fetch_all(&mut *tx).await? {
                        completed.insert((id, chunk_token(chunk, id)));
                    }
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>(completed)
            }
            .await
        })
        .map_err(|e| {
            translate(e, "complete tasks").with_context("leases", leases.len().to_string())
        })?;
        let mut reported = HashSet::new();
        Ok(leases
            .iter()
            .filter(|l| !completed.contains(&(l.task_id, l.token.as_str())))
            .filter(|l| reported.insert((l.task_id, l.token.as_str())))
            .map(|l| l.task_id)
            .collect())
    }
}

/// Splits `leases` into statements of at most [`LEASES_PER_STATEMENT`], each naming a task
/// once (a statement matches a row's token by its id), with exact repeats dropped.
fn statements(leases: &[Lease]) -> Vec<Vec<&Lease>> {
    let mut seen = HashSet::new();
    let mut out: Vec<Vec<&Lease>> = Vec::new();
    let mut ids_in_last = HashSet::new();
    for lease in leases {
        if !seen.insert((lease.task_id, lease.token.as_str())) {
            continue;
        }
        let full = out
            .last()
            .is_none_or(|last| last.len() >= LEASES_PER_STATEMENT);
        if full || ids_in_last.contains(&lease.task_id) {
            out.push(Vec::new());
            ids_in_last.clear();
        }
        ids_in_last.insert(lease.task_id);
        if let Some(last) = out.last_mut() {
            last.push(lease);
        }
    }
    out
}

/// The token `chunk` presented for task `id` (each id is in a chunk once).
fn chunk_token<'a>(chunk: &[&'a Lease], id: TaskId) -> &'a str {
    chunk
        .iter()
        .find(|l| l.task_id == id)
        .map_or("", |l| l.token.as_str())
}

/// `UPDATE … WHERE id IN (…) AND lease_token = CASE id WHEN … END`, for `n` leases bound as
/// `$1` = now, then `(id, token)` pairs from `$2`. The `IN` list lets both databases look the
/// rows up by primary key; the `CASE` pairs each row with its own lease's token.
fn update_sql(n: usize) -> String {
    let mut ids = String::new();
    let mut tokens = String::new();
    for i in 0..n {
        let (id, token) = (2 + 2 * i, 3 + 2 * i);
        if i > 0 {
            ids.push_str(", ");
        }
        let _ = write!(ids, "${id}");
        let _ = write!(tokens, " WHEN ${id} THEN ${token}");
    }
    format!(
        "UPDATE foundation_tasks SET state = 'completed', finished_at = $1, \
         lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL \
         WHERE id IN ({ids}) AND state = 'running' AND lease_token = CASE id{tokens} END \
         RETURNING id"
    )
}
