//! Webhooks (issue 16 §8): the outbox delivered to an endpoint, signed, in order, retried until
//! acknowledged and never marked delivered twice; over HTTPS only with a certificate the hook
//! trusts. Each delivery round is driven here directly (`webhooks::round`), so nothing waits.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use yibao_server::webhooks::{self, Webhook, WebhookSettings};

use crate::helpers::*;

const SECRET: &[u8] = b"webhook-secret-0123456789";

/// What the receiver got: headers and bodies, in order.
type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A receiver on an ephemeral port that answers the statuses given, in turn (then 200).
async fn receiver(statuses: Vec<StatusCode>) -> (u16, Received) {
    let received: Received = Arc::default();
    let answers = Arc::new(Mutex::new(statuses.into_iter()));
    let log = received.clone();
    let router = axum::Router::new().route(
        "/hooks/yibao",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (log, answers) = (log.clone(), answers.clone());
            async move {
                log.lock().unwrap().push((headers, body));
                answers.lock().unwrap().next().unwrap_or(StatusCode::OK)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (port, received)
}

fn http_hook(name: &str, url: String, kinds: &[&str]) -> Webhook {
    Webhook::new(WebhookSettings {
        name: name.into(),
        url,
        secret: SECRET.to_vec(),
        kinds: kinds.iter().map(|kind| kind.to_string()).collect(),
        insecure: true,
        ..WebhookSettings::default()
    })
    .unwrap()
}

async fn pharmacy_purchase(app: &TestApp, n: u32) -> String {
    let data = json!({
        "data": {"psn_no": psn("张伟"), "mdtrt_cert_type": "02", "mdtrt_cert_no": id_number("张伟"), "begntime": "2026-11-23 11:00:00",
                 "medfee_sumamt": number("2"), "ipt_otp_no": format!("WH{n:04}"), "med_type": "41", "insutype": "310",
                 "psn_setlway": "01", "acct_used_flag": "1", "invono": "", "fulamt_ownpay_amt": 0, "overlmt_selfpay": 0,
                 "preselfpay_amt": 0, "inscp_scp_amt": 0},
        "feedetail": [fee_line("1", "", psn("张伟"), "DEMO-A-001", "2", "1")],
    });
    identify(app, PHARMACY, "张伟").await;
    let reply = app.call(PHARMACY, "2102", data).await;
    reply.ok()["setlinfo"]["setl_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn notifications_are_delivered_signed_in_order_retried_and_acknowledged_once() {
    let app = spawn_app().await;
    let (port, received) = receiver(vec![StatusCode::INTERNAL_SERVER_ERROR]).await;
    let hook = http_hook("sms-gateway", format!("http://127.0.0.1:{port}/hooks/yibao"), &[]);
    // A new hook starts at the newest notification: nothing from before it.
    assert_eq!(webhooks::round(&app.store, &hook).await, Ok(0));
    let first = pharmacy_purchase(&app, 1).await;
    let second = pharmacy_purchase(&app, 2).await;

    // The receiver fails the first attempt: the round stops there and the cursor stays.
    let cursor = || async { app.store.read(|r| r.meta("webhook:sms-gateway")).await.unwrap().unwrap() };
    let before = cursor().await;
    let failed = webhooks::round(&app.store, &hook).await.unwrap_err();
    assert!(failed.contains("500"), "{failed}");
    assert_eq!(cursor().await, before);
    // Retried: both are delivered in commit order, each acknowledged once.
    assert_eq!(webhooks::round(&app.store, &hook).await, Ok(2));
    assert_eq!(webhooks::round(&app.store, &hook).await, Ok(0), "nothing twice");
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 3, "one failed attempt and two deliveries");
    let bodies: Vec<Value> = got.iter().map(|(_, body)| serde_json::from_slice(body).unwrap()).collect();
    assert_eq!(bodies[0], bodies[1], "the failed delivery is sent again as it was");
    assert_eq!(bodies[1]["id"], json!(format!("settlement/{first}")));
    assert_eq!(bodies[2]["id"], json!(format!("settlement/{second}")));
    assert!(bodies[1]["seq"].as_i64() < bodies[2]["seq"].as_i64());
    assert_eq!((bodies[1]["kind"].clone(), bodies[1]["psn_no"].clone()), (json!("settlement"), json!(psn("张伟"))));
    for (headers, body) in &got {
        let timestamp = headers["x-yibao-timestamp"].to_str().unwrap();
        let signature = headers["x-yibao-signature"].to_str().unwrap();
        assert_eq!(signature, webhooks::signature(SECRET, timestamp, body), "signed with the hook's secret");
        assert_ne!(signature, webhooks::signature(b"another-secret-0123456789", timestamp, body));
        assert_eq!(headers["x-yibao-webhook"], "sms-gateway");
    }
    assert_eq!(got[1].0["x-yibao-delivery"].to_str().unwrap(), format!("settlement/{first}"));
    assert_eq!(cursor().await, bodies[2]["seq"].to_string(), "the cursor is the last acknowledged");

    // A hook for card losses only passes the settlements by without a call.
    let (port, cards_only) = receiver(Vec::new()).await;
    let lost_cards = Webhook::new(WebhookSettings {
        name: "card-desk".into(),
        url: format!("http://127.0.0.1:{port}/hooks/yibao"),
        secret: SECRET.to_vec(),
        kinds: vec!["card-lost".into()],
        from_start: true,
        insecure: true,
        ..WebhookSettings::default()
    })
    .unwrap();
    let passed = webhooks::round(&app.store, &lost_cards).await.unwrap();
    assert!(passed >= 2, "from the start of the outbox: {passed}");
    assert!(cards_only.lock().unwrap().is_empty());
    let token = app.login(json!({"role": "operator", "username": "admin", "password": "Demo@2026"})).await;
    let lost = app.rest("POST", "/api/v1/cards/A10000001/loss", Some(&token), &[], None).await;
    assert_eq!(lost.status, 200, "{}", lost.body);
    assert_eq!(webhooks::round(&app.store, &lost_cards).await, Ok(1));
    let got = cards_only.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let body: Value = serde_json::from_slice(&got[0].1).unwrap();
    assert_eq!(body["kind"], json!("card-lost"));
    // An unreachable hook fails its round and keeps its place.
    // Each hook keeps its own place (its name's cursor).
    let gone = http_hook("gone", "http://127.0.0.1:9/hooks/yibao".into(), &[]);
    webhooks::round(&app.store, &gone).await.unwrap();
    pharmacy_purchase(&app, 3).await;
    assert!(webhooks::round(&app.store, &gone).await.unwrap_err().contains("cannot connect"));
}

/// HTTPS: a receiver whose certificate the hook trusts (its `ca_file`) gets the delivery; with
/// the system's roots the same receiver is refused, and nothing moves.
#[tokio::test]
async fn over_https_the_certificate_is_verified() {
    let dir = std::env::temp_dir().join(format!("yibao-webhook-tls-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    // A test CA, and a certificate for localhost it signs.
    let (ca, cert, key) = (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"));
    let openssl = |args: &[&str]| {
        let made = std::process::Command::new("openssl")
            .current_dir(&dir)
            .args(args)
            .output()
            .expect("openssl (Debian's openssl package) makes the test certificates");
        assert!(made.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&made.stderr));
    };
    let subject = ["-nodes", "-newkey", "rsa:2048"];
    openssl(
        &[
            &["req", "-x509", "-days", "1", "-subj", "/CN=yibao test CA", "-keyout", "ca.key", "-out", "ca.pem"][..],
            &subject[..],
        ]
        .concat(),
    );
    openssl(&[&["req", "-subj", "/CN=localhost", "-keyout", "key.pem", "-out", "leaf.csr"][..], &subject[..]].concat());
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "leaf.ext",
        "-out",
        "cert.pem",
    ]);
    let port = tls_receiver(&cert, &key).await;

    let app = spawn_app().await;
    let settings = |ca_file: Option<std::path::PathBuf>| WebhookSettings {
        name: "tls".into(),
        url: format!("https://localhost:{port}/hooks/yibao"),
        secret: SECRET.to_vec(),
        from_start: true,
        ca_file,
        ..WebhookSettings::default()
    };
    pharmacy_purchase(&app, 1).await;
    match Webhook::new(settings(None)) {
        // A machine without any system CA: nothing to try the refusal with.
        Err(problem) => assert!(problem.contains("CA"), "{problem}"),
        Ok(untrusted) => {
            let refused = webhooks::round(&app.store, &untrusted).await.unwrap_err();
            assert!(refused.contains("TLS"), "{refused}");
            // The refused round kept its place; set it back for the trusting hook below.
        }
    }
    app.store.set_meta("webhook:tls", "0").await.unwrap();
    let trusting = Webhook::new(settings(Some(ca.clone()))).unwrap();
    let passed = webhooks::round(&app.store, &trusting).await.unwrap();
    assert!(passed >= 1, "{passed}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// An HTTPS receiver answering 200 to everything, with the certificate and key given.
async fn tls_receiver(cert: &std::path::Path, key: &std::path::Path) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(cert).unwrap().collect::<Result<_, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else { return };
                let service = hyper::service::service_fn(|_request| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Full::new(Bytes::new())))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    port
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}
