// Browser tests of the portal: Debian's chromium driven by playwright-core, against
// `yibao serve --demo` on a database of its own. Screenshots of every page at phone and desktop
// widths land in yibao-data/screenshots/. Usage: node e2e/portal.mjs [path-to-yibao]
// (CI: .ci/run). Exits non-zero on the first failed check.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const yibao = process.argv[2] ?? "target/debug/yibao";
const shots = "yibao-data/screenshots";
mkdirSync(shots, { recursive: true });
const work = mkdtempSync(join(tmpdir(), "yibao-e2e-"));
const ZHANG_WEI = { id: "330102198503121236", psn: "3301000000000001" };
const LI_XIUYING = { id: "330106195207082342", psn: "3301000000000002" };
const ZHAO_MIN = { id: "330106199505056781" };
const WANG_QIANG = { id: "330105199001013458", psn: "3301000000000003" };
const PHARMACY = "P33010000001";
const HOSPITAL = "H33010000001";

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
  console.log(`  ok  ${message}`);
}

// The server, on a port of its own choosing.
const server = spawn(yibao, ["serve", "--demo", "--db", join(work, "demo.db"), "--listen", "127.0.0.1:0"], {
  stdio: ["ignore", "pipe", "inherit"],
  env: { ...process.env, YIBAO_LOG: "warn" },
});
const base = await new Promise((resolve, reject) => {
  const lines = createInterface({ input: server.stdout });
  lines.on("line", (line) => {
    const found = line.match(/listening on (http:\/\/\S+)/);
    if (found) resolve(found[1]);
  });
  server.on("exit", (code) => reject(new Error(`the server exited (${code})`)));
});
console.log(`portal at ${base}/portal`);

// What a channel app and an HIS do, beside the browser.
async function rest(method, path, token, body) {
  const response = await fetch(base + path, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}
let serial = 0;
function signed(code) {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = `e2e${++serial}`;
  const signature = createHash("sha256").update(`${timestamp}demo-${code}${nonce}${timestamp}`).digest("hex");
  return { "content-type": "application/json", "x-tif-paasid": code, "x-tif-timestamp": timestamp, "x-tif-nonce": nonce, "x-tif-signature": signature };
}
async function nhsa(code, infno, input) {
  const envelope = {
    infno, msgid: `${code}E${String(Date.now()).slice(-9)}${String(++serial).padStart(8, "0")}`, mdtrtarea_admvs: "330100",
    insuplc_admdvs: "330100", recer_sys_code: "YBXT", dev_no: "", dev_safe_info: "", cainfo: "", signtype: "", infver: "V1.0",
    opter_type: "1", opter: "001", opter_name: "收费员", inf_time: "2026-11-23 10:00:00", fixmedins_code: code,
    fixmedins_name: "e2e", sign_no: "", input,
  };
  const response = await fetch(`${base}/fsi/api/rsfComIfsService/callService`, { method: "POST", headers: signed(code), body: JSON.stringify(envelope) });
  const answer = await response.json();
  if (answer.infcode !== 0) throw new Error(`${infno}: ${answer.err_msg}`);
  return answer.output;
}
function purchase(person, certType, certNo, price) {
  return {
    data: { psn_no: person.psn, mdtrt_cert_type: certType, mdtrt_cert_no: certNo, begntime: "2026-11-23 11:00:00", medfee_sumamt: price,
      ipt_otp_no: `YD${serial}`, med_type: "41", insutype: "310", psn_setlway: "01", acct_used_flag: "1", invono: "",
      fulamt_ownpay_amt: 0, overlmt_selfpay: 0, preselfpay_amt: 0, inscp_scp_amt: 0 },
    feedetail: [{ feedetl_sn: "1", mdtrt_id: "", psn_no: person.psn, chrg_bchno: "B001", rxno: "", rx_circ_flag: "0",
      fee_ocur_time: "2026-11-23 11:00:00", med_list_codg: "DEMO-A-001", medins_list_codg: "HIS-A-001", det_item_fee_sumamt: price,
      cnt: 1, pric: price, bilg_dept_codg: "A01", bilg_dept_name: "药房", bilg_dr_codg: "D001", bilg_dr_name: "医生", hosp_appr_flag: "1" }],
  };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const widths = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 900 } };
