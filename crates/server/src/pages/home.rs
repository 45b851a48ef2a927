//! The landing page at `/`: what yibao is, the desks (the insured person's portal, the counter
//! of a designated institution, the agency), the interfaces for developers, and — when the
//! database holds the demo — the demo's logins, so a newcomer starts from one page.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};

use super::html::{Lang, language_switch, shell};
use crate::state::AppState;

pub fn router() -> axum::Router<Arc<AppState>> {
    axum::Router::new().route("/", axum::routing::get(home))
}

/// Text in Chinese and English.
type Bilingual = (&'static str, &'static str);

/// The desks: path, name, what is done there.
const DESKS: [(&str, Bilingual, Bilingual); 3] = [
    (
        "/portal",
        ("参保人服务", "Insured persons"),
        (
            "余额与账户明细、结算说明、医保卡与电子凭证二维码、消息",
            "balance and account statement, settlements explained, the card and the e-voucher QR code, messages",
        ),
    ),
    (
        "/counter",
        ("定点医药机构收费台", "Hospital and pharmacy counter"),
        (
            "识别参保人、录入费用、预结算与结算、打印收据、撤销",
            "identify the patient, bill, pre-settle and settle, print the receipt, cancel",
        ),
    ),
    (
        "/agency",
        ("医保经办", "Insurance agency"),
        (
            "参保登记查询、制卡申请、清算、审计，及各项经办业务",
            "registry search, card applications, clearing, audit, and the back office",
        ),
    ),
];

async fn home(State(state): State<Arc<AppState>>, lang: Lang) -> Response {
    // `demo`, or `demo-<region>` for one deployment of two (its region's persons only).
    let dataset = state.store.read(|r| r.meta("dataset")).await.ok().flatten();
    let demo: Option<Option<String>> = dataset.as_deref().and_then(|dataset| match dataset.strip_prefix("demo") {
        Some("") => Some(None),
        Some(region) => region.strip_prefix('-').map(|region| Some(region.to_string())),
        None => None,
    });
    let body = html! {
        p {
            (lang.t(
                "yibao 是一座城市的基本医疗保险平台：参保人与单位、医保卡与电子凭证、个人账户、统筹基金，以及定点医院和药店每一笔费用的实时结算，通过全国统一的医保接口接入。",
                "yibao runs a city's public medical insurance: insured persons and employers, the card and its QR e-voucher, personal accounts, the pooled fund, and real-time settlement of every bill at designated hospitals and pharmacies, through the national interface every hospital system already speaks.",
            ))
        }
        h2 { (lang.t("服务台", "Desks")) }
        ul.desks {
            @for (path, name, what) in DESKS {
                li {
                    a href=(path) { strong { (lang.t(name.0, name.1)) } }
                    " — " (lang.t(what.0, what.1))
                }
            }
        }
        h2 { (lang.t("接口", "For developers")) }
        ul {
            li { (lang.t("国家医保接口（HIS 接入）：", "The national interface (for HIS): ")) code { "POST /fsi/api/rsfComIfsService/callService" } }
            li { (lang.t("REST 接口：", "The REST API: ")) a href="/api/v1/openapi.json" { "OpenAPI (/api/v1/openapi.json)" } }
            li { (lang.t("运行状态：", "Health and metrics: ")) a href="/healthz" { "/healthz" } " · " a href="/metrics" { "/metrics" } }
            li { (lang.t("文档：", "Documentation: ")) a href="https://github.com/yibao-org/yibao" { "README, ARCHITECTURE, docs/nhsa.md" } }
        }
        @if let Some(region) = &demo {
            (demo_logins(lang, region.as_deref()))
        }
    };
    let nav = html! {
        @for (path, name, _) in DESKS {
            a href=(path) { (lang.t(name.0, name.1)) }
        }
        (language_switch(lang))
    };
    shell(lang, lang.t("yibao 医保", "yibao medical insurance"), ("/", "yibao"), nav, body)
}

fn demo_logins(lang: Lang, region: Option<&str>) -> Markup {
    let ours = |admdvs: &str| region.is_none_or(|region| region == admdvs);
    use yibao_engine::demo;
    html! {
        h2 { (lang.t("演示账号", "Demo logins")) }
        p {
            (lang.t("这是演示数据库。参保人门户密码 ", "This is the demo database. Portal password "))
            code { (demo::PASSWORD) }
            (lang.t("，医保卡密码 ", ", card PIN "))
            code { (demo::CARD_PIN) }
            (lang.t("；经办人员 ", "; operators "))
            code { (demo::OPERATOR) } " / " code { (demo::REVIEWER) }
            (lang.t("（密码相同）。", " (same password)."))
        }
        div.scroll {
            table {
                caption.muted { (lang.t("参保人", "Insured persons")) }
                thead {
                    tr {
                        th scope="col" { (lang.t("姓名", "Name")) }
                        th scope="col" { (lang.t("身份证号", "ID number")) }
                        th scope="col" { (lang.t("医保卡", "Card")) }
                    }
                }
                tbody {
                    @for person in demo::PERSONS.iter().filter(|person| ours(person.admdvs)) {
                        tr {
                            td { (person.name) br; span.muted { (person.person_type.name_zh()) } }
                            td.nowrap { code { (person.id_number) } }
                            td.nowrap { code { (person.card_no) } }
                        }
                    }
                }
            }
        }
        div.scroll {
            table {
                caption.muted { (lang.t("定点医药机构（收费台登录：机构编码 / demo-机构编码）", "Institutions (counter login: code / demo-code)")) }
                thead {
                    tr {
                        th scope="col" { (lang.t("名称", "Name")) }
                        th scope="col" { (lang.t("机构编码 / 密钥", "Code / secret")) }
                    }
                }
                tbody {
                    @for (code, name, _, _, admdvs) in demo::INSTITUTIONS {
                        @if ours(admdvs) {
                        tr {
                            td { (name) }
                            td.nowrap { code { (code) } br; code { (demo::gateway_secret(code)) } }
                        }
                        }
                    }
                }
            }
        }
    }
}
