//! [`Deadline`]: the future behind every [`Timeout`] call.

use std::borrow::Borrow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use foundation_core::Error;
use pin_project_lite::pin_project;
use tokio::time::Sleep;

use super::Timeout;

pin_project! {
    /// Drives a future under a deadline. Made by [`Timeout::deadline`].
    ///
    /// The inner future is polled first; the timer is armed only when it first waits, so a
    /// call that finishes on its first poll never touches the timer wheel. The deadline
    /// therefore runs from the call's first wait: the synchronous work before it could not
    /// have been interrupted anyway. On overrun the inner future is dropped with this one.
    #[must_use = "futures do nothing unless polled"]
    ///
    /// `T` is how the [`Timeout`] is held: borrowed (`&Timeout`) by [`Timeout::deadline`],
    /// owned by the tower layer's response future.
    pub struct Deadline<T, F> {
        #[pin]
        inner: F,
        #[pin]
        timer: Option<Sleep>,
        duration: Duration,
        timeout: T,
    }
}

impl<T, F> Deadline<T, F> {
    pub(super) fn new(timeout: T, duration: Duration, inner: F) -> Self {
        Deadline {
            inner,
            timer: None,
            duration,
            timeout,
        }
    }
}

impl<T: Borrow<Timeout>, F: Future> Future for Deadline<T, F> {
    type Output = Result<F::Output, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(out) = this.inner.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        if this.timer.is_none() {
            this.timer.set(Some(tokio::time::sleep(*this.duration)));
        }
        match this.timer.as_pin_mut().map(|t| t.poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(Err(
                Borrow::<Timeout>::borrow(&*this.timeout).elapsed(*this.duration)
            )),
            _ => Poll::Pending,
        }
    }
}
