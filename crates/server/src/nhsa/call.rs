//! One call of the national interface: its envelope, the checks every call passes (message
//! id form, signature), its answer and the response's metadata.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use yibao_domain::{Admdvs, DateTime, InstitutionCode, MsgId};
use yibao_engine::commands::RecordRead;
use yibao_engine::records::Institution;
use yibao_engine::{Command, Outcome, Reply};

use super::auth;
use super::error::NhsaError;
use super::fields::Fields;
use crate::state::AppState;

/// The request envelope (§1.2), parsed.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub infno: String,
    pub msgid: MsgId,
    pub mdtrtarea_admvs: Admdvs,
    pub insuplc_admdvs: Option<Admdvs>,
    pub opter: String,
    pub opter_name: String,
    pub inf_time: DateTime,
    pub fixmedins_code: InstitutionCode,
    pub sign_no: Option<String>,
    pub input: Value,
    /// SHA-256 of the transaction code and the canonical `input`: what "the same input" means.
    pub request_hash: String,
}

impl Envelope {
    pub(crate) fn parse(body: &Value) -> Result<Envelope, NhsaError> {
        let fields = Fields::of("报文", body)?;
        let infno = fields.required_text("infno")?;
        let msgid = fields.required("msgid")?;
        let mdtrtarea_admvs = fields.required("mdtrtarea_admvs")?;
        let insuplc_admdvs = fields.parse("insuplc_admdvs")?;
        for required in ["recer_sys_code", "infver", "opter_type"] {
            fields.required_text(required)?;
        }
        let opter = fields.required_text("opter")?;
        let opter_name = fields.required_text("opter_name")?;
        let inf_time = fields.time("inf_time")?.ok_or_else(|| NhsaError::new("inf_time不能为空"))?;
        let fixmedins_code = fields.required("fixmedins_code")?;
        fields.required_text("fixmedins_name")?;
        let sign_no = fields.text("sign_no")?;
        let input = match body.get("input") {
            None | Some(Value::Null) => return Err(NhsaError::new("input不能为空")),
            Some(Value::Object(map)) => Value::Object(map.clone()),
            // Some clients send the input as a JSON string.
            Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
                Ok(value @ Value::Object(_)) => value,
                _ => return Err(NhsaError::new("input类型错误：应为JSON对象")),
            },
            Some(_) => return Err(NhsaError::new("input类型错误：应为JSON对象")),
        };
        let mut hasher = Sha256::new();
        hasher.update(infno.as_bytes());
        hasher.update(b"\n");
        hasher.update(serde_json::to_vec(&input).unwrap_or_default());
        let request_hash = yibao_app::hex(&hasher.finalize());
        Ok(Envelope {
            infno,
            msgid,
            mdtrtarea_admvs,
            insuplc_admdvs,
            opter,
            opter_name,
            inf_time,
            fixmedins_code,
            sign_no,
            input,
            request_hash,
        })
    }
}

/// The fewest characters after the institution code in a msgid (the spec's 14 of the time).
pub const MSGID_SUFFIX_MIN: usize = 14;
/// The most (the spec's 14 + 4 is 18; clients add a few).
pub const MSGID_SUFFIX_MAX: usize = 28;

/// A msgid is the sender's: `fixmedins_code` + time (14) + serial (4) as the spec defines it
/// (§1.2; real clients vary the serial's length). The prefix ties it to its sender, so one
/// institution can neither reuse nor reverse another's, and the form keeps ids like `ZZZ` out.
///
/// # Errors
/// What is wrong with the msgid.
pub fn check_msgid_form(msgid: &MsgId, institution: &InstitutionCode) -> Result<(), NhsaError> {
    let text = msgid.as_str();
    let wrong = |why: &str| {
        NhsaError::new(format!(
            "报文ID msgid {text}格式错误：{why}（应为定点医药机构编号{institution}+时间yyyyMMddHHmmss+顺序号）"
        ))
    };
    let Some(rest) = text.strip_prefix(institution.as_str()) else {
        return Err(wrong("不是以本机构编号开头"));
    };
    if rest.len() < MSGID_SUFFIX_MIN || rest.len() > MSGID_SUFFIX_MAX {
        return Err(wrong(&format!("机构编号后应有{MSGID_SUFFIX_MIN}至{MSGID_SUFFIX_MAX}位")));
    }
    if !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(wrong("只能包含字母和数字"));
    }
    Ok(())
}

