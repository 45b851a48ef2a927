//! Refusals: malformed JSON, wrong types, missing fields, unknown infno, bad signature, stale
//! timestamp, replayed nonce, another institution's code, a reused msgid with another body.
//! Each is answered (never a 500) and changes nothing.

use serde_json::{Value, json};

use crate::helpers::*;

/// Row counts of every table a message could touch.
async fn snapshot(app: &TestApp) -> Vec<u64> {
    let mut counts = Vec::new();
    for table in ["messages", "visits", "fee_lines", "settlements", "transfers", "sign_ins", "disease_registrations"] {
        counts.push(count(app, table).await);
    }
    counts
}

#[tokio::test]
async fn malformed_messages_are_refused_with_the_field_named() {
    let app = spawn_app().await;
    let visit = register(&app, TERTIARY, "张伟", "11").await;
    let before = snapshot(&app).await;

    let (status, body) = app.post(PATH, &signed_headers(TERTIARY), b"{\"infno\": \"1101\", ".to_vec()).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, &body["infcode"]), (200, &json!(-1)));
    assert!(body["err_msg"].as_str().unwrap().contains("不是合法的JSON"), "{body}");

    let cases: Vec<(&str, Value, &str)> = vec![
        ("9999", json!({"data": {}}), "不支持的交易编号infno：9999"),
        ("2201", json!({"data": {"insutype": "310"}}), "input.data.psn_no不能为空"),
        ("2201", json!({"data": "not an object"}), "input.data类型错误：应为JSON对象"),
        ("2204", json!({"feedetail": "lines"}), "input.feedetail类型错误：应为数组"),
        (
            "2206",
            json!({"data": {"psn_no": psn("张伟"), "mdtrt_id": visit, "medfee_sumamt": "abc", "acct_used_flag": "1"}}),
            "input.data.medfee_sumamt数值错误：abc",
        ),
        (
            "2206",
            json!({"data": {"psn_no": psn("张伟"), "mdtrt_id": visit, "medfee_sumamt": [1], "acct_used_flag": "1"}}),
            "input.data.medfee_sumamt类型错误：应为数值，实为数组",
        ),
        (
            "2206",
            json!({"data": {"psn_no": psn("张伟"), "mdtrt_id": visit, "medfee_sumamt": 1.234, "acct_used_flag": "1"}}),
            "1.234的小数位数超过2位",
        ),
        (
            "2206",
            json!({"data": {"psn_no": psn("张伟"), "mdtrt_id": visit, "medfee_sumamt": 10, "acct_used_flag": "2"}}),
            "input.data.acct_used_flag取值错误：2",
        ),
        (
            "2207",
            json!({"data": {"psn_no": psn("张伟"), "mdtrt_id": visit, "medfee_sumamt": 999, "acct_used_flag": "1"}}),
            "就诊ID",
        ),
        (
            "1101",
            json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "330102198503121237"}}),
            "校验码错误：应为6，实为7",
        ),
        (
            "1101",
            json!({"data": {"mdtrt_cert_type": "09", "mdtrt_cert_no": "x"}}),
            "input.data.mdtrt_cert_type格式错误",
        ),
        ("2601", json!({"data": {"psn_no": psn("张伟"), "oinfno": "2207"}}), "input.data.omsgid不能为空"),
    ];
    for (infno, input, expected) in cases {
        let reply = app.call(TERTIARY, infno, input).await;
        let message = reply.refused();
        assert!(message.contains(expected), "{infno}: {message:?} does not contain {expected:?}");
    }
    // Envelope fields.
    for field in ["msgid", "infno", "fixmedins_code", "mdtrtarea_admvs", "input", "inf_time", "opter"] {
        let msgid = TestApp::msgid(TERTIARY);
        let mut envelope = app.envelope(
            TERTIARY,
            "1101",
            json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id_number("张伟")}}),
            &msgid,
        );
        envelope.as_object_mut().unwrap().remove(field);
        let reply = app.send(TERTIARY, &envelope, &msgid).await;
        assert!(reply.refused().contains(&format!("{field}不能为空")), "{field}: {}", reply.body);
    }
    let msgid = TestApp::msgid(TERTIARY);
    let mut envelope =
        app.envelope(TERTIARY, "2202", json!({"data": {"psn_no": psn("张伟"), "mdtrt_id": visit}}), &msgid);
    envelope.as_object_mut().unwrap().remove("insuplc_admdvs");
    assert!(app.send(TERTIARY, &envelope, &msgid).await.refused().contains("insuplc_admdvs"));
    // The refused 2207 above did not settle; nothing at all was stored.
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn bad_signatures_are_401() {
    let app = spawn_app().await;
    let before = snapshot(&app).await;
    let body = serde_json::to_vec(&app.envelope(
        TERTIARY,
        "9001",
        json!({"signIn": {"opter_no": "1"}}),
        &TestApp::msgid(TERTIARY),
    ))
    .unwrap();
    let header = |name: &str, value: String| (name.to_string(), value);
    let now = now_seconds().to_string();

    let mut wrong = signed_headers(TERTIARY);
    wrong[3].1 = signature(&now, "not-the-secret", "nonce-1");
    let cases = vec![
        (wrong, "签名校验失败"),
        (vec![header("x-tif-paasid", TERTIARY.into())], "缺少请求头x-tif-timestamp"),
        (
            {
                let stale = (now_seconds() - 3600).to_string();
                vec![
                    header("x-tif-paasid", TERTIARY.into()),
                    header("x-tif-timestamp", stale.clone()),
                    header("x-tif-nonce", "nonce-2".into()),
                    header("x-tif-signature", signature(&stale, "demo-H33010000001", "nonce-2")),
                ]
            },
            "已超出有效期",
        ),
        (
            vec![
                header("x-tif-paasid", "H99999999999".into()),
                header("x-tif-timestamp", now.clone()),
                header("x-tif-nonce", "nonce-3".into()),
                header("x-tif-signature", signature(&now, "demo-H99999999999", "nonce-3")),
            ],
            "未注册",
        ),
    ];
    for (headers, expected) in cases {
        let (status, reply) = app.post(PATH, &headers, body.clone()).await;
        let reply: Value = serde_json::from_slice(&reply).unwrap();
        assert_eq!(status, 401, "{reply}");
        assert_eq!(reply["infcode"], json!(-1));
        assert!(reply["err_msg"].as_str().unwrap().contains(expected), "{reply}");
    }
    // A replayed nonce: the first request passes, the identical second one is refused.
    let headers = signed_headers(TERTIARY);
    let (status, _) = app
        .post(
            PATH,
            &headers,
            serde_json::to_vec(&app.envelope(
                TERTIARY,
                "1101",
                json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id_number("张伟")}}),
                &TestApp::msgid(TERTIARY),
            ))
            .unwrap(),
        )
        .await;
    assert_eq!(status, 200);
    let before_replay = snapshot(&app).await;
    let (status, reply) = app.post(PATH, &headers, body.clone()).await;
    assert_eq!(status, 401);
    assert!(String::from_utf8_lossy(&reply).contains("已使用过"));
    assert_eq!(snapshot(&app).await, before_replay);
    assert_eq!(snapshot(&app).await[1..], before[1..], "only the 1101's msgid was recorded");
}

