//! Sign-in and sign-out (9001/9002), person information (1101), eligibility (2001), special
//! disease registration (2503/2504).

use serde_json::{Value, json};
use yibao_domain::{CardNo, CertType, Date, IdNumber, InsuranceType, MedType};
use yibao_engine::Outcome;
use yibao_engine::commands::{RecordIdentification, RegisterDisease, RevokeDisease, SignInCommand, SignOut};
use yibao_engine::records::{CardStatus, Certificate, Person, PersonStatus, status_event};

use super::input::{data, person_no};
use crate::nhsa::render::{amount, person_fields};
use crate::nhsa::{Answer, Call, NhsaError};

pub async fn sign_in(call: &Call) -> Result<Answer, NhsaError> {
    let input = call.input()?;
    let operator = match input.opt_object("signIn")? {
        Some(node) => node.text("opter_no")?,
        None => None,
    }
    .unwrap_or_else(|| call.envelope.opter.clone());
    let command = SignInCommand { institution: call.institution.code.clone(), operator };
    call.write(
        command,
        false,
        Box::new(|outcome| match outcome {
            Outcome::SignIn(sign_in) => {
                json!({"signinoutb": {"sign_no": sign_in.sign_no, "sign_time": sign_in.signed_in_at.to_string()}})
            }
            _ => Value::Null,
        }),
    )
    .await
}

pub async fn sign_out(call: &Call) -> Result<Answer, NhsaError> {
    let input = call.input()?;
    let node = input.object("signOut")?;
    let sign_no = node
        .text("sign_no")?
        .or_else(|| call.envelope.sign_no.clone())
        .ok_or_else(|| NhsaError::new("input.signOut.sign_no不能为空"))?;
    let command = SignOut { institution: call.institution.code.clone(), sign_no };
    call.write(
        command,
        false,
        Box::new(|outcome| match outcome {
            Outcome::SignIn(sign_in) => json!({"signoutoutb": {
                "sign_no": sign_in.sign_no,
                "sign_time": sign_in.signed_out_at.map(|t| t.to_string()),
            }}),
            _ => Value::Null,
        }),
    )
    .await
}

/// 1101 lookups that find nobody, per institution and minute: an HIS reading its patients'
/// certificates rarely misses; one trying ID numbers misses nearly always.
const MISSES_PER_MINUTE: u32 = 60;

/// Who the certificate in 1101's `data` names.
struct Lookup {
    id_number: Option<String>,
    card: Option<(CardNo, String)>,
    /// The holder of a valid `ecToken` (certificate type 01).
    holder: Option<yibao_domain::PersonNo>,
}

