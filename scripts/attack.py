#!/usr/bin/env python3
"""Security regression probes against a `yibao serve --demo` child process.

    python3 scripts/attack.py --yibao target/debug/yibao [--only 1,2,17] [--keep]

The script starts its own server on a fresh database in a temporary directory (YIBAO_LOG=info,
stdout and stderr in <tmpdir>/server.log), runs every probe, and prints one line per probe:

    HELD  <id> <title>
    FAILED <id> <title>: <what was seen>
    SKIP  <id> <title>: <why>

(optionally followed by indented detail lines), then `N held, M failed` (", K skipped" when
some were). It exits 1 when a probe
failed. Probes 1 to 23 each attack one finding of the security review (issue 14) and check the
behaviour the server has once that finding is fixed; later probes attack routes added since
(24: the hospital counter's stay settlement).

Brute-force back-off is keyed on the client's IP address, so every probe talks from its own
loopback address (127.0.0.<10 + id>, and 127.0.<k>.<10 + id> when it needs a k-th one: an
attacker's address that gets backed off and a clean one for the legitimate caller afterwards).
The admin session is opened once, from 127.0.0.2; probe 12 attacks from 127.0.0.200/201.

Standard library only (Python 3.11).
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import datetime
import hashlib
import html as html_lib
import http.client
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import uuid

HOST = "127.0.0.1"
NHSA_PATH = "/fsi/api/rsfComIfsService/callService"
EC_PATH = "/fsi/api/ec/trans"
ADMIN_SOURCE = "127.0.0.2"
DEMO_PASSWORD = "Demo@2026"
DEMO_PIN = "147258"

TERTIARY = "H33010000001"
SECONDARY = "H33010000002"
COMMUNITY = "H33010000003"
PHARMACY = "P33010000001"

# The demo persons (DEMO.md): ID number, region, insurance type, card.
DEMO = {
    "张伟": ("330102198503121236", "330100", "310", "A10000001"),
    "李秀英": ("330106195207082342", "330100", "310", "A10000002"),
    "王强": ("330105199001013458", "330100", "310", "A10000003"),
    "刘芳": ("330106200106154566", "330100", "390", "A10000004"),
    "陈军": ("330203197811205674", "330200", "310", "A10000005"),
    "赵敏": ("330106199505056781", "330100", "310", "A10000006"),
}
CST = datetime.timezone(datetime.timedelta(hours=8))
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def source(probe: int, which: int = 0) -> str:
    """The loopback address a probe talks from: 127.0.0.<10 + probe> first, then 127.0.<which>.<10 +
    probe> for the further ones a probe needs (an attacker's and a clean address, say). Linux
    routes all of 127/8 to the loopback interface."""
    return f"127.0.{which}.{10 + probe}"


# ---------------------------------------------------------------------------------------------
# Outcomes


class Failed(Exception):
    """A probe's check failed; the message says what was seen."""


class Skipped(Exception):
    """A probe could not be set up from outside; it is reported, not counted as failed."""


class Checks:
    """What one probe found: problems (the probe failed) and notes (shown either way)."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.notes: list[str] = []

    def expect(self, condition: bool, problem: str) -> bool:
        if not condition:
            self.problems.append(problem)
        return bool(condition)

    def note(self, text: str) -> None:
        self.notes.append(text)


# ---------------------------------------------------------------------------------------------
# The server under test


class Server:
    """`yibao serve --demo` on a database in `workdir`, restartable on the same database."""

    def __init__(self, binary: str, workdir: str) -> None:
        self.binary = binary
        self.workdir = workdir
        self.db = os.path.join(workdir, "demo.db")
        self.log_path = os.path.join(workdir, "server.log")
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.generation = 0
        self._reader: threading.Thread | None = None
        self._log = None

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 180.0) -> None:
        env = dict(os.environ, YIBAO_LOG="info", NO_COLOR="1")
        self._log = open(self.log_path, "ab")
        # Run in the work directory so that no yibao.toml of the caller's is picked up.
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--demo", "--db", self.db, "--listen", f"{HOST}:0"],
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        found = threading.Event()
        address: list[str] = []

        def read_stdout(proc: subprocess.Popen, log) -> None:
            for line in iter(proc.stdout.readline, b""):
                log.write(line)
                log.flush()
                if not found.is_set() and b"listening on http://" in line:
                    address.append(line.split(b"listening on http://", 1)[1].strip().decode())
                    found.set()
            found.set()

        self._reader = threading.Thread(target=read_stdout, args=(self.proc, self._log), daemon=True)
        self._reader.start()
        if not found.wait(timeout) or not address:
            self.stop()
            raise RuntimeError(f"the server did not start listening; see {self.log_path}")
        self.port = int(address[0].rsplit(":", 1)[1].split("/")[0])
        self.generation += 1

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self._reader:
            self._reader.join(5)
        if self._log:
            self._log.close()
        self.proc = None

    def rss_mib(self) -> float:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def log_text(self) -> str:
        with open(self.log_path, "rb") as log:
            return ANSI.sub("", log.read().decode("utf-8", "replace"))


class RunningServer(Server):
    """A server someone else started (`--url`): no restart, no log, no memory reading. The
    probes that need those (11, 14, and 5's memory check) say so and are skipped."""

    def __init__(self, url: str) -> None:
        super().__init__("", "")
        parsed = urllib.parse.urlsplit(url)
        if parsed.hostname != HOST or not parsed.port:
            raise SystemExit(f"--url must be http://{HOST}:<port> (the probes bind loopback source addresses)")
        self.port = parsed.port
        self.generation = 1

    def start(self, timeout: float = 180.0) -> None:
        return None

    def stop(self, timeout: float = 30.0) -> None:
        return None

    def rss_mib(self) -> float:
        raise Skipped("the server's memory cannot be read from here (--url)")

    def log_text(self) -> str:
        raise Skipped("the server's log is not here (--url)")


SERVER: Server  # set in main()


# ---------------------------------------------------------------------------------------------
# HTTP


class Resp:
    """One HTTP answer."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes, elapsed: float) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed
        self._json = None
        self._parsed = False

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def json(self):
        if not self._parsed:
            self._parsed = True
            try:
                self._json = json.loads(self.body)
            except ValueError:
                self._json = None
        return self._json

    @property
    def code(self) -> str | None:
        """The REST error code (`error.code`)."""
        body = self.json
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            return body["error"].get("code")
        return None

    @property
    def infcode(self):
        body = self.json
        return body.get("infcode") if isinstance(body, dict) else None

    @property
    def err_msg(self) -> str:
        body = self.json
        return str(body.get("err_msg") or "") if isinstance(body, dict) else ""

    @property
    def output(self) -> dict:
        body = self.json
        return (body.get("output") or {}) if isinstance(body, dict) else {}

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def headers_all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def brief(self, limit: int = 200) -> str:
        text = self.text.replace("\n", " ")
        return f"HTTP {self.status} {text[:limit]}"


def request(method: str, path: str, *, src: str, body=None, headers: dict | None = None, timeout: float = 60.0,
            barrier: threading.Barrier | None = None, delay: float = 0.0) -> Resp:
    """One request on a fresh connection from `src`. A dict or list body is sent as JSON. With a
    barrier, the connection is opened first and the request sent when every party is ready."""
    all_headers = {"Connection": "close"}
    if isinstance(body, (dict, list)):
        data = json.dumps(body, ensure_ascii=False).encode()
        all_headers["Content-Type"] = "application/json"
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = body
    all_headers.update(headers or {})
    connection = http.client.HTTPConnection(HOST, SERVER.port, timeout=timeout, source_address=(src, 0))
    try:
        connection.connect()
        if barrier is not None:
            try:
                barrier.wait(timeout=20)
            except threading.BrokenBarrierError:
                pass
        if delay:
            time.sleep(delay)
        started = time.monotonic()
        connection.request(method, path, body=data, headers=all_headers)
        response = connection.getresponse()
        payload = response.read()
        return Resp(response.status, response.getheaders(), payload, time.monotonic() - started)
    finally:
        connection.close()


def parallel(calls: list, workers: int | None = None) -> list:
    """Runs the zero-argument callables concurrently; results (or exceptions) in their order."""
    results: list = [None] * len(calls)
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers or max(1, len(calls))) as pool:
        futures = {pool.submit(call): index for index, call in enumerate(calls)}
        for future in concurrent.futures.as_completed(futures):
            index = futures[future]
            try:
                results[index] = future.result()
            except Exception as error:  # noqa: BLE001 - reported by the caller
                results[index] = error
    return results


def signature(timestamp: str, secret: str, nonce: str) -> str:
    return hashlib.sha256(f"{timestamp}{secret}{nonce}{timestamp}".encode()).hexdigest()


def signed(code: str, timestamp: int | None = None, nonce: str | None = None) -> dict:
    """The x-tif-* headers of institution `code` (secret demo-<code>)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce if nonce is not None else uuid.uuid4().hex
    return {"x-tif-paasid": code, "x-tif-timestamp": ts, "x-tif-nonce": nonce,
            "x-tif-signature": signature(ts, f"demo-{code}", nonce)}


def rest(method: str, path: str, *, src: str, token: str | None = None, body=None, sign: str | None = None,
         headers: dict | None = None, timeout: float = 60.0, barrier=None, delay: float = 0.0) -> Resp:
    """A REST call as an anonymous caller, a bearer token or a signed institution."""
    extra = dict(headers or {})
    if token:
        extra["Authorization"] = f"Bearer {token}"
    if sign:
        extra.update(signed(sign))
    if body is None and method == "POST":
        body = b""
    return request(method, path, src=src, body=body, headers=extra, timeout=timeout, barrier=barrier, delay=delay)


def form(path: str, fields: dict, *, src: str, origin: str | None = "same", cookies: str = "",
         barrier=None, timeout: float = 30.0) -> Resp:
    """A browser's form post (with the Origin a browser sends, unless told otherwise)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if origin == "same":
        headers["Origin"] = SERVER.origin
    elif origin:
        headers["Origin"] = origin
    if cookies:
        headers["Cookie"] = cookies
    return request("POST", path, src=src, body=urllib.parse.urlencode(fields), headers=headers,
                   barrier=barrier, timeout=timeout)


def session_cookie(resp: Resp, name: str) -> str | None:
    """The whole Set-Cookie header that sets a non-empty `name`, if any."""
    for value in resp.headers_all("Set-Cookie"):
        pair = value.split(";", 1)[0].strip()
        if pair.startswith(name + "=") and pair[len(name) + 1:]:
            return value
    return None


# ---------------------------------------------------------------------------------------------
# The national interface

_SEQUENCE = [0]
_SEQUENCE_LOCK = threading.Lock()
_RUN = f"{random.randrange(10_000):04d}"


def cst_now(minutes: int = 0) -> datetime.datetime:
    return datetime.datetime.now(CST) + datetime.timedelta(minutes=minutes)


def cst_text(minutes: int = 0) -> str:
    return cst_now(minutes).strftime("%Y-%m-%d %H:%M:%S")


def new_msgid(code: str) -> str:
    """code + yyyyMMddHHmmss + run (4) + sequence (6): 24 characters after the code."""
    with _SEQUENCE_LOCK:
        _SEQUENCE[0] += 1
        serial = _SEQUENCE[0]
    return f"{code}{cst_now().strftime('%Y%m%d%H%M%S')}{_RUN}{serial:06d}"


def envelope(code: str, infno: str, data: dict, msgid: str | None = None, insuplc: str = "330100") -> dict:
    return {
        "infno": infno, "msgid": msgid or new_msgid(code), "mdtrtarea_admvs": "330100", "insuplc_admdvs": insuplc,
        "recer_sys_code": "YBXT", "dev_no": "", "dev_safe_info": "", "cainfo": "", "signtype": "", "infver": "V1.0",
        "opter_type": "1", "opter": "001", "opter_name": "收费员", "inf_time": cst_text(), "fixmedins_code": code,
        "fixmedins_name": "探针机构", "sign_no": "", "input": data,
    }


def post_nhsa(code: str, body: bytes, *, src: str, content_type: str = "text/plain; charset=utf-8",
              headers: dict | None = None, timeout: float = 120.0) -> Resp:
    """Posts raw bytes to the national interface, signed by `code` (unless `headers` are given)."""
    extra = {"Content-Type": content_type}
    extra.update(headers if headers is not None else signed(code))
    return request("POST", NHSA_PATH, src=src, body=body, headers=extra, timeout=timeout)


def nhsa(code: str, infno: str, data: dict, *, src: str, msgid: str | None = None, insuplc: str = "330100",
         timeout: float = 120.0) -> Resp:
    """One national-interface message from institution `code`."""
    body = json.dumps(envelope(code, infno, data, msgid, insuplc), ensure_ascii=False).encode()
    return post_nhsa(code, body, src=src, timeout=timeout)


def accepted(resp: Resp, what: str) -> dict:
    """The output of an accepted message, or Failed naming what was refused."""
    if resp.status != 200 or resp.infcode != 0:
        raise Failed(f"{what} was not accepted: {resp.brief()}")
    return resp.output


def identify(code: str, id_number: str, *, src: str) -> tuple[str, str]:
    """1101 by ID number: the person's psn_no and insured region."""
    output = accepted(nhsa(code, "1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id_number,
                                                   "psn_cert_type": "01", "certno": id_number}}, src=src),
                      f"1101 at {code}")
    region = "330100"
    insuinfo = output.get("insuinfo") or []
    if insuinfo and insuinfo[0].get("insuplc_admdvs"):
        region = insuinfo[0]["insuplc_admdvs"]
    return output["baseinfo"]["psn_no"], region


