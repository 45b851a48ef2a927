//! Reconciliation with an institution: totals (3201) and detail (3202), with the detail files
//! exchanged through upload (9101) and download (9102).

use serde_json::json;
use yibao_domain::{DateTime, Money};
use yibao_store::SettlementFilter;

use super::data;
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

pub async fn reconcile_detail(_call: &Call) -> Result<Answer, NhsaError> {
    Err(NhsaError::new("交易3202（医药机构费用结算对明细账）暂未开放"))
}

pub async fn upload(_call: &Call) -> Result<Answer, NhsaError> {
    Err(NhsaError::new("交易9101（文件上传）暂未开放"))
}

pub async fn download(_call: &Call) -> Result<Answer, NhsaError> {
    Err(NhsaError::new("交易9102（文件下载）暂未开放"))
}
