//! The OpenAPI 3.0 document of the REST API (and a description of the national interface's
//! single endpoint), served at `/api/v1/openapi.json`. Written by hand next to the routes it
//! describes; the API tests check that every route is in it.

use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

fn schema(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn error_responses(codes: &[&str]) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    for code in codes {
        let description = match *code {
            "400" => "The request is malformed; `error.message` names the field.",
            "401" => "Not logged in, a bad token, or a bad `x-tif-*` signature.",
            "403" => "The caller's role may not do this.",
            "404" => "Not found.",
            "409" => "Conflicts with what exists.",
            "422" => "A business rule refuses it.",
            "429" => {
                "Too many attempts from this address (logins, passwords), or too many personal records read by this institution this minute: try again later."
            }
            _ => "The store is unavailable; nothing was changed.",
        };
        map.insert(
            (*code).into(),
            json!({"description": description, "content": {"application/json": {"schema": schema("Error")}}}),
        );
    }
    map
}

fn operation(summary: &str, ok_code: &str, ok_schema: Value, errors: &[&str], extra: Value) -> Value {
    let mut responses = error_responses(errors);
    responses.insert(
        ok_code.into(),
        json!({"description": "Success.", "content": {"application/json": {"schema": ok_schema}}}),
    );
    let mut op = json!({"summary": summary, "responses": responses});
    if let Value::Object(extra) = extra {
        for (key, value) in extra {
            op[key] = value;
        }
    }
    op
}

/// Documents the other content types an operation's success answers in when `format=` asks
/// (CSV, PDF).
fn also(mut op: Value, types: &[&str]) -> Value {
    if let Some(content) = op["responses"]["200"]["content"].as_object_mut() {
        for kind in types {
            content.insert((*kind).to_string(), json!({"schema": {"type": "string"}}));
        }
    }
    op
}

fn body(name: &str) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": schema(name)}}})
}

fn path_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string"}})
}

fn query_param(name: &str, kind: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": kind}})
}

