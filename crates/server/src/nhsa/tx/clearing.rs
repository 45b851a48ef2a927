//! Reconciliation with an institution: totals (3201) and detail (3202), with the detail files
//! exchanged through upload (9101) and download (9102).

use serde_json::{Value, json};
use yibao_domain::{DateTime, Money};
use yibao_store::SettlementFilter;

use super::input::data;
use crate::nhsa::render::amount;
use crate::nhsa::{Answer, Call, NhsaError};

/// The period `[stmt_begndate, stmt_enddate]` as a half-open time range.
fn period(data: &crate::nhsa::fields::Fields<'_>) -> Result<(DateTime, DateTime), NhsaError> {
    let begin = data.time("stmt_begndate")?.ok_or_else(|| NhsaError::new("input.data.stmt_begndate不能为空"))?;
    let end = data.time("stmt_enddate")?.ok_or_else(|| NhsaError::new("input.data.stmt_enddate不能为空"))?;
    if end.date() < begin.date() {
        return Err(NhsaError::new("对账结束日期stmt_enddate早于开始日期stmt_begndate"));
    }
    Ok((DateTime::start_of(begin.date()), DateTime::start_of(end.date().plus_days(1))))
}

/// 3201: compares the institution's totals for a period with ours. `refd_setl_flag = 1`
/// counts every record (settlements and their cancellations, amounts netting out);
/// otherwise only settlements in force.
pub async fn reconcile_totals(call: &Call) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let (from, until) = period(&data)?;
    let insurance = data.required_text("insutype")?;
    let clearing_type = data.required_text("clr_type")?;
    let setl_optins = data.text("setl_optins")?.unwrap_or_else(|| call.institution.admdvs.to_string());
    let medfee: Money = data.required_number("medfee_sumamt")?;
    let fund: Money = data.required_number("fund_pay_sumamt")?;
    let account: Money = data.required_number("acct_pay")?;
    let count: u64 = data
        .required_text("fixmedins_setl_cnt")?
        .parse()
        .map_err(|_| NhsaError::new("input.data.fixmedins_setl_cnt应为非负整数"))?;
    let with_refunds = data.flag("refd_setl_flag", false)?;
    let filter = SettlementFilter {
        institution: Some(call.institution.code.clone()),
        insurance: Some(insurance),
        clearing_type: Some(clearing_type),
        from: Some(from),
        until: Some(until),
        in_force_only: !with_refunds,
        ..SettlementFilter::default()
    };
    let ours = call.app.store.read(move |r| r.settlement_totals(&filter)).await?;
    let mut differences = Vec::new();
    if ours.count != count {
        differences.push(format!("结算笔数：机构{count}笔，医保{}笔", ours.count));
    }
    for (name, theirs, mine) in [
        ("医疗费总额", medfee, ours.medfee),
        ("基金支付总额", fund, ours.fund),
        ("个人账户支付总额", account, ours.account),
    ] {
        if theirs != mine {
            differences.push(format!("{name}：机构{theirs}元，医保{mine}元，相差{}元", theirs - mine));
        }
    }
    let (result, description) = match differences.is_empty() {
        true => ("0", "对账平衡".to_string()),
        false => ("1", format!("对账不平：{}", differences.join("；"))),
    };
    call.answer(json!({"stmtinfo": {
        "setl_optins": setl_optins,
        "stmt_rslt": result,
        "stmt_rslt_dscr": description,
        "medfee_sumamt": amount(ours.medfee),
        "fund_pay_sumamt": amount(ours.fund),
        "acct_pay": amount(ours.account),
        "fixmedins_setl_cnt": ours.count,
    }}))
    .await
}

/// One row of a reconciliation detail file: what the institution recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DetailRow {
    setl_id: String,
    mdtrt_id: String,
    psn_no: String,
    medfee: Money,
    fund: Money,
    account: Money,
    refund: bool,
}

/// The detail file's columns, tab-separated (commas accepted), one settlement a line:
/// `setl_id, mdtrt_id, psn_no, medfee_sumamt, fund_pay_sumamt, acct_pay, refd_setl_flag`.
/// A cancellation is a line with the cancelled `setl_id`, negative amounts and flag 1.
pub const DETAIL_COLUMNS: [&str; 7] =
    ["setl_id", "mdtrt_id", "psn_no", "medfee_sumamt", "fund_pay_sumamt", "acct_pay", "refd_setl_flag"];

