//! Reference data: the insurance catalogue (1312), first self-pay ratios (1319), dictionaries
//! (1901). Answered from memory.

use serde_json::{Value, json};
use yibao_domain::{CertType, ChargeClass, Date, FundPayType, InsuranceType, MedType, PersonType};
use yibao_engine::records::CatalogueEntry;

use super::input::data;
use crate::nhsa::infno::Infno;
use crate::nhsa::render::{price, ratio};
use crate::nhsa::{Answer, Call, NhsaError};

/// The largest page of a paged query.
const PAGE_SIZE_MAX: u64 = 1_000;

/// `(page_num, page_size)`: 1-based page, 1..=1000 rows, defaults 1 and 100.
fn paging(data: &crate::nhsa::fields::Fields<'_>) -> Result<(u64, u64), NhsaError> {
    let number = |field: &str, default: u64| -> Result<u64, NhsaError> {
        match data.text(field)? {
            None => Ok(default),
            Some(text) => {
                text.parse::<u64>().map_err(|_| NhsaError::new(format!("input.data.{field}应为正整数：{text}")))
            }
        }
    };
    let page = number("page_num", 1)?.max(1);
    let size = number("page_size", 100)?;
    if size == 0 || size > PAGE_SIZE_MAX {
        return Err(NhsaError::new(format!("input.data.page_size应为1至{PAGE_SIZE_MAX}")));
    }
    Ok((page, size))
}

fn page_of(rows: Vec<Value>, page: u64, size: u64) -> Value {
    let total = rows.len() as u64;
    let pages = total.div_ceil(size).max(1);
    let start = (page - 1).saturating_mul(size).min(total) as usize;
    let data: Vec<Value> = rows.into_iter().skip(start).take(size as usize).collect();
    json!({
        "data": data.clone(),
        "list": data,
        "pageNum": page,
        "pageSize": size,
        "size": (total.saturating_sub(start as u64)).min(size),
        "recordCounts": total,
        "total": total,
        "pages": pages,
        "firstPage": page == 1,
        "lastPage": page >= pages,
    })
}

fn visible(entry: &CatalogueEntry, on: Option<Date>) -> bool {
    on.is_none_or(|day| entry.begin <= day && day <= entry.end)
}

pub async fn catalogue(call: &Call) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let (page, size) = paging(&data)?;
    let code = data.text("hilist_code")?;
    let level: Option<String> = data.text("chrgitm_lv")?;
    let list_type = data.text("list_type")?;
    let on = data.time("begndate")?.map(|t| t.date());
    let region = call.institution.admdvs.to_string();
    let catalogue = call.app.store.catalogue();
    let rows: Vec<Value> = catalogue
        .entries()
        .into_iter()
        .filter(|e| code.as_ref().is_none_or(|c| &e.code == c))
        .filter(|e| level.as_ref().is_none_or(|l| e.class.code() == l))
        .filter(|e| list_type.as_ref().is_none_or(|t| &e.list_type == t))
        .filter(|e| visible(e, on))
        .map(|e| {
            json!({
                "hilist_code": e.code,
                "hilist_name": e.name,
                "insu_admdvs": region,
                "begndate": e.begin.to_string(),
                "enddate": e.end.to_string(),
                "med_chrgitm_type": e.item_type,
                "chrgitm_lv": e.class.code(),
                "chrgitm_lv_name": e.class.name_zh(),
                "lmt_used_flag": if e.price_cap.is_some() { "1" } else { "0" },
                "pric_uplmt_amt": e.price_cap.map_or_else(|| json!(999999), price),
                "selfpay_prop": ratio(e.first_selfpay),
                "list_type": e.list_type,
                "med_use_flag": "1",
                "matn_used_flag": "0",
                "hilist_use_type": "1",
                "lmt_cpnd_type": "0",
                "vali_flag": "1",
                "rid": format!("{}-{}", e.code, e.begin),
                "updt_time": format!("{} 00:00:00", e.begin),
            })
        })
        .collect();
    call.answer(page_of(rows, page, size)).await
}