pub async fn person_info(call: &Call) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let kind: Option<CertType> = data.parse("mdtrt_cert_type")?;
    let number = data.text("mdtrt_cert_no")?;
    let certno = data.text("certno")?;
    let lookup = match (kind, number) {
        (Some(CertType::IdNumber), Some(number)) => Lookup { id_number: Some(number), card: None, holder: None },
        (Some(CertType::Card), Some(number)) => {
            let card_no: CardNo =
                number.parse().map_err(|_| NhsaError::new(format!("社会保障卡号{number}格式错误")))?;
            let card_sn = data
                .text("card_sn")?
                .ok_or_else(|| NhsaError::new("input.data.card_sn不能为空（社会保障卡须传卡识别码）"))?;
            Lookup { id_number: None, card: Some((card_no, card_sn)), holder: None }
        }
        (Some(CertType::EVoucherToken), Some(token)) => {
            let holder = token_holder(call, &token).await?;
            // The HIS copies idNo into certno; a whole ID number there must be the holder's.
            if let Some(certno) = &certno
                && let Ok(id) = certno.parse::<IdNumber>()
            {
                let lookup = holder.clone();
                let person = call.app.store.read(move |r| r.person(&lookup)).await?;
                if person.is_some_and(|person| person.id_number != id) {
                    return Err(NhsaError::new("证件号码certno与医保电子凭证持有人不符"));
                }
            }
            Lookup { id_number: None, card: None, holder: Some(holder) }
        }
        (Some(_), None) => return Err(NhsaError::new("input.data.mdtrt_cert_no不能为空")),
        (None, _) => match certno {
            Some(certno) => Lookup { id_number: Some(certno), card: None, holder: None },
            None => return Err(NhsaError::new("input.data.mdtrt_cert_type不能为空")),
        },
    };
    if let Some(id) = &lookup.id_number {
        id.parse::<IdNumber>()
            .map_err(|error| NhsaError::new(format!("身份证号{}格式错误：{}", mask(id), error.problem_zh())))?;
    }
    let name = data.text("psn_name")?;
    let today = call.now().date();
    let for_peers = match (&lookup.id_number, &lookup.card) {
        (Some(id), _) => Some((Certificate { kind: CertType::IdNumber, number: id.to_ascii_uppercase() }, None)),
        (None, Some((card_no, card_sn))) => {
            Some((Certificate { kind: CertType::Card, number: card_no.to_string() }, Some(card_sn.clone())))
        }
        _ => None,
    };
    let found = call
        .app
        .store
        .read(move |r| {
            let (person, card) = match (&lookup.id_number, &lookup.card, &lookup.holder) {
                (Some(id), _, _) => (r.person_by_id_number(&id.to_ascii_uppercase())?, None),
                (None, Some((card_no, _)), _) => match r.card(card_no)? {
                    Some(card) => (r.person(&card.psn_no)?, Some(card)),
                    None => (None, None),
                },
                (None, None, Some(holder)) => (r.person(holder)?, None),
                (None, None, None) => (None, None),
            };
            let Some(person) = person else { return Ok(None) };
            let balances = r.balances(&person.psn_no)?;
            let employer = match &person.employer {
                Some(code) => r.employer(code)?.map(|e| e.name),
                None => None,
            };
            let cards = r.cards_of(&person.psn_no)?;
            // Since when a person who is not insured is not (paus_insu_date).
            let paused = match person.status {
                PersonStatus::Active | PersonStatus::Guest => None,
                _ => status_event(&person, &r.life_events(&person.psn_no)?).map(|(_, day)| day),
            };
            let registered =
                Registered { diseases: r.registrations(&person.psn_no)?, elsewhere: r.elsewhere_of(&person.psn_no)? };
            Ok(Some((person, card, balances, employer, lookup.card, cards, (paused, registered))))
        })
        .await?;
    // Insured by another deployment (异地就医): its answer, and the person kept here as a guest.
    let guest_or_unknown = found.as_ref().is_none_or(|(person, ..)| person.status == PersonStatus::Guest);
    if guest_or_unknown
        && !call.app.peers.is_empty()
        && let Some((certificate, card_sn)) = for_peers
    {
        let region = call.envelope.insuplc_admdvs.as_ref();
        let answer =
            crate::peer::find_person(&call.app, &call.institution.admdvs, region, &certificate, card_sn.as_deref())
                .await
                .map_err(NhsaError::new)?;
        if let Some((person, balance, employer)) = answer {
            if name.as_ref().is_some_and(|name| name != &person.name) {
                return Err(NhsaError::new("人员姓名psn_name与证件信息不符"));
            }
            let identified = identification(call, &person, kind);
            let output = person_output(&person, balance, employer.as_deref(), None, today);
            return call.answer_recorded(identified, output, &[]).await;
        }
    }
    let Some((person, card, (current, prior), employer, presented, cards, (paused, registered))) = found else {
        // Trying ID numbers to find persons misses far more than a hospital ever does.
        let harvest = format!("1101-miss/{}", call.institution.code);
        if call.app.reads.take(&harvest, crate::kit::clock::unix_now(), MISSES_PER_MINUTE).is_err() {
            return Err(NhsaError::new(format!(
                "本机构每分钟未查询到人员的1101请求已超过{MISSES_PER_MINUTE}次，请稍后再试"
            )));
        }
        return Err(NhsaError::new("未查询到该证件对应的参保人员信息"));
    };
    if let (Some(card), Some((_, card_sn))) = (&card, &presented) {
        if card.card_sn.as_str() != card_sn {
            return Err(NhsaError::new("社会保障卡识别码card_sn与卡号不符"));
        }
        if card.status != CardStatus::Active {
            return Err(NhsaError::new(format!(
                "社会保障卡{}状态异常（{}），不能使用",
                card.card_no,
                card.status.as_str()
            )));
        }
    }
    if let Some(name) = name
        && name != person.name
    {
        return Err(NhsaError::new("人员姓名psn_name与证件信息不符"));
    }
    let warnings = warnings(&person, &cards);
    let identified = identification(call, &person, kind);
    let mut output = person_output(&person, current + prior, employer.as_deref(), paused, today);
    output["dclainfo"] = registered.in_force(today, &call.institution.code);
    call.answer_recorded(identified, output, &warnings).await
}