def fee_lines(mdtrt_id: str, psn_no: str, prefix: str, start: int, count: int, price: str = "0.01") -> list[dict]:
    """`count` bill lines of DEMO-A-001 at `price`, serials prefix+start…"""
    when = cst_text()
    return [{
        "feedetl_sn": f"{prefix}{n}", "mdtrt_id": mdtrt_id, "psn_no": psn_no, "chrg_bchno": "B001", "rxno": "",
        "rx_circ_flag": "0", "fee_ocur_time": when, "med_list_codg": "DEMO-A-001", "medins_list_codg": "HIS-DEMO-A-001",
        "det_item_fee_sumamt": float(price), "cnt": 1, "pric": float(price), "bilg_dept_codg": "A01",
        "bilg_dept_name": "内科", "bilg_dr_codg": "D001", "bilg_dr_name": "医生", "hosp_appr_flag": "1",
    } for n in range(start, start + count)]


def open_outpatient(code: str, psn_no: str, id_number: str, insutype: str, *, src: str, insuplc: str = "330100",
                    diagnosis: bool = True) -> str:
    """2201 (+ 2203 with one diagnosis J06.900): an outpatient visit's mdtrt_id."""
    begin = cst_text(-5)
    output = accepted(nhsa(code, "2201", {"data": {
        "psn_no": psn_no, "insutype": insutype, "begntime": begin, "mdtrt_cert_type": "02", "mdtrt_cert_no": id_number,
        "ipt_otp_no": f"MZ{random.randrange(10**8):08d}", "atddr_no": "D001", "dr_name": "医生", "dept_code": "A01",
        "dept_name": "内科", "caty": "A01"}}, src=src, insuplc=insuplc), "2201")
    mdtrt_id = output["data"]["mdtrt_id"]
    if diagnosis:
        accepted(nhsa(code, "2203", {
            "mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": "11", "begntime": begin,
                          "main_cond_dscr": "", "dise_codg": "J06.900", "dise_name": "上呼吸道感染"},
            "diseinfo": [{"diag_type": "1", "diag_srt_no": "1", "diag_code": "J06.900", "diag_name": "上呼吸道感染",
                          "diag_dept": "内科", "dise_dor_no": "D001", "dise_dor_name": "医生", "diag_time": begin,
                          "vali_flag": "1"}]}, src=src, insuplc=insuplc), "2203")
    return mdtrt_id


def cancel_outpatient(code: str, mdtrt_id: str, psn_no: str, *, src: str, insuplc: str = "330100") -> None:
    """Best effort: revoke the visit's lines (2205) and cancel it (2202)."""
    try:
        nhsa(code, "2205", {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": "0000", "psn_no": psn_no}}, src=src,
             insuplc=insuplc)
        nhsa(code, "2202", {"data": {"psn_no": psn_no, "mdtrt_id": mdtrt_id, "ipt_otp_no": ""}}, src=src,
             insuplc=insuplc)
    except Exception:  # noqa: BLE001 - clean-up only
        pass


# ---------------------------------------------------------------------------------------------
# ID numbers (GB 11643-1999)

_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_USED_IDS: set[str] = {row[0] for row in DEMO.values()}


def check_digit(first17: str) -> str:
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, _WEIGHTS)) % 11]


def new_id_number() -> str:
    """A valid ID number nobody in the demo has (region 3301xx, born 1965–1999)."""
    while True:
        region = random.choice(["330102", "330105", "330106", "330108"])
        born = datetime.date(1965, 1, 1) + datetime.timedelta(days=random.randrange(35 * 365))
        first17 = f"{region}{born:%Y%m%d}{random.randrange(100, 1000):03d}"
        number = first17 + check_digit(first17)
        if number not in _USED_IDS:
            _USED_IDS.add(number)
            return number


def initial_password(id_number: str) -> str:
    """The seeds' initial web password: ID characters 12 to 17."""
    return id_number[11:17]


# ---------------------------------------------------------------------------------------------
# Shared state: the admin session and the demo persons' numbers


class Context:
    def __init__(self) -> None:
        self._admin: tuple[int, str] | None = None
        self._persons: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def admin(self) -> str:
        """The admin's bearer token (logged in from 127.0.0.2, again after a restart)."""
        with self._lock:
            if self._admin is None or self._admin[0] != SERVER.generation:
                resp = rest("POST", "/api/v1/auth/login", src=ADMIN_SOURCE,
                            body={"role": "operator", "username": "admin", "password": DEMO_PASSWORD})
                token = (resp.json or {}).get("token") if resp.status == 200 else None
                if not token:
                    raise Failed(f"admin login failed: {resp.brief()}")
                self._admin = (SERVER.generation, token)
            return self._admin[1]

    def person(self, name: str) -> tuple[str, str]:
        """A demo person's (psn_no, region), from the admin's person list (no institution 1101)."""
        with self._lock:
            cached = self._persons.get(name)
        if cached:
            return cached
        token = self.admin()
        for region in ("330100", "330200"):
            resp = rest("GET", f"/api/v1/persons?admdvs={region}&page_size=500", src=ADMIN_SOURCE, token=token)
            for row in (resp.json or {}).get("persons", []) if resp.status == 200 else []:
                if row.get("name") in DEMO and row.get("psn_no"):
                    with self._lock:
                        self._persons.setdefault(row["name"], (row["psn_no"], row.get("admdvs") or region))
        with self._lock:
            cached = self._persons.get(name)
        if cached:
            return cached
        # Fallback: the tertiary hospital identifies the person.
        found = identify(TERTIARY, DEMO[name][0], src=ADMIN_SOURCE)
        with self._lock:
            self._persons[name] = found
        return found

    def create_person(self, name: str, *, src: str) -> tuple[str, str]:
        """A new insured person (employee, 330100) with a generated ID number: (psn_no, id)."""
        id_number = new_id_number()
        resp = rest("POST", "/api/v1/persons", src=src, token=self.admin(), body={
            "id_number": id_number, "name": name, "admdvs": "330100", "insutype": "310", "psn_type": "1101",
            "employer": None})
        if resp.status not in (200, 201) or not (resp.json or {}).get("psn_no"):
            raise Failed(f"creating a person failed: {resp.brief()}")
        return resp.json["psn_no"], id_number

    def create_operator(self, username: str, password: str, *, src: str) -> None:
        resp = rest("POST", "/api/v1/operators", src=src, token=self.admin(),
                    body={"username": username, "password": password, "roles": ["operator"]})
        if resp.status not in (200, 201, 409):
            raise Failed(f"creating operator {username} failed: {resp.brief()}")


def person_login(id_number: str, password: str, *, src: str) -> Resp:
    return rest("POST", "/api/v1/auth/login", src=src,
                body={"role": "person", "id_number": id_number, "password": password})


def token_of(resp: Resp, who: str) -> str:
    token = (resp.json or {}).get("token") if resp.status == 200 else None
    if not token:
        raise Failed(f"{who} could not log in: {resp.brief()}")
    return token


def post_with_bodies(path: str, *, src: str, token: str, bodies: list) -> Resp:
    """POSTs with the first body shape the server accepts (no body, {}, …): for endpoints whose
    exact body is not known from the current code."""
    resp = None
    for body in bodies:
        resp = rest("POST", path, src=src, token=token, body=body)
        if resp.status != 400:
            return resp
    return resp


def find_keys(value, keys: set[str]) -> list[str]:
    """Every key in `keys` found anywhere in a JSON value."""
    found = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in keys:
                found.append(key)
            found.extend(find_keys(inner, keys))
    elif isinstance(value, list):
        for inner in value:
            found.extend(find_keys(inner, keys))
    return found


# ---------------------------------------------------------------------------------------------
# Raw sockets (large bodies, slow and idle connections)

_CHUNK = b"a" * 65536


def stream_post(path: str, total: int, *, src: str, headers: dict | None = None, timeout: float = 10.0) -> dict:
    """POSTs a `total`-byte body in chunks, reading the answer as soon as one comes (the server
    may answer before the body is sent and close). Returns status (None if none came), the
    seconds until the status line, the bytes sent and the answer's body (when complete)."""
    head = [f"POST {path} HTTP/1.1", f"Host: {HOST}:{SERVER.port}", f"Content-Length: {total}",
            "Connection: close"]
    for name, value in (headers or {"Content-Type": "application/json"}).items():
        head.append(f"{name}: {value}")
    started = time.monotonic()
    sock = socket.create_connection((HOST, SERVER.port), timeout=timeout, source_address=(src, 0))
    received = b""
    sent = 0
    status = None
    at = None
    error = None
    try:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sock.setblocking(False)
        sending = True
        while time.monotonic() - started < timeout:
            readable, writable, _ = select.select([sock], [sock] if sending and sent < total else [], [], 0.25)
            if readable:
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    data = None
                except OSError as problem:
                    error = str(problem)
                    break
                if data == b"":
                    break
                if data:
                    received += data
                    if status is None and b"\r\n" in received:
                        line = received.split(b"\r\n", 1)[0].decode("latin-1")
                        parts = line.split()
                        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1
                        at = time.monotonic() - started
                        sending = False
                    if _complete(received):
                        break
            if writable and sending and sent < total:
                try:
                    sent += sock.send(_CHUNK[:min(len(_CHUNK), total - sent)])
                except BlockingIOError:
                    pass
                except OSError as problem:
                    error = str(problem)
                    sending = False
    finally:
        sock.close()
    body = received.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in received else b""
    return {"status": status, "at": at, "sent": sent, "body": body, "error": error}