fn parse_detail(text: &str) -> Result<Vec<DetailRow>, NhsaError> {
    let mut rows = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let separator = if line.contains('\t') { '\t' } else { ',' };
        let fields: Vec<&str> = line.split(separator).map(str::trim).collect();
        if index == 0 && fields.first().is_some_and(|f| f.eq_ignore_ascii_case("setl_id")) {
            continue;
        }
        if fields.len() < DETAIL_COLUMNS.len() {
            return Err(NhsaError::new(format!(
                "对账明细文件第{}行只有{}列，应为{}列：{}",
                index + 1,
                fields.len(),
                DETAIL_COLUMNS.len(),
                DETAIL_COLUMNS.join("、")
            )));
        }
        let amount = |column: usize| -> Result<Money, NhsaError> {
            fields[column].parse().map_err(|error: yibao_domain::ParseError| {
                NhsaError::new(format!(
                    "对账明细文件第{}行{}：{}",
                    index + 1,
                    DETAIL_COLUMNS[column],
                    error.problem_zh()
                ))
            })
        };
        rows.push(DetailRow {
            setl_id: fields[0].to_string(),
            mdtrt_id: fields[1].to_string(),
            psn_no: fields[2].to_string(),
            medfee: amount(3)?,
            fund: amount(4)?,
            account: amount(5)?,
            refund: fields[6] == "1",
        });
    }
    Ok(rows)
}

/// 3202: compares the institution's detail file (uploaded with 9101) with our settlements of
/// the period, and returns a result file (download with 9102): one line per settlement,
/// `psn_no, mdtrt_id, setl_id, msgid, stmt_rslt, refd_setl_flag, memo, medfee_sumamt,
/// fund_pay_sumamt, acct_pay`, where `stmt_rslt` is 0 balanced, 1 amounts differ, 2 only in
/// yibao, 3 only at the institution.
pub async fn reconcile_detail(call: &Call) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let (from, until) = period(&data)?;
    let file_qury_no = data.required_text("file_qury_no")?;
    let clearing_type = data.text("clr_type")?;
    let with_refunds = data.flag("refd_setl_flag", true)?;
    let institution = call.institution.code.clone();
    let lookup = file_qury_no.clone();
    let filter = SettlementFilter {
        institution: Some(institution.clone()),
        clearing_type,
        from: Some(from),
        until: Some(until),
        in_force_only: !with_refunds,
        ..SettlementFilter::default()
    };
    let (file, ours) =
        call.app.store.read(move |r| Ok((r.file(&lookup)?, r.settlements(&filter, 0, u64::MAX)?.rows))).await?;
    let file = file
        .filter(|f| f.institution == institution)
        .ok_or_else(|| NhsaError::new(format!("文件查询号{file_qury_no}不存在，请先用9101上传对账明细文件")))?;
    let text = files_text(&file.content)?;
    let theirs = parse_detail(&text)?;
    let mut lines = vec![
        [
            "psn_no",
            "mdtrt_id",
            "setl_id",
            "msgid",
            "stmt_rslt",
            "refd_setl_flag",
            "memo",
            "medfee_sumamt",
            "fund_pay_sumamt",
            "acct_pay",
        ]
        .join("\t"),
    ];
    let mut counts = [0u64; 4];
    let mut matched = vec![false; theirs.len()];
    for settlement in &ours {
        let (key, refund) = match &settlement.status {
            yibao_engine::records::SettlementStatus::Mirror { of } => (of.to_string(), true),
            _ => (settlement.setl_id.to_string(), false),
        };
        let a = &settlement.amounts;
        let found =
            theirs.iter().enumerate().find(|(i, row)| !matched[*i] && row.setl_id == key && row.refund == refund);
        let (result, memo) = match found {
            Some((index, row)) => {
                matched[index] = true;
                let mut differences = Vec::new();
                for (name, theirs, ours) in [
                    ("医疗费总额", row.medfee, a.medfee),
                    ("基金支付", row.fund, a.funds()),
                    ("个人账户支付", row.account, a.account()),
                ] {
                    if theirs != ours {
                        differences.push(format!("{name}机构{theirs}医保{ours}"));
                    }
                }
                match differences.is_empty() {
                    true => ("0", "平".to_string()),
                    false => ("1", differences.join("；")),
                }
            }
            None => ("2", "医保有此结算，机构明细无".to_string()),
        };
        counts[result.parse::<usize>().unwrap_or(0)] += 1;
        lines.push(
            [
                settlement.psn_no.to_string(),
                settlement.mdtrt_id.to_string(),
                key,
                settlement.msgid.to_string(),
                result.to_string(),
                if refund { "1" } else { "0" }.to_string(),
                memo,
                a.medfee.to_string(),
                a.funds().to_string(),
                a.account().to_string(),
            ]
            .join("\t"),
        );
    }
    for (row, _) in theirs.iter().zip(&matched).filter(|(_, seen)| !**seen) {
        counts[3] += 1;
        lines.push(
            [
                row.psn_no.clone(),
                row.mdtrt_id.clone(),
                row.setl_id.clone(),
                String::new(),
                "3".to_string(),
                if row.refund { "1" } else { "0" }.to_string(),
                "机构有此结算，医保无".to_string(),
                row.medfee.to_string(),
                row.fund.to_string(),
                row.account.to_string(),
            ]
            .join("\t"),
        );
    }
    let content = (lines.join("\n") + "\n").into_bytes();
    let filename = format!("3202_{}_{}.txt", call.institution.code, call.now().compact());
    let stored = store(call, &filename, content).await?;
    call.answer(json!({
        "fileinfo": {"file_qury_no": stored.file_qury_no, "filename": stored.filename, "dld_endtime": stored.at.plus_seconds(DOWNLOAD_DAYS * 86_400).to_string()},
        "stmtinfo": {"stmt_rslt": if counts[1] + counts[2] + counts[3] == 0 { "0" } else { "1" },
                     "balanced": counts[0], "amounts_differ": counts[1], "only_yibao": counts[2], "only_institution": counts[3]},
    }))
    .await
}