fn idempotency() -> Value {
    json!({"name": "Idempotency-Key", "in": "header", "required": false, "description": "required for writes: 1 to 64 letters, digits, '-' or '_'; a retry with the same key and body returns the stored response",
           "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}})
}

fn list_of(field: &str, item: &str) -> Value {
    json!({"type": "object", "required": [field], "properties": {field: {"type": "array", "items": schema(item)}}})
}

const AMOUNT: &str = "^-?[0-9]+\\.[0-9]{2}$";

fn amount() -> Value {
    json!({"type": "string", "pattern": AMOUNT, "description": "yuan, exactly two decimals"})
}

fn nullable_amount() -> Value {
    json!({"type": "string", "pattern": AMOUNT, "nullable": true})
}

fn text() -> Value {
    json!({"type": "string"})
}

fn nullable_text() -> Value {
    json!({"type": "string", "nullable": true})
}

/// The document.
pub fn spec() -> Value {
    let mut doc = base();
    card_paths(&mut doc);
    clearing_paths(&mut doc);
    back_office_paths(&mut doc);
    common_errors(&mut doc);
    doc
}

/// The errors any operation can answer, added where an operation does not name them: 400 (a
/// malformed query, path or body) and 503 always, 401 and 403 when it needs a caller, 404 when
/// its path names something.
fn common_errors(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else { return };
    for (path, item) in paths.iter_mut() {
        let names_something = path.contains('{');
        let Some(operations) = item.as_object_mut() else { continue };
        for operation in operations.values_mut() {
            let secured = operation["security"].as_array().is_some_and(|schemes| !schemes.is_empty());
            let mut codes = vec!["400", "503"];
            if secured {
                codes.extend(["401", "403"]);
            }
            if names_something {
                codes.push("404");
            }
            let Some(responses) = operation["responses"].as_object_mut() else { continue };
            for (code, response) in error_responses(&codes) {
                responses.entry(code).or_insert(response);
            }
        }
    }
}

/// The agency's back office (R3): life events.
fn back_office_paths(doc: &mut Value) {
    let secured = json!([{"bearer": []}]);
    let kinds = [
        "employer-change",
        "base-change",
        "retirement",
        "suspension",
        "resumption",
        "death",
        "emigration",
        "transfer-out",
    ];
    let state = json!({"type": "object", "properties": {"psn_type": text(), "employer": nullable_text(), "contribution_base": nullable_amount(), "status": {"type": "string", "description": "psn_insu_stas: 1 insured, 2 suspended, 4 terminated"}}});
    let event = json!({"type": "object", "properties": {
        "psn_no": text(), "seq": {"type": "integer"}, "kind": {"type": "string", "enum": kinds}, "kind_zh": text(),
        "effective": text(), "recorded_at": text(), "actor": text(), "reason": text(),
        "before": state.clone(), "after": state, "region": nullable_text()}});
    let event_body = json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["kind", "effective", "reason"], "additionalProperties": false, "properties": {
        "kind": {"type": "string", "enum": kinds},
        "effective": {"type": "string", "format": "date", "description": "the day it took effect: today or earlier, not before the person's previous event"},
        "reason": {"type": "string", "minLength": 1, "maxLength": 200},
        "employer": {"type": "string", "description": "employer-change: the new employer (same region)"},
        "base": {"type": "string", "description": "base-change: the new monthly contribution base, yuan"},
        "region": {"type": "string", "description": "transfer-out: the region the person moves to"}}}}}});
    let payout = json!({"type": "object", "properties": {
        "id": text(), "psn_no": text(), "kind": {"type": "string", "enum": ["inheritance", "emigration", "transfer-out", "premium"]}, "kind_zh": text(),
        "amount": amount(), "payee": {"type": "object", "properties": {"name": text(), "bank": text(), "account": text(), "reference": nullable_text()}},
        "reason": text(), "proposed_by": text(), "proposed_at": text(), "state": {"type": "string", "enum": ["proposed", "approved", "rejected"]},
        "reviewed_by": nullable_text(), "reviewed_at": nullable_text(), "review_reason": nullable_text()}});
    let proposal = json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["kind", "payee", "reason"], "additionalProperties": false, "properties": {
        "kind": {"type": "string", "enum": ["inheritance", "emigration", "transfer-out", "premium"], "description": "inheritance, emigration and transfer-out pay the whole balance after the person's death, emigration or transfer out is recorded; premium pays the person's own commercial or accident insurance"},
        "amount": {"type": "string", "description": "premium only: yuan, at most the balance"},
        "payee": {"type": "object", "required": ["name", "bank", "account"], "additionalProperties": false, "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 40}, "bank": {"type": "string", "minLength": 1, "maxLength": 60},
            "account": {"type": "string", "pattern": "^[0-9A-Za-z]{6,34}$"}, "reference": {"type": "string", "maxLength": 60, "description": "premium: the insurer's policy number"}}},
        "reason": {"type": "string", "minLength": 1, "maxLength": 200}}}}}});
    let review_body = json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["decision", "reason"], "additionalProperties": false, "properties": {
        "decision": {"type": "string", "enum": ["approve", "reject"]}, "reason": {"type": "string", "minLength": 1, "maxLength": 200}}}}}});
    let amounts = json!({"type": "object", "properties": {"medfee": amount(), "fully_selfpaid": amount(), "over_limit": amount(), "first_selfpay": amount(),
        "in_scope": amount(), "deductible": amount(), "deductible_standard": amount(), "fund": amount(), "subsidy": amount(), "account_current_year": amount(),
        "account_prior_years": amount(), "account": amount(), "cash": amount()}});
    let reimbursement = json!({"type": "object", "properties": {
        "id": text(), "psn_no": text(),
        "institution": {"type": "object", "properties": {"code": nullable_text(), "name": text(), "level": nullable_text(), "admdvs": text()}},
        "med_type": text(), "begin": text(), "end": text(), "cause": text(), "cause_zh": text(),
        "lines": {"type": "array", "items": {"type": "object", "properties": {"code": text(), "name": text(), "price": text(), "quantity": text(), "amount": amount()}}},
        "use_account": {"type": "boolean"}, "amounts": amounts, "explanation": {"type": "array", "items": {"type": "object"}}, "paid": amount(),
        "payee": {"type": "object", "properties": {"name": text(), "bank": text(), "account": text()}}, "note": text(),
        "submitted_by": text(), "submitted_at": text(), "state": {"type": "string", "enum": ["submitted", "documents-requested", "approved", "rejected"]},
        "reviewed_by": nullable_text(), "reviewed_at": nullable_text(), "review_reason": nullable_text()}});
    let submission = json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false,
        "required": ["psn_no", "institution", "med_type", "begin", "end", "cause", "lines", "payee", "note"], "properties": {
        "psn_no": text(),
        "institution": {"type": "object", "additionalProperties": false, "description": "{code} of a designated institution, or {name, level, admdvs} of another (level absent for a pharmacy)", "properties": {
            "code": text(), "name": text(), "level": {"type": "string", "enum": ["tertiary", "secondary", "primary", "community"]}, "admdvs": text()}},
        "med_type": {"type": "string", "description": "11 general outpatient, 13 emergency, 21 inpatient, 41 pharmacy…"},
        "begin": {"type": "string", "format": "date"}, "end": {"type": "string", "format": "date", "description": "not after today, at most 366 days after begin"},
        "cause": {"type": "string", "enum": ["emergency", "out-of-region-unregistered", "card-not-issued", "settlement-failed"]},
        "lines": {"type": "array", "minItems": 1, "maxItems": 500, "items": {"type": "object", "additionalProperties": false, "required": ["code", "price", "quantity", "amount"],
            "properties": {"code": {"type": "string", "description": "the catalogue code (med_list_codg); unknown codes are self-funded"}, "price": text(), "quantity": text(), "amount": text()}}},
        "use_account": {"type": "boolean", "description": "let the personal account pay the person's part, as acct_used_flag=1 (default false)"},
        "payee": {"type": "object", "additionalProperties": false, "required": ["name", "bank", "account"], "properties": {"name": text(), "bank": text(), "account": {"type": "string", "pattern": "^[0-9A-Za-z]{6,34}$"}}},
        "note": {"type": "string", "minLength": 1, "maxLength": 200}}}}}});
    let reimbursement_review = json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["decision", "reason"], "additionalProperties": false, "properties": {
        "decision": {"type": "string", "enum": ["approve", "reject", "request-documents"]}, "reason": {"type": "string", "minLength": 1, "maxLength": 200}}}}}});
    let resubmission = json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["note"], "additionalProperties": false, "properties": {
        "note": {"type": "string", "minLength": 1, "maxLength": 200}}}}}});
    let bill_id = path_param("id", "the reimbursement's id, RB…");
    let disease = json!({"type": "object", "properties": {"serial": text(), "code": text(), "name": text(), "institution": text(), "begin": text(), "end": text(), "revoked": {"type": "boolean"}}});
    let elsewhere = json!({"type": "object", "properties": {"serial": text(), "region": text(), "type": text(), "type_zh": text(), "begin": text(), "end": text(),
        "registered_by": text(), "registered_at": text(), "revoked": {"type": "boolean"}}});
    let registration_body = json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["kind", "begin", "reason"], "additionalProperties": false, "properties": {
        "kind": {"type": "string", "enum": ["special-disease", "elsewhere"]},
        "code": {"type": "string", "description": "special-disease: a disease of the policy's list (e.g. M07800 肾透析)"},
        "institution": {"type": "string", "description": "special-disease: the designated institution the person chose for it"},
        "region": {"type": "string", "description": "elsewhere: the treating region"},
        "type": {"type": "string", "enum": ["resettled", "long-term-residence", "referral"], "description": "elsewhere: why"},
        "begin": {"type": "string", "format": "date"}, "end": {"type": "string", "format": "date", "description": "special-disease: open-ended when absent; elsewhere: required, at most 5 years on"},
        "reason": {"type": "string", "minLength": 1, "maxLength": 200}}}}}});
    let revoke_body = json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["reason"], "additionalProperties": false, "properties": {
        "reason": {"type": "string", "minLength": 1, "maxLength": 200}}}}}});
    let dispute = json!({"type": "object", "properties": {"id": text(), "psn_no": text(), "transfer": text(), "amount": amount(), "reason": text(),
        "raised_by": text(), "raised_at": text(), "state": {"type": "string", "enum": ["open", "reversed", "rejected"]},
        "resolved_by": nullable_text(), "resolved_at": nullable_text(), "resolution": nullable_text(), "reversal": nullable_text()}});
    let raise_body = json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["transfer", "reason"], "additionalProperties": false, "properties": {
        "transfer": {"type": "string", "description": "the statement entry's transfer, e.g. setl/3301000000000001"}, "reason": {"type": "string", "minLength": 1, "maxLength": 200}}}}}});
    let resolve_body = json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["decision", "reason"], "additionalProperties": false, "properties": {
        "decision": {"type": "string", "enum": ["reverse", "reject"]}, "reason": {"type": "string", "minLength": 1, "maxLength": 200}}}}}});
    let notification = json!({"type": "object", "properties": {"id": text(), "kind": {"type": "string", "enum": ["settlement", "settlement-cancelled", "credit", "payout", "reimbursement", "low-balance", "card-lost", "card-ready", "registration-expiring"]},
        "at": text(), "text": text(), "text_en": text(), "read_at": nullable_text()}});
    let read_body = json!({"required": false, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {
        "ids": {"type": "array", "maxItems": 500, "items": {"type": "string", "minLength": 1, "maxLength": 120}, "description": "the notifications read; all (the newest 500) when absent"}}}}}});
    let paths = json!({
        "/api/v1/persons/{psn_no}/notifications": {"get": operation("A person's notifications, newest first, each written in the same commit as its cause (settlement or its cancellation, monthly credit, payout, reimbursement, low balance, card lost or ready): the person or an operator (operator reads audited).", "200",
            json!({"type": "object", "properties": {"psn_no": text(), "unread": {"type": "integer"}, "notifications": {"type": "array", "items": notification}}}), &["400", "401", "403", "404", "503"],
            json!({"security": secured.clone(), "parameters": [path_param("psn_no", "the person number"), query_param("unread", "boolean", "only unread ones"), query_param("limit", "integer", "1 to 500, default 50")]}))},
        "/api/v1/persons/{psn_no}/notifications/read": {"post": operation("Mark notifications read (the person only, their own; another's or an unknown id is 404).", "200",
            json!({"type": "object", "properties": {"marked": {"type": "integer"}}}), &["400", "401", "403", "404", "503"],
            json!({"security": secured.clone(), "parameters": [path_param("psn_no", "the person number")], "requestBody": read_body}))},
        "/api/v1/persons/{psn_no}/transfer-certificate": {"get": also(operation("The transfer certificate of a person whose insurance moved out (关系转移接续): regions, dates, the months (and resident years) of contributions paid here, the account balance moved (the transfer-out payout). JSON (format yibao-transfer-certificate/1) for the receiving region, or a PDF. The person or an operator (audited); 422 without a transfer out.", "200",
            json!({"type": "object", "properties": {"format": text(), "certificate_no": text(), "person": {"type": "object"}, "from_region": {"type": "object"}, "to_region": {"type": "object"},
                "insured_since": text(), "transferred_on": text(), "contribution_months": {"type": "integer"}, "contribution_years_and_months": {"type": "array", "items": {"type": "integer"}},
                "months_paid": {"type": "array", "items": text()}, "resident_years_paid": {"type": "array", "items": text()}, "account": {"type": "object"}, "issued_at": text()}}),
            &["400", "401", "403", "404", "422", "503"],
            json!({"security": secured.clone(), "parameters": [path_param("psn_no", "the person number"), query_param("format", "string", "json (default) or pdf")]})), &["application/pdf"])},
        "/api/v1/persons/{psn_no}/disputes": {
            "get": operation("A person's disputes (the person or an operator; operator reads audited).", "200",
                json!({"type": "object", "properties": {"psn_no": text(), "disputes": {"type": "array", "items": dispute.clone()}}}), &["400", "401", "403", "404", "503"],
                json!({"security": secured.clone(), "parameters": [path_param("psn_no", "the person number")]})),
            "post": operation("Dispute an entry of the account statement (the holder, or an operator for them): the entry's transfer and why. At most 10 open at once; the same entry again answers the open dispute.", "201",
                dispute.clone(), &["400", "401", "403", "404", "422", "503"], json!({"security": secured.clone(), "parameters": [path_param("psn_no", "the person number")], "requestBody": raise_body}))},
        "/api/v1/disputes": {"get": operation("Disputes in a state, oldest first (operator): open is the queue.", "200",
            json!({"type": "object", "properties": {"state": text(), "disputes": {"type": "array", "items": dispute.clone()}}}), &["400", "401", "403", "503"],
            json!({"security": secured.clone(), "parameters": [query_param("state", "string", "open (default), reversed or rejected"), query_param("limit", "integer", "1 to 500, default 100")]}))},
        "/api/v1/disputes/{id}/resolve": {"post": operation("Resolve a dispute (operator): reverse (upheld: the settlement is cancelled through its normal path, a negated mirror restoring the money and the accumulators; other entries are corrected through their own paths, 422) or reject with the reason.", "200",
            dispute, &["400", "401", "403", "404", "409", "422", "503"], json!({"security": secured.clone(), "parameters": [path_param("id", "the dispute's id, DS…")], "requestBody": resolve_body}))},
        "/api/v1/persons/{psn_no}/registrations": {
            "get": operation("A person's registrations, revoked ones too: special outpatient diseases (from hospitals over 2503 or at the agency) and treatment in another region (the person or an operator; operator reads audited). 1101 answers those in force as dclainfo.", "200",
                json!({"type": "object", "properties": {"psn_no": text(), "special_diseases": {"type": "array", "items": disease.clone()}, "elsewhere": {"type": "array", "items": elsewhere.clone()}}}),
                &["400", "401", "403", "404", "503"], json!({"security": secured.clone(), "parameters": [path_param("psn_no", "the person number")]})),
            "post": operation("Register a person at the agency (operator, audited with the reason): a special outpatient disease at a chosen designated institution, or treatment in another region (异地就医备案) with the treating region and validity. An overlapping registration is 409.", "201",
                json!({"oneOf": [disease.clone(), elsewhere.clone()]}), &["400", "401", "403", "404", "409", "422", "503"],
                json!({"security": secured.clone(), "parameters": [path_param("psn_no", "the person number")], "requestBody": registration_body}))},
        "/api/v1/bank-payments/due": {"get": also(operation("What a custody bank is to pay (operator): approved payouts and reimbursements whose payable is at that bank and that it has not paid yet, oldest approval first, at most 500; `format=csv` is the payment file the bank takes. The read is audited.", "200",
            json!({"type": "object", "properties": {"bank": text(), "count": {"type": "integer"}, "total": amount(), "lines": {"type": "array", "items": {"type": "object", "properties": {
                "id": text(), "kind": {"type": "string", "enum": ["payout", "reimbursement"]}, "psn_no": text(), "amount": amount(), "payee": {"type": "object"}, "approved_at": text()}}}}}),
            &["400", "401", "403", "503"],
            json!({"security": secured.clone(), "parameters": [{"name": "bank", "in": "query", "required": true, "description": "the custody bank's code, e.g. BOC", "schema": {"type": "string"}}, query_param("format", "string", "json (default) or csv")]})), &["text/csv"])},
        "/api/v1/bank-payments": {"post": operation("The lines of the payment file the bank executed (an operator with the reviewer role; others 403): each recorded once, emptying the bank's payable (the account's part out of its custody, the funds' part out of the region's fund bank). A line for an unknown (404) or unapproved id, another bank's, with another amount, dated before its approval, or twice in the file refuses the whole answer (422 or 400) and nothing is stored; lines already recorded are listed as already (409 when recorded with another amount or reference).", "200",
            json!({"type": "object", "properties": {"paid": {"type": "array", "items": {"type": "object"}}, "already": {"type": "array", "items": text()}, "amount": amount()}}),
            &["400", "401", "403", "404", "409", "422", "503"],
            json!({"security": secured.clone(), "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["bank", "paid_on", "lines"], "additionalProperties": false, "properties": {
                "bank": text(), "paid_on": {"type": "string", "format": "date"},
                "lines": {"type": "array", "minItems": 1, "maxItems": 500, "items": {"type": "object", "required": ["id", "amount", "bank_ref"], "additionalProperties": false, "properties": {
                    "id": text(), "amount": {"type": "string", "pattern": "^[0-9]{1,12}(\\.[0-9]{1,2})?$"}, "bank_ref": {"type": "string", "minLength": 1, "maxLength": 60}}}}}}}}}}))},
        "/api/v1/reminders": {"post": operation("Run the daily reminders now (operator; serve runs them after each midnight, `yibao remind` from the command line): every registration in force (special disease, treatment elsewhere) ending within 30 days of `on` (default today; a missed day of the last month may be run again, never a day ahead) and not yet ended gets a notification to its person, once per registration and end date. Answers how many were written: 0 when run again.", "200",
            json!({"type": "object", "properties": {"on": text(), "until": text(), "sent": {"type": "integer"}}}), &["400", "401", "403", "503"],
            json!({"security": secured.clone(), "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {"on": {"type": "string", "format": "date"}}}}}}}))},
        "/api/v1/persons/{psn_no}/registrations/{serial}/revoke": {"post": operation("Revoke a registration (operator; the agency revokes any, whoever made it). Revoking again answers the revoked registration or 409.", "200",
            json!({"oneOf": [disease, elsewhere]}), &["400", "401", "403", "404", "409", "503"],
            json!({"security": secured.clone(), "parameters": [path_param("psn_no", "the person number"), path_param("serial", "the registration's serial")], "requestBody": revoke_body}))},
        "/api/v1/reimbursements": {
            "post": operation("Submit a bill paid in cash for reimbursement (operator, 零星报销): priced by the same code as a real-time settlement of it (the catalogue's split, the policy in force on its last day, the person's year so far), with the explanation. Refused (409) when a real-time settlement at the same institution or another claim already pays the same bill. Nothing is paid until a reviewer approves.", "201",
                reimbursement.clone(), &["400", "401", "403", "404", "409", "422", "503"], json!({"security": secured.clone(), "requestBody": submission})),
            "get": operation("Reimbursements in a state, oldest first (operator): submitted is the review queue.", "200",
                json!({"type": "object", "properties": {"state": text(), "reimbursements": {"type": "array", "items": reimbursement.clone()}}}), &["400", "401", "403", "503"],
                json!({"security": secured.clone(), "parameters": [query_param("state", "string", "submitted (default), documents-requested, approved or rejected"), query_param("limit", "integer", "1 to 500, default 100")]}))},
        "/api/v1/reimbursements/{id}": {"get": operation("One reimbursement (an operator, or the person it pays).", "200", reimbursement.clone(), &["400", "401", "403", "404", "503"],
            json!({"security": secured.clone(), "parameters": [bill_id.clone()]}))},
        "/api/v1/reimbursements/{id}/review": {"post": operation("Review a submitted bill (an operator with the reviewer role, never its submitter): approve (priced again as of now, then one transfer from the pooled fund and, when asked, the personal account to the custody bank's payable, and the year's accumulators moved as a settlement moves them), reject, or ask for documents. The same decision again answers the stored one; approval pays once.", "200",
            reimbursement.clone(), &["400", "401", "403", "404", "409", "422", "503"], json!({"security": secured.clone(), "parameters": [bill_id.clone()], "requestBody": reimbursement_review}))},
        "/api/v1/reimbursements/{id}/resubmit": {"post": operation("Send a bill back for review once the documents asked for are in (operator).", "200",
            reimbursement.clone(), &["400", "401", "403", "404", "409", "503"], json!({"security": secured.clone(), "parameters": [bill_id], "requestBody": resubmission}))},
        "/api/v1/persons/{psn_no}/reimbursements": {"get": operation("A person's reimbursements (the person or an operator; operator reads audited).", "200",
            json!({"type": "object", "properties": {"psn_no": text(), "reimbursements": {"type": "array", "items": reimbursement}}}), &["400", "401", "403", "404", "503"],
            json!({"security": secured.clone(), "parameters": [path_param("psn_no", "the person number")]}))},
        "/api/v1/persons/{psn_no}/payouts": {
            "get": operation("A person's payouts, oldest first (the person or an operator; operator reads audited).", "200",
                json!({"type": "object", "properties": {"psn_no": text(), "payouts": {"type": "array", "items": payout.clone()}}}),
                &["400", "401", "403", "404", "503"], json!({"security": secured.clone(), "parameters": [path_param("psn_no", "the person number")]})),
            "post": operation("Propose a payout out of the personal account (operator). Nothing moves until an operator with the reviewer role who did not propose it approves. One proposal at a time per person.", "201",
                payout.clone(), &["400", "401", "403", "404", "409", "422", "503"], json!({"security": secured.clone(), "parameters": [path_param("psn_no", "the person number")], "requestBody": proposal}))},
        "/api/v1/payouts": {"get": also(operation("Payouts in a state, oldest first (operator): proposed is the review queue, approved ones as CSV (format=csv); what the bank still has to pay, payouts and reimbursements together, is /api/v1/bank-payments/due.", "200",
            json!({"type": "object", "properties": {"state": text(), "payouts": {"type": "array", "items": payout.clone()}}}), &["400", "401", "403", "503"],
            json!({"security": secured.clone(), "parameters": [query_param("state", "string", "proposed (default), approved or rejected"), query_param("format", "string", "json (default) or csv"), query_param("limit", "integer", "1 to 500, default 100")]})), &["text/csv"])},
        "/api/v1/payouts/{id}/review": {"post": operation("Approve or reject a proposed payout (an operator with the reviewer role, never the proposer: 403). Approval is one balanced transfer from the personal account to the custody bank's payable, of the whole balance at approval (inheritance, emigration, transfer-out) or the amount (premium), refused when the balance does not cover it; approving again answers the approved payout and pays nothing more.", "200",
            payout, &["400", "401", "403", "404", "409", "422", "503"], json!({"security": secured.clone(), "parameters": [path_param("id", "the payout's id, PO…")], "requestBody": review_body}))},
        "/api/v1/persons/{psn_no}/life-events": {
            "get": operation("A person's life events in order, each with the state before and after (the person or an operator; operator reads audited).", "200",
                json!({"type": "object", "properties": {"psn_no": text(), "status": text(), "psn_type": text(), "events": {"type": "array", "items": event.clone()}}}),
                &["400", "401", "403", "404", "503"], json!({"security": secured.clone(), "parameters": [path_param("psn_no", "the person number")]})),
            "post": operation("Record a life event (operator): employer or base change, retirement (priced as a retiree from the effective date, credited as one from the next month), suspension and resumption, death, emigration, transfer out. The person changes at once; suspended and terminated persons are refused by settlement, 1101 shows the status and 2001 the reason. The same event again answers the stored one.", "201",
                event, &["400", "401", "403", "404", "422", "503"], json!({"security": secured, "parameters": [path_param("psn_no", "the person number")], "requestBody": event_body}))},
    });
    if let (Some(target), Value::Object(paths)) = (doc["paths"].as_object_mut(), paths) {
        target.extend(paths);
    }
}

/// Clearing statements and payments (R8).
fn clearing_paths(doc: &mut Value) {
    let secured = json!([{"bearer": []}]);
    let readers = json!([{"bearer": []}, {"institution": []}]);
    let period = [
        json!({"name": "from", "in": "query", "required": true, "description": "first day, YYYY-MM-DD", "schema": {"type": "string", "format": "date"}}),
        json!({"name": "to", "in": "query", "required": true, "description": "last day, YYYY-MM-DD (at most 366 days after from)", "schema": {"type": "string", "format": "date"}}),
        json!({"name": "format", "in": "query", "required": false, "description": "json (default), csv or pdf", "schema": {"type": "string", "enum": ["json", "csv", "pdf"]}}),
    ];
    let totals = json!({"type": "object", "properties": {"count": {"type": "integer"}, "medfee": amount(), "fund": amount(), "account": amount(), "cash": amount(), "owed": amount()}});
    let statement = json!({"type": "object", "properties": {
        "from": text(), "to": text(), "totals": totals, "paid": amount(), "unpaid": amount(),
        "days": {"type": "array", "items": {"type": "object", "properties": {"day": text(), "paid": {"type": "boolean"}, "count": {"type": "integer"}, "owed": amount()}}},
        "balances": {"type": "object", "additionalProperties": amount()},
        "settlements": {"type": "array", "items": {"type": "object"}}, "settlements_total": {"type": "integer"}}});
    let payment = json!({"type": "object", "properties": {"paid_days": {"type": "array", "items": {"type": "object"}}, "already_paid_days": {"type": "array", "items": text()}, "amount": amount(), "payable_balance": amount()}});
    let pay_body = |regions: bool| {
        let mut properties =
            json!({"from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"}});
        let mut required = json!(["from", "to"]);
        if regions {
            properties["insured"] = json!({"type": "string", "pattern": "^[0-9]{6}$"});
            properties["treated"] = json!({"type": "string", "pattern": "^[0-9]{6}$"});
            required = json!(["from", "to", "insured", "treated"]);
        }
        json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "required": required, "additionalProperties": false, "properties": properties}}}})
    };
    let mut inter_params = period.to_vec();
    inter_params.push(json!({"name": "insured", "in": "query", "required": true, "description": "the insured (owing) region", "schema": {"type": "string"}}));
    inter_params.push(json!({"name": "treated", "in": "query", "required": true, "description": "the treating (owed) region", "schema": {"type": "string"}}));
    let mut institution_params = vec![path_param("code", "the institution's code, e.g. H33010000001")];
    institution_params.extend(period.iter().cloned());
    let contribution_body = json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["persons"], "additionalProperties": false, "properties": {
        "employer": {"type": "string", "description": "the paying employer (in-service employees); absent when persons pay their own"},
        "month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$", "description": "employees: the month paid for"},
        "year": {"type": "integer", "minimum": 2000, "maximum": 2200, "description": "residents: the insurance year paid for"},
        "persons": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"type": "object", "required": ["psn_no"], "additionalProperties": false, "properties": {"psn_no": text(), "base": {"type": "string", "description": "the month's base, yuan; the registered one when absent"}}}}}}}}});
    let contribution_paid = json!({"type": "object", "properties": {"period": text(), "total": amount(), "already_paid": {"type": "array", "items": text()},
        "paid": {"type": "array", "items": {"type": "object", "properties": {"psn_no": text(), "base": nullable_amount(), "pooled": amount(), "employee": amount()}}},
        "arrears_credited": {"type": "array", "description": "months whose personal-account credit the allocation had withheld for want of this contribution, credited now (补缴)", "items": {"type": "object", "properties": {"psn_no": text(), "month": text(), "amount": amount()}}}}});
    let contribution_history = json!({"type": "object", "properties": {"psn_no": text(), "contributions": {"type": "array", "items": {"type": "object", "properties": {
        "period": text(), "paid_at": text(), "reference": text(), "pooled": amount(), "employee": amount(), "total": amount()}}}}});
    let paths = json!({
        "/api/v1/contributions": {"post": operation("Pay contributions (operator): an employer's monthly declaration for its in-service employees (employer part to the pooled fund, employee part recorded), a flexible employee's month or a resident's insurance year. Once per person and period; all or nothing. Paying an ended month whose credit the allocation withheld credits it at once (arrears_credited).", "200", contribution_paid, &["400", "401", "403", "404", "422", "503"],
            json!({"security": secured, "requestBody": contribution_body}))},
        "/api/v1/persons/{psn_no}/contributions": {"get": operation("A person's contributions of the last five years, this year and the next, oldest first (the person or an operator).", "200", contribution_history, &["400", "401", "403", "404", "503"],
            json!({"security": secured.clone(), "parameters": [path_param("psn_no", "the person number")]}))},
        "/api/v1/clearing/institutions/{code}": {"get": also(operation("An institution's clearing statement for a period: per-day totals (paid or not), the settlement records (cancellations as negative mirrors) and its payable balance. JSON, CSV or PDF. Operators, or the institution itself.", "200", statement.clone(), &["400", "401", "403", "404", "503"],
            json!({"security": readers.clone(), "parameters": institution_params})), &["text/csv", "application/pdf"])},
        "/api/v1/clearing/institutions/{code}/payments": {"post": operation("Pay an institution for the ended days of a period (operator): one transfer a day, once; days paid before are reported, not paid again.", "200", payment.clone(), &["400", "401", "403", "404", "422", "503"],
            json!({"security": secured, "parameters": [path_param("code", "the institution's code")], "requestBody": pay_body(false)}))},
        "/api/v1/clearing/inter-region": {"get": also(operation("What the insured region owes the treating region for its persons treated there (异地就医), for a period (operator). JSON, CSV or PDF.", "200", statement, &["400", "401", "403", "503"],
            json!({"security": secured, "parameters": inter_params})), &["text/csv", "application/pdf"])},
        "/api/v1/clearing/inter-region/payments": {"post": operation("Settle what the insured region owes the treating region for the ended days of a period (operator), once a day.", "200", payment, &["400", "401", "403", "404", "422", "503"],
            json!({"security": secured, "requestBody": pay_body(true)}))},
    });
    if let (Some(target), Value::Object(paths)) = (doc["paths"].as_object_mut(), paths) {
        target.extend(paths);
    }
}