pub async fn selfpay_ratios(call: &Call) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let (page, size) = paging(&data)?;
    let code = data.text("hilist_code")?;
    let region = call.institution.admdvs.to_string();
    let catalogue = call.app.store.catalogue();
    let rows: Vec<Value> = catalogue
        .entries()
        .into_iter()
        .filter(|e| e.class == ChargeClass::ClassB)
        .filter(|e| code.as_ref().is_none_or(|c| &e.code == c))
        .map(|e| {
            json!({
                "hilist_code": e.code,
                "hilist_name": e.name,
                "selfpay_prop_psn_type": "0",
                "selfpay_prop_type": "1",
                "insu_admdvs": region,
                "selfpay_prop": ratio(e.first_selfpay),
                "begndate": e.begin.to_string(),
                "enddate": e.end.to_string(),
                "vali_flag": "1",
                "rid": format!("{}-{}", e.code, e.begin),
            })
        })
        .collect();
    call.answer(page_of(rows, page, size)).await
}

/// The dictionaries yibao answers (1901 `type`), with their entries.
fn dictionary_entries(kind: &str, call: &Call) -> Option<Vec<(String, String)>> {
    let pairs = |items: Vec<(&str, &str)>| items.into_iter().map(|(v, l)| (v.to_string(), l.to_string())).collect();
    Some(match kind {
        "insutype" => InsuranceType::ALL.iter().map(|k| (k.code().to_string(), k.name_zh().to_string())).collect(),
        "psn_type" => PersonType::ALL.iter().map(|k| (k.code().to_string(), k.name_zh().to_string())).collect(),
        "med_type" => MedType::NAMED.iter().map(|k| (k.code(), k.name_zh().to_string())).collect(),
        "mdtrt_cert_type" => CertType::ALL.iter().map(|k| (k.code().to_string(), k.name_zh().to_string())).collect(),
        "chrgitm_lv" => ChargeClass::ALL.iter().map(|k| (k.code().to_string(), k.name_zh().to_string())).collect(),
        "fund_pay_type" => FundPayType::ALL.iter().map(|k| (k.code().to_string(), k.name_zh().to_string())).collect(),
        "clr_type" => pairs(vec![("11", "门诊"), ("21", "住院"), ("41", "药店购药")]),
        "psn_setlway" => pairs(vec![("01", "按项目结算"), ("02", "按定额结算")]),
        "psn_insu_stas" => pairs(vec![("1", "正常参保"), ("2", "暂停参保"), ("4", "终止参保")]),
        "infno" => Infno::ALL.iter().map(|t| (t.code().to_string(), t.name().to_string())).collect(),
        "opsp_dise_code" | "opsp_dise" => {
            let mut diseases: Vec<(String, String)> = call
                .app
                .store
                .policies()
                .policies()
                .iter()
                .flat_map(|p| p.schemes.iter())
                .filter_map(|s| s.special_outpatient.as_ref())
                .flat_map(|rule| rule.diseases.iter().map(|d| (d.code.clone(), d.name.clone())))
                .collect();
            diseases.sort();
            diseases.dedup();
            diseases
        }
        _ => return None,
    })
}

pub async fn dictionary(call: &Call) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let kind = data.required_text("type")?;
    let entries = dictionary_entries(&kind, call).ok_or_else(|| {
        NhsaError::new(format!(
            "字典类型{kind}不存在；可查询：insutype、psn_type、med_type、mdtrt_cert_type、chrgitm_lv、fund_pay_type、clr_type、psn_setlway、psn_insu_stas、opsp_dise_code、infno"
        ))
    })?;
    let rows: Vec<Value> = entries
        .into_iter()
        .enumerate()
        .map(|(index, (value, label))| {
            json!({"type": kind, "value": value, "label": label, "sort": index + 1, "parent_value": null, "vali_flag": "1"})
        })
        .collect();
    call.answer(json!({"list": rows})).await
}