/// Checks the `x-tif-*` signature headers (the REST API accepts them too).
///
/// # Errors
/// Why the request is not authentic.
pub async fn verify_signature(app: &AppState, headers: &HeaderMap) -> Result<Institution, NhsaError> {
    auth::verify(app, headers).await
}

/// Transport metadata of one response (`inf_refmsgid`, `refmsg_time`).
#[derive(Debug, Clone)]
pub struct ResponseMeta {
    pub inf_refmsgid: String,
    pub refmsg_time: String,
}

/// `yyyyMMddHHmmssSSS` of the wall clock, China Standard Time.
fn millis_now() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let seconds = i64::try_from(now.as_secs()).unwrap_or(0);
    format!("{}{:03}", DateTime::from_unix(seconds).compact(), now.subsec_millis())
}

static SERIAL: AtomicU64 = AtomicU64::new(0);

impl ResponseMeta {
    pub(super) fn new(region: &str) -> ResponseMeta {
        let refmsg_time = millis_now();
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed) % 10_000_000_000;
        ResponseMeta { inf_refmsgid: format!("{region}{}{serial:010}", &refmsg_time[..14]), refmsg_time }
    }

    pub fn success(&self, output: Value) -> Vec<u8> {
        self.success_warned(output, &[])
    }

    /// A success with remarks (`warn_msg`, joined with "；"), as real platforms answer
    /// something the institution should know that did not stop the transaction.
    pub fn success_warned(&self, output: Value, warnings: &[String]) -> Vec<u8> {
        let warn_msg = match warnings.is_empty() {
            true => Value::Null,
            false => Value::String(warnings.join("；")),
        };
        self.body(0, Value::Null, warn_msg, Some(output))
    }

    pub(crate) fn failure(&self, message: &str) -> Vec<u8> {
        self.body(-1, Value::String(message.to_string()), Value::Null, None)
    }

    /// The response envelope of the samples (a refusal carries no `output`).
    fn body(&self, infcode: i64, err_msg: Value, warn_msg: Value, output: Option<Value>) -> Vec<u8> {
        let mut body = json!({
            "infcode": infcode,
            "inf_refmsgid": self.inf_refmsgid,
            "refmsg_time": self.refmsg_time,
            "respond_time": millis_now(),
            "enctype": "",
            "signtype": "",
            "cainfo": "",
            "err_msg": err_msg,
            "warn_msg": warn_msg,
        });
        if let Some(output) = output {
            body["output"] = output;
        }
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

pub(super) fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body).into_response()
}

/// One message being handled.
#[derive(Debug)]
pub struct Call {
    pub app: Arc<AppState>,
    pub institution: Institution,
    pub envelope: Envelope,
    pub meta: ResponseMeta,
    /// The file part of a multipart upload (9101).
    pub upload: Option<(Option<String>, Vec<u8>)>,
}

/// How a transaction answered.
#[derive(Debug)]
pub enum Answer {
    /// A full response body (written or replayed).
    Body(Vec<u8>),
    /// A file download (9102).
    File { name: String, content: Vec<u8> },
}

/// Builds a transaction's `output` from what its command did.
pub type Output = Box<dyn Fn(&Outcome) -> Value + Send + Sync>;

/// Builds a transaction's `output` and its remarks (`warn_msg`) from what its command did.
pub type WarnedOutput = Box<dyn Fn(&Outcome) -> (Value, Vec<String>) + Send + Sync>;

type Render = yibao_engine::commands::Render;

