//! Counting the TCP connections a client opens: a tower layer around reqwest's connector.
//! With keep-alive working, a closed-loop level of C in flight opens at most C; more means
//! streams are not returned to the pool and every request pays a connect.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

/// Connections opened so far by the client it was built into (successful connects only).
#[derive(Debug, Clone, Default)]
pub struct ConnectionCounter(Arc<AtomicU64>);

impl ConnectionCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl<S> tower_layer::Layer<S> for ConnectionCounter {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Counted<S> {
        Counted {
            inner,
            count: self.clone(),
        }
    }
}

/// The connector, counting each connection it hands over.
#[derive(Debug, Clone)]
pub struct Counted<S> {
    inner: S,
    count: ConnectionCounter,
}

impl<S, R> tower_service::Service<R> for Counted<S>
where
    S: tower_service::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let connect = self.inner.call(request);
        let count = self.count.0.clone();
        Box::pin(async move {
            let conn = connect.await?;
            count.fetch_add(1, Ordering::Relaxed);
            Ok(conn)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_layer::Layer;
    use tower_service::Service;

    /// A connector whose `call(true)` connects and `call(false)` is refused; `ready` is what
    /// its `poll_ready` answers.
    struct Connector {
        ready: Poll<Result<(), &'static str>>,
    }

    impl Service<bool> for Connector {
        type Response = ();
        type Error = &'static str;
        type Future = std::future::Ready<Result<(), &'static str>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), &'static str>> {
            self.ready
        }

        fn call(&mut self, ok: bool) -> Self::Future {
            std::future::ready(if ok { Ok(()) } else { Err("refused") })
        }
    }

    #[tokio::test]
    async fn counts_each_successful_connect_and_no_failed_one() {
        let counter = ConnectionCounter::default();
        let mut connector = counter.clone().layer(Connector {
            ready: Poll::Ready(Ok(())),
        });
        assert_eq!(counter.get(), 0);
        connector.call(true).await.expect("connects");
        connector.call(false).await.expect_err("refused");
        connector.call(true).await.expect("connects");
        assert_eq!(counter.get(), 2);
    }

    #[test]
    fn readiness_of_the_connector_passes_through() {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        for ready in [Poll::Pending, Poll::Ready(Err("full")), Poll::Ready(Ok(()))] {
            let mut connector = ConnectionCounter::default().layer(Connector { ready });
            assert_eq!(connector.poll_ready(&mut cx), ready);
        }
    }
}