#[tokio::test]
async fn another_institutions_code_and_a_reused_msgid_are_refused() {
    let app = spawn_app().await;
    let visit = register(&app, TERTIARY, "张伟", "11").await;
    app.call(TERTIARY, "2204", json!({"feedetail": [fee_line("1", &visit, psn("张伟"), "DEMO-A-001", "50", "1")]}))
        .await
        .ok();
    // Signed by the tertiary hospital, but claiming to be the secondary one.
    let msgid = TestApp::msgid(SECONDARY);
    let envelope = app.envelope(SECONDARY, "2207", json!({"data": presettle_data("张伟", &visit, "50", true)}), &msgid);
    let (status, body) = app.post(PATH, &signed_headers(TERTIARY), serde_json::to_vec(&envelope).unwrap()).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, &body["infcode"]), (200, &json!(-1)));
    assert!(body["err_msg"].as_str().unwrap().contains("与认证的机构H33010000001不一致"), "{body}");
    // Another hospital cannot settle this hospital's visit either.
    let foreign = app.call(SECONDARY, "2207", json!({"data": presettle_data("张伟", &visit, "50", true)})).await;
    assert!(foreign.refused().contains("不存在或不是本机构的就诊"), "{}", foreign.body);
    // Answered exactly like a visit that does not exist (no existence oracle).
    let missing = app.call(SECONDARY, "2207", json!({"data": presettle_data("张伟", "999999999", "50", true)})).await;
    assert_eq!(
        foreign.refused().replace(visit.as_str(), "ID"),
        missing.refused().replace("999999999", "ID"),
        "{} / {}",
        foreign.body,
        missing.body
    );

    let msgid = TestApp::msgid(TERTIARY);
    let settled = app
        .call_with_msgid(TERTIARY, "2207", json!({"data": presettle_data("张伟", &visit, "50", true)}), &msgid)
        .await;
    settled.ok();
    let before = snapshot(&app).await;
    let mut changed = presettle_data("张伟", &visit, "50", false);
    changed["invono"] = json!("changed");
    let reused = app.call_with_msgid(TERTIARY, "2207", json!({"data": changed}), &msgid).await;
    assert!(reused.refused().contains("重复"), "{}", reused.body);
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn garbage_never_gets_a_500() {
    let app = spawn_app().await;
    let bodies: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"text\"".to_vec(),
        vec![0xff, 0xfe, 0x00],
        b"{\"infno\": 1101, \"msgid\": {}, \"input\": []}".to_vec(),
        format!("{{\"infno\": \"2204\", {}}}", "\"x\": [".repeat(200) + &"]".repeat(200)).into_bytes(),
        b"{\"infno\":\"2206\",\"msgid\":\"M1\",\"mdtrtarea_admvs\":\"330100\",\"insuplc_admdvs\":\"330100\",\"recer_sys_code\":\"Y\",\"infver\":\"1\",\"opter_type\":\"1\",\"opter\":\"1\",\"opter_name\":\"a\",\"inf_time\":\"2026-11-23 10:00:00\",\"fixmedins_code\":\"H33010000001\",\"fixmedins_name\":\"a\",\"input\":{\"data\":{\"psn_no\":\"3301000000000001\",\"mdtrt_id\":\"1\",\"medfee_sumamt\":1e400}}}".to_vec(),
    ];
    for body in bodies {
        let (status, reply) = app.post(PATH, &signed_headers(TERTIARY), body.clone()).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let reply: Value = serde_json::from_slice(&reply).unwrap();
        assert_eq!(reply["infcode"], json!(-1), "{reply}");
    }
    let (status, _) = app.get("/healthz").await;
    assert_eq!(status, 200);
}

