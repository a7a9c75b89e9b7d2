//! The engine client's HTTP transport: hyper-util's pooled HTTP/1.1 client (rustls for
//! `https://`) over TCP connections of our own, so that every read is stamped with the time
//! its bytes arrived ([`super::arrivals`]) and every opened connection is counted.
//!
//! A response carries its connection's [`Arrivals`] in its extensions. What reqwest did for the
//! engine client and this keeps: no proxy, no redirect, no retry (a resent request would hide
//! an engine's failure), `TCP_NODELAY`, a connect timeout (TCP and TLS), idle connections
//! kept per host up to the largest concurrency, certificates checked by the platform verifier.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http_body_util::Full;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::io::AsyncWrite;
use tokio::net::TcpStream;

use super::arrivals::Arrivals;

/// The engine client's pooled HTTP client.
pub(crate) type HttpClient = hyper_util::client::legacy::Client<Connector, Full<Bytes>>;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Connections opened so far by the client it was built into (successful connects only).
#[derive(Debug, Clone, Default)]
pub struct ConnectionCounter(Arc<AtomicU64>);

impl ConnectionCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Why a connection could not be opened (the sources of hyper-util's connect error).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("connect timed out after {:.1} s", .0.as_secs_f64())]
    Timeout(Duration),
    #[error("the url has no host")]
    NoHost,
    #[error("dns error")]
    Dns(#[source] io::Error),
    #[error("no address found for the host")]
    NoAddress,
    #[error("tcp connect error")]
    Tcp(#[source] io::Error),
}

/// Builds the client: `max_idle` idle connections kept per host.
pub(crate) fn client(
    connect_timeout: Duration,
    max_idle: usize,
    count: ConnectionCounter,
) -> Result<HttpClient, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|e| format!("cannot load the platform's certificate verifier: {e}"))?;
    // hyper-rustls sets ALPN to http/1.1 itself (`enable_http1`).
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(TcpConnector);
    let connector = Connector {
        https,
        timeout: connect_timeout,
        count,
    };
    Ok(
        hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(max_idle)
            .pool_timer(TokioTimer::new())
            .retry_canceled_requests(false)
            .build(connector),
    )
}

/// TLS when the URL asks for it, under one connect timeout, counted.
#[derive(Clone)]
pub(crate) struct Connector {
    https: HttpsConnector<TcpConnector>,
    timeout: Duration,
    count: ConnectionCounter,
}

impl tower_service::Service<Uri> for Connector {
    type Response = MaybeHttpsStream<Stamped>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.https.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connect = self.https.call(uri);
        let (timeout, count) = (self.timeout, self.count.0.clone());
        Box::pin(async move {
            let stream = tokio::time::timeout(timeout, connect)
                .await
                .map_err(|_| ConnectError::Timeout(timeout))??;
            count.fetch_add(1, Ordering::Relaxed);
            Ok(stream)
        })
    }
}

/// Plain TCP: every address of the host in turn, `TCP_NODELAY`, receive timestamps on.
#[derive(Clone)]
pub(crate) struct TcpConnector;

impl tower_service::Service<Uri> for TcpConnector {
    type Response = Stamped;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Stamped, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(async move {
            let host = uri.host().ok_or(ConnectError::NoHost)?;
            // An IPv6 literal comes bracketed.
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
                Some("https") => 443,
                _ => 80,
            });
            let mut last = None;
            for addr in tokio::net::lookup_host((host, port))
                .await
                .map_err(ConnectError::Dns)?
            {
                match TcpStream::connect(addr).await {
                    Ok(tcp) => return Stamped::new(tcp),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.map_or(ConnectError::NoAddress, ConnectError::Tcp))
        })
    }
}

/// One engine connection: reads stamped into its [`Arrivals`].
pub(crate) struct Stamped {
    tcp: TcpStream,
    arrivals: Arrivals,
    /// The kernel stamps this socket's reads.
    kernel: bool,
}