/// How long a stored file is offered for download (`dld_endtime`).
const DOWNLOAD_DAYS: i64 = 30;

fn files_text(content: &[u8]) -> Result<String, NhsaError> {
    let bytes = crate::nhsa::files::unzip_if_zipped(content, yibao_engine::commands::FILE_MAX_BYTES)?;
    String::from_utf8(bytes).map_err(|_| NhsaError::new("对账明细文件须为UTF-8编码的文本"))
}

async fn store(call: &Call, filename: &str, content: Vec<u8>) -> Result<yibao_engine::records::StoredFile, NhsaError> {
    let command = yibao_app::clearing::store_file(call.institution.code.clone(), filename.to_string(), content);
    match call.app.store.execute(command).await? {
        yibao_engine::Outcome::File(file) => Ok(*file),
        _ => Err(NhsaError::new("医保服务内部错误：文件未保存")),
    }
}

/// 9101: keeps an uploaded file (multipart `file`, or `fsUploadIn.in`) and returns its
/// `file_qury_no`.
pub async fn upload(call: &Call) -> Result<Answer, NhsaError> {
    let input = call.input()?;
    let node = input.object("fsUploadIn")?;
    let (filename, content) = match &call.upload {
        Some((filename, content)) => (node.text("filename")?.or(filename.clone()), content.clone()),
        None => {
            let value = call.envelope.input.get("fsUploadIn").and_then(|n| n.get("in")).unwrap_or(&Value::Null);
            if value.is_null() {
                return Err(NhsaError::new("input.fsUploadIn.in不能为空（或以multipart的file部分上传）"));
            }
            (node.text("filename")?, crate::nhsa::files::bytes_of(value, "input.fsUploadIn.in")?)
        }
    };
    let filename = filename.ok_or_else(|| NhsaError::new("input.fsUploadIn.filename不能为空"))?;
    crate::nhsa::files::check_file_name(&filename)?;
    let command = yibao_app::clearing::store_file(call.institution.code.clone(), filename, content);
    call.write(
        command,
        false,
        Box::new(|outcome| match outcome {
            yibao_engine::Outcome::File(file) => json!({
                "file_qury_no": file.file_qury_no,
                "filename": file.filename,
                "dld_endtime": file.at.plus_seconds(DOWNLOAD_DAYS * 86_400).to_string(),
            }),
            _ => Value::Null,
        }),
    )
    .await
}

/// 9102: returns a stored file of this institution as `application/octet-stream`.
pub async fn download(call: &Call) -> Result<Answer, NhsaError> {
    let input = call.input()?;
    let node = input.object("fsDownloadIn")?;
    let file_qury_no = node.required_text("file_qury_no")?;
    let lookup = file_qury_no.clone();
    let file = call.app.store.read(move |r| r.file(&lookup)).await?;
    match file {
        Some(file) if file.institution == call.institution.code => {
            Ok(Answer::File { name: file.filename, content: file.content })
        }
        _ => Err(NhsaError::new(format!("文件查询号{file_qury_no}不存在"))),
    }
}