/// The audit entry of 1101: which institution identified whom, with which certificate.
fn identification(call: &Call, person: &Person, kind: Option<CertType>) -> RecordIdentification {
    RecordIdentification {
        institution: call.institution.code.clone(),
        psn_no: person.psn_no.clone(),
        certificate: kind.map_or_else(|| "certno".to_string(), |kind| kind.code().to_string()),
    }
}

/// What the counter should know before it bills: the card must first be printed (seed 003:
/// at 60 unprinted transactions it stops paying), the personal account is frozen (a
/// replacement card at another bank, until the old bank confirms). `warn_msg`, as real
/// platforms answer it.
fn warnings(person: &Person, cards: &[yibao_engine::records::Card]) -> Vec<String> {
    let mut warnings = Vec::new();
    for card in cards.iter().filter(|card| card.status == CardStatus::Active) {
        if card.unprinted >= yibao_engine::records::UNPRINTED_MAX {
            warnings.push(format!(
                "社会保障卡{}已有{}笔交易未打印，须先到银行打印交易记录，否则不能刷卡支付",
                card.card_no, card.unprinted
            ));
        }
    }
    if person.account_frozen {
        warnings.push("个人账户资金正在转至新卡银行（待原银行确认清户），暂时冻结，个人账户不能支付".to_string());
    }
    warnings
}

/// The holder of an `ecToken` this institution got from the e-voucher front-end, while it is
/// valid: one refusal for an unknown, expired, revoked or another institution's token.
async fn token_holder(call: &Call, token: &str) -> Result<yibao_domain::PersonNo, NhsaError> {
    use yibao_engine::records::{GrantKind, PersonStatus};
    let invalid = || NhsaError::new("医保电子凭证令牌无效或已过期，请重新扫码");
    let token: yibao_domain::EcCode = token.parse().map_err(|_| invalid())?;
    let hash = yibao_engine::commands::grant_hash(token.as_str());
    let found = call
        .app
        .store
        .read(move |r| {
            let Some(grant) = r.grant(&hash)? else { return Ok(None) };
            let voucher = r.evoucher(&grant.psn_no)?;
            let person = r.person(&grant.psn_no)?;
            Ok(Some((grant, voucher, person)))
        })
        .await?;
    let (grant, voucher, person) = found.ok_or_else(invalid)?;
    let valid = grant.kind == GrantKind::EcToken
        && grant.expires_at > call.now()
        && grant.institution.as_ref() == Some(&call.institution.code)
        && voucher.is_some_and(|v| v.revoked_before.is_none_or(|before| grant.issued_at >= before))
        && person.is_some_and(|p| p.status == PersonStatus::Active);
    match valid {
        true => Ok(grant.psn_no),
        false => Err(invalid()),
    }
}

