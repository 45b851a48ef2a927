#!/usr/bin/env python3
"""Drives a running `yibao serve --demo` through every national-interface transaction and
prints Markdown with each one's input and output, for docs/nhsa.md.

    cargo run --release -- serve --demo &
    python3 scripts/nhsa_examples.py http://127.0.0.1:8080 > docs/nhsa-examples.md
"""
import base64, datetime, hashlib, json, sys, time, urllib.request, uuid

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
SEQ = [0]
SECTIONS = []


def call(infno, inp, code="H33010000001", insuplc="330100"):
    SEQ[0] += 1
    now = datetime.datetime.now()
    msgid = f"{code}{now.strftime('%Y%m%d%H%M%S')}{SEQ[0]:04d}"
    area = "330200" if code.startswith("H3302") else "330100"
    env = {"infno": infno, "msgid": msgid, "mdtrtarea_admvs": area, "insuplc_admdvs": insuplc, "recer_sys_code": "YBXT",
           "dev_no": "", "dev_safe_info": "", "cainfo": "", "signtype": "", "infver": "V1.0", "opter_type": "1", "opter": "001",
           "opter_name": "收费员", "inf_time": now.strftime("%Y-%m-%d %H:%M:%S"), "fixmedins_code": code,
           "fixmedins_name": "示例机构", "sign_no": "", "input": inp}
    ts, nonce = str(int(time.time())), uuid.uuid4().hex
    sig = hashlib.sha256((ts + "demo-" + code + nonce + ts).encode()).hexdigest()
    req = urllib.request.Request(BASE + "/fsi/api/rsfComIfsService/callService", method="POST",
                                 data=json.dumps(env, ensure_ascii=False).encode(),
                                 headers={"Content-Type": "text/plain", "x-tif-paasid": code, "x-tif-timestamp": ts,
                                          "x-tif-nonce": nonce, "x-tif-signature": sig})
    with urllib.request.urlopen(req) as response:
        raw = response.read()
    try:
        body = json.loads(raw)
        body["_raw"] = raw.decode()
    except ValueError:
        body = {"file": raw.decode("utf-8", "replace")}
    return env, body


def pretty(text):
    """Indents JSON text without re-encoding it, so numbers keep their exact digits."""
    out, depth, in_string, escaped = [], 0, False, False
    for c in text:
        if in_string:
            out.append(c)
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
            continue
        if c == '"':
            in_string = True
            out.append(c)
        elif c in "{[":
            depth += 1
            out.append(c + "\n" + " " * depth)
        elif c in "}]":
            depth -= 1
            out.append("\n" + " " * depth + c)
        elif c == ",":
            out.append(",\n" + " " * depth)
        elif c == ":":
            out.append(": ")
        elif not c.isspace():
            out.append(c)
    return "".join(out).replace("{\n" + " ", "{\n ").replace("[\n ]", "[]").replace("{\n }", "{}")


def example(infno, title, inp, code="H33010000001", note=""):
    env, body = call(infno, inp, code)
    if body.get("infcode") not in (0, None):
        raise SystemExit(f"{infno} refused: {body}")
    SECTIONS.append((infno, title, inp, body, note))
    return body.get("output", body)


def line(sn, mdtrt, psn, code, price, cnt):
    return {"feedetl_sn": sn, "mdtrt_id": mdtrt, "psn_no": psn, "chrg_bchno": "B001", "rxno": "", "rx_circ_flag": "0",
            "fee_ocur_time": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"), "med_list_codg": code,
            "medins_list_codg": "HIS-" + code, "det_item_fee_sumamt": round(price * cnt, 2), "cnt": cnt, "pric": price,
            "bilg_dept_codg": "A01", "bilg_dept_name": "内科", "bilg_dr_codg": "D001", "bilg_dr_name": "医生", "hosp_appr_flag": "1"}


