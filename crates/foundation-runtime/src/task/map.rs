//! Bounded-concurrency map over a stream, ordered or unordered, with a per-item timeout.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use foundation_core::{Error, ErrorCode};
use futures::{FutureExt, Stream, StreamExt};

fn validate(limit: usize, per_item_timeout: Duration) -> Result<(), Error> {
    if limit == 0 {
        return Err(Error::invalid_input("limit", "must be at least 1"));
    }
    if per_item_timeout.is_zero() {
        return Err(Error::invalid_input("per_item_timeout", "must be positive"));
    }
    Ok(())
}

fn guarded<Fut, T>(fut: Fut, per_item_timeout: Duration) -> impl Future<Output = Result<T, Error>>
where
    Fut: Future<Output = Result<T, Error>>,
{
    let caught = AssertUnwindSafe(fut).catch_unwind();
    async move {
        match tokio::time::timeout(per_item_timeout, caught).await {
            Ok(Ok(result)) => result,
            Ok(Err(panic)) => Err(Error::new(
                ErrorCode::APPLICATION,
                format!("item panicked: {}", crate::panic::message(panic.as_ref())),
            )),
            Err(_) => Err(Error::new(
                ErrorCode::TIMEOUT,
                format!("item did not finish within {per_item_timeout:?}"),
            )),
        }
    }
}

/// Runs `f` over every item of `stream` with at most `limit` items in flight, yielding the
/// results in input order.
///
/// Each item gets `per_item_timeout`; an item that overruns it yields an `ErrorCode::TIMEOUT`
/// error, an item that panics yields an `ErrorCode::APPLICATION` error, and the stream goes on.
/// The work runs inside the returned stream: dropping it cancels the items in flight.
///
/// # Errors
/// `limit == 0` or a zero `per_item_timeout` is an `INVALID_INPUT` error naming the field.
pub fn map_ordered<S, F, Fut, T>(
    stream: S,
    limit: usize,
    per_item_timeout: Duration,
    mut f: F,
) -> Result<impl Stream<Item = Result<T, Error>>, Error>
where
    S: Stream,
    F: FnMut(S::Item) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    validate(limit, per_item_timeout)?;
    Ok(stream
        .map(move |item| guarded(f(item), per_item_timeout))
        .buffered(limit))
}

/// Like [`map_ordered`], but yields each result as soon as it is ready.
///
/// # Errors
/// `limit == 0` or a zero `per_item_timeout` is an `INVALID_INPUT` error naming the field.
pub fn map_unordered<S, F, Fut, T>(
    stream: S,
    limit: usize,
    per_item_timeout: Duration,
    mut f: F,
) -> Result<impl Stream<Item = Result<T, Error>>, Error>
where
    S: Stream,
    F: FnMut(S::Item) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    validate(limit, per_item_timeout)?;
    Ok(stream
        .map(move |item| guarded(f(item), per_item_timeout))
        .buffer_unordered(limit))
}