fn mask(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    match chars.len() {
        18 => format!("{}********{}", chars[..6].iter().collect::<String>(), chars[14..].iter().collect::<String>()),
        _ => "（已隐藏）".to_string(),
    }
}

/// A person's registrations, for 1101's `dclainfo` (yibao's addition; the kinds are 5302's
/// `biz_appy_type`: 01 门诊慢特病, 08 异地安置/异地就医).
struct Registered {
    diseases: Vec<yibao_engine::records::DiseaseRegistration>,
    elsewhere: Vec<yibao_engine::records::ElsewhereRegistration>,
}

impl Registered {
    /// Those in force on `day`: the special diseases registered at the asking institution (a
    /// diagnosis is not every hospital's business) and every treatment-elsewhere registration.
    fn in_force(&self, day: Date, asking: &yibao_domain::InstitutionCode) -> Value {
        let diseases = self
            .diseases
            .iter()
            .filter(|r| !r.revoked && r.begin <= day && day <= r.end && &r.institution == asking)
            .map(|r| {
            json!({"biz_appy_type": "01", "trt_dcla_detl_sn": r.serial, "opsp_dise_code": r.code, "opsp_dise_name": r.name,
                "fixmedins_code": r.institution.as_str(), "begndate": r.begin.to_string(), "enddate": r.end.to_string()})
        });
        let elsewhere = self.elsewhere.iter().filter(|r| !r.revoked && r.begin <= day && day <= r.end).map(|r| {
            json!({"biz_appy_type": "08", "trt_dcla_detl_sn": r.serial, "mdtrtarea_admvs": r.region.as_str(),
                "dcla_type": r.kind.code(), "dcla_type_name": r.kind.name_zh(), "begndate": r.begin.to_string(), "enddate": r.end.to_string()})
        });
        Value::Array(diseases.chain(elsewhere).collect())
    }
}

fn person_output(
    person: &Person,
    balance: yibao_domain::Money,
    employer: Option<&str>,
    paused: Option<Date>,
    today: Date,
) -> Value {
    let mut baseinfo = person_fields(person, today);
    baseinfo.insert("exp_content".into(), Value::Null);
    json!({
        "baseinfo": Value::Object(baseinfo),
        "insuinfo": [{
            "balc": amount(balance),
            "insutype": person.insurance.code(),
            "psn_type": person.person_type.code(),
            "psn_insu_stas": person.status.code(),
            "psn_insu_date": person.insured_since.to_string(),
            "paus_insu_date": paused.map(|day| day.to_string()),
            "cvlserv_flag": if person.person_type.is_civil_servant() { "1" } else { "0" },
            "insuplc_admdvs": person.admdvs.as_str(),
            "emp_name": employer.unwrap_or(""),
        }],
        "idetinfo": [],
    })
}