/// Issue 14: without configured peers there is no peer exchange at all (it read 16 MiB bodies
/// unauthenticated); with peers, a caller that is not one is refused before its body is read.
#[tokio::test]
async fn issue_14_peer_endpoints_exist_only_for_configured_peers_and_check_them_first() {
    let app = spawn_app().await;
    let headers = vec![
        ("x-yibao-peer".to_string(), "330200".to_string()),
        ("x-yibao-timestamp".to_string(), now_seconds().to_string()),
        ("x-yibao-signature".to_string(), "00".repeat(32)),
    ];
    for path in ["/peer/v1/person", "/peer/v1/settle", "/peer/v1/cancel"] {
        let (status, body) = app.post(path, &headers, vec![b' '; 2 * 1024 * 1024]).await;
        assert_eq!(status, 404, "{path}: {}", String::from_utf8_lossy(&body));
    }
    let peer = yibao_server::peer::Peer::new("330200".parse().unwrap(), None, vec![7; 32]).unwrap();
    let app = spawn_app_with_peers(yibao_server::peer::Peers::new(vec![peer])).await;
    for (region, timestamp, signature) in [
        ("330200", now_seconds().to_string(), "00".repeat(32)),
        ("330200", i64::MIN.to_string(), "00".repeat(32)),
        ("330200", now_seconds().to_string(), "not hex".to_string()),
        ("330300", now_seconds().to_string(), "00".repeat(32)),
        ("x", "0".into(), String::new()),
    ] {
        let headers = vec![
            ("x-yibao-peer".to_string(), region.to_string()),
            ("x-yibao-timestamp".to_string(), timestamp),
            ("x-yibao-signature".to_string(), signature),
        ];
        for path in ["/peer/v1/person", "/peer/v1/settle", "/peer/v1/cancel"] {
            let (status, body) = app.post(path, &headers, b"{}".to_vec()).await;
            assert_eq!(status, 401, "{path}: {}", String::from_utf8_lossy(&body));
        }
    }
}