def _complete(received: bytes) -> bool:
    """Whether a raw HTTP answer holds all of its (Content-Length) body."""
    if b"\r\n\r\n" not in received:
        return False
    head, body = received.split(b"\r\n\r\n", 1)
    match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return bool(match) and len(body) >= int(match.group(1))


def timed_get(path: str, *, src: str, timeout: float = 10.0) -> tuple[int | None, float]:
    started = time.monotonic()
    try:
        resp = request("GET", path, src=src, timeout=timeout)
        return resp.status, time.monotonic() - started
    except Exception:  # noqa: BLE001 - a failed health check is a result
        return None, time.monotonic() - started


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed (or reset) an idle connection: recv gives b"" or an error."""
    sock.setblocking(False)
    try:
        while True:
            data = sock.recv(65536)
            if data == b"":
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


# ---------------------------------------------------------------------------------------------
# The probes

PROBES: dict[int, tuple[str, object]] = {}


def probe(number: int, title: str):
    def register(function):
        PROBES[number] = (title, function)
        return function
    return register


@probe(1, "PIN endpoints: only the holder, a signed institution or an operator; no remote lockout")
def pin_endpoints(ctx: Context, chk: Checks) -> None:
    """A person verifies and changes someone else's PIN, and tries to lock their card."""
    src = source(1)
    zhang = token_of(person_login(DEMO["张伟"][0], DEMO_PASSWORD, src=src), "张伟")
    verify = "/api/v1/cards/A10000002/pin/verify"
    change = "/api/v1/cards/A10000002/pin/change"
    resp = rest("POST", verify, src=src, token=zhang, body={"pin": DEMO_PIN})
    chk.expect((resp.status, resp.code) == (403, "forbidden"),
               f"张伟 verifying 李秀英's card (right PIN): {resp.brief()}")
    resp = rest("POST", change, src=src, token=zhang, body={"old_pin": DEMO_PIN, "new_pin": "258369"})
    changed_by_stranger = resp.status == 200
    chk.expect(resp.status == 403, f"张伟 changing 李秀英's PIN: {resp.brief()}")
    resp = rest("POST", "/api/v1/cards/A99999999/pin/verify", src=src, token=zhang, body={"pin": "111222"})
    chk.expect(resp.status == 403, f"张伟 verifying a card that does not exist: {resp.brief()}")
    answers = [rest("POST", verify, src=src, token=zhang, body={"pin": f"90{n}31{n}"}) for n in range(6)]
    chk.expect(all(a.status == 403 for a in answers),
               "6 wrong PINs by 张伟: " + ", ".join(f"{a.status}/{a.code}" for a in answers))
    admin = ctx.admin()
    src = source(1, 1)  # the legitimate callers, from an address that made no wrong guesses
    if changed_by_stranger:
        rest("POST", "/api/v1/cards/A10000002/pin/reset", src=src, token=admin,
             body={"id_number": DEMO["李秀英"][0], "new_pin": DEMO_PIN, "reason": "probe restore"})
    resp = rest("POST", verify, src=src, token=admin, body={"pin": DEMO_PIN})
    chk.expect(resp.status == 200, f"admin's verify with the right PIN afterwards (card locked?): {resp.brief()}")
    # A terminal checks only the cards of its institution's patients: first a stranger's, then,
    # once it identified 李秀英 (1101), hers.
    resp = rest("POST", verify, src=src, sign=TERTIARY, body={"pin": DEMO_PIN})
    chk.expect(resp.status == 403, f"a signed institution verifying a stranger's card: {resp.brief()}")
    identify(TERTIARY, DEMO["李秀英"][0], src=src)
    resp = rest("POST", verify, src=src, sign=TERTIARY, body={"pin": DEMO_PIN})
    chk.expect(resp.status == 200, f"a signed institution's verify with the right PIN: {resp.brief()}")
    # The holder changes the PIN and back: audited with the holder as actor.
    li = token_of(person_login(DEMO["李秀英"][0], DEMO_PASSWORD, src=src), "李秀英")
    resp = rest("POST", change, src=src, token=li, body={"old_pin": DEMO_PIN, "new_pin": "258369"})
    if chk.expect(resp.status == 200, f"the holder changing her own PIN: {resp.brief()}"):
        back = rest("POST", change, src=src, token=li, body={"old_pin": "258369", "new_pin": DEMO_PIN})
        if not chk.expect(back.status == 200, f"the holder changing her PIN back: {back.brief()}"):
            rest("POST", "/api/v1/cards/A10000002/pin/reset", src=src, token=admin,
                 body={"id_number": DEMO["李秀英"][0], "new_pin": DEMO_PIN, "reason": "probe restore"})
    audit = rest("GET", "/api/v1/audit?subject=A10000002&limit=50", src=src, token=admin)
    entries = (audit.json or {}).get("entries", []) if audit.status == 200 else []
    chk.expect(audit.status == 200, f"audit log: {audit.brief()}")
    pin_entries = [e for e in entries if "pin" in str(e.get("action", "")).lower()]
    chk.note(f"{len(pin_entries)} PIN audit entries for A10000002: "
             + ", ".join(sorted({f"{e.get('action')} by {e.get('actor')}" for e in pin_entries})))
    chk.expect(any(e.get("actor") != "demo-loader" for e in pin_entries),
               "no PIN audit entry for A10000002 after the holder changed her PIN twice")
    for entry in pin_entries:
        actor = str(entry.get("actor", ""))
        # The demo loader set the PIN when the database was made; every later entry has a caller.
        caller = actor == "demo-loader" or re.match(r"^(operator|person|institution):\S+$", actor) is not None
        chk.expect(entry.get("subject") == "A10000002" and actor != "A10000002" and caller,
                   f"PIN audit entry with actor {actor!r}, subject {entry.get('subject')!r} ({entry.get('action')})")


@probe(2, "Concurrent wrong passwords, PINs and counter secrets are counted before they are checked")
def concurrent_lockouts(ctx: Context, chk: Checks) -> None:
    """Races many wrong secrets past a check-then-count lockout."""
    # (a) operator passwords
    src = source(2)
    ctx.create_operator("probe2", "Probe2pass2026", src=src)
    barrier = threading.Barrier(30)
    wrong = {"role": "operator", "username": "probe2", "password": "Wrong2pass2026"}
    answers = parallel([lambda: rest("POST", "/api/v1/auth/login", src=src, body=wrong, barrier=barrier)
                        for _ in range(30)])
    evaluated = sum(1 for a in answers if isinstance(a, Resp) and (a.status, a.code) == (401, "bad_credentials"))
    chk.note(f"(a) 30 concurrent wrong passwords: {evaluated} answered bad_credentials; "
             + summarize(answers))
    chk.expect(evaluated <= 5, f"(a) {evaluated} of 30 concurrent wrong passwords were evaluated (at most 5)")
    right = rest("POST", "/api/v1/auth/login", src=src,
                 body={"role": "operator", "username": "probe2", "password": "Probe2pass2026"})
    chk.expect((right.status == 403 and right.code == "locked") or right.status == 429,
               f"(a) the right password from the attacking source afterwards: {right.brief()}")

    # (b) card PINs, as a signed institution (王强 is its patient); the right PIN last in
    # submission order
    src, clean = source(2, 1), source(2, 2)
    identify(TERTIARY, DEMO["王强"][0], src=clean)
    barrier = threading.Barrier(40)
    pins = [f"{n:06d}" for n in range(100001, 100040)] + [DEMO_PIN]
    verify = "/api/v1/cards/A10000003/pin/verify"
    answers = parallel([
        (lambda pin=pin, index=index: rest("POST", verify, src=src, sign=TERTIARY, body={"pin": pin},
                                           barrier=barrier, delay=index * 0.0005))
        for index, pin in enumerate(pins)])
    bad = sum(1 for a in answers if isinstance(a, Resp) and a.code == "bad_pin")
    last = answers[-1]
    right_ok = isinstance(last, Resp) and last.status == 200
    chk.note(f"(b) 40 concurrent PINs: {bad} answered bad_pin; the right one: "
             + (f"{last.status}/{last.code}" if isinstance(last, Resp) else repr(last)) + "; " + summarize(answers))
    chk.expect(bad <= 5, f"(b) {bad} of 39 concurrent wrong PINs were evaluated (at most 5)")
    chk.expect(not right_ok or bad + 1 <= 5,
               f"(b) the right PIN was accepted although {bad} wrong ones were evaluated before the lock")
    admin = ctx.admin()
    reset = rest("POST", "/api/v1/cards/A10000003/pin/reset", src=clean, token=admin,
                 body={"id_number": DEMO["王强"][0], "new_pin": DEMO_PIN, "reason": "probe restore"})
    chk.expect(reset.status == 200, f"(b) restoring A10000003's PIN: {reset.brief()}")
    again = rest("POST", verify, src=clean, token=admin, body={"pin": DEMO_PIN})
    chk.expect(again.status == 200, f"(b) A10000003 verifies after the reset: {again.brief()}")

    # (c) counter sign-in
    attacker, clean = source(2, 3), source(2, 4)
    barrier = threading.Barrier(30)
    answers = parallel([lambda: form("/counter/login", {"code": PHARMACY, "secret": "not-the-secret"}, src=attacker,
                                     cookies="yibao_lang=en", barrier=barrier) for _ in range(30)])
    kinds = [counter_answer(a) if isinstance(a, Resp) else "error" for a in answers]
    chk.note(f"(c) 30 concurrent wrong counter secrets: {kinds.count('wrong')} evaluated, "
             f"{kinds.count('locked')} locked, {kinds.count('error') + kinds.count('other')} other")
    chk.expect(not any(k == "accepted" for k in kinds), "(c) a wrong counter secret was accepted")
    right = form("/counter/login", {"code": PHARMACY, "secret": f"demo-{PHARMACY}"}, src=attacker,
                 cookies="yibao_lang=en")
    chk.expect(right.status in (401, 403, 429) and session_cookie(right, "yibao_counter") is None,
               f"(c) the right secret from the attacking source: {right.brief(120)}")
    right = form("/counter/login", {"code": PHARMACY, "secret": f"demo-{PHARMACY}"}, src=clean)
    chk.expect(right.status == 303 and session_cookie(right, "yibao_counter") is not None,
               f"(c) the right secret from a clean source: {right.brief(120)}")


def summarize(answers: list) -> str:
    """`status/code ×n` counts of a list of answers."""
    counts: dict[str, int] = {}
    for answer in answers:
        key = f"{answer.status}/{answer.code}" if isinstance(answer, Resp) else type(answer).__name__
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{key} ×{n}" for key, n in sorted(counts.items()))