pub async fn eligibility(call: &Call) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let psn_no = person_no(&data)?;
    let insurance: InsuranceType = data.required("insutype")?;
    let med_type: MedType = data.required("med_type")?;
    let begin = data.time("begntime")?.unwrap_or_else(|| call.now());
    let disease = data.text("dise_codg")?;
    let lookup = psn_no.clone();
    let day = begin.date();
    // A resident's insurance year is covered by its contribution (where the policy sets one).
    let year_paid =
        yibao_engine::commands::contribution_id(&psn_no, yibao_engine::commands::ContributionPeriod::Year(day.year()));
    let (person, registrations, paid) = call
        .app
        .store
        .read(move |r| {
            let paid = !r.loader().transfers(std::slice::from_ref(&year_paid))?.is_empty();
            let person = r.person(&lookup)?;
            let event = match &person {
                Some(person) if person.status != PersonStatus::Active => status_event(person, &r.life_events(&lookup)?),
                _ => None,
            };
            Ok((person.map(|person| (person, event)), r.registrations(&lookup)?, paid))
        })
        .await?;
    let (person, event) = person.ok_or_else(|| NhsaError::new(format!("人员编号{psn_no}不存在")))?;
    let policies = call.app.store.policies();
    let resolved = policies.resolve(&person.admdvs, insurance, day);
    let annual = resolved.map_or(yibao_domain::Money::ZERO, |resolved| resolved.scheme.annual_contribution());
    let unpaid_resident = insurance.is_resident() && annual.is_positive() && !paid;
    let (enjoys, result) = match resolved {
        _ if person.insurance != insurance => (false, format!("参保人险种为{}，不是{insurance}", person.insurance)),
        _ if person.status != PersonStatus::Active => match event {
            Some((kind, day)) => (false, format!("参保人已于{day}{}，参保状态异常，不享受待遇", kind.name_zh())),
            None => (false, "参保状态异常，不享受待遇".to_string()),
        },
        _ if unpaid_resident => {
            (false, format!("未缴纳{}年度城乡居民医保费（{annual}元），本年度不享受待遇", day.year()))
        }
        None => (false, format!("参保地{}在{day}无有效待遇政策", person.admdvs)),
        Some(resolved) => {
            let scheme = resolved.scheme;
            let special = scheme.special_outpatient.as_ref().filter(|rule| rule.med_types.contains(&med_type));
            match special {
                Some(rule) => {
                    let registered = registrations.iter().any(|r| {
                        !r.revoked
                            && r.begin <= day
                            && day <= r.end
                            && rule.disease(&r.code).is_some()
                            && disease.as_ref().is_none_or(|d| d == &r.code)
                    });
                    match registered {
                        true => (true, "已备案门诊慢特病，享受门诊慢特病待遇".to_string()),
                        false => (false, "未备案该门诊慢特病，不享受门诊慢特病待遇".to_string()),
                    }
                }
                None if scheme.outpatient.med_types.contains(&med_type)
                    || scheme.inpatient.med_types.contains(&med_type) =>
                {
                    (true, format!("享受{}待遇（{}）", med_type.name_zh(), resolved.policy.label()))
                }
                None => (false, format!("医疗类别{med_type}不在待遇政策支付范围内")),
            }
        }
    };
    let fund_pay_type = if insurance.is_resident() { "390100" } else { "310100" };
    call.answer(json!({
        "trtinfo": [{
            "psn_no": person.psn_no.as_str(),
            "trt_chk_type": "01",
            "fund_pay_type": fund_pay_type,
            "trt_enjymnt_flag": if enjoys { "1" } else { "0" },
            "begndate": day.to_string(),
            "enddate": Date::FOREVER.to_string(),
            "trt_chk_rslt": result,
        }]
    }))
    .await
}

pub async fn register_disease(call: &Call) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let today = call.now().date();
    let command = RegisterDisease {
        institution: call.institution.code.clone(),
        psn_no: person_no(&data)?,
        code: data.required_text("opsp_dise_code")?,
        begin: data.time("begndate")?.map_or(today, |t| t.date()),
        end: data.time("enddate")?.map_or(Date::FOREVER, |t| t.date()),
        msgid: call.envelope.msgid.clone(),
        agency: None,
    };
    call.write(
        command,
        false,
        Box::new(|outcome| match outcome {
            Outcome::Registration(registration) => json!({"result": {
                "trt_dcla_detl_sn": registration.serial,
                "opsp_dise_code": registration.code,
                "opsp_dise_name": registration.name,
                "begndate": registration.begin.to_string(),
                "enddate": registration.end.to_string(),
            }}),
            _ => Value::Null,
        }),
    )
    .await
}

pub async fn revoke_disease(call: &Call) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let command = RevokeDisease {
        institution: call.institution.code.clone(),
        psn_no: person_no(&data)?,
        serial: data.required_text("trt_dcla_detl_sn")?,
        agency: None,
    };
    call.write(command, false, Box::new(|_| json!({}))).await
}