/// The registry, personal records and settlement paths.
fn base() -> Value {
    let secured = json!([{"bearer": []}]);
    let person_read = json!([{"bearer": []}, {"institution": []}]);
    let paging = [
        query_param("page", "integer", "1-based page"),
        query_param("page_size", "integer", "rows per page, 1 to 500"),
    ];
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "yibao REST API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The registry, personal records and settlements of yibao. HIS clients use the national interface (POST /fsi/api/rsfComIfsService/callService); see docs/nhsa.md. Amounts are decimal strings in yuan. ID numbers are masked unless a privileged operator asks, with a reason, and that read is audited.",
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/api/v1/auth/login": {"post": operation("Log in as an agency operator or an insured person. Attempts are counted before the password is checked: 5 wrong ones lock the account for 15 minutes (403 locked; a source with no recent failures may still try), and a source that keeps failing is backed off (429). An unknown name is answered exactly like a wrong password.", "200", schema("Session"), &["400", "401", "403", "429", "503"],
                json!({"requestBody": body("Login"), "security": []}))},
            "/api/v1/auth/logout": {"post": {"summary": "End the caller's session.", "security": secured,
                "responses": {"204": {"description": "Ended."}, "401": {"description": "No session.", "content": {"application/json": {"schema": schema("Error")}}}}}},
            "/api/v1/me": {"get": operation("Who the caller is.", "200", schema("Me"), &["401"], json!({"security": person_read}))},
            "/api/v1/me/password": {"post": operation("Set a new password: giving the current one, or, right after logging in with the initial password (which anyone who knows the ID number can work out), proving possession with the person's card number and PIN or an activation code from the agency (403 proof_required / proof_failed).", "200",
                json!({"type": "object", "required": ["changed"], "properties": {"changed": {"type": "boolean"}, "login_again": {"type": "boolean"}}}),
                &["400", "401", "403", "404", "429", "503"], json!({"requestBody": body("PasswordChange"), "security": secured}))},
            "/api/v1/operators": {"post": operation("Create an agency operator (privileged operators).", "201",
                json!({"type": "object", "required": ["username", "roles"], "properties": {"username": text(), "roles": {"type": "array", "items": text()}}}),
                &["400", "401", "403", "409", "503"], json!({"requestBody": body("NewOperator"), "security": secured}))},
            "/api/v1/regions": {
                "get": operation("Pooling regions.", "200", list_of("regions", "Region"), &["503"], json!({"security": []})),
                "post": operation("Add a pooling region (operator).", "201", schema("Region"), &["400", "401", "403", "409", "503"], json!({"requestBody": body("NewRegion"), "security": secured})),
            },
            "/api/v1/institutions": {
                "get": operation("Designated hospitals and pharmacies (public lookup).", "200", list_of("institutions", "Institution"), &["400", "503"], json!({
                    "security": [],
                    "parameters": [query_param("admdvs", "string", "region code"), query_param("kind", "string", "hospital or pharmacy"),
                                   query_param("level", "string", "tertiary, secondary, primary, community"), query_param("evoucher", "boolean", "accepts the e-voucher")]})),
                "post": operation("Add a designated institution (operator).", "201", schema("Institution"), &["400", "401", "403", "404", "409", "503"], json!({"requestBody": body("NewInstitution"), "security": secured})),
            },
            "/api/v1/employers": {
                "get": operation("Employers (operator).", "200", list_of("employers", "Employer"), &["401", "403", "503"], json!({"security": secured})),
                "post": operation("Add an employer (operator).", "201", schema("Employer"), &["400", "401", "403", "404", "409", "503"], json!({"requestBody": body("NewEmployer"), "security": secured})),
            },
            "/api/v1/persons": {
                "get": operation("Insured persons, paged (operator); with `q`, those found by a whole ID number, a person number, a name or a card number (ID numbers masked; the search is audited).", "200", json!({"type": "object", "required": ["total", "persons"],
                    "properties": {"total": {"type": "integer"}, "page": {"type": "integer"}, "page_size": {"type": "integer"}, "persons": {"type": "array", "items": schema("Person")}}}),
                    &["400", "401", "403", "503"], json!({"security": secured, "parameters": [query_param("admdvs", "string", "region code"), query_param("q", "string", "ID number, person number, name or card number (1 to 40 characters)"), paging[0].clone(), paging[1].clone()]})),
                "post": operation("Enrol an insured person (operator); their initial portal password is ID digits 12–17, usable once.", "201", schema("Person"),
                    &["400", "401", "403", "404", "409", "503"], json!({"requestBody": body("NewPerson"), "security": secured})),
            },
            "/api/v1/persons/{psn_no}": {"get": operation("A person (ID number masked, and no birth date beside the mask, unless a privileged operator reveals it with a reason; audited). An institution reads only its patients (persons it treated or identified at 1101), at most 60 records a minute; any other number is 404.", "200", schema("Person"),
                &["400", "401", "403", "404", "429", "503"], json!({"security": person_read, "parameters": [path_param("psn_no", "person number"),
                    query_param("reveal", "boolean", "privileged operators: show the whole ID number"), query_param("reason", "string", "why (required with reveal)")]}))},
            "/api/v1/persons/{psn_no}/account": {"get": operation("The personal account's balance and parts.", "200", schema("Account"), &["400", "401", "403", "404", "429", "503"],
                json!({"security": person_read, "parameters": [path_param("psn_no", "person number")]}))},
            "/api/v1/persons/{psn_no}/account/statement": {"get": operation("The personal account's statement (its holder or an operator; audited for operators): every credit and debit of the period — monthly credits, settlements, cancellations, year-end roll-overs — in posting order, each with what it did to the current-year and prior-years parts and the running balance, from the balance before `from`; with no `to` the closing balance is the stored balance. At most 1,000 movements (`more`: narrow the period).", "200",
                json!({"type": "object", "required": ["opening_balance", "closing_balance", "entries"], "properties": {"psn_no": text(), "opening_balance": text(), "closing_balance": text(), "more": {"type": "boolean"},
                    "entries": {"type": "array", "items": {"type": "object", "properties": {"at": text(), "transfer": text(), "kind": text(), "description": text(), "description_en": text(), "reference": text(), "amount": text(), "current_year": text(), "prior_years": text(), "balance": text()}}}}}),
                &["400", "401", "403", "404", "503"], json!({"security": person_read, "parameters": [path_param("psn_no", "person number"),
                    query_param("from", "string", "first day, YYYY-MM-DD"), query_param("to", "string", "last day, YYYY-MM-DD")]}))},
            "/api/v1/persons/{psn_no}/accumulators": {"get": operation("Year-to-date accumulators.", "200", json!({"type": "object", "properties": {"psn_no": text(), "years": {"type": "array", "items": schema("Accumulators")}}}),
                &["400", "401", "403", "404", "429", "503"], json!({"security": person_read, "parameters": [path_param("psn_no", "person number")]}))},
            "/api/v1/persons/{psn_no}/settlements": {"get": operation("Settlement history (an institution sees only its own).", "200",
                json!({"type": "object", "properties": {"total": {"type": "integer"}, "settlements": {"type": "array", "items": schema("SettlementSummary")}}}),
                &["400", "401", "403", "404", "429", "503"], json!({"security": person_read, "parameters": [path_param("psn_no", "person number"), paging[0].clone(), paging[1].clone()]}))},
            "/api/v1/settlements/{setl_id}": {"get": operation("A settlement with its per-line and per-step explanation (its person, its institution, an operator; anyone else's is 404, and before logging in every id is 401).", "200", schema("SettlementDetail"),
                &["400", "401", "403", "404", "503"], json!({"security": person_read, "parameters": [path_param("setl_id", "settlement id")]}))},
            "/api/v1/visits": {"post": operation("Open an outpatient visit or admit (institution; Idempotency-Key).", "201", schema("Visit"),
                &["400", "401", "403", "404", "409", "422", "503"], json!({"requestBody": body("NewVisit"), "security": [{"institution": []}], "parameters": [idempotency()]}))},
            "/api/v1/visits/{mdtrt_id}/lines": {"post": operation("Add bill lines; each comes back split (institution; Idempotency-Key).", "201",
                json!({"type": "object", "properties": {"lines": {"type": "array", "items": {"type": "object"}}}}),
                &["400", "401", "403", "404", "409", "422", "503"], json!({"requestBody": body("NewLines"), "security": [{"institution": []}], "parameters": [path_param("mdtrt_id", "visit id"), idempotency()]}))},
            "/api/v1/visits/{mdtrt_id}/discharge": {"post": operation("Discharge an admitted patient (institution; Idempotency-Key).", "201", schema("Visit"),
                &["400", "401", "403", "404", "409", "503"], json!({"requestBody": body("Discharge"), "security": [{"institution": []}], "parameters": [path_param("mdtrt_id", "visit id"), idempotency()]}))},
            "/api/v1/visits/{mdtrt_id}/cancel": {"post": operation("Cancel a visit with no settlement in force (institution; Idempotency-Key).", "201", schema("Visit"),
                &["400", "401", "403", "404", "409", "503"], json!({"requestBody": body("PersonRef"), "security": [{"institution": []}], "parameters": [path_param("mdtrt_id", "visit id"), idempotency()]}))},
            "/api/v1/visits/{mdtrt_id}/settlement": {"post": operation("Pre-settle (dry_run) or settle a visit's unsettled lines (institution; Idempotency-Key unless dry_run).", "201", schema("SettlementDetail"),
                &["400", "401", "403", "404", "409", "422", "503"], json!({"requestBody": body("Settle"), "security": [{"institution": []}], "parameters": [path_param("mdtrt_id", "visit id"), idempotency()]}))},
            "/api/v1/settlements/{setl_id}/cancel": {"post": operation("Cancel a settlement: a negated mirror restores every balance (institution; Idempotency-Key).", "201", schema("SettlementDetail"),
                &["400", "401", "403", "404", "409", "503"], json!({"requestBody": body("PersonRef"), "security": [{"institution": []}], "parameters": [path_param("setl_id", "settlement id"), idempotency()]}))},
            "/api/v1/purchases": {"post": operation("A pharmacy purchase: lines and settlement in one (institution; Idempotency-Key unless dry_run).", "201", schema("SettlementDetail"),
                &["400", "401", "403", "404", "409", "422", "503"], json!({"requestBody": body("Purchase"), "security": [{"institution": []}], "parameters": [idempotency()]}))},
            "/api/v1/catalogue": {
                "get": operation("The insurance catalogue.", "200", list_of("entries", "CatalogueEntry"), &["400"], json!({"security": [], "parameters": [query_param("code", "string", "med_list_codg")]})),
                "post": operation("Add or replace a catalogue entry (operator).", "201", schema("CatalogueEntry"), &["400", "401", "403", "503"], json!({"requestBody": body("NewCatalogueEntry"), "security": secured})),
            },
            "/api/v1/audit": {"get": operation("The audit log, newest first (operator).", "200", list_of("entries", "AuditEntry"), &["400", "401", "403", "503"],
                json!({"security": secured, "parameters": [query_param("subject", "string", "only entries about this subject"), query_param("limit", "integer", "1 to 500")]}))},
            "/api/v1/ledger/verify": {"get": operation("Replays the journal and compares it with the stored balances (operator).", "200", schema("LedgerCheck"), &["401", "403", "503"], json!({"security": secured}))},
            "/fsi/api/rsfComIfsService/callService": {"post": {
                "summary": "The national interface (定点医药机构接口). Body: the §1.2 envelope; `infno` chooses the transaction. Business errors are HTTP 200 with infcode -1.",
                "security": [{"institution": []}],
                "requestBody": {"required": true, "content": {"text/plain": {"schema": {"type": "string"}}, "application/json": {"schema": {"type": "object"}}}},
                "responses": {"200": {"description": "infcode 0 with output, or -1 with err_msg.", "content": {"application/json": {"schema": {"type": "object", "required": ["infcode"], "properties": {"infcode": {"type": "integer"}}}}}},
                              "401": {"description": "Bad or missing x-tif-* signature.", "content": {"application/json": {"schema": {"type": "object"}}}}},
            }},
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "A token from /api/v1/auth/login."},
                "institution": {"type": "apiKey", "in": "header", "name": "x-tif-paasid", "description": "With x-tif-timestamp, x-tif-nonce and x-tif-signature = hex(SHA-256(timestamp + secret + nonce + timestamp))."},
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message", "message_zh"],
                    "properties": {"code": text(), "message": text(), "message_zh": text()}}}},
                "Login": {"type": "object", "required": ["role", "password"], "additionalProperties": false, "properties": {
                    "role": {"type": "string", "enum": ["operator", "person"]}, "username": text(), "id_number": text(), "password": text()}},
                "Session": {"type": "object", "required": ["token", "role", "subject", "expires_in", "must_change_password"], "properties": {
                    "token": text(), "role": text(), "subject": text(), "roles": {"type": "array", "items": text()}, "expires_in": {"type": "integer"}, "must_change_password": {"type": "boolean"}}},
                "Me": {"type": "object", "required": ["role", "subject"], "properties": {"role": text(), "subject": text(), "roles": {"type": "array", "items": text()}, "must_change_password": {"type": "boolean"}}},
                "PasswordChange": {"type": "object", "required": ["new_password"], "additionalProperties": false, "properties": {"password": text(), "new_password": text(),
                    "card_no": {"type": "string", "description": "with the initial password: the person's card…"}, "pin": {"type": "string", "description": "…and its PIN"},
                    "activation_code": {"type": "string", "description": "or, with the initial password, an activation code from the agency"}}},
                "NewOperator": {"type": "object", "required": ["username", "password"], "additionalProperties": false, "properties": {
                    "username": text(), "password": text(), "roles": {"type": "array", "items": {"type": "string", "enum": ["operator", "privileged"]}}}},
                "Region": {"type": "object", "required": ["admdvs", "name"], "properties": {"admdvs": text(), "name": text()}},
                "NewRegion": {"type": "object", "required": ["admdvs", "name"], "additionalProperties": false, "properties": {"admdvs": {"type": "string", "pattern": "^[0-9]{6}$"}, "name": text()}},
                "Institution": {"type": "object", "required": ["code", "name", "kind", "admdvs", "designated_from", "designated_to", "accepts_evoucher"], "properties": {
                    "code": text(), "name": text(), "kind": {"type": "string", "enum": ["hospital", "pharmacy"]}, "level": nullable_text(), "admdvs": text(),
                    "designated_from": text(), "designated_to": text(), "accepts_evoucher": {"type": "boolean"}}},
                "NewInstitution": {"type": "object", "required": ["code", "name", "kind", "admdvs", "designated_from", "gateway_secret"], "additionalProperties": false, "properties": {
                    "code": text(), "name": text(), "kind": {"type": "string", "enum": ["hospital", "pharmacy"]}, "level": {"type": "string", "enum": ["tertiary", "secondary", "primary", "community"]},
                    "admdvs": text(), "designated_from": {"type": "string", "format": "date"}, "designated_to": {"type": "string", "format": "date"},
                    "accepts_evoucher": {"type": "boolean"}, "gateway_secret": {"type": "string", "minLength": 8}}},
                "Employer": {"type": "object", "required": ["code", "name", "admdvs"], "properties": {"code": text(), "name": text(), "admdvs": text()}},
                "NewEmployer": {"type": "object", "required": ["code", "name", "admdvs"], "additionalProperties": false, "properties": {"code": text(), "name": text(), "admdvs": text()}},
                "Person": {"type": "object", "required": ["psn_no", "name", "id_number", "id_number_masked", "admdvs", "insutype", "psn_type", "status"], "properties": {
                    "psn_no": text(), "name": text(), "id_number": text(), "id_number_masked": {"type": "boolean"}, "sex": text(),
                    "birth_date": {"type": "string", "description": "only beside a revealed (whole) ID number"}, "admdvs": text(),
                    "insutype": text(), "psn_type": text(), "employer": nullable_text(), "status": text(), "insured_since": text(), "custody_bank": text(), "contribution_base": nullable_amount()}},
                "NewPerson": {"type": "object", "required": ["id_number", "name", "admdvs", "insutype", "psn_type"], "additionalProperties": false, "properties": {
                    "id_number": text(), "name": text(), "admdvs": text(), "insutype": text(), "psn_type": text(), "employer": text(), "insured_since": {"type": "string", "format": "date"},
                    "naty": text(), "custody_bank": text(), "contribution_base": {"type": "string", "pattern": "^[0-9]+(\\.[0-9]{1,2})?$"}}},
                "Account": {"type": "object", "required": ["psn_no", "has_personal_account", "balance", "current_year", "prior_years"], "properties": {
                    "psn_no": text(), "has_personal_account": {"type": "boolean"}, "balance": amount(), "current_year": amount(), "prior_years": amount()}},
                "Accumulators": {"type": "object", "properties": {"year": {"type": "integer"}, "deductible_paid": amount(), "inpatient_deductible_paid": amount(),
                    "outpatient_deductible_paid": amount(), "admissions": {"type": "integer"}, "outpatient_band_used": amount(), "fund_paid": amount(), "medfee_total": amount(), "subsidy_paid": amount()}},
                "SettlementSummary": {"type": "object", "required": ["setl_id", "mdtrt_id", "institution", "at", "medfee", "fund", "account", "cash"], "properties": {
                    "setl_id": text(), "mdtrt_id": text(), "institution": text(), "med_type": text(), "kind": text(), "at": text(), "status": {"type": "object"},
                    "medfee": amount(), "fund": amount(), "subsidy": amount(), "account": amount(), "cash": amount(), "balance_after": amount(), "policy": text()}},
                "SettlementDetail": {"allOf": [schema("SettlementSummary"), {"type": "object", "properties": {"psn_no": text(), "amounts": {"type": "object"},
                    "insured_admdvs": text(), "treated_admdvs": text(), "lines": {"type": "array", "items": {"type": "object"}},
                    "explanation": {"type": "array", "items": {"type": "object", "properties": {"rule": text(), "feedetl_sn": nullable_text(), "amount": amount(), "zh": text(), "en": text()}}}}}]},
                "CatalogueEntry": {"type": "object", "required": ["code", "name", "class", "first_selfpay", "item_type", "list_type", "begin", "end"], "properties": {
                    "code": text(), "name": text(), "class": {"type": "string", "enum": ["01", "02", "03"]}, "first_selfpay": text(), "price_cap": nullable_text(),
                    "item_type": text(), "list_type": text(), "begin": text(), "end": text()}},
                "NewCatalogueEntry": {"type": "object", "required": ["code", "name", "class", "item_type", "list_type", "begin"], "additionalProperties": false, "properties": {
                    "code": text(), "name": text(), "class": {"type": "string", "enum": ["01", "02", "03"]}, "first_selfpay": text(), "price_cap": text(),
                    "item_type": text(), "list_type": text(), "begin": {"type": "string", "format": "date"}, "end": {"type": "string", "format": "date"}}},
                "Visit": {"type": "object", "required": ["mdtrt_id", "psn_no", "kind", "status"], "properties": {"mdtrt_id": text(), "psn_no": text(), "kind": text(),
                    "status": text(), "med_type": nullable_text(), "begin": text(), "end": nullable_text()}},
                "Certificate": {"type": "object", "required": ["type", "number"], "additionalProperties": false, "properties": {
                    "type": {"type": "string", "enum": ["01", "02", "03"]}, "number": text()}},
                "NewVisit": {"type": "object", "required": ["psn_no", "kind", "insutype", "begin", "certificate", "his_no"], "additionalProperties": false, "properties": {
                    "psn_no": text(), "kind": {"type": "string", "enum": ["outpatient", "inpatient"]}, "insutype": text(), "begin": text(), "certificate": schema("Certificate"),
                    "his_no": text(), "med_type": text(), "diagnosis_code": text(), "diagnosis_name": text(), "dept_name": text(), "doctor_name": text()}},
                "Line": {"type": "object", "required": ["serial", "code", "price", "quantity", "amount"], "additionalProperties": false, "properties": {
                    "serial": text(), "code": text(), "price": text(), "quantity": text(), "amount": text(), "batch": text(), "occurred_at": text(), "refund_of": text()}},
                "NewLines": {"type": "object", "required": ["psn_no", "lines"], "additionalProperties": false, "properties": {"psn_no": text(), "lines": {"type": "array", "items": schema("Line")}}},
                "Discharge": {"type": "object", "required": ["psn_no", "end"], "additionalProperties": false, "properties": {"psn_no": text(), "end": text()}},
                "PersonRef": {"type": "object", "required": ["psn_no"], "additionalProperties": false, "properties": {"psn_no": text()}},
                "Settle": {"type": "object", "required": ["psn_no"], "additionalProperties": false, "properties": {"psn_no": text(), "use_account": {"type": "boolean"},
                    "mid_stay": {"type": "boolean"}, "dry_run": {"type": "boolean"}, "med_type": text(), "medfee": text()}},
                "Purchase": {"type": "object", "required": ["psn_no", "insutype", "certificate", "lines"], "additionalProperties": false, "properties": {
                    "psn_no": text(), "insutype": text(), "certificate": schema("Certificate"), "lines": {"type": "array", "items": schema("Line")},
                    "use_account": {"type": "boolean"}, "dry_run": {"type": "boolean"}, "medfee": text()}},
                "AuditEntry": {"type": "object", "required": ["at", "actor", "action", "subject", "reason"], "properties": {"at": text(), "actor": text(), "action": text(), "subject": text(), "reason": text()}},
                "LedgerCheck": {"type": "object", "required": ["balanced", "replay_matches"], "properties": {"accounts": {"type": "integer"}, "transfers": {"type": "integer"},
                    "debits": amount(), "credits": amount(), "balanced": {"type": "boolean"}, "replay_matches": {"type": "boolean"},
                    "mismatched_accounts": {"type": "array", "items": text()}, "negative_personal_accounts": {"type": "array", "items": text()}}},
            },
        },
    })
}