_LOCK_WORDS = re.compile(r"lock|too many|try again|later|rate limit|锁定|过多|频繁|稍后", re.I)


def counter_answer(resp: Resp) -> str:
    """accepted, locked (403/429 or a lock message), wrong (a plain wrong-secret page) or other."""
    if resp.status == 303 and session_cookie(resp, "yibao_counter"):
        return "accepted"
    if resp.status in (403, 429):
        return "locked"
    if resp.status == 401:
        alert = re.search(r'class="error"[^>]*>(.*?)</p>', resp.text, re.S)
        return "locked" if _LOCK_WORDS.search(alert.group(1) if alert else resp.text) else "wrong"
    return "other"


@probe(3, "Person records: masked, no birth date, not guessable, no bulk reads")
def person_records(ctx: Context, chk: Checks) -> None:
    """Reads persons as a plain operator, as an institution that never saw them, and in bulk."""
    src = source(3)
    # (a) a non-privileged operator
    ctx.create_operator("probe3", "Probe3pass2026", src=src)
    operator = token_of(rest("POST", "/api/v1/auth/login", src=src, body={
        "role": "operator", "username": "probe3", "password": "Probe3pass2026"}), "operator probe3")
    li, _ = ctx.person("李秀英")
    resp = rest("GET", f"/api/v1/persons/{li}", src=src, token=operator)
    if chk.expect(resp.status == 200 and isinstance(resp.json, dict), f"(a) reading 李秀英: {resp.brief()}"):
        chk.expect("*" in str(resp.json.get("id_number", "")), f"(a) id_number not masked: {resp.json.get('id_number')}")
        keys = find_keys(resp.json, {"birth_date", "brdy", "age"})
        chk.expect(not keys, f"(a) birth date fields present: {keys}")
        chk.expect("19520708" not in resp.text and "1952-07-08" not in resp.text, "(a) the birth date is in the body")
    # (b) an institution that never identified or treated 陈军
    chen, _ = ctx.person("陈军")
    resp = rest("GET", f"/api/v1/persons/{chen}", src=src, sign=COMMUNITY)
    chk.expect(resp.status in (403, 404), f"(b) {COMMUNITY} reading 陈军: {resp.brief()}")
    # (c) person numbers
    first, _ = ctx.create_person("探针甲", src=src)
    second, _ = ctx.create_person("探针乙", src=src)
    chk.note(f"(c) two new persons: {first}, {second}")
    if first.isdigit() and second.isdigit():
        chk.expect(abs(int(first) - int(second)) > 1000, f"(c) consecutive person numbers {first}, {second}")
    else:
        chk.expect(first != second, f"(c) the same person number twice: {first}")
    # (d) bulk reads by an institution that identified the person
    fang, _ = identify(SECONDARY, DEMO["刘芳"][0], src=src)
    answers = parallel([lambda: rest("GET", f"/api/v1/persons/{fang}", src=src, sign=SECONDARY)
                        for _ in range(150)], workers=8)
    limited = sum(1 for a in answers if isinstance(a, Resp) and a.status == 429)
    chk.note(f"(d) 150 reads of 刘芳 by {SECONDARY}: " + summarize(answers))
    chk.expect(limited > 0, "(d) 150 rapid reads of one person were never rate-limited (no 429)")
    audit = rest("GET", f"/api/v1/audit?subject={fang}&limit=500", src=src, token=ctx.admin())
    reads = [e for e in (audit.json or {}).get("entries", []) if e.get("actor") == f"institution:{SECONDARY}"]
    chk.expect(bool(reads), f"(d) the audit log shows no read by institution:{SECONDARY}: {audit.brief(150)}")


@probe(4, "One institution's huge visits cannot freeze the writer")
def visit_limits(ctx: Context, chk: Checks) -> None:
    """Fills an outpatient visit and an inpatient stay to their line limits."""
    src = source(4)
    wang, region = identify(TERTIARY, DEMO["王强"][0], src=src)
    visit = open_outpatient(TERTIARY, wang, DEMO["王强"][0], "310", src=src, insuplc=region, diagnosis=False)
    stay = None
    try:
        first = nhsa(TERTIARY, "2204", {"feedetail": fee_lines(visit, wang, "OP", 1, 1000)}, src=src, insuplc=region)
        chk.expect(first.status == 200 and first.infcode == 0, f"the first 1,000 outpatient lines: {first.brief()}")
        second = nhsa(TERTIARY, "2204", {"feedetail": fee_lines(visit, wang, "OP", 1001, 1000)}, src=src,
                      insuplc=region)
        chk.expect(second.status == 200 and second.infcode == -1
                   and re.search(r"1[ ,]?000|上限|最多|超过|limit", second.err_msg) is not None,
                   f"outpatient lines 1,001+: {second.brief()}")
        admitted = nhsa(TERTIARY, "2401", admission(wang, DEMO["王强"][0]), src=src, insuplc=region)
        stay = accepted(admitted, "2401")["result"]["mdtrt_id"]
        times = []
        for n in range(4):
            upload = nhsa(TERTIARY, "2301", {"feedetail": fee_lines(stay, wang, "IP", n * 1000 + 1, 1000)}, src=src,
                          insuplc=region, timeout=300)
            times.append(upload.elapsed)
            if not chk.expect(upload.infcode == 0, f"inpatient message {n + 1}: {upload.brief()}"):
                return
        fifth: dict = {}

        def send_fifth() -> None:
            try:
                fifth["resp"] = nhsa(TERTIARY, "2301", {"feedetail": fee_lines(stay, wang, "IP", 4001, 1000)},
                                     src=src, insuplc=region, timeout=300)
            except Exception as error:  # noqa: BLE001 - reported below
                fifth["error"] = error

        sender = threading.Thread(target=send_fifth)
        sender.start()
        time.sleep(min(0.3, times[0] / 3))
        started = time.monotonic()
        query = nhsa(SECONDARY, "1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": DEMO["张伟"][0],
                                                  "psn_cert_type": "01", "certno": DEMO["张伟"][0]}},
                     src=source(4, 1), timeout=60)
        waited = time.monotonic() - started
        overlapped = sender.is_alive()
        sender.join()
        if "resp" not in fifth:
            raise Failed(f"inpatient message 5: {fifth.get('error')!r}")
        upload = fifth["resp"]
        times.append(upload.elapsed)
        chk.note("2301 times: " + ", ".join(f"{t:.2f}s" for t in times)
                 + f"; 1101 during the fifth: {waited:.2f}s" + ("" if overlapped else " (the fifth had already ended)"))
        chk.expect(upload.infcode == 0, f"inpatient message 5: {upload.brief()}")
        chk.expect(times[4] <= 3 * times[0] + 1, f"the fifth 1,000 lines took {times[4]:.2f}s, the first {times[0]:.2f}s")
        chk.expect(query.infcode == 0 and waited <= 2.0, f"1101 from {SECONDARY} during the fifth: {waited:.2f}s, "
                                                         f"{query.brief(100)}")
        sixth = nhsa(TERTIARY, "2301", {"feedetail": fee_lines(stay, wang, "IP", 5001, 1000)}, src=src,
                     insuplc=region, timeout=300)
        chk.expect(sixth.status == 200 and sixth.infcode == -1, f"inpatient lines 5,001+: {sixth.brief()}")
    finally:
        if stay:
            try:
                nhsa(TERTIARY, "2302", {"data": {"feedetl_sn": "0000", "mdtrt_id": stay, "psn_no": wang}}, src=src,
                     insuplc=region, timeout=300)
                nhsa(TERTIARY, "2404", {"data": {"mdtrt_id": stay, "psn_no": wang}}, src=src, insuplc=region)
            except Exception:  # noqa: BLE001 - clean-up only
                pass
        cancel_outpatient(TERTIARY, visit, wang, src=src, insuplc=region)


def admission(psn_no: str, id_number: str) -> dict:
    """2401 input (as crates/server/tests/api/inpatient.rs)."""
    begin = cst_text(-10)
    return {
        "mdtrtinfo": {"psn_no": psn_no, "insutype": "310", "coner_name": "家属", "tel": "13800000000",
                      "begntime": begin, "mdtrt_cert_type": "02", "mdtrt_cert_no": id_number, "med_type": "21",
                      "ipt_no": f"ZY{random.randrange(10**8):08d}", "medrcdno": "BA0001", "atddr_no": "D001",
                      "chfpdr_name": "主诊医生", "adm_diag_dscr": "肺炎", "adm_dept_codg": "B01",
                      "adm_dept_name": "呼吸科", "adm_bed": "12", "dscg_maindiag_code": "J18.900",
                      "dscg_maindiag_name": "肺炎", "main_cond_dscr": "", "dise_codg": "J18.900", "dise_name": "肺炎",
                      "oprn_oprt_code": "", "oprn_oprt_name": "", "fpsc_no": "", "matn_type": "", "birctrl_type": "",
                      "latechb_flag": "0", "geso_val": "", "fetts": "", "fetus_cnt": "", "pret_flag": "0",
                      "birctrl_matn_date": "", "dise_type_code": ""},
        "diseinfo": [{"psn_no": psn_no, "diag_type": "1", "maindiag_flag": "1", "diag_srt_no": "1",
                      "diag_code": "J18.900", "diag_name": "肺炎", "adm_cond": "", "diag_dept": "呼吸科",
                      "dise_dor_no": "D001", "dise_dor_name": "主诊医生", "diag_time": begin}],
    }


@probe(5, "Peer endpoints are not mounted without peers; 16 MiB bodies cost nothing")
def peer_endpoints(ctx: Context, chk: Checks) -> None:
    """Sends 16 MiB bodies to the peer endpoints (no peers configured) and the national interface."""
    src = source(5)
    size = 16 * 1024 * 1024
    paths = ["/peer/v1/person", "/peer/v1/settle", "/peer/v1/cancel"]
    for path in paths:
        answer = stream_post(path, size, src=src)
        chk.expect(answer["status"] == 404 and answer["at"] is not None and answer["at"] < 2.0,
                   f"{path} with 16 MiB: status {answer['status']} after {fmt_seconds(answer['at'])} "
                   f"({answer['sent'] >> 20} MiB sent{', ' + answer['error'] if answer['error'] else ''})")
    before = SERVER.rss_mib()
    peak = [before]
    health: list[tuple[int | None, float]] = []
    running = threading.Event()
    running.set()

    def sample() -> None:
        while running.is_set():
            try:
                peak[0] = max(peak[0], SERVER.rss_mib())
            except OSError:
                pass
            time.sleep(0.05)

    def check_health() -> None:
        while running.is_set():
            health.append(timed_get("/healthz", src=source(5, 1), timeout=5))
            time.sleep(0.2)

    watchers = [threading.Thread(target=sample), threading.Thread(target=check_health)]
    for watcher in watchers:
        watcher.start()
    try:
        answers = parallel([(lambda path=paths[n % 3]: stream_post(path, size, src=src, timeout=20))
                            for n in range(50)])
    finally:
        running.clear()
        for watcher in watchers:
            watcher.join()
    statuses: dict = {}
    for answer in answers:
        key = answer["status"] if isinstance(answer, dict) else type(answer).__name__
        statuses[key] = statuses.get(key, 0) + 1
    slowest = max((a["at"] or 99.0) for a in answers if isinstance(a, dict)) if answers else 0
    grown = peak[0] - before
    chk.note(f"50 concurrent: statuses {statuses}, slowest answer {slowest:.2f}s; RSS {before:.0f} → "
             f"peak {peak[0]:.0f} MiB; /healthz {len(health)}× max {max((t for _, t in health), default=0):.2f}s")
    chk.expect(statuses.get(404, 0) == 50, f"50 concurrent 16 MiB peer requests answered {statuses}")
    chk.expect(slowest < 2.0, f"the slowest of 50 concurrent peer requests answered after {slowest:.2f}s")
    chk.expect(grown < 200, f"the server's RSS grew by {grown:.0f} MiB during 50 concurrent 16 MiB requests")
    chk.expect(bool(health) and all(status == 200 and took <= 1.0 for status, took in health),
               "/healthz during the burst: " + ", ".join(f"{s}/{t:.2f}s" for s, t in health[:10]))
    headers = {"Content-Type": "application/json"}
    headers.update(signed(TERTIARY))
    answer = stream_post(NHSA_PATH, size, src=src, headers=headers, timeout=30)
    body = answer["body"]
    try:
        infcode = json.loads(body).get("infcode") if body else None
    except ValueError:
        infcode = None
    chk.expect(answer["status"] == 413 or (answer["status"] == 200 and infcode == -1),
               f"16 MiB to the national interface: status {answer['status']}, body {body[:120]!r}")