impl Call {
    pub fn input(&self) -> Result<Fields<'_>, NhsaError> {
        Fields::of("input", &self.envelope.input)
    }

    pub fn now(&self) -> DateTime {
        self.app.store.now()
    }

    /// How a write of this message runs: committed under its msgid, scoped to the institution,
    /// with the envelope's request hash; `render` makes the response body, which is stored in
    /// the same commit (a repeat returns the stored body).
    pub(crate) fn commit(&self, reversible: bool, render: Render) -> yibao_app::Run {
        let idempotency = yibao_app::Idempotency {
            key: self.envelope.msgid.clone(),
            institution: self.institution.code.clone(),
            channel: yibao_app::Channel::National(self.envelope.infno.clone()),
            request_hash: self.envelope.request_hash.clone(),
            reversible,
        };
        yibao_app::Run::Commit(idempotency.envelope(render))
    }

    /// The response body of a committed write (or of its repeat).
    pub(crate) fn body(reply: Reply) -> Result<Vec<u8>, NhsaError> {
        match reply {
            Reply::Done { body: Some(body), .. } | Reply::Replayed(body) => Ok(body),
            Reply::Done { body: None, .. } => Err(NhsaError::new("医保服务内部错误：未生成应答")),
        }
    }

    /// Runs `command` through the writer with the msgid as idempotency key (see [`Call::commit`]).
    pub(crate) async fn submit(
        &self,
        command: impl Command + 'static,
        reversible: bool,
        render: Render,
    ) -> Result<Vec<u8>, NhsaError> {
        let run = self.commit(reversible, render);
        Call::body(yibao_app::run(&self.app.store, Box::new(command), run).await?)
    }

    /// A write: `output` turns what the command did into the transaction's `output`.
    pub async fn write(
        &self,
        command: impl Command + 'static,
        reversible: bool,
        output: Output,
    ) -> Result<Answer, NhsaError> {
        let meta = self.meta.clone();
        self.submit(command, reversible, Box::new(move |outcome| meta.success(output(outcome)))).await.map(Answer::Body)
    }

    /// Answers a read, recording its msgid (a repeat gets the stored answer).
    pub async fn answer(&self, output: Value) -> Result<Answer, NhsaError> {
        self.answer_warned(output, &[]).await
    }

    /// As [`Call::answer`], with remarks in `warn_msg`.
    pub async fn answer_warned(&self, output: Value, warnings: &[String]) -> Result<Answer, NhsaError> {
        self.answer_recorded(RecordRead, output, warnings).await
    }

    /// Answers a read whose msgid is recorded by `command` (which may also audit the read).
    pub async fn answer_recorded(
        &self,
        command: impl Command + 'static,
        output: Value,
        warnings: &[String],
    ) -> Result<Answer, NhsaError> {
        let body = self.meta.success_warned(output, warnings);
        self.submit(command, false, Box::new(move |_| body.clone())).await.map(Answer::Body)
    }

    /// A write whose `output` comes with remarks for `warn_msg`.
    pub async fn write_warned(
        &self,
        command: impl Command + 'static,
        reversible: bool,
        output: WarnedOutput,
    ) -> Result<Answer, NhsaError> {
        self.submit(command, reversible, self.warned_render(output)).await.map(Answer::Body)
    }

    /// The stored response of a write whose `output` comes with remarks for `warn_msg`.
    pub(crate) fn warned_render(&self, output: WarnedOutput) -> Render {
        let meta = self.meta.clone();
        Box::new(move |outcome| {
            let (value, warnings) = output(outcome);
            meta.success_warned(value, &warnings)
        })
    }

    /// A dry run (pre-settlement): what the command would do, recorded as a read.
    pub async fn preview(
        &self,
        command: impl Command + 'static,
        output: impl Fn(&Outcome) -> (Value, Vec<String>),
    ) -> Result<Answer, NhsaError> {
        if let Some(stored) = self.stored_answer().await? {
            return Ok(Answer::Body(stored));
        }
        let reply = yibao_app::run(&self.app.store, Box::new(command), yibao_app::Run::Preview).await?;
        self.previewed(reply, output).await
    }

    /// Answers a dry run's `reply`, recording the msgid as a read's.
    pub(crate) async fn previewed(
        &self,
        reply: Reply,
        output: impl Fn(&Outcome) -> (Value, Vec<String>),
    ) -> Result<Answer, NhsaError> {
        match reply {
            Reply::Done { outcome, .. } => {
                let (value, warnings) = output(&outcome);
                self.answer_warned(value, &warnings).await
            }
            Reply::Replayed(body) => Ok(Answer::Body(body)),
        }
    }

    /// The stored answer to this msgid when it is a repeat of the same input.
    pub(crate) async fn stored_answer(&self) -> Result<Option<Vec<u8>>, NhsaError> {
        let msgid = self.envelope.msgid.clone();
        let Some(stored) = self.app.store.read(move |r| r.message(&msgid)).await? else {
            return Ok(None);
        };
        if stored.institution == self.institution.code
            && stored.infno == self.envelope.infno
            && stored.request_hash == self.envelope.request_hash
        {
            return Ok(Some(stored.response));
        }
        // Anything else is refused by the writer with the precise reason.
        Ok(None)
    }
}