/// Issue 15: the peer exchange speaks a named, versioned format. A peer on the previous one
/// (no format header, records as arrays of columns) is authenticated and then told so, its body
/// never read as records; the current format goes through to the handler.
#[tokio::test]
async fn issue_15_a_peer_on_the_previous_wire_format_is_refused_plainly() {
    let secret = vec![7; 32];
    let peer = yibao_server::peer::Peer::new("330200".parse().unwrap(), None, secret.clone()).unwrap();
    let app = spawn_app_with_peers(yibao_server::peer::Peers::new(vec![peer])).await;
    let path = "/peer/v1/person";
    let body = br#"{"cert_type":"02","cert_no":"330102198001011236","card_sn":null}"#.to_vec();
    let signed = |format: Option<&str>| {
        let timestamp = now_seconds().to_string();
        let message = [timestamp.as_bytes(), b"\n", path.as_bytes(), b"\n", &body].concat();
        let signature = yibao_app::hex(&yibao_server::secret::hmac_sha256(&secret, &message));
        let mut headers = vec![
            ("x-yibao-peer".to_string(), "330200".to_string()),
            ("x-yibao-timestamp".to_string(), timestamp),
            ("x-yibao-signature".to_string(), signature),
        ];
        if let Some(format) = format {
            headers.push(("x-yibao-peer-format".to_string(), format.to_string()));
        }
        headers
    };
    for (format, shown) in [(None, "对方1"), (Some("1"), "对方1"), (Some("3"), "对方3")] {
        let (status, answer) = app.post(path, &signed(format), body.clone()).await;
        let answer = String::from_utf8_lossy(&answer);
        assert_eq!(status, 409, "{answer}");
        assert!(answer.contains("交换格式版本不一致") && answer.contains(shown), "{answer}");
    }
    let (status, answer) = app.post(path, &signed(Some("2")), body.clone()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
}

/// A peer that has not upgraded answers in the previous format (no format header, records as
/// arrays): its answer still reads, so what it did (a cancellation) is recorded, not lost; an
/// answer in a format newer than this side knows counts as no answer (the same msgid later).
#[tokio::test]
async fn issue_15_an_answer_in_the_previous_format_still_reads_a_newer_one_counts_as_none() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let secret = vec![9; 32];
    for (format, reads) in [(None, true), (Some("1"), true), (Some("2"), true), (Some("3"), false)] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let answer_secret = secret.clone();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            while !String::from_utf8_lossy(&request).contains("\r\n\r\n{") || !request.ends_with(b"}") {
                let read = stream.read(&mut buffer).await.unwrap();
                request.extend_from_slice(&buffer[..read]);
            }
            let body = br#"{"person":null}"#;
            let timestamp = now_seconds().to_string();
            let message = [timestamp.as_bytes(), b"\nanswer:/peer/v1/person\n", body].concat();
            let signature = yibao_app::hex(&yibao_server::secret::hmac_sha256(&answer_secret, &message));
            let header = format.map(|f| format!("x-yibao-peer-format: {f}\r\n")).unwrap_or_default();
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-yibao-timestamp: {timestamp}\r\nx-yibao-signature: {signature}\r\n{header}connection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            stream.write_all(body).await.unwrap();
        });
        let peer = yibao_server::peer::Peer::new("330200".parse().unwrap(), Some(url), secret.clone()).unwrap();
        let answer = yibao_server::peer::call(&peer, &"330100".parse().unwrap(), "/peer/v1/person", &json!({})).await;
        match (reads, answer) {
            (true, Ok(value)) => assert_eq!(value, json!({"person": null}), "{format:?}"),
            (false, Err(yibao_server::peer::PeerError::Unknown(why))) => assert!(why.contains("format 3"), "{why}"),
            (_, other) => panic!("{format:?}: {other:?}"),
        }
    }
}