def fmt_seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f}s"


@probe(6, "The initial password needs proof of possession to set a new one")
def initial_password_proof(ctx: Context, chk: Checks) -> None:
    """Takes over an account whose initial password (ID digits 12–17) is guessable."""
    src = source(6)
    zhao_id = DEMO["赵敏"][0]
    resp = person_login(zhao_id, initial_password(zhao_id), src=src)
    token = token_of(resp, "赵敏 (initial password)")
    chk.expect(resp.json.get("must_change_password") is True, f"must_change_password: {resp.json}")
    no_proof = rest("POST", "/api/v1/me/password", src=src, token=token, body={"new_password": "Better2026x"})
    chk.expect((no_proof.status, no_proof.code) == (403, "proof_required"),
               f"a new password without proof: {no_proof.brief()}")
    foreign = rest("POST", "/api/v1/me/password", src=src, token=token,
                   body={"new_password": "Better2026x", "card_no": "A10000003", "pin": DEMO_PIN})
    chk.expect(foreign.status in (401, 403), f"proof with someone else's card and PIN: {foreign.brief()}")
    zhao, _ = ctx.person("赵敏")
    read = rest("GET", f"/api/v1/persons/{zhao}", src=src, token=token)
    chk.expect(read.status == 403, f"the initial-password session reading her record: {read.brief()}")
    # Whatever the wrong-card attempt counted against A10000003, a right PIN clears it.
    src = source(6, 1)
    rest("POST", "/api/v1/cards/A10000003/pin/verify", src=src, token=ctx.admin(), body={"pin": DEMO_PIN})
    # The positive path, on a person of our own.
    psn_no, id_number = ctx.create_person("探针丙", src=src)
    code_resp = post_with_bodies(f"/api/v1/persons/{psn_no}/activation-code", src=src, token=ctx.admin(),
                                 bodies=[None, {}])
    code = (code_resp.json or {}).get("code") if code_resp.status in (200, 201) else None
    if not chk.expect(bool(code), f"an activation code for a new person: {code_resp.brief()}"):
        return
    login = person_login(id_number, initial_password(id_number), src=src)
    own = token_of(login, "the new person (initial password)")
    done = rest("POST", "/api/v1/me/password", src=src, token=own,
                body={"new_password": "Better2026x", "activation_code": code})
    chk.expect(done.status == 200, f"a new password with the activation code: {done.brief()}")
    again = rest("POST", "/api/v1/me/password", src=src, token=own,
                 body={"new_password": "Better2027y", "activation_code": code})
    chk.expect(again.status != 200, f"the same activation code a second time: {again.brief()}")


@probe(7, "msgids are tied to their sender")
def msgid_ownership(ctx: Context, chk: Checks) -> None:
    """Blocks another institution's future message with 2601 and spoofs msgids."""
    src = source(7)
    wang, region = ctx.person("王强")
    victim = new_msgid(TERTIARY)
    reversal = nhsa(SECONDARY, "2601", {"data": {"psn_no": wang, "omsgid": victim, "oinfno": "2201"}}, src=src,
                    insuplc=region)
    chk.expect(reversal.status == 200 and reversal.infcode == -1,
               f"(a) {SECONDARY} reversing {TERTIARY}'s future msgid: {reversal.brief()}")
    person = {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": DEMO["王强"][0], "psn_cert_type": "01",
                       "certno": DEMO["王强"][0]}}
    own = nhsa(TERTIARY, "1101", person, src=src, msgid=victim)
    chk.expect(own.status == 200 and own.infcode == 0, f"(a) {TERTIARY} then using that msgid: {own.brief()}")
    short = nhsa(TERTIARY, "1101", person, src=src, msgid="ZZZ")
    chk.expect(short.infcode == -1 and "msgid" in short.err_msg.lower(), f"(b) msgid ZZZ: {short.brief()}")
    spoofed = TERTIARY + cst_now().strftime("%Y%m%d%H%M%S") + "0001"
    spoof = nhsa(SECONDARY, "1101", person, src=src, msgid=spoofed)
    chk.expect(spoof.infcode == -1, f"(c) {SECONDARY} sending msgid {spoofed}: {spoof.brief()}")


@probe(8, "Counter sign-in is rate-limited")
def counter_rate_limit(ctx: Context, chk: Checks) -> None:
    """Guesses an institution's counter secret 200 times in a row."""
    src = source(8)
    kinds: list[str] = []
    locked_times: list[float] = []
    started = time.monotonic()
    for _ in range(200):
        resp = form("/counter/login", {"code": PHARMACY, "secret": f"guess-{uuid.uuid4().hex[:8]}"}, src=src,
                    cookies="yibao_lang=en")
        kind = counter_answer(resp)
        kinds.append(kind)
        if kind == "locked":
            locked_times.append(resp.elapsed)
        if time.monotonic() - started > 45:
            break
    evaluated = kinds.count("wrong")
    first_lock = kinds.index("locked") if "locked" in kinds else None
    chk.note(f"{len(kinds)} guesses in {time.monotonic() - started:.1f}s: {evaluated} evaluated, "
             f"{kinds.count('locked')} locked (first at #{'-' if first_lock is None else first_lock + 1}, "
             f"mean {sum(locked_times) / max(1, len(locked_times)):.3f}s), {kinds.count('other')} other")
    chk.expect("accepted" not in kinds, "a guessed secret was accepted")
    chk.expect(evaluated <= 10, f"{evaluated} wrong secrets were evaluated (at most 10)")
    chk.expect(first_lock is not None and first_lock <= 10, "the answers never became locked/429 after 10 failures")