async function screenshots(page, name) {
  for (const [label, size] of Object.entries(widths)) {
    await page.setViewportSize(size);
    await page.screenshot({ path: `${shots}/${name}-${label}.png`, fullPage: true });
    // Nothing wider than the screen (a broken layout scrolls sideways).
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    check(overflow <= 0, `${name} at ${label} width fits the screen`);
  }
}
async function logIn(page, idNumber, password) {
  await page.goto(`${base}/portal/login`);
  await page.getByLabel("身份证号").fill(idNumber);
  await page.getByLabel("密码").fill(password);
  await page.getByRole("button", { name: "登录" }).click();
}

let failed = false;
try {
  const context = await browser.newContext({ viewport: widths.phone, locale: "zh-CN" });
  const page = await context.newPage();

  console.log("a newcomer starts at / and finds the desks");
  await page.goto(`${base}/`);
  await screenshots(page, "home");
  for (const desk of ["/portal", "/counter", "/agency"]) {
    check((await page.locator(`main a[href="${desk}"]`).count()) === 1, `the landing page links ${desk}`);
  }
  check((await page.getByText("330102198503121236").count()) > 0, "the demo's logins are on the landing page");

  console.log("an insured person logs in and shows the QR code");
  await page.goto(`${base}/portal/login`);
  await screenshots(page, "login");
  await logIn(page, ZHANG_WEI.id, "Demo@2026");
  check(page.url().endsWith("/portal/me"), "张伟 lands on his overview");
  check(await page.getByText("¥1000.00").first().isVisible(), "the balance shows 1000.00");
  check(!(await page.content()).includes(ZHANG_WEI.id), "the whole ID number never shows");
  await screenshots(page, "overview");
  // The channel app activates the e-voucher (face check and payment password).
  const token = (await rest("POST", "/api/v1/auth/login", null, { role: "person", id_number: ZHANG_WEI.id, password: "Demo@2026" })).body.token;
  const activation = await rest("POST", "/api/v1/evoucher/activation", token, { channel: "wechat", payment_password: "246810", face_image: Buffer.from(`face:${ZHANG_WEI.psn}`).toString("base64") });
  check(activation.status === 200, "the e-voucher is activated");
  await page.goto(`${base}/portal/me`);
  check(await page.getByRole("button", { name: "手机丢失：暂停医保码" }).isVisible(), "a lost phone can suspend the e-voucher");
  await screenshots(page, "overview-evoucher");
  await page.getByRole("link", { name: "出示医保码" }).click();
  check(await page.locator(".qr svg").isVisible(), "the QR code shows");
  const code = await page.locator(".qr").getAttribute("data-code");
  check(/^330100ec[0-9a-f]{32}$/.test(code), `the code is an opaque e-voucher code`);
  await screenshots(page, "qr");

  console.log("the pharmacy counter scans it, pre-settles, settles and prints the receipt");
  const till = await context.newPage();
  await till.goto(`${base}/counter`);
  check(till.url().endsWith("/counter/login"), "the counter asks to sign in");
  await screenshots(till, "counter-login");
  await till.getByLabel("定点机构编码").fill(PHARMACY);
  await till.getByLabel("接口密钥").fill(`demo-${PHARMACY}`);
  await till.getByRole("button", { name: "签到" }).click();
  await till.getByLabel("凭证类型").selectOption("01");
  await till.getByLabel("二维码、身份证号或卡号").fill(code);
  await screenshots(till, "counter-identify");
  await till.getByRole("button", { name: "识别参保人" }).click();
  check(await till.getByRole("heading", { name: "张伟" }).isVisible(), "the scanned code identifies 张伟");
  await till.locator("#code0").selectOption("DEMO-A-001");
  await till.locator("#price0").fill("35.50");
  await till.locator("#qty0").fill("1");
  await screenshots(till, "counter-bill");
  await till.getByRole("button", { name: "预结算" }).click();
  check(await till.getByText("个人账户支付35.50元").isVisible(), "the pre-settlement explains the split");
  await screenshots(till, "counter-presettle");
  await till.getByRole("button", { name: "结算", exact: true }).click();
  check(/\/counter\/receipts\/\d+$/.test(till.url()), "settled: the receipt shows");
  const setlId = till.url().split("/").pop();
  check(await till.getByRole("button", { name: "打印收据" }).isVisible(), "the receipt can be printed");
  await screenshots(till, "counter-receipt");
  // The same code cannot be used twice.
  await till.goto(`${base}/counter`);
  await till.getByLabel("凭证类型").selectOption("01");
  await till.getByLabel("二维码、身份证号或卡号").fill(code);
  await till.getByRole("button", { name: "识别参保人" }).click();
  check(await till.getByRole("alert").isVisible(), "a used code is refused");

  console.log("the person sees the settlement explained");
  await page.goto(`${base}/portal/me`);
  check(await page.getByText("¥964.50").first().isVisible(), "the balance is now 964.50");
  await page.locator(`a[href="/portal/settlements/${setlId}"]`).click();
  check(await page.getByText("个人账户支付35.50元").isVisible(), "the settlement's explanation shows");
  await screenshots(page, "settlement");
  await page.goto(`${base}/portal/account`);
  check(await page.getByRole("heading", { name: "账户明细" }).isVisible(), "the account statement shows");
  check((await page.locator("tbody tr").first().textContent()).includes("964.50"), "its newest movement ends at the balance");
  await screenshots(page, "account");
  await page.goto(`${base}/portal/inbox`);
  check(await page.getByText("结算医疗费35.50元").first().isVisible(), "the inbox tells of the settlement");
  await screenshots(page, "inbox");
  await page.getByRole("button", { name: "全部标为已读" }).click();
  check(page.url().endsWith("/portal/inbox") && (await page.getByText("【未读】").count()) === 0, "all marked read");
  await page.goto(`${base}/portal/settlements/${setlId}`);

  console.log("the agency dashboard's charts include it");
  const desk = await context.newPage();
  await desk.goto(`${base}/agency`);
  check(desk.url().endsWith("/agency/login"), "the agency asks to log in");
  await desk.getByLabel("用户名").fill("admin");
  await desk.getByLabel("密码").fill("Demo@2026");
  await desk.getByRole("button", { name: "登录" }).click();
  check((await desk.locator("svg.chart").count()) === 3, "the dashboard draws three charts");
  const pharmacyRow = desk.locator("#levels ~ div tr", { hasText: "药店" });
  check((await pharmacyRow.textContent()).includes("¥35.50"), "the level chart's figures include the counter's settlement");
  check((await desk.locator("#balances ~ div tr", { hasText: "500–1,000" }).textContent()).includes("1"), "张伟's 964.50 is among the balances");
  await screenshots(desk, "agency-dashboard");
  for (const [path, name] of [["/agency/persons", "agency-registry"], ["/agency/card-applications", "agency-cards"], ["/agency/clearing", "agency-clearing"], ["/agency/audit", "agency-audit"]]) {
    await desk.goto(base + path);
    await screenshots(desk, name);
  }
  await desk.goto(`${base}/agency/persons`);
  await desk.getByLabel("查找参保人（身份证号、人员编号、姓名或卡号）").fill("A10000001");
  await desk.getByRole("button", { name: "查找" }).click();
  check((await desk.locator("tbody tr").count()) === 1 && (await desk.locator("tbody").textContent()).includes("张伟"), "the registry finds 张伟 by his card number");
  await screenshots(desk, "agency-search");
  check(!(await desk.content()).includes(ZHANG_WEI.id), "no whole ID number on the agency pages");
  await desk.locator("tbody a", { hasText: ZHANG_WEI.psn }).click();
  check(desk.url().endsWith(`/agency/persons/${ZHANG_WEI.psn}`), "the registry leads to 张伟's page");
  check(await desk.getByRole("heading", { name: "账户明细（最近）" }).isVisible(), "his account statement is on his page");
  check(!(await desk.content()).includes(ZHANG_WEI.id), "no whole ID number on the person page");
  await screenshots(desk, "agency-person");
  console.log("the operator reports 张伟's card lost from his page, with a reason");
  desk.once("dialog", (dialog) => dialog.accept());
  await desk.getByLabel("挂失渠道").selectOption("bank");
  await desk.getByLabel("原因").fill("钱包丢失");
  await desk.getByRole("button", { name: "挂失" }).click();
  await desk.waitForURL(`${base}/agency/persons/${ZHANG_WEI.psn}`);
  check((await desk.content()).includes("GSA10000001"), "his page shows the loss notice");
  await screenshots(desk, "agency-person-lost");
  await desk.goto(`${base}/agency/queue`);
  check((await desk.getByText("RB0000000001").count()) > 0, "the review queue lists the demo's pending reimbursement");
  await screenshots(desk, "agency-queue");

  console.log("English, the institution search");
  await page.getByRole("link", { name: "English" }).click();
  check(await page.getByRole("heading", { name: "Settlement" }).isVisible(), "the page switched to English");
  await screenshots(page, "settlement-en");
  await page.getByRole("link", { name: "中文" }).click();
  await page.goto(`${base}/portal/institutions`);
  await page.getByLabel("类型").selectOption("pharmacy");
  await page.getByRole("button", { name: "查找" }).click();
  check(await page.getByText(PHARMACY).isVisible() && !(await page.getByText(HOSPITAL).count()), "the search finds the pharmacy only");
  await screenshots(page, "institutions");

  console.log("nobody reaches another person's pages");
  const other = await nhsa(PHARMACY, "2102", purchase(LI_XIUYING, "02", LI_XIUYING.id, 12));
  const foreign = await page.goto(`${base}/portal/settlements/${other.setlinfo.setl_id}`);
  check(foreign.status() === 404 && !(await page.content()).includes("李秀英"), "李秀英's settlement is not found for 张伟");
  await page.goto(`${base}/portal/me?psn_no=${LI_XIUYING.psn}`);
  check(!(await page.content()).includes("李秀英"), "a psn_no in the URL changes nothing");
  // Keyboard only: the skip link is the first stop.
  await page.keyboard.press("Tab");
  check(await page.evaluate(() => document.activeElement?.className === "skip"), "the first Tab reaches the skip link");
  await page.getByRole("button", { name: "退出" }).click();
  check(page.url().endsWith("/portal/login"), "logged out");

  console.log("the hospital's counter settles 王强's stay at discharge");
  const diag = { psn_no: WANG_QIANG.psn, diag_type: "1", maindiag_flag: "1", diag_srt_no: "1", diag_code: "J18.900", diag_name: "肺炎",
    diag_dept: "呼吸科", dise_dor_no: "D001", dise_dor_name: "主诊医生", diag_time: "2026-11-20 09:00:00" };
  const admitted = await nhsa(HOSPITAL, "2401", {
    mdtrtinfo: { psn_no: WANG_QIANG.psn, insutype: "310", begntime: "2026-11-20 09:00:00", mdtrt_cert_type: "02", mdtrt_cert_no: WANG_QIANG.id,
      med_type: "21", ipt_no: "ZY0001", atddr_no: "D001", chfpdr_name: "主诊医生", adm_diag_dscr: "肺炎", adm_dept_codg: "B01",
      adm_dept_name: "呼吸科", adm_bed: "12", dscg_maindiag_code: "J18.900", dscg_maindiag_name: "肺炎" },
    diseinfo: [diag],
  });
  const stay = admitted.result.mdtrt_id;
  await nhsa(HOSPITAL, "2301", { feedetail: [{ feedetl_sn: "Z1", mdtrt_id: stay, psn_no: WANG_QIANG.psn, chrg_bchno: "B001", rxno: "",
    rx_circ_flag: "0", fee_ocur_time: "2026-11-21 10:00:00", med_list_codg: "DEMO-A-003", medins_list_codg: "HIS-A-003",
    det_item_fee_sumamt: 3000, cnt: 1, pric: 3000, bilg_dept_codg: "B01", bilg_dept_name: "呼吸科", bilg_dr_codg: "D001",
    bilg_dr_name: "医生", hosp_appr_flag: "1" }] });
  await nhsa(HOSPITAL, "2402", { dscginfo: { mdtrt_id: stay, psn_no: WANG_QIANG.psn, insutype: "310", endtime: "2026-11-23 09:00:00",
    dise_codg: "J18.900", dise_name: "肺炎", dscg_dept_codg: "B01", dscg_dept_name: "呼吸科", dscg_way: "1" }, diseinfo: [diag] });
  // Another terminal: the hospital's, with a session of its own.
  const wardContext = await browser.newContext({ viewport: widths.phone, locale: "zh-CN" });
  const ward = await wardContext.newPage();
  await ward.goto(`${base}/counter/login`);
  await ward.getByLabel("定点机构编码").fill(HOSPITAL);
  await ward.getByLabel("接口密钥").fill(`demo-${HOSPITAL}`);
  await ward.getByRole("button", { name: "签到" }).click();
  await ward.getByLabel("凭证类型").selectOption("02");
  await ward.getByLabel("二维码、身份证号或卡号").fill(WANG_QIANG.id);
  await ward.getByRole("button", { name: "识别参保人" }).click();
  check(await ward.getByRole("heading", { name: "住院待结算" }).isVisible(), "the stay waits for settlement");
  check((await ward.locator("li", { hasText: stay }).textContent()).includes("¥3000.00"), "with its unsettled 3,000 yuan");
  await screenshots(ward, "counter-stays");
  await ward.getByRole("button", { name: "出院结算预结算" }).click();
  check(await ward.getByText("¥3000.00").first().isVisible(), "the stay is pre-settled");
  await screenshots(ward, "counter-stay-presettle");
  await ward.getByRole("button", { name: "结算", exact: true }).click();
  check(/\/counter\/receipts\/\d+$/.test(ward.url()), "the stay is settled: the receipt shows");
  await ward.goto(`${base}/counter`);
  await ward.getByLabel("凭证类型").selectOption("02");
  await ward.getByLabel("二维码、身份证号或卡号").fill(WANG_QIANG.id);
  await ward.getByRole("button", { name: "识别参保人" }).click();
  check(!(await ward.getByRole("heading", { name: "住院待结算" }).count()), "a settled stay is no longer offered");
  await wardContext.close();

  console.log("赵敏 with the initial password can only set a new one");
  await logIn(page, ZHAO_MIN.id, ZHAO_MIN.id.slice(11, 17));
  check(page.url().endsWith("/portal/password"), "the initial password leads to the password change");
  await screenshots(page, "password");
  await page.goto(`${base}/portal/me`);
  check(page.url().endsWith("/portal/password"), "no other page opens");
  await page.getByLabel("新密码", { exact: true }).fill("Better2026");
  await page.getByLabel("再次输入新密码").fill("Better2026");
  await page.getByRole("button", { name: "设置新密码" }).click();
  check(await page.getByRole("alert").isVisible(), "the initial password alone is not enough (anyone knowing her ID number has it)");
  await page.getByLabel("社保卡号").fill("A10000006");
  await page.getByLabel("社保卡密码（6位数字）").fill("147258");
  await page.getByLabel("新密码", { exact: true }).fill("Better2026");
  await page.getByLabel("再次输入新密码").fill("Better2026");
  await screenshots(page, "password-proof");
  await page.getByRole("button", { name: "设置新密码" }).click();
  check(page.url().endsWith("/portal/login"), "then she logs in again");
  await logIn(page, ZHAO_MIN.id, "Better2026");
  check(page.url().endsWith("/portal/me") && (await page.getByText("赵敏").first().isVisible()), "with the new password she sees her pages");
  await context.close();
  console.log(`screenshots in ${shots}/`);
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  await browser.close();
  server.kill();
  rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