impl Stamped {
    fn new(tcp: TcpStream) -> Result<Stamped, ConnectError> {
        tcp.set_nodelay(true).map_err(ConnectError::Tcp)?;
        #[cfg(target_os = "linux")]
        let kernel = super::arrivals::kernel::enable(&tcp);
        #[cfg(not(target_os = "linux"))]
        let kernel = false;
        Ok(Stamped {
            tcp,
            arrivals: Arrivals::new(),
            kernel,
        })
    }

    /// One `recvmsg`, with the kernel's stamp.
    #[cfg(target_os = "linux")]
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        use std::os::fd::AsRawFd;
        let fd = self.tcp.as_raw_fd();
        loop {
            ready!(self.tcp.poll_read_ready(cx))?;
            // SAFETY: recvmsg only writes into the buffer, and `advance` covers exactly the
            // bytes it wrote.
            let dst = unsafe { buf.as_mut() };
            match self.tcp.try_io(tokio::io::Interest::READABLE, || {
                super::arrivals::kernel::recv(fd, dst)
            }) {
                Ok((n, age)) => {
                    if n > 0 {
                        let real = super::arrivals::clock_is_real();
                        self.arrivals.read(age.filter(|_| real));
                    }
                    unsafe { buf.advance(n) };
                    return Poll::Ready(Ok(()));
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// A plain read, stamped as it returns.
    fn poll_plain(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: tokio's ReadBuf over the cursor's spare room only writes initialised bytes
        // into it, and `advance` covers exactly those.
        let n = {
            let mut room = tokio::io::ReadBuf::uninit(unsafe { buf.as_mut() });
            ready!(tokio::io::AsyncRead::poll_read(
                Pin::new(&mut self.tcp),
                cx,
                &mut room
            ))?;
            room.filled().len()
        };
        if n > 0 {
            self.arrivals.read(None);
        }
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl Read for Stamped {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        #[cfg(target_os = "linux")]
        if this.kernel {
            return this.poll_recv(cx, &mut buf);
        }
        this.poll_plain(cx, &mut buf)
    }
}

impl Write for Stamped {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

impl Connection for Stamped {
    fn connected(&self) -> Connected {
        Connected::new().extra(self.arrivals.clone())
    }
}

/// The connect timeout, if `error` (or one of its sources) is one.
pub(crate) fn is_connect_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(ConnectError::Timeout(_)) = e.downcast_ref::<ConnectError>() {
            return true;
        }
        source = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use std::mem::MaybeUninit;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    async fn read_some(stream: &mut Stamped) -> Vec<u8> {
        let mut room = [MaybeUninit::<u8>::uninit(); 64];
        let mut buf = hyper::rt::ReadBuf::uninit(&mut room);
        poll_fn(|cx| Pin::new(&mut *stream).poll_read(cx, buf.unfilled()))
            .await
            .expect("read");
        buf.filled().to_vec()
    }

    #[tokio::test]
    async fn both_reads_hand_over_the_bytes_and_count_an_arrival_but_not_the_end() {
        for kernel in [true, false] {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let tcp = TcpStream::connect(listener.local_addr().expect("addr"))
                .await
                .expect("connect");
            let mut stream = Stamped::new(tcp).expect("stamped");
            assert_eq!(stream.kernel, cfg!(target_os = "linux"), "kernel stamps on");
            // Off: the plain read, as where the kernel gives no stamps.
            stream.kernel &= kernel;
            let (mut server, _) = listener.accept().await.expect("accept");
            server.write_all(b"hello").await.expect("write");
            assert_eq!(read_some(&mut stream).await, b"hello", "kernel {kernel}");
            assert_eq!(stream.arrivals.latest().1, 1, "kernel {kernel}");
            drop(server);
            assert_eq!(read_some(&mut stream).await, b"", "kernel {kernel}");
            assert_eq!(
                stream.arrivals.latest().1,
                1,
                "kernel {kernel}: the end is no arrival"
            );
        }
    }
}