@probe(9, "A huge multipart boundary is refused at once")
def multipart_boundary(ctx: Context, chk: Checks) -> None:
    """Posts multipart bodies whose 60,000-character boundary makes a naive search quadratic."""
    src = source(9)
    boundary = "-" * 60000
    pattern = b"-" * 60001 + b"x"
    body = (pattern * (1024 * 1024 // len(pattern) + 1))[:1024 * 1024]
    content_type = f"multipart/form-data; boundary={boundary}"

    def send() -> Resp:
        return post_nhsa(TERTIARY, body, src=src, content_type=content_type, timeout=15)

    def refused(resp: Resp) -> bool:
        return resp.status in (400, 431) or (resp.status == 200 and resp.infcode == -1)

    first = send()
    chk.expect(first.elapsed <= 1.0 and refused(first), f"one request: {first.elapsed:.2f}s, {first.brief(120)}")
    health: list[tuple[int | None, float]] = []
    running = threading.Event()
    running.set()

    def check_health() -> None:
        while running.is_set():
            health.append(timed_get("/healthz", src=source(9, 1), timeout=10))
            time.sleep(0.1)

    watcher = threading.Thread(target=check_health)
    watcher.start()
    try:
        answers = parallel([send for _ in range(20)])
    finally:
        running.clear()
        watcher.join()
    slow = [a for a in answers if not isinstance(a, Resp) or a.elapsed > 1.0 or not refused(a)]
    chk.note(f"20 concurrent: {summarize(answers)}; slowest "
             f"{max((a.elapsed for a in answers if isinstance(a, Resp)), default=0):.2f}s; /healthz "
             f"{len(health)}× max {max((t for _, t in health), default=0):.2f}s")
    chk.expect(not slow, f"{len(slow)} of 20 concurrent requests took more than 1 s or were not refused")
    chk.expect(bool(health) and all(status == 200 and took <= 1.0 for status, took in health),
               "/healthz during 20 concurrent requests: " + ", ".join(f"{s}/{t:.2f}s" for s, t in health[:10]))


@probe(10, "Browser pages send security headers; logins refuse cross-site posts")
def browser_headers(ctx: Context, chk: Checks) -> None:
    """Frames, sniffs and cross-site-posts the portal, counter and agency pages."""
    src = source(10)
    for path in ("/portal/login", "/counter/login", "/agency/login"):
        resp = request("GET", path, src=src)
        policy = resp.header("Content-Security-Policy") or ""
        directives = {part.strip().split(" ", 1)[0].lower(): part.strip() for part in policy.split(";") if part.strip()}
        script = directives.get("script-src") or directives.get("default-src")
        chk.expect("'none'" in directives.get("frame-ancestors", ""), f"{path}: CSP {policy!r} lacks frame-ancestors 'none'")
        chk.expect(script is not None and "'unsafe-inline'" not in script,
                   f"{path}: script-src allows inline scripts (CSP {policy!r})")
        chk.expect((resp.header("X-Frame-Options") or "").upper() == "DENY", f"{path}: X-Frame-Options "
                                                                              f"{resp.header('X-Frame-Options')!r}")
        chk.expect((resp.header("X-Content-Type-Options") or "").lower() == "nosniff",
                   f"{path}: X-Content-Type-Options {resp.header('X-Content-Type-Options')!r}")
        chk.expect(bool(resp.header("Referrer-Policy")), f"{path}: no Referrer-Policy")
    fields = {"id_number": DEMO["张伟"][0], "password": DEMO_PASSWORD}
    evil = form("/portal/login", fields, src=src, origin="https://evil.example")
    chk.expect(evil.status == 403 and session_cookie(evil, "yibao_portal") is None,
               f"portal login from Origin https://evil.example: {evil.brief(100)}, cookie "
               f"{session_cookie(evil, 'yibao_portal')!r}")
    same = form("/portal/login", fields, src=src, origin="same")
    cookie = session_cookie(same, "yibao_portal")
    if chk.expect(same.status == 303 and cookie is not None, f"portal login from the same origin: {same.brief(100)}"):
        attributes = [part.strip().lower() for part in cookie.split(";")]
        chk.expect("httponly" in attributes, f"the portal cookie is not HttpOnly: {cookie}")
        chk.expect("samesite=strict" in attributes, f"the portal cookie is not SameSite=Strict: {cookie}")


@probe(11, "A signed request cannot be replayed, not even after a restart")
def replay_after_restart(ctx: Context, chk: Checks) -> None:
    """Replays one set of x-tif headers before and after the server restarts."""
    src = source(11)
    headers = signed(TERTIARY, nonce=f"replay{uuid.uuid4().hex[:12]}")
    person = {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": DEMO["张伟"][0], "psn_cert_type": "01",
                       "certno": DEMO["张伟"][0]}}
    body = json.dumps(envelope(TERTIARY, "1101", person), ensure_ascii=False).encode()
    first = post_nhsa(TERTIARY, body, src=src, headers=headers)
    chk.expect(first.status == 200 and first.infcode == 0, f"the original request: {first.brief()}")
    replay = post_nhsa(TERTIARY, body, src=src, headers=headers)
    chk.expect(replay.status == 401, f"the same request again: {replay.brief()}")
    if isinstance(SERVER, RunningServer):
        raise Skipped("the restart half needs a server of the script's own (not --url)")
    SERVER.stop()
    SERVER.start()
    other = json.dumps(envelope(TERTIARY, "1101", person), ensure_ascii=False).encode()
    after = post_nhsa(TERTIARY, other, src=src, headers=headers)
    chk.expect(after.status == 401, f"the same headers with another msgid after a restart: {after.brief()}")
    ctx.admin()  # sessions do not survive a restart: log the admin in again, from 127.0.0.2


@probe(12, "Unauthenticated and failed logins reveal nothing; no admin lockout by one attacker")
def no_oracles(ctx: Context, chk: Checks) -> None:
    """Probes settlement ids and ID numbers for existence; tries to lock the admin out."""
    src = source(12)
    li, region = identify(PHARMACY, DEMO["李秀英"][0], src=src)
    purchase = {
        "data": {"psn_no": li, "mdtrt_cert_type": "02", "mdtrt_cert_no": DEMO["李秀英"][0], "begntime": cst_text(-1),
                 "medfee_sumamt": 10, "ipt_otp_no": f"YD{random.randrange(10**8):08d}", "med_type": "41",
                 "insutype": "310", "psn_setlway": "01", "acct_used_flag": "1", "invono": "", "fulamt_ownpay_amt": 0,
                 "overlmt_selfpay": 0, "preselfpay_amt": 0, "inscp_scp_amt": 0},
        "feedetail": fee_lines("", li, "P", 1, 1, price="10"),
    }
    setl_id = accepted(nhsa(PHARMACY, "2102", purchase, src=src, insuplc=region), "2102")["setlinfo"]["setl_id"]
    last = setl_id[-1]
    missing = setl_id[:-1] + (str((int(last) + 1) % 10) if last.isdigit() else ("A" if last != "A" else "B"))
    answers = [rest("GET", f"/api/v1/settlements/{sid}", src=src) for sid in (setl_id, missing, "%21%21bad%20id")]
    seen = [(a.status, a.code) for a in answers]
    chk.expect(all(s == 401 for s, _ in seen) and len({c for _, c in seen}) == 1,
               f"(a) anonymous GET of an existing, a missing and a malformed settlement: {seen}")
    # (b) the same answers for a registered and an unregistered ID number
    def attempts(id_number: str, where: str) -> list[tuple[int, str | None]]:
        return [(r.status, r.code) for r in (person_login(id_number, f"Wrong{n}pass", src=where) for n in range(8))]

    existing = attempts(DEMO["陈军"][0], source(12, 1))
    unknown = attempts(new_id_number(), source(12, 2))
    chk.expect(existing == unknown, f"(b) 陈军 {existing} vs an unregistered ID {unknown}")
    # (c) one attacker cannot lock the admin out (the admin's own session is opened beforehand)
    ctx.admin()
    wrong = {"role": "operator", "username": "admin", "password": "NotTheAdmin2026"}
    answers = parallel([lambda: rest("POST", "/api/v1/auth/login", src="127.0.0.200", body=wrong)
                        for _ in range(25)], workers=5)
    chk.note(f"(c) 25 wrong admin logins from 127.0.0.200: {summarize(answers)}")
    right = rest("POST", "/api/v1/auth/login", src="127.0.0.201",
                 body={"role": "operator", "username": "admin", "password": DEMO_PASSWORD})
    chk.expect(right.status == 200, f"(c) admin from 127.0.0.201 afterwards: {right.brief()}")


@probe(13, "Uploaded file names cannot break the download's headers")
def file_names(ctx: Context, chk: Checks) -> None:
    """Uploads files named with CR/LF and with a double quote (9101), downloads them (9102)."""
    src = source(13)
    crlf = "a\r\nX-Injected: 1.txt"
    resp = upload_multipart(crlf, src=src)
    chk.expect(resp.status == 200 and resp.infcode == -1, f"multipart upload named with CR/LF: {resp.brief()}")
    inline = nhsa(TERTIARY, "9101", {"fsUploadIn": {"in": base64.b64encode(b"probe").decode(), "filename": crlf,
                                                    "fixmedins_code": TERTIARY}}, src=src)
    chk.expect(inline.status == 200 and inline.infcode == -1, f"JSON upload named with CR/LF: {inline.brief()}")
    quoted = 'a".txt'
    resp = upload_multipart(quoted, src=src)
    if resp.status == 200 and resp.infcode == -1:
        chk.note(f"a name with a double quote is refused at upload: {resp.err_msg}")
        return
    if not chk.expect(resp.status == 200 and resp.infcode == 0, f"upload named {quoted!r}: {resp.brief()}"):
        return
    number = resp.output.get("file_qury_no")
    download = nhsa(TERTIARY, "9102", {"fsDownloadIn": {"file_qury_no": number, "filename": quoted,
                                                        "fixmedins_code": TERTIARY}}, src=src)
    disposition = download.header("Content-Disposition")
    chk.note(f"9102 Content-Disposition: {disposition!r}")
    chk.expect(download.status == 200, f"download: {download.brief()}")
    chk.expect(download.header("X-Injected") is None, "an injected header came back")
    chk.expect(disposition is not None and well_formed_disposition(disposition),
               f"a malformed Content-Disposition: {disposition!r}")


def upload_multipart(filename: str, *, src: str) -> Resp:
    """9101 as multipart (jsonStr + file), the file name in the envelope's fsUploadIn.filename."""
    boundary = f"probe{uuid.uuid4().hex}"
    env = envelope(TERTIARY, "9101", {"fsUploadIn": {"filename": filename, "fixmedins_code": TERTIARY}})
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"jsonStr\"\r\n\r\n".encode()
            + json.dumps(env, ensure_ascii=False).encode() + b"\r\n"
            + f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"probe.txt\"\r\n"
              f"Content-Type: application/octet-stream\r\n\r\n".encode()
            + b"probe file\r\n" + f"--{boundary}--\r\n".encode())
    return post_nhsa(TERTIARY, body, src=src, content_type=f"multipart/form-data; boundary={boundary}")


def well_formed_disposition(value: str) -> bool:
    """`filename="…"` holds no unescaped quote (a backslash escape is accepted) and nothing
    follows it but further parameters; an unquoted filename holds no quote."""
    match = re.search(r'(?i)(?:^|;)\s*filename\s*=\s*', value)
    if not match:
        return "filename*" in value.lower()
    rest_ = value[match.end():]
    if not rest_.startswith('"'):
        token = rest_.split(";", 1)[0]
        return '"' not in token
    index, escaped = 1, False
    while index < len(rest_):
        char = rest_[index]
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            break
        index += 1
    else:
        return False
    tail = rest_[index + 1:].strip()
    return tail == "" or tail.startswith(";")


@probe(14, "Logs cannot be forged and carry no ID numbers")
def log_injection(ctx: Context, chk: Checks) -> None:
    """Puts a newline and a fake log line into infno, and whole ID numbers into psn_no/mdtrt_id."""
    src = source(14)
    forged = "2026-12-01T00:00:00Z INFO forged line"
    nhsa(TERTIARY, f"2207\n{forged}", {"data": {"psn_no": "1"}}, src=src)
    zhang_id = DEMO["张伟"][0]
    zhang, region = ctx.person("张伟")
    register = {"psn_no": zhang_id, "insutype": "310", "begntime": cst_text(-5), "mdtrt_cert_type": "02",
                "mdtrt_cert_no": "330102********1236", "ipt_otp_no": "MZ14", "atddr_no": "D001", "dr_name": "医生",
                "dept_code": "A01", "dept_name": "内科", "caty": "A01"}
    nhsa(TERTIARY, "2201", {"data": register}, src=src)
    nhsa(TERTIARY, "2201", {"data": dict(register, psn_no=zhang, mdtrt_id=zhang_id)}, src=src, insuplc=region)
    nhsa(TERTIARY, "2206", {"data": {"psn_no": zhang, "mdtrt_cert_type": "02", "mdtrt_cert_no": "330102********1236",
                                     "med_type": "11", "medfee_sumamt": 1, "psn_setlway": "01", "mdtrt_id": zhang_id,
                                     "chrg_bchno": "B001", "acct_used_flag": "1", "insutype": "310"}},
         src=src, insuplc=region)
    nhsa(TERTIARY, "2202", {"data": {"psn_no": zhang, "mdtrt_id": zhang_id, "ipt_otp_no": "MZ14"}}, src=src,
         insuplc=region)
    time.sleep(0.5)
    lines = log_lines_without_banner(SERVER.log_text())
    starts = [line for line in lines if line.lstrip().startswith(forged)]
    chk.expect(not starts, f"a forged log line: {starts[:1]}")
    leaks = [line for line in lines if zhang_id in line]
    chk.expect(not leaks, f"{len(leaks)} log lines hold the whole ID number, e.g. {leaks[0][:200]!r}" if leaks else "")


