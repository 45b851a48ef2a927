//! The pages' shared kit: the language, the login cookie of a family of pages, the frame every
//! page is drawn in, the style sheet and script, and small pieces (an error box, an amount).
//! Pages are written in `maud`'s `html!`, which escapes every value it is given: text reaches a
//! page unescaped only through `PreEscaped`, which is searched for and justified where used.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, html};
use yibao_domain::Money;

use crate::rest::ApiError;
use crate::state::AppState;

pub(crate) const LANG_COOKIE: &str = "yibao_lang";

/// The page language: the `yibao_lang` cookie, Chinese unless it says `en`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub(crate) fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    pub(crate) fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
}

/// The login cookie of a family of pages (portal, counter, agency): the REST API's session
/// token, `HttpOnly`, `SameSite=Strict` (no other site can post a form with it), scoped to the
/// family's path, whose login page is `<path>/login`.
pub(crate) struct SessionCookie {
    pub(crate) name: &'static str,
    pub(crate) path: &'static str,
}

impl SessionCookie {
    /// `Secure` when the server is reached over TLS.
    fn header(&self, token: &str, seconds: i64, secure: bool) -> String {
        let secure = if secure { "; Secure" } else { "" };
        format!("{}={token}; Path={}; HttpOnly; SameSite=Strict; Max-Age={seconds}{secure}", self.name, self.path)
    }

    /// The live session the request's cookie names, and its token.
    pub(crate) fn session(
        &self,
        headers: &HeaderMap,
        state: &AppState,
    ) -> Option<(crate::kit::sessions::Session, String)> {
        let token = cookie(headers, self.name)?;
        state.sessions.find(token, crate::kit::clock::unix_now()).map(|session| (session, token.to_string()))
    }

    /// Logged in: the cookie holds `token`, and the browser goes on to `next`.
    pub(crate) fn logged_in(&self, state: &AppState, token: &str, next: &str) -> Response {
        let cookie = self.header(token, crate::kit::sessions::SESSION_SECONDS, state.https);
        ([(header::SET_COOKIE, cookie)], Redirect::to(next)).into_response()
    }