/// The allocation, card and e-voucher paths (R2, R4, R5) and their schemas, added to [`spec`].
fn card_paths(doc: &mut Value) {
    let secured = json!([{"bearer": []}]);
    let terminal = json!([{"bearer": []}, {"institution": []}]);
    let card = path_param("card_no", "the card number, e.g. A10000001");
    let id = path_param("id", "the application's id");
    let paths = json!({
        "/api/v1/allocations": {"post": operation("Credit every eligible personal account for an ended month (operator; a month not yet ended is 422). In-service and flexible employees are credited only when the month's contribution is paid: the others are skipped, named with the reason (up to skipped_listed_max), and credited when the arrears are paid (POST /api/v1/contributions for that month). Once per person and month: running it again credits nobody twice.", "200",
            json!({"type": "object", "properties": {"month": text(), "credited": {"type": "integer"}, "already_credited": {"type": "integer"}, "not_eligible": {"type": "integer"}, "contribution_unpaid": {"type": "integer"}, "amount": amount(),
                "skipped": {"type": "array", "items": {"type": "object", "properties": {"psn_no": text(), "reason": {"type": "string", "enum": ["contribution-unpaid", "not-insured", "not-yet-insured"]}, "reason_zh": text()}}},
                "skipped_listed_max": {"type": "integer"}}}),
            &["400", "401", "403", "422", "503"], json!({"security": secured, "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["month"], "properties": {"month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}}}}}}}))},
        "/api/v1/year-ends": {"post": operation("Year end (operator): every current-year personal account of a past year rolls into the prior-years account. Once per person and year.", "200",
            json!({"type": "object", "properties": {"year": {"type": "integer"}, "rolled_over": {"type": "integer"}, "already_rolled_over": {"type": "integer"}, "nothing_to_roll": {"type": "integer"}, "amount": amount()}}),
            &["400", "401", "403", "422", "503"], json!({"security": secured, "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["year"], "additionalProperties": false, "properties": {"year": {"type": "integer", "minimum": 2000, "maximum": 2200}}}}}}}))},
        "/api/v1/card-applications": {
            "get": operation("Card applications, newest first, with deadlines and overdue steps (operator).", "200", list_of("applications", "CardApplication"), &["400", "401", "403", "503"],
                json!({"security": secured, "parameters": [query_param("employer", "string", "one employer's"), query_param("overdue", "boolean", "only late (true) or on-time (false) ones"), query_param("limit", "integer", "1 to 500")]})),
            "post": operation("Apply for a card for a new employee (operator). Fees: photo receipt 4 yuan, card 20 yuan. One live card per person: while the person holds one (even lost), 409; a lost card is replaced.", "201", schema("CardApplication"), &["400", "401", "403", "404", "409", "503"],
                json!({"security": secured, "requestBody": body("NewCardApplication")})),
        },
        "/api/v1/card-applications/{id}": {"get": operation("One application.", "200", schema("CardApplication"), &["401", "403", "404", "503"], json!({"security": secured, "parameters": [id.clone()]}))},
        "/api/v1/card-applications/{id}/steps": {"post": operation("Record a step: photo, forms, submit, receive, issue (operator). Out of order or repeated: refused (forms before the photo receipt: 409). A hand-over before the 20th of the month after registration is recorded with a warning.", "200", schema("CardApplication"), &["400", "401", "403", "404", "409", "422", "503"],
            json!({"security": secured, "parameters": [id.clone()], "requestBody": body("ApplicationStep")}))},
        "/api/v1/card-applications/{id}/produce": {"post": operation("The bank produces the card with its initial PIN (operator).", "200", schema("CardApplication"), &["400", "401", "403", "404", "409", "422", "503"],
            json!({"security": secured, "parameters": [id], "requestBody": body("ProduceCard")}))},
        "/api/v1/persons/{psn_no}/cards": {"get": operation("A person's cards (operator, or the person).", "200", list_of("cards", "Card"), &["400", "401", "403", "503"],
            json!({"security": secured, "parameters": [path_param("psn_no", "the person number")]}))},
        "/api/v1/cards/{card_no}": {"get": operation("A card (operator, or its holder).", "200", schema("Card"), &["401", "403", "404", "503"], json!({"security": secured, "parameters": [card.clone()]}))},
        "/api/v1/cards/{card_no}/status": {"post": operation("Change a card's state: active, lost, blocked, cancelled (operator; the reason is audited). Illegal transitions: 409.", "200", schema("Card"), &["400", "401", "403", "404", "409", "503"],
            json!({"security": secured, "parameters": [card.clone()], "requestBody": body("CardStatusChange")}))},
        "/api/v1/cards/{card_no}/loss": {"post": operation("Report a card lost (its holder in the portal, or an operator): it no longer pays. The answer carries the loss notice (挂失通知书) the holder takes to the service centre. Where it was reported (`channel`: bank or agency) is an operator's to say (a person: 403). The e-voucher is a credential of its own and keeps working (suspend it with /api/v1/evoucher/suspension).", "200",
            json!({"allOf": [schema("Card"), {"type": "object", "properties": {"loss_notice": schema("LossNotice")}}]}), &["400", "401", "403", "404", "409", "503"],
            json!({"security": secured, "parameters": [card.clone()], "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {
                "reason": {"type": "string", "minLength": 1, "maxLength": 200}, "channel": {"type": "string", "enum": ["bank", "agency"]}}}}}}}))},
        "/api/v1/cards/{card_no}/loss-notice": {"get": also(operation("The loss notice of a lost card: its number, when and where the loss was reported, the proof letter once sealed, the replacement's path and the new card's deadline. JSON, or a PDF to print and carry to the service centre (seed 000). The holder or an operator; 422 when the card was not reported lost.", "200", schema("LossNotice"),
            &["400", "401", "403", "404", "422", "503"],
            json!({"security": secured, "parameters": [card.clone(), query_param("format", "string", "json (default) or pdf")]})), &["application/pdf"])},
        "/api/v1/cards/{card_no}/proof-letter": {"post": operation("The agency confirms the seal on the employer's proof letter for a lost card (seed 003), the first step of the proof-letter path (operator). The letter must come from the holder's employer (422), dated from 30 days before the loss to today (400); the same letter again changes nothing, another one is 409.", "200", schema("LossNotice"),
            &["400", "401", "403", "404", "409", "422", "503"],
            json!({"security": secured, "parameters": [card.clone()], "requestBody": body("ProofLetter")}))},
        "/api/v1/cards/{card_no}/replacement": {"post": operation("Replace a lost card (operator). At another bank: a clearing notice, and the account stays frozen until the old bank confirms.", "201",
            json!({"type": "object", "properties": {"application": schema("CardApplication"), "clearing_notice": {"nullable": true, "allOf": [schema("ClearingNotice")], "description": "null when the old card held no balance to move"}}}), &["400", "401", "403", "404", "409", "503"],
            json!({"security": secured, "parameters": [card.clone()], "requestBody": body("Replacement")}))},
        "/api/v1/cards/{card_no}/pin/verify": {"post": operation("Check the PIN a holder typed: the holder, a designated institution's signed terminal (for its patients' cards, identified at 1101 or treated there; at most 120 a minute), or an operator (any other person: 403, whether or not the card exists). Counted before it is checked: unknown card and wrong PIN get the same 401; after 5 wrong PINs from any terminal, 403 locked until reset. Audited with the caller and the card.", "200",
            json!({"type": "object", "properties": {"card_no": text(), "verified": {"type": "boolean"}}}), &["400", "401", "403", "429", "503"],
            json!({"security": terminal, "parameters": [card.clone()], "requestBody": body("PinCheck")}))},
        "/api/v1/cards/{card_no}/pin/change": {"post": operation("Change the PIN with the old one: the card's holder only (403 for anyone else; the bank resets a forgotten PIN).", "200", json!({"type": "object"}), &["400", "401", "403", "503"],
            json!({"security": terminal, "parameters": [card.clone()], "requestBody": body("PinChange")}))},
        "/api/v1/cards/{card_no}/pin/reset": {"post": operation("Reset a forgotten or locked PIN at the bank, after checking the holder's ID (operator; audited).", "200", json!({"type": "object"}), &["400", "401", "403", "404", "409", "503"],
            json!({"security": secured, "parameters": [card.clone()], "requestBody": body("PinReset")}))},
        "/api/v1/cards/{card_no}/statement": {"post": {"summary": "Print the card's unprinted transactions as a PDF statement; the card may pay again (operator, or the holder).", "security": secured, "parameters": [card],
            "responses": {"200": {"description": "The statement.", "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}}},
        "/api/v1/clearing-notices/{id}": {"get": operation("A clearing notice (清户通知单) (operator).", "200", schema("ClearingNotice"), &["401", "403", "404", "503"], json!({"security": secured, "parameters": [path_param("id", "QH + the old card number")]}))},
        "/api/v1/clearing-notices/{id}/confirm": {"post": operation("The old bank confirms the cancellation: the balance moves to the new bank's custody, once (operator).", "200", schema("ClearingNotice"), &["401", "403", "404", "409", "503"],
            json!({"security": secured, "parameters": [path_param("id", "QH + the old card number")]}))},
        "/api/v1/evoucher": {"get": operation("The caller's e-voucher (insured person).", "200", json!({"type": "object", "properties": {"activated": {"type": "boolean"}, "suspended": {"type": "boolean"}, "channel": nullable_text()}}), &["401", "403", "503"], json!({"security": secured}))},
        "/api/v1/evoucher/suspension": {"post": operation("Suspend the caller's e-voucher (a lost phone; insured person): every outstanding code and token dies at once; no new code until it is activated again with a face check. The card is not touched.", "200",
            json!({"type": "object", "properties": {"psn_no": text(), "suspended": {"type": "boolean"}}}), &["400", "401", "403", "409", "422", "503"],
            json!({"security": secured, "requestBody": {"required": false, "content": {"application/json": {"schema": schema("Suspension")}}}}))},
        "/api/v1/persons/{psn_no}/evoucher/suspension": {"post": operation("Suspend a person's e-voucher (operator; the person called in).", "200",
            json!({"type": "object", "properties": {"psn_no": text(), "suspended": {"type": "boolean"}}}), &["400", "401", "403", "404", "409", "422", "503"],
            json!({"security": secured, "parameters": [path_param("psn_no", "the person number")], "requestBody": {"required": false, "content": {"application/json": {"schema": schema("Suspension")}}}}))},
        "/api/v1/persons/{psn_no}/activation-code": {"post": operation("A one-time code (8 digits, valid 3 days) that, with the initial password, opens the person's portal account: proof of possession for persons without a card (operator; audited).", "201",
            json!({"type": "object", "properties": {"psn_no": text(), "code": text(), "expires_at": text()}}), &["400", "401", "403", "404", "503"],
            json!({"security": secured, "parameters": [path_param("psn_no", "the person number")]}))},
        "/api/v1/evoucher/activation": {"post": operation("Activate the e-voucher through a channel app with a payment password and a face check (insured person).", "200", json!({"type": "object"}), &["400", "401", "403", "503"],
            json!({"security": secured, "requestBody": body("EVoucherActivation")}))},
        "/api/v1/evoucher/qr-codes": {"post": {"summary": "A dynamic QR code `<admdvs>ec<32 hex>`, valid 60 s, for one decoding (insured person). format=json (default; with an SVG), svg or png.", "security": secured,
            "parameters": [query_param("format", "string", "json, svg or png")],
            "responses": {"201": {"description": "The code.", "content": {"application/json": {"schema": {"type": "object", "properties": {"qr_code": text(), "expires_at": text(), "expires_in": {"type": "integer"}, "svg": text()}}},
                "image/svg+xml": {"schema": {"type": "string"}}, "image/png": {"schema": {"type": "string", "format": "binary"}}}},
                "409": {"description": "The e-voucher is suspended: activate it again.", "content": {"application/json": {"schema": schema("Error")}}},
                "422": {"description": "The e-voucher is not activated.", "content": {"application/json": {"schema": schema("Error")}}}}}},
        "/fsi/api/ec/trans": {"post": {"summary": "The e-voucher front-end (NationEcTransUrl): transType cn.nhsa.qrcode.get / ec.query (data.ecQrCode → ecToken), cn.nhsa.ec.auth (face → authNo), cn.nhsa.auth.check (authNo → ecToken). Signed like the national interface; see docs/nhsa.md.",
            "security": [{"institution": []}],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["orgId", "transType", "data"]}}}},
            "responses": {"200": {"description": "{code: 0, data: <JSON text>, message, orgId} or {code, message, success: false}.", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
    });
    let schemas = json!({
        "CardApplication": {"type": "object", "properties": {"id": text(), "psn_no": text(), "employer": nullable_text(), "registered_on": text(), "bank": text(), "card_no": text(),
            "replaces": nullable_text(), "fees": {"type": "object", "properties": {"photo": amount(), "card": amount()}}, "steps": {"type": "object"}, "due": {"type": "object"},
            "replacement": {"type": "object", "nullable": true, "description": "a replacement's path, its dated steps and the new card's deadline"},
            "overdue": {"type": "array", "items": {"type": "string", "enum": ["photo", "forms", "issue", "card"]}},
            "warnings": {"type": "array", "items": {"type": "object", "properties": {"message": text(), "message_zh": text()}}}}},
        "Suspension": {"type": "object", "additionalProperties": false, "properties": {"reason": text()}},
        "NewCardApplication": {"type": "object", "required": ["psn_no"], "additionalProperties": false, "properties": {"psn_no": text(), "employer": text(), "registered_on": {"type": "string", "format": "date"}, "bank": text()}},
        "ApplicationStep": {"type": "object", "required": ["step"], "additionalProperties": false, "properties": {"step": {"type": "string", "enum": ["photo", "forms", "submit", "receive", "issue"]}, "on": {"type": "string", "format": "date"}}},
        "ProduceCard": {"type": "object", "required": ["initial_pin"], "additionalProperties": false, "properties": {"initial_pin": {"type": "string", "pattern": "^[0-9]{6}$"}, "on": {"type": "string", "format": "date"}}},
        "Card": {"type": "object", "properties": {"card_no": text(), "card_sn": text(), "psn_no": text(), "status": {"type": "string", "enum": ["applied", "produced", "issued", "active", "lost", "blocked", "replaced", "cancelled"]},
            "bank": text(), "issued_on": nullable_text(), "unprinted": {"type": "integer"}, "unprinted_max": {"type": "integer"}, "must_print": {"type": "boolean"}, "replaces": nullable_text()}},
        "CardStatusChange": {"type": "object", "required": ["status", "reason"], "additionalProperties": false, "properties": {"status": {"type": "string", "enum": ["active", "lost", "blocked", "cancelled"]}, "reason": text()}},
        "Replacement": {"type": "object", "additionalProperties": false, "properties": {"bank": text(), "reason": text(),
            "path": {"type": "string", "enum": ["loss-notice", "proof-letter"], "description": "loss-notice (default, seed 000: the new card within 45 working days) or proof-letter (seed 003: after the sealed proof letter, the new card 7 days after)"}}},
        "ProofLetter": {"type": "object", "required": ["employer", "letter_no", "issued_on"], "additionalProperties": false, "properties": {
            "employer": text(), "letter_no": {"type": "string", "minLength": 1, "maxLength": 40}, "issued_on": {"type": "string", "format": "date"}}},
        "LossNotice": {"type": "object", "properties": {"notice_no": text(), "card_no": text(), "psn_no": text(), "reported_at": text(), "channel": {"type": "string", "enum": ["bank", "agency", "portal"]},
            "bank": text(), "reason": text(), "proof_letter": {"type": "object", "nullable": true}, "replacement": {"type": "object", "nullable": true}, "paths": {"type": "array", "items": {"type": "object"}}}},
        "ClearingNotice": {"type": "object", "properties": {"id": text(), "psn_no": text(), "old_card": text(), "old_bank": text(), "new_bank": text(), "issued_at": text(),
            "confirmed_at": nullable_text(), "moved": nullable_amount(), "account_frozen": {"type": "boolean"}}},
        "PinCheck": {"type": "object", "required": ["pin"], "additionalProperties": false, "properties": {"pin": text()}},
        "PinChange": {"type": "object", "required": ["old_pin", "new_pin"], "additionalProperties": false, "properties": {"old_pin": text(), "new_pin": {"type": "string", "pattern": "^[0-9]{6}$"}}},
        "PinReset": {"type": "object", "required": ["id_number", "new_pin"], "additionalProperties": false, "properties": {"id_number": text(), "new_pin": {"type": "string", "pattern": "^[0-9]{6}$"}, "reason": text()}},
        "EVoucherActivation": {"type": "object", "required": ["channel", "payment_password", "face_image"], "additionalProperties": false, "properties": {
            "channel": {"type": "string", "enum": ["wechat", "alipay", "agency-app"]}, "payment_password": {"type": "string", "pattern": "^[0-9]{6}$"}, "face_image": {"type": "string", "format": "byte"}}},
    });
    if let (Some(target), Value::Object(extra)) = (doc["paths"].as_object_mut(), paths) {
        target.extend(extra);
    }
    if let (Some(target), Value::Object(extra)) = (doc["components"]["schemas"].as_object_mut(), schemas) {
        target.extend(extra);
    }
}

pub async fn document() -> Response {
    axum::Json(spec()).into_response()
}
