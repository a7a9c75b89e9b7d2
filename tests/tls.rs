//! An engine behind https, end to end: the real binary against a TLS terminator (rustls, a
//! certificate for 127.0.0.1 from a CA made here) in front of the simulator. The client's TLS
//! path (hyper-rustls over llmsweep's own stamped TCP connections, the platform's verifier)
//! measures through it when `SSL_CERT_FILE` holds the CA, and refuses an untrusted certificate
//! with an error that says so, sending no request.

use crate::common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::binary::{command, requests, results, run_dir, write_sweep_config, REQUESTS};
use common::quick;
use llmsweep::sim::Faults;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// TLS on 127.0.0.1:0, each connection's plaintext copied to and from `upstream`.
struct Terminator {
    port: u16,
    /// The CA that signed the server's certificate, PEM.
    ca_pem: String,
    /// Handshakes completed.
    handshakes: Arc<AtomicUsize>,
    /// Connections whose handshake failed (the client refused the certificate).
    refused: Arc<AtomicUsize>,
}

impl Terminator {
    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/v1/chat/completions", self.port)
    }
}

/// A CA named `name` (distinct names: a verifier told another CA reports an unknown issuer).
fn make_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

async fn terminator(upstream: std::net::SocketAddr) -> Terminator {
    let ca = make_ca("llmsweep test CA");
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let (done, failed) = (handshakes.clone(), refused.clone());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (acceptor, done, failed) = (acceptor.clone(), done.clone(), failed.clone());
            tokio::spawn(async move {
                let mut tls = match acceptor.accept(socket).await {
                    Ok(tls) => tls,
                    Err(_) => {
                        failed.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                };
                done.fetch_add(1, Ordering::SeqCst);
                let Ok(mut plain) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    Terminator {
        port,
        ca_pem: ca.pem(),
        handshakes,
        refused,
    }
}

/// `llmsweep run --headless` against `url` trusting only the CA `ca_pem` (`SSL_CERT_FILE`),
/// to its end.
async fn run_with_roots(dir: &Path, url: &str, ca_pem: &str) -> std::process::Output {
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let config = dir.join("bench.toml");
    write_sweep_config(&config, "tls", url, &dir.join("out"));
    let mut command = command(&config);
    command
        .env("SSL_CERT_FILE", ca_file)
        .env_remove("SSL_CERT_DIR");
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_engine_is_measured_through_tls_when_its_ca_is_trusted() {
    let sim = common::sim(quick(), Faults::default()).await;
    let tls = terminator(sim.addr()).await;
    let tmp = tempfile::tempdir().unwrap();

    let out = run_with_roots(tmp.path(), &tls.url(), &tls.ca_pem).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = run_dir(&tmp.path().join("out")).expect("a results folder");
    let report = results(&dir);
    for engine in report["engines"].as_array().unwrap() {
        for level in engine["levels"].as_array().unwrap() {
            assert_eq!(level["completed"], REQUESTS, "{level}");
            assert_eq!(level["failed"], 0, "{level}");
            assert!(level["median_ttft_ms"].as_f64().unwrap() > 0.0, "{level}");
        }
    }
    // Every request went through the terminator, over pooled connections.
    let handshakes = tls.handshakes.load(Ordering::SeqCst);
    let sent = requests(&dir).len();
    assert!(handshakes >= 1, "no TLS handshake");
    assert!(
        handshakes < sent,
        "{handshakes} handshakes for {sent} requests: connections were not reused"
    );
    assert_eq!(tls.refused.load(Ordering::SeqCst), 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_refused_and_named() {
    let sim = common::sim(quick(), Faults::default()).await;
    let tls = terminator(sim.addr()).await;
    let tmp = tempfile::tempdir().unwrap();

    // Trusted roots that do not include the terminator's CA.
    let other = make_ca("another CA");
    let out = run_with_roots(tmp.path(), &tls.url(), &other.pem()).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Both engines failed their preflight: the run exits 1 and says why, naming each.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error: 2 of 2 engine(s) failed"))
        .unwrap_or_else(|| panic!("no error line:\n{stderr}"));
    assert!(
        error.contains("alpha: preflight: reachable:")
            && error.contains("beta: preflight: reachable:")
            && error.contains("invalid peer certificate: UnknownIssuer"),
        "{error}"
    );
    let dir = run_dir(&tmp.path().join("out")).expect("a results folder");
    assert!(requests(&dir).is_empty(), "requests were sent");
    assert_eq!(tls.handshakes.load(Ordering::SeqCst), 0);
    assert!(tls.refused.load(Ordering::SeqCst) >= 1);
    sim.shutdown().await;
}