def main():
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    today = datetime.date.today().isoformat()
    example("9001", "签到 sign-in", {"signIn": {"opter_no": "001", "mac": "00-E0-70-64-C3-D2", "ip": "192.168.1.1"}})
    out = example("1101", "人员信息获取 person information (ID number, or card 03 with card_sn)",
                  {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "330102198503121236", "card_sn": "", "begntime": now,
                            "psn_cert_type": "01", "certno": "330102198503121236", "psn_name": "张伟"}})
    psn = out["baseinfo"]["psn_no"]
    example("2001", "人员待遇享受检查 eligibility", {"data": {"psn_no": psn, "insutype": "310", "fixmedins_code": "H33010000001",
                                                              "med_type": "21", "begntime": now}})
    example("1312", "医保目录信息查询 catalogue (paged)", {"data": {"hilist_code": "DEMO-B-002", "page_num": 1, "page_size": 10}})
    example("1319", "医保目录先自付比例信息查询 class B first self-pay ratios", {"data": {"page_num": 1, "page_size": 10}})
    example("1901", "字典表查询 dictionaries", {"data": {"type": "med_type", "parentValue": "", "admdvs": "330100", "date": today, "valiFlag": "1"}})
    out = example("2201", "门诊挂号 outpatient registration", {"data": {
        "psn_no": psn, "insutype": "310", "begntime": now, "mdtrt_cert_type": "02", "mdtrt_cert_no": "330102198503121236",
        "ipt_otp_no": "MZ0001", "atddr_no": "D001", "dr_name": "医生", "dept_code": "A01", "dept_name": "内科", "caty": "A01"}})
    mdtrt = out["data"]["mdtrt_id"]
    example("2203", "门诊就诊信息上传 visit information (2203A is the same)", {
        "mdtrtinfo": {"mdtrt_id": mdtrt, "psn_no": psn, "med_type": "11", "begntime": now, "main_cond_dscr": "",
                      "dise_codg": "J06.900", "dise_name": "上呼吸道感染"},
        "diseinfo": [{"diag_type": "1", "diag_srt_no": "1", "diag_code": "J06.900", "diag_name": "上呼吸道感染", "diag_dept": "内科",
                      "dise_dor_no": "D001", "dise_dor_name": "医生", "diag_time": now, "vali_flag": "1"}]})
    example("2204", "门诊费用明细信息上传 bill lines, each split", {"feedetail": [
        line("1", mdtrt, psn, "DEMO-A-001", 50, 1), line("2", mdtrt, psn, "DEMO-B-001", 100, 1), line("3", mdtrt, psn, "DEMO-C-001", 20, 1)]})
    data = {"psn_no": psn, "mdtrt_cert_type": "02", "mdtrt_cert_no": "330102198503121236", "med_type": "11", "medfee_sumamt": 170,
            "psn_setlway": "01", "mdtrt_id": mdtrt, "chrg_bchno": "B001", "acct_used_flag": "1", "insutype": "310"}
    pre = example("2206", "门诊预结算 pre-settlement (writes nothing)", {"data": data})["setlinfo"]
    settle = dict(data, invono="INV0001", fulamt_ownpay_amt=pre["fulamt_ownpay_amt"], overlmt_selfpay=pre["overlmt_selfpay"],
                  preselfpay_amt=pre["preselfpay_amt"], inscp_scp_amt=pre["inscp_scp_amt"])
    setl = example("2207", "门诊结算 settlement", {"data": settle})["setlinfo"]
    example("2208", "门诊结算撤销 cancellation: the cancelled setl_id with negated amounts",
            {"data": {"setl_id": setl["setl_id"], "mdtrt_id": mdtrt, "psn_no": psn}})
    env, body = call("2207", {"data": settle})
    example("2601", "冲正交易 reversal of a message by its msgid", {"data": {"psn_no": psn, "omsgid": env["msgid"], "oinfno": "2207"}})
    again = example("2207", "门诊结算 (settled again after the reversal)", {"data": settle})["setlinfo"]
    example("5201", "就诊信息查询 visits", {"data": {"psn_no": psn, "begntime": today + " 00:00:00", "endtime": now, "med_type": "", "mdtrt_id": ""}})
    example("5202", "诊断信息查询 a visit's diagnoses (as 2203/2401–2403 uploaded them)", {"data": {"psn_no": psn, "mdtrt_id": mdtrt}})
    example("5203", "结算信息查询 a settlement", {"data": {"psn_no": psn, "setl_id": again["setl_id"], "mdtrt_id": mdtrt}})
    example("5204", "费用明细查询 lines of a settlement", {"data": {"psn_no": psn, "setl_id": again["setl_id"], "mdtrt_id": mdtrt}})
    example("5206", "人员累计信息查询 accumulators", {"data": {"psn_no": psn, "cum_ym": datetime.date.today().strftime("%Y%m")}})
    example("2205", "门诊费用明细信息撤销 revoke unsettled lines (chrg_bchno 0000: all)",
            {"data": {"mdtrt_id": register_with_line(psn), "chrg_bchno": "0000", "psn_no": psn}})
    out = example("2503", "人员慢特病备案 special disease registration",
                  {"data": {"psn_no": psn, "insutype": "310", "opsp_dise_code": "M07800", "opsp_dise_name": "肾透析", "begndate": today, "enddate": ""}})
    example("5301", "人员慢特病备案查询 registrations", {"data": {"psn_no": psn}})
    example("5205", "人员慢特病用药记录查询 special disease drug records", {"data": {"psn_no": psn, "begntime": today + " 00:00:00", "endtime": now}})
    example("2504", "人员慢特病备案撤销 revoke a registration", {"data": {"psn_no": psn, "trt_dcla_detl_sn": out["result"]["trt_dcla_detl_sn"], "memo": ""}})
    example("5302", "人员定点信息查询 designations (none in yibao)", {"data": {"psn_no": psn, "biz_appy_type": "03"}})
    # Inpatient.
    li = "3301000000000002"
    adm = example("2401", "入院办理 admission", {
        "mdtrtinfo": {"psn_no": li, "insutype": "310", "coner_name": "家属", "tel": "", "begntime": now, "mdtrt_cert_type": "02",
                      "mdtrt_cert_no": "330106195207082342", "med_type": "21", "ipt_no": "ZY0001", "medrcdno": "", "atddr_no": "D001",
                      "chfpdr_name": "医生", "adm_diag_dscr": "肺炎", "adm_dept_codg": "B01", "adm_dept_name": "呼吸科", "adm_bed": "12",
                      "dscg_maindiag_code": "", "dscg_maindiag_name": "", "main_cond_dscr": "", "dise_codg": "J18.900", "dise_name": "肺炎"},
        "diseinfo": [{"psn_no": li, "diag_type": "1", "maindiag_flag": "1", "diag_srt_no": "1", "diag_code": "J18.900", "diag_name": "肺炎",
                      "diag_dept": "呼吸科", "dise_dor_no": "D001", "dise_dor_name": "医生", "diag_time": now}]})["result"]["mdtrt_id"]
    example("2403", "住院信息变更 change admission information", {"adminfo": {"mdtrt_id": adm, "psn_no": li, "adm_dept_name": "呼吸内科"}, "diseinfo": []})
    example("2301", "住院费用明细上传 inpatient lines (negative cnt with init_feedetl_sn: refund)", {"feedetail": [
        line("Z1", adm, li, "DEMO-A-003", 10000, 1), line("Z2", adm, li, "DEMO-B-002", 120, 2)]})
    example("2302", "住院费用明细撤销 revoke a line (feedetl_sn 0000: all)", {"data": {"feedetl_sn": "Z2", "mdtrt_id": adm, "psn_no": li}})
    example("2402", "出院办理 discharge", {"dscginfo": {"mdtrt_id": adm, "psn_no": li, "insutype": "310", "endtime": now,
                                                        "dise_codg": "J18.900", "dise_name": "肺炎", "dscg_way": "1"}, "diseinfo": []})
    inp = {"data": {"psn_no": li, "mdtrt_cert_type": "02", "mdtrt_cert_no": "330106195207082342", "medfee_sumamt": 10000,
                    "psn_setlway": "01", "mdtrt_id": adm, "acct_used_flag": "1", "insutype": "310", "invono": "", "mid_setl_flag": "0",
                    "fulamt_ownpay_amt": 0, "overlmt_selfpay": 0, "preselfpay_amt": 0, "inscp_scp_amt": 0, "dscg_time": now}}
    example("2303", "住院预结算 inpatient pre-settlement", inp)
    s = example("2304", "住院结算 inpatient settlement (a retiree: 90% above the deductible)", inp)["setlinfo"]
    example("2305", "住院结算撤销 inpatient settlement cancellation", {"data": {"mdtrt_id": adm, "setl_id": s["setl_id"], "psn_no": li}})
    example("2405", "出院办理撤销 undo the discharge", {"data": {"mdtrt_id": adm, "psn_no": li}})
    example("2404", "入院办理撤销 cancel the admission (after its lines are revoked or cancelled)", {"data": {"mdtrt_id": adm, "psn_no": li}})
    # Pharmacy.
    buy = {"data": {"psn_no": psn, "mdtrt_cert_type": "03", "mdtrt_cert_no": "A10000001", "begntime": now, "medfee_sumamt": 106,
                    "ipt_otp_no": "YD0001", "med_type": "41", "insutype": "310", "psn_setlway": "01", "acct_used_flag": "1", "invono": ""},
           "feedetail": [line("1", "", psn, "DEMO-B-001", 45.5, 2), line("2", "", psn, "DEMO-C-001", 15, 1)]}
    example("2101", "药店预结算 pharmacy pre-settlement", buy, "P33010000001")
    p = example("2102", "药店结算 pharmacy settlement", buy, "P33010000001")["setlinfo"]
    example("2103", "药店结算撤销 pharmacy cancellation", {"data": {"setl_id": p["setl_id"], "psn_no": psn, "mdtrt_id": p["mdtrt_id"]}}, "P33010000001")
    # Reconciliation.
    example("3201", "医药机构费用结算对总账 totals reconciliation", {"data": {
        "insutype": "310", "clr_type": "11", "setl_optins": "330100", "stmt_begndate": today, "stmt_enddate": today,
        "medfee_sumamt": again["medfee_sumamt"], "fund_pay_sumamt": 0, "acct_pay": again["acct_pay"], "fixmedins_setl_cnt": "1", "refd_setl_flag": "0"}})
    detail = f"{again['setl_id']}\t{mdtrt}\t{psn}\t170.00\t0.00\t170.00\t0\n"
    up = example("9101", "文件上传 upload (fsUploadIn.in base64 or bytes; or multipart jsonStr + file)",
                 {"fsUploadIn": {"in": base64.b64encode(detail.encode()).decode(), "filename": "detail.txt", "fixmedins_code": "H33010000001"}})
    res = example("3202", "医药机构费用结算对明细账 detail reconciliation (result file via 9102)", {"data": {
        "setl_optins": "330100", "file_qury_no": up["file_qury_no"], "stmt_begndate": today, "stmt_enddate": today,
        "medfee_sumamt": 170, "fund_pay_sumamt": 0, "cash_payamt": 0, "fixmedins_setl_cnt": 1, "clr_type": "11", "refd_setl_flag": "0"}})
    example("9102", "文件下载 download (answers application/octet-stream)",
            {"fsDownloadIn": {"file_qury_no": res["fileinfo"]["file_qury_no"], "filename": res["fileinfo"]["filename"], "fixmedins_code": "H33010000001"}})
    example("2202", "门诊挂号撤销 cancel a registration", {"data": {"psn_no": psn, "mdtrt_id": register_only(psn), "ipt_otp_no": "MZ0002"}})
    example("9002", "签退 sign-out", {"signOut": {"opter_no": "001", "sign_no": SECTIONS[0][3]["output"]["signinoutb"]["sign_no"]}})
    for infno, title, inp, body, note in sorted(SECTIONS, key=lambda s: s[0]):
        print(f"### {infno} {title}\n")
        print("Input:\n\n```json\n" + json.dumps(inp, ensure_ascii=False, indent=1) + "\n```\n")
        raw = body.get("_raw")
        if raw is not None:
            start = raw.index('"output":') + len('"output":')
            text = pretty(raw[start:raw.rindex('}')])
        else:
            text = body.get("file", "")
        if len(text) > 4000:
            text = text[:4000] + "\n … (shortened)"
        print("Output:\n\n```json\n" + text + "\n```\n")


def register_only(psn):
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    _, body = call("2201", {"data": {"psn_no": psn, "insutype": "310", "begntime": now, "mdtrt_cert_type": "02",
                                     "mdtrt_cert_no": "330102198503121236", "ipt_otp_no": "MZ0002"}})
    return body["output"]["data"]["mdtrt_id"]


def register_with_line(psn):
    mdtrt = register_only(psn)
    call("2204", {"feedetail": [line("9", mdtrt, psn, "DEMO-A-001", 5, 1)]})
    return mdtrt


if __name__ == "__main__":
    main()