    /// Ends the session `token` (when there is one), clears the cookie, back to the login page.
    pub(crate) fn logged_out(&self, state: &AppState, token: Option<&str>) -> Response {
        if let Some(token) = token {
            state.sessions.end(token);
        }
        let login = format!("{}/login", self.path);
        ([(header::SET_COOKIE, self.header("", 0, state.https))], Redirect::to(&login)).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Lang, Self::Rejection> {
        Ok(match cookie(&parts.headers, LANG_COOKIE) {
            Some("en") => Lang::En,
            _ => Lang::Zh,
        })
    }
}

const STYLE: &str = "
*{box-sizing:border-box}body{margin:0;font:16px/1.6 system-ui,-apple-system,'PingFang SC','Noto Sans CJK SC','Microsoft YaHei',sans-serif;color:#1a1a1a;background:#f4f6f8}
header{background:#0b5394;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;justify-content:space-between}
header a,header button{color:#fff}.brand{font-weight:700;text-decoration:none;font-size:1.1rem}
nav{display:flex;gap:.75rem;align-items:center;flex-wrap:wrap}nav form{margin:0}
main{max-width:56rem;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.5rem 0 1rem}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
.card{background:#fff;border:1px solid #d0d7de;border-radius:.5rem;padding:1rem;margin:0 0 1rem}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(10rem,1fr));gap:.75rem}
.figure b{display:block;font-size:1.35rem}.muted{color:#4a5560}
table{width:100%;border-collapse:collapse;background:#fff}th,td{text-align:left;padding:.45rem .5rem;border-bottom:1px solid #d0d7de;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.scroll{overflow-x:auto}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input,select{width:100%;max-width:24rem;font:inherit;padding:.55rem;border:1px solid #6b7580;border-radius:.35rem}
button,.button{display:inline-block;font:inherit;padding:.55rem 1.1rem;border-radius:.35rem;border:1px solid #0b5394;background:#0b5394;color:#fff;cursor:pointer;text-decoration:none;margin-top:1rem}
nav button{background:transparent;border-color:#fff;margin:0;padding:.2rem .7rem}
a{color:#0b5394}a:focus,button:focus,input:focus,select:focus{outline:3px solid #f1c232;outline-offset:2px}
.error{background:#fde8e8;border:1px solid #b42318;color:#7a1010;padding:.75rem;border-radius:.35rem}
.notice{background:#e8f1fb;border:1px solid #0b5394;padding:.75rem;border-radius:.35rem}
.qr{display:flex;justify-content:center;padding:1rem;background:#fff}.qr svg{width:min(18rem,80vw);height:auto}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
form.inline{display:inline}input.check{width:auto}svg.chart{width:100%;height:auto}
ul.items{list-style:none;padding:0;margin:0}ul.items li{border-top:1px solid #d0d7de;padding:.5rem 0}
.swatch-employee{color:#0b5394}.swatch-resident{color:#e69138}
code{overflow-wrap:anywhere}td.nowrap{white-space:nowrap}
fieldset{border:1px solid #d0d7de;border-radius:.35rem;margin:.5rem 0;padding:.25rem .75rem .5rem}label.inline{display:inline;font-weight:400}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;color:#000;padding:.5rem}
";

/// The pages' style sheet, served as `/assets/app.css` (no inline style: the pages' content
/// security policy allows style and script from this server only).
pub(crate) const STYLESHEET: &str = STYLE;

/// The pages' script, served as `/assets/app.js`: asks before a form marked `data-confirm` is
/// sent, prints from a button marked `data-print`, reloads a page holding `data-refresh`
/// (seconds). No page needs it to work.
pub(crate) const SCRIPT: &str = "document.addEventListener('submit',function(e){var m=e.target.getAttribute('data-confirm');if(m&&!window.confirm(m)){e.preventDefault()}});\n\
document.addEventListener('click',function(e){var b=e.target.closest&&e.target.closest('[data-print]');if(b){window.print()}});\n\
(function(){var r=document.querySelector('[data-refresh]');if(r){setTimeout(function(){location.reload()},1000*parseInt(r.getAttribute('data-refresh'),10))}})();\n";

/// The link to the other language (the switch returns to the page it was on).
pub(crate) fn language_switch(lang: Lang) -> Markup {
    match lang {
        Lang::Zh => html! { a href="/portal/lang/en" lang="en" { "English" } },
        Lang::En => html! { a href="/portal/lang/zh" lang="zh-CN" { "中文" } },
    }
}

/// The frame every page shares: the brand (link and name), the navigation, the title, `body`.
pub(crate) fn shell(lang: Lang, title: &str, brand: (&str, &str), nav: Markup, body: Markup) -> Response {
    let page = html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (brand.1) }
                link rel="stylesheet" href="/assets/app.css";
                script src="/assets/app.js" defer {}
            }
            body {
                a.skip href="#main" { (lang.t("跳到正文", "Skip to content")) }
                header {
                    a.brand href=(brand.0) { (brand.1) }
                    nav aria-label=(lang.t("导航", "Navigation")) { (nav) }
                }
                main #main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], page.into_string())
        .into_response()
}

/// An error for the person at the page, in their language.
pub(crate) fn error_box(lang: Lang, error: &ApiError) -> Markup {
    html! { p.error role="alert" { (lang.t(&error.message_zh, &error.message)) } }
}

/// Text as a URL query value: every byte but the unreserved ones percent-encoded.
pub(crate) fn query_value(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(byte).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// An amount in yuan: `¥12.34`, `-¥12.34`.
pub(crate) fn yuan(amount: Money) -> String {
    match amount.is_negative() {
        true => format!("-¥{}", -amount),
        false => format!("¥{amount}"),
    }
}

/// A movement in yuan, its sign always shown: `+¥12.34`, `-¥12.34`.
pub(crate) fn signed_yuan(amount: Money) -> String {
    match amount.is_positive() {
        true => format!("+¥{amount}"),
        false => yuan(amount),
    }
}