def log_lines_without_banner(text: str) -> list[str]:
    """The log's lines, without the start banner's (which lists the demo persons by design):
    from a `listening on` line up to the first line that looks like a tracing line."""
    tracing = re.compile(r"^\s*\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
    kept, in_banner = [], False
    for line in text.splitlines():
        if "listening on http://" in line and not tracing.match(line):
            in_banner = True
            continue
        if in_banner and tracing.match(line):
            in_banner = False
        if not in_banner:
            kept.append(line)
    return kept


@probe(15, "Idle and slow connections are closed")
def idle_connections(ctx: Context, chk: Checks) -> None:
    """Holds 300 silent connections and one that sends a byte a second."""
    src = source(15)
    sockets = []
    slow_result: dict = {}

    def slowloris() -> None:
        stream = b"GET /healthz HTTP/1.1\r\n" + b"X-Slow: 1\r\n" * 10
        started = time.monotonic()
        try:
            sock = socket.create_connection((HOST, SERVER.port), timeout=5, source_address=(source(15, 1), 0))
        except OSError as error:
            slow_result["error"] = str(error)
            return
        try:
            for index in range(len(stream)):
                sock.setblocking(True)
                try:
                    sock.send(stream[index:index + 1])
                except OSError:
                    slow_result["closed"] = time.monotonic() - started
                    return
                next_byte = started + index + 1
                while (remaining := next_byte - time.monotonic()) > 0:
                    readable, _, _ = select.select([sock], [], [], remaining)
                    if readable and closed_by_server(sock):
                        slow_result["closed"] = time.monotonic() - started
                        return
                if time.monotonic() - started > 16:
                    slow_result["sent"] = index + 1
                    return
        finally:
            sock.close()

    slow = threading.Thread(target=slowloris)
    slow.start()
    started = time.monotonic()
    try:
        for _ in range(300):
            try:
                sockets.append(socket.create_connection((HOST, SERVER.port), timeout=5, source_address=(src, 0)))
            except OSError:
                break
        chk.note(f"{len(sockets)} idle connections opened in {time.monotonic() - started:.1f}s")
        time.sleep(max(0.0, 15.5 - (time.monotonic() - started)))
        closed = sum(1 for sock in sockets if closed_by_server(sock))
        chk.expect(closed >= 0.95 * 300, f"after 15 s the server had closed {closed} of {len(sockets)} idle connections")
    finally:
        for sock in sockets:
            sock.close()
        slow.join()
    chk.note(f"the slow connection: {slow_result}")
    chk.expect("closed" in slow_result and slow_result["closed"] <= 15.5,
               f"a connection sending a byte a second was not closed within 15 s: {slow_result}")


@probe(16, "One live card per person")
def one_card(ctx: Context, chk: Checks) -> None:
    """Applies for a second card while the first is active."""
    src = source(16)
    zhang, _ = ctx.person("张伟")
    resp = rest("POST", "/api/v1/card-applications", src=src, token=ctx.admin(), body={"psn_no": zhang})
    chk.expect((resp.status, resp.code) == (409, "conflict"), f"a second card for 张伟: {resp.brief()}")


@probe(17, "A lost card does not stop the e-voucher; a suspended e-voucher issues no codes")
def evoucher_after_loss(ctx: Context, chk: Checks) -> None:
    """Reports 李秀英's card lost and keeps paying by e-voucher, then suspends it."""
    src = source(17)
    li, _ = ctx.person("李秀英")
    token = token_of(person_login(DEMO["李秀英"][0], DEMO_PASSWORD, src=src), "李秀英")
    face = base64.b64encode(f"face:{li}".encode()).decode()
    resp = rest("POST", "/api/v1/evoucher/activation", src=src, token=token,
                body={"channel": "wechat", "payment_password": "246810", "face_image": face})
    if not chk.expect(resp.status == 200, f"activation: {resp.brief()}"):
        return
    resp = rest("POST", "/api/v1/cards/A10000002/loss", src=src, token=token, body={"reason": "探针挂失"})
    chk.expect(resp.status == 200, f"the holder reporting A10000002 lost: {resp.brief()}")
    qr = rest("POST", "/api/v1/evoucher/qr-codes", src=src, token=token)
    code = (qr.json or {}).get("qr_code") if qr.status in (200, 201) else None
    if chk.expect(bool(code), f"a QR code after the loss: {qr.brief()}"):
        decoded = ec_decode(code, src=src)
        chk.expect(decoded.get("code") == 0, f"decoding it at {TERTIARY}: {decoded}")
    resp = post_with_bodies("/api/v1/evoucher/suspension", src=src, token=token, bodies=[None, {}])
    chk.expect(resp.status == 200, f"suspending the e-voucher: {resp.brief()}")
    qr = rest("POST", "/api/v1/evoucher/qr-codes", src=src, token=token)
    chk.expect(qr.status == 409, f"a QR code while suspended: {qr.brief()}")


def ec_decode(code: str, *, src: str) -> dict:
    """The e-voucher front-end decodes a QR code for the tertiary hospital."""
    body = {"orgId": TERTIARY, "transType": "cn.nhsa.qrcode.get", "extra": "",
            "data": {"orgId": "", "businessType": "01301", "operatorId": "001", "operatorName": "收费员",
                     "officeId": "A01", "officeName": "门诊", "ecQrCode": code, "outBizNo": f"P17{uuid.uuid4().hex[:12]}"}}
    headers = {"Content-Type": "application/json"}
    headers.update(signed(TERTIARY))
    resp = request("POST", EC_PATH, src=src, body=json.dumps(body, ensure_ascii=False).encode(), headers=headers)
    return resp.json if isinstance(resp.json, dict) else {"status": resp.status, "body": resp.text[:200]}


@probe(18, "Card application steps in order, with deadline warnings")
def card_application_steps(ctx: Context, chk: Checks) -> None:
    """Records the forms step before the photo, then the steps in order."""
    src = source(18)
    admin = ctx.admin()
    psn_no, _ = ctx.create_person("探针丁", src=src)
    today = datetime.datetime.now(CST).date()
    applied = rest("POST", "/api/v1/card-applications", src=src, token=admin,
                   body={"psn_no": psn_no, "registered_on": today.isoformat(), "bank": "BOC"})
    application = (applied.json or {}).get("id") if applied.status in (200, 201) else None
    if not chk.expect(bool(application), f"the application: {applied.brief()}"):
        return
    steps = f"/api/v1/card-applications/{application}/steps"
    early = rest("POST", steps, src=src, token=admin, body={"step": "forms"})
    chk.expect(early.status == 409, f"forms before photo: {early.brief()}")
    photo = rest("POST", steps, src=src, token=admin, body={"step": "photo"})
    chk.expect(photo.status == 200, f"photo: {photo.brief()}")
    forms = rest("POST", steps, src=src, token=admin, body={"step": "forms"})
    chk.expect(forms.status == 200, f"forms after photo: {forms.brief()}")
    submit = rest("POST", steps, src=src, token=admin, body={"step": "submit"})
    chk.expect(submit.status == 200, f"submit: {submit.brief()}")
    next_month = (today.replace(day=1) + datetime.timedelta(days=32)).replace(day=19)
    if today < next_month:
        warnings = (submit.json or {}).get("warnings") if isinstance(submit.json, dict) else None
        chk.expect(isinstance(warnings, list) and bool(warnings), f"submit before {next_month}: warnings {warnings!r}")


@probe(19, "1101 warns about a card or account that cannot pay")
def person_warnings(ctx: Context, chk: Checks) -> None:
    """Freezes a new person's account (a card replaced at another bank) and asks 1101."""
    src = source(19)
    admin = ctx.admin()
    try:
        psn_no, id_number = ctx.create_person("探针戊", src=src)
        card_no = new_active_card(psn_no, admin, src=src)
        lost = rest("POST", f"/api/v1/cards/{card_no}/loss", src=src, token=admin, body={"reason": "探针挂失"})
        if lost.status != 200:
            raise Skipped(f"reporting the card lost: {lost.brief()}")
        replaced = rest("POST", f"/api/v1/cards/{card_no}/replacement", src=src, token=admin,
                        body={"bank": "ICBC", "reason": "探针补卡"})
        if replaced.status not in (200, 201) or not (replaced.json or {}).get("clearing_notice"):
            raise Skipped(f"replacing the card at another bank (freezes the account): {replaced.brief()}")
    except Failed as problem:
        raise Skipped(f"setting up a frozen account failed: {problem}") from None
    resp = nhsa(TERTIARY, "1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id_number,
                                            "psn_cert_type": "01", "certno": id_number}}, src=src)
    warning = (resp.json or {}).get("warn_msg") if isinstance(resp.json, dict) else None
    chk.note(f"1101 for a frozen account: infcode {resp.infcode}, warn_msg {warning!r}")
    chk.expect(resp.infcode == 0 and bool(warning), f"1101 for a person whose account is frozen: {resp.brief()}")


def new_active_card(psn_no: str, admin: str, *, src: str) -> str:
    """A card for a new person, taken through every application step and activated."""
    applied = rest("POST", "/api/v1/card-applications", src=src, token=admin, body={"psn_no": psn_no, "bank": "BOC"})
    if applied.status not in (200, 201):
        raise Skipped(f"applying for a card: {applied.brief()}")
    application, card_no = applied.json["id"], applied.json["card_no"]
    steps = f"/api/v1/card-applications/{application}/steps"
    for step in ("photo", "forms", "submit"):
        resp = rest("POST", steps, src=src, token=admin, body={"step": step})
        if resp.status != 200:
            raise Skipped(f"application step {step}: {resp.brief()}")
    resp = rest("POST", f"/api/v1/card-applications/{application}/produce", src=src, token=admin,
                body={"initial_pin": "135790"})
    if resp.status != 200:
        raise Skipped(f"producing the card: {resp.brief()}")
    for step in ("receive", "issue"):
        resp = rest("POST", steps, src=src, token=admin, body={"step": step})
        if resp.status != 200:
            raise Skipped(f"application step {step}: {resp.brief()}")
    resp = rest("POST", f"/api/v1/cards/{card_no}/status", src=src, token=admin,
                body={"status": "active", "reason": "启用医保功能"})
    if resp.status != 200:
        raise Skipped(f"activating the card: {resp.brief()}")
    return card_no


@probe(20, "1101 gives the institution the whole certno; a masked certificate number is accepted")
def whole_certno(ctx: Context, chk: Checks) -> None:
    """Identifies 张伟 and registers a visit with his masked ID number as certificate."""
    src = source(20)
    zhang_id = DEMO["张伟"][0]
    resp = nhsa(TERTIARY, "1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": zhang_id,
                                            "psn_cert_type": "01", "certno": zhang_id}}, src=src)
    baseinfo = accepted(resp, "1101").get("baseinfo", {})
    certno = str(baseinfo.get("certno", ""))
    chk.expect(certno == zhang_id, f"1101 certno {certno!r} (expected the whole ID number)")
    zhang, region = baseinfo.get("psn_no"), "330100"
    visit = nhsa(TERTIARY, "2201", {"data": {
        "psn_no": zhang, "insutype": "310", "begntime": cst_text(-5), "mdtrt_cert_type": "02",
        "mdtrt_cert_no": "330102********1236", "ipt_otp_no": "MZ20", "atddr_no": "D001", "dr_name": "医生",
        "dept_code": "A01", "dept_name": "内科", "caty": "A01"}}, src=src, insuplc=region)
    chk.expect(visit.status == 200 and visit.infcode == 0, f"2201 with the masked ID number: {visit.brief()}")
    if visit.infcode == 0:
        cancel_outpatient(TERTIARY, visit.output["data"]["mdtrt_id"], zhang, src=src, insuplc=region)


@probe(21, "2206 warns on a wrong ID number and refuses a bogus ecToken")
def presettle_certificates(ctx: Context, chk: Checks) -> None:
    """Pre-settles a visit with a wrong ID number and with a made-up ecToken."""
    src = source(21)
    zhang_id = DEMO["张伟"][0]
    zhang, region = identify(SECONDARY, zhang_id, src=src)
    visit = open_outpatient(SECONDARY, zhang, zhang_id, "310", src=src, insuplc=region)
    try:
        accepted(nhsa(SECONDARY, "2204", {"feedetail": fee_lines(visit, zhang, "S", 1, 1, price="10")}, src=src,
                      insuplc=region), "2204")
        data = {"psn_no": zhang, "mdtrt_cert_type": "02", "mdtrt_cert_no": "02", "med_type": "11",
                "medfee_sumamt": 10, "psn_setlway": "01", "mdtrt_id": visit, "chrg_bchno": "B001",
                "acct_used_flag": "1", "insutype": "310"}
        wrong_id = nhsa(SECONDARY, "2206", {"data": data}, src=src, insuplc=region)
        warning = (wrong_id.json or {}).get("warn_msg") if isinstance(wrong_id.json, dict) else None
        chk.expect(wrong_id.infcode == 0 and bool(warning),
                   f"2206 with mdtrt_cert_no \"02\": infcode {wrong_id.infcode}, warn_msg {warning!r}, "
                   f"{wrong_id.brief(120)}")
        token = "330100ec" + uuid.uuid4().hex
        bogus = nhsa(SECONDARY, "2206", {"data": dict(data, mdtrt_cert_type="01", mdtrt_cert_no=token)}, src=src,
                     insuplc=region)
        chk.expect(bogus.status == 200 and bogus.infcode == -1, f"2206 with a made-up ecToken: {bogus.brief()}")
    finally:
        cancel_outpatient(SECONDARY, visit, zhang, src=src, insuplc=region)


@probe(22, "5202 returns a visit's diagnoses")
def diagnosis_query(ctx: Context, chk: Checks) -> None:
    """Queries the diagnosis sent with 2203."""
    src = source(22)
    zhang_id = DEMO["张伟"][0]
    zhang, region = identify(TERTIARY, zhang_id, src=src)
    visit = open_outpatient(TERTIARY, zhang, zhang_id, "310", src=src, insuplc=region)
    try:
        resp = nhsa(TERTIARY, "5202", {"data": {"psn_no": zhang, "mdtrt_id": visit}}, src=src, insuplc=region)
        rows = resp.output.get("diseinfo") if resp.infcode == 0 else None
        chk.expect(resp.infcode == 0, f"5202: {resp.brief()}")
        chk.expect(isinstance(rows, list) and any(row.get("diag_code") == "J06.900" for row in rows
                                                  if isinstance(row, dict)),
                   f"5202 diseinfo {rows!r} does not list J06.900")
    finally:
        cancel_outpatient(TERTIARY, visit, zhang, src=src, insuplc=region)


@probe(23, "A short nonce is unique per timestamp, and a replay is still refused")
def short_nonces(ctx: Context, chk: Checks) -> None:
    """Signs two requests with nonce "7" one second apart, then replays one."""
    src = source(23)
    person = {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": DEMO["张伟"][0], "psn_cert_type": "01",
                       "certno": DEMO["张伟"][0]}}
    now = int(time.time()) - 1
    first_headers = signed(COMMUNITY, timestamp=now, nonce="7")
    second_headers = signed(COMMUNITY, timestamp=now + 1, nonce="7")
    first = post_nhsa(COMMUNITY, json.dumps(envelope(COMMUNITY, "1101", person), ensure_ascii=False).encode(),
                      src=src, headers=first_headers)
    second = post_nhsa(COMMUNITY, json.dumps(envelope(COMMUNITY, "1101", person), ensure_ascii=False).encode(),
                       src=src, headers=second_headers)
    chk.expect(first.status == 200 and first.infcode == 0, f"nonce 7 at T: {first.brief()}")
    chk.expect(second.status == 200 and second.infcode == 0, f"nonce 7 at T+1: {second.brief()}")
    replay = post_nhsa(COMMUNITY, json.dumps(envelope(COMMUNITY, "1101", person), ensure_ascii=False).encode(),
                       src=src, headers=first_headers)
    chk.expect(replay.status == 401, f"the same timestamp, nonce and signature again: {replay.brief()}")


def form_fields(html: str, marker: str) -> dict | None:
    """The inputs (name → value) of the first form on a page whose text holds `marker`;
    unchecked checkboxes left out, as a browser sends it."""
    for form_html in html.split("<form")[1:]:
        form_html = form_html.split("</form>")[0]
        if marker not in form_html:
            continue
        fields = {}
        for tag in re.findall(r"<input[^>]*>", form_html):
            name, value = re.search(r'name="([^"]*)"', tag), re.search(r'value="([^"]*)"', tag)
            if name and value and ('type="checkbox"' not in tag or " checked" in tag):
                fields[html_lib.unescape(name.group(1))] = html_lib.unescape(value.group(1))
        return fields
    return None


@probe(24, "The counter's forms name only the person identified; a stay settles once, however many press")
def counter_stays(ctx: Context, chk: Checks) -> None:
    """Admits 王强 with a bill, then at the tertiary hospital's counter turns 张伟's form to 王强's
    stay, and presses "settle" of two pre-settlement pages 30 times at once."""
    src = source(24)
    wang_id = DEMO["王强"][0]
    wang, _ = identify(TERTIARY, wang_id, src=src)
    stay = accepted(nhsa(TERTIARY, "2401", admission(wang, wang_id), src=src), "2401")["result"]["mdtrt_id"]
    accepted(nhsa(TERTIARY, "2301", {"feedetail": fee_lines(stay, wang, "S", 1, 1, "300.00")}, src=src), "2301")
    signed_in = form("/counter/login", {"code": TERTIARY, "secret": f"demo-{TERTIARY}"}, src=src)
    cookie = (session_cookie(signed_in, "yibao_counter") or "").split(";", 1)[0]
    if not cookie:
        raise Failed(f"the counter did not sign in: {signed_in.brief()}")

    def identified(id_number: str) -> Resp:
        return form("/counter/identify", {"kind": "02", "number": id_number}, src=src, cookies=cookie)

    zhang_page = identified(DEMO["张伟"][0]).text
    marker = f'name="mdtrt_id" value="{stay}"'
    chk.expect(marker not in zhang_page, "another person's stay is offered on 张伟's page")
    zhang_form = form_fields(zhang_page, 'value="presettle"') or {}
    turned = {**zhang_form, "action": "presettle_stay", "mdtrt_id": stay, "mid_stay": "true", "psn_no": wang}
    resp = form("/counter/bill", turned, src=src, cookies=cookie)
    chk.expect(resp.status == 400, f"张伟's form turned to 王强's stay: {resp.brief()} (expected 400)")
    own = {**zhang_form, "action": "presettle_stay", "mdtrt_id": stay, "mid_stay": "true"}
    resp = form("/counter/bill", own, src=src, cookies=cookie)
    chk.expect(resp.status == 404, f"张伟's own form naming 王强's stay: {resp.brief()} (expected 404)")

    stay_form = form_fields(identified(wang_id).text, marker)
    if stay_form is None:
        raise Failed("王强's stay is not offered on his page")
    pages = [form("/counter/bill", stay_form, src=src, cookies=cookie) for _ in range(2)]
    settles = [form_fields(page.text, 'value="settle"') for page in pages]
    if None in settles:
        raise Failed(f"no pre-settlement: {pages[0].brief()}")
    barrier = threading.Barrier(30)
    answers = parallel([
        (lambda fields=settles[n % 2]: form("/counter/bill", fields, src=src, cookies=cookie, barrier=barrier))
        for n in range(30)
    ])
    receipts = {a.header("Location") for a in answers if isinstance(a, Resp) and a.status == 303}
    refused = sum(1 for a in answers if isinstance(a, Resp) and a.status == 422)
    chk.note(f"30 presses of two pages: {len(receipts)} receipt(s), {refused} refused")
    chk.expect(len(receipts) == 1, f"{len(receipts)} different settlements of one stay")
    chk.expect(refused == 15, f"{refused} presses of the other page refused (expected 15)")
    chk.expect(marker not in identified(wang_id).text, "the settled stay is still offered")


# ---------------------------------------------------------------------------------------------
# Running


def run_probe(ctx: Context, number: int) -> str:
    """Runs one probe and prints its line; returns held, failed or skipped."""
    title, function = PROBES[number]
    chk = Checks()
    outcome = "held"
    reason = ""
    started = time.monotonic()
    try:
        function(ctx, chk)
    except Skipped as why:
        outcome, reason = "skipped", str(why)
    except Failed as problem:
        chk.problems.append(str(problem))
    except Exception as error:  # noqa: BLE001 - one broken probe must not stop the others
        chk.problems.append(f"{type(error).__name__}: {error}")
        frames = traceback.extract_tb(error.__traceback__)
        if frames:
            chk.notes.append(f"raised in {frames[-1].name}, line {frames[-1].lineno}")
    if SERVER.proc is not None and SERVER.proc.poll() is not None:
        chk.problems.append(f"the server exited (status {SERVER.proc.returncode}); restarted for the next probes")
        SERVER.stop()
        try:
            SERVER.start()
        except Exception as error:  # noqa: BLE001 - the next probes will fail to connect and say so
            chk.problems.append(f"the restart failed: {error}")
    if outcome != "skipped" and chk.problems:
        outcome = "failed"
    took = time.monotonic() - started
    if took >= 3:
        chk.notes.append(f"took {took:.1f}s")
    if outcome == "held":
        print(f"HELD  {number} {title}")
    elif outcome == "skipped":
        print(f"SKIP  {number} {title}: {reason}")
    else:
        print(f"FAILED {number} {title}: {'; '.join(p for p in chk.problems if p)}")
    for note in chk.notes:
        print(f"      {note}")
    sys.stdout.flush()
    return outcome


def order(selected: list[int]) -> list[int]:
    """Numeric order, except 17 (which loses 李秀英's card) after every other probe."""
    return sorted(selected, key=lambda number: (number == 17, number))


def main() -> int:
    global SERVER
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--yibao", default="target/debug/yibao", help="the yibao binary (default target/debug/yibao)")
    parser.add_argument("--only", help="comma-separated probe numbers to run (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (database, server.log)")
    parser.add_argument("--url", help=f"attack a running `yibao serve --demo` at http://{HOST}:<port> instead "
                        "(on a demo database it may change; probes 11 and 14 and 5's memory check are skipped)")
    args = parser.parse_args()
    binary = os.path.abspath(args.yibao)
    if not args.url and not os.access(binary, os.X_OK):
        print(f"no executable yibao at {binary}", file=sys.stderr)
        return 2
    selected = sorted(PROBES)
    if args.only:
        try:
            selected = sorted({int(part) for part in args.only.split(",") if part.strip()})
        except ValueError:
            print(f"--only takes probe numbers, e.g. 1,5,17: {args.only!r}", file=sys.stderr)
            return 2
        unknown = [n for n in selected if n not in PROBES]
        if unknown:
            print(f"no such probe: {unknown}", file=sys.stderr)
            return 2
    workdir = tempfile.mkdtemp(prefix="yibao-attack-")
    SERVER = RunningServer(args.url) if args.url else Server(binary, workdir)
    results = {"held": 0, "failed": 0, "skipped": 0}
    started = time.monotonic()
    try:
        SERVER.start()
        print(f"server {SERVER.origin} (pid {SERVER.pid or 'not ours'}), work directory {workdir}")
        ctx = Context()
        ctx.admin()
        for number in order(selected):
            results[run_probe(ctx, number)] += 1
    except Exception as error:  # noqa: BLE001 - the server did not start, or the admin cannot log in
        print(f"FAILED setup: {error}")
        results["failed"] += 1
    finally:
        SERVER.stop()
        if args.keep:
            print(f"kept {workdir} (server.log, demo.db)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"finished in {time.monotonic() - started:.0f}s")
    summary = f"{results['held']} held, {results['failed']} failed"
    if results["skipped"]:
        summary += f", {results['skipped']} skipped"
    print(summary)
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
