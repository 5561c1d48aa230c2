#!/usr/bin/env python3
"""A ClickHouse HTTP interface in front of chDB (ClickHouse 26.9 in-process).

chDB cannot listen on a port itself, so this process serves the subset of
ClickHouse's HTTP protocol that a client uses, on a loopback port, and runs
each request on one of a pool of chDB sessions that share one data path (and
so one engine): sessions run in parallel, one session serialises.

Protocol (as a ClickHouse server does it):
  GET|POST /?query=...        the query is the `query` parameter, then a
                              newline, then the body (or the whole body when
                              there is no `query` parameter)
  GET /ping, GET /            "Ok.\\n"
  parameters                  database, default_format (TabSeparated),
                              query_id, session_id, session_timeout,
                              session_check, param_<name>, user, password,
                              readonly; every other parameter is a setting
  credentials                 X-ClickHouse-User/X-ClickHouse-Key headers,
                              user/password parameters, or Basic auth
  success headers             X-ClickHouse-Query-Id, -Format, -Summary,
                              -Timezone, -Server-Display-Name
  errors                      status as exceptionCodeToHTTPStatus maps the
                              code, header X-ClickHouse-Exception-Code, body
                              "Code: N. DB::Exception: ... (NAME) (version V)"

Only the Python standard library and the `chdb` package (PyPI chdb-core) are
used. Run with --help for the options.
"""

import argparse
import base64
import gzip
import json
import logging
import os
import queue
import re
import signal
import socket
import sys
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import chdb  # noqa: F401  (imported for its side effects and version)
from chdb.session import Session

LOG = logging.getLogger("chdb_http")

# Settings whose chDB default differs from a ClickHouse server's default.
# Every session gets these at start and goes back to them after a request.
SERVER_BASELINE = {
    "async_insert": "0",
    "mutations_sync": "0",
    "implicit_select": "0",
}
# Settings that change on their own or that the front sets per request.
IGNORED_IN_DIFF = {"log_comment", "database"}

# URL parameters that are not settings.
NON_SETTING_PARAMS = {
    "query", "database", "default_format", "query_id", "session_id",
    "session_timeout", "session_check", "close_session", "user", "password",
    "quota_key", "stacktrace", "buffer_size", "wait_end_of_query", "compress",
    "decompress", "role", "client_protocol_version", "readonly",
    "enable_http_compression", "http_zlib_compression_level",
    "send_progress_in_http_headers", "http_headers_progress_interval_ms",
}

# ClickHouse error codes used here.
E = {
    "BAD_ARGUMENTS": 36, "SYNTAX_ERROR": 62, "READONLY": 164,
    "QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING": 216, "SESSION_NOT_FOUND": 372,
    "SESSION_IS_LOCKED": 373, "AUTHENTICATION_FAILED": 516,
    "STD_EXCEPTION": 1001, "UNKNOWN_EXCEPTION": 1002,
}

# src/Server/HTTP/exceptionCodeToHTTPStatus.cpp (ClickHouse 26.x), by number.
_HTTP_401 = {194}                                   # REQUIRED_PASSWORD
_HTTP_403 = {192, 193, 516, 512, 497}               # UNKNOWN_USER, WRONG_PASSWORD,
                                                    # AUTHENTICATION_FAILED,
                                                    # SET_NON_GRANTED_ROLE, ACCESS_DENIED
_HTTP_400 = {36, 427, 6, 25, 26, 38, 41, 72, 441, 675, 676, 27, 376, 15, 44,
             37, 123, 8, 167, 168, 223, 62, 117, 53, 321}
_HTTP_404 = {60, 46, 47, 50, 56, 81, 115, 152, 63, 73, 336, 78, 511}
_HTTP_OTHER = {229: 413, 48: 501, 209: 503, 76: 503, 381: 411, 159: 408,
               439: 503, 779: 415}


def http_status_for(code):
    if code in _HTTP_401:
        return 401
    if code in _HTTP_403:
        return 403
    if code in _HTTP_400:
        return 400
    if code in _HTTP_404:
        return 404
    return _HTTP_OTHER.get(code, 500)


class CHError(Exception):
    """An error to send as ClickHouse would: code and the text after "Code: N. "."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message  # "DB::Exception: ... (NAME)"


_CODE_RE = re.compile(r"Code: (\d+)\. (DB::Exception: .*)", re.S)
_VERSION_TAIL_RE = re.compile(r"\s*\(version [^)]*\)\s*$")


def engine_error(exc):
    """Turn a chDB exception into a CHError with ClickHouse's code and text."""
    text = str(exc)
    m = _CODE_RE.search(text)
    if m:
        msg = _VERSION_TAIL_RE.sub("", m.group(2).rstrip())
        return CHError(int(m.group(1)), msg)
    return CHError(E["STD_EXCEPTION"], "DB::Exception: %s. (STD_EXCEPTION)" % text.strip())


# --- a small lexer: blank out literals and comments, keeping offsets --------

_LEX_RE = re.compile(
    r"'(?:[^'\\]|\\.|'')*'"
    r'|"(?:[^"\\]|\\.|"")*"'
    r"|`(?:[^`\\]|\\.|``)*`"
    r"|--[^\n]*"
    r"|/\*.*?\*/",
    re.S,
)
MASK_LIMIT = 1 << 20


def mask_sql(sql):
    """Same length as sql; string/identifier contents and comments are spaces."""
    head = sql[:MASK_LIMIT]

    def blank(m):
        s = m.group(0)
        if s[0] in "'\"`":
            return s[0] + " " * (len(s) - 2) + s[-1]
        return " " * len(s)

    return _LEX_RE.sub(blank, head)


_FIRST_WORDS_RE = re.compile(r"\s*([A-Za-z_]+)(?:\s+([A-Za-z_]+))?")
_TRAILING_FORMAT_RE = re.compile(r"\bFORMAT\s+([A-Za-z_][A-Za-z0-9_]*)\s*;?\s*$", re.I)
_ANY_FORMAT_RE = re.compile(r"\bFORMAT\s+([A-Za-z_][A-Za-z0-9_]*)", re.I)


def first_words(masked):
    m = _FIRST_WORDS_RE.match(masked)
    if not m:
        return "", ""
    return (m.group(1) or "").upper(), (m.group(2) or "").upper()


def content_type_for(fmt):
    f = fmt.lower()
    if f.startswith("tabseparated") or f.startswith("tsv"):
        return "text/tab-separated-values; charset=UTF-8"
    if f.startswith("csv"):
        return "text/csv; charset=UTF-8; header=%s" % ("present" if "withnames" in f else "absent")
    if f == "jsoneachrow" or f == "jsonlines" or f == "ndjson":
        return "application/x-ndjson; charset=UTF-8"
    if f.startswith("json"):
        return "application/json; charset=UTF-8"
    if f in ("native", "rowbinary", "rowbinarywithnames", "rowbinarywithnamesandtypes",
             "parquet", "arrow", "arrowstream", "orc"):
        return "application/octet-stream"
    return "text/plain; charset=UTF-8"


def sql_string(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_ident(name):
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


_SETTING_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# --- engine sessions ---------------------------------------------------------

class EngineSession:
    """One chDB session on the shared data path, with server-like defaults."""

    def __init__(self, path, home_db="default"):
        self.session = Session(path)
        self.conn = self.session._conn._conn  # raw binding: gives rows_written etc.
        self.lock = threading.Lock()
        self.home_db = home_db
        self.actual_db = None
        self.last_used = time.monotonic()
        self.timeout = 60.0
        self.run("SET " + ", ".join("%s = %s" % (k, v) for k, v in SERVER_BASELINE.items()))
        self.baseline = self.changed_settings()

    def run(self, sql, fmt="TabSeparated", params=None):
        return self.conn.query(sql, fmt, params=params or {})

    def changed_settings(self):
        out = {}
        raw = self.run("SELECT name, value FROM system.settings WHERE changed",
                       "JSONCompactEachRow").bytes()
        for line in raw.splitlines():
            if line.strip():
                name, value = json.loads(line)
                if name not in IGNORED_IN_DIFF:
                    out[name] = value
        return out

    def reset_settings(self, names, target=None):
        """Put the named settings back to target's values (default: the baseline)."""
        target = self.baseline if target is None else target
        for name in names:
            if name in IGNORED_IN_DIFF:
                continue
            if name in target:
                stmt = "SET %s = %s" % (name, sql_string(target[name]))
            else:
                stmt = "SET %s = DEFAULT" % name
            try:
                self.run(stmt)
            except Exception as exc:  # an unknown name was never set
                LOG.debug("reset %s: %s", name, exc)

    def reset_to_baseline(self):
        now = self.changed_settings()
        names = [n for n in set(now) | set(self.baseline) if now.get(n) != self.baseline.get(n)]
        self.reset_settings(names)

    def use(self, db):
        if db != self.actual_db:
            self.actual_db = None
            self.run("USE " + sql_ident(db))
            self.actual_db = db

    def current_database(self):
        return self.run("SELECT currentDatabase()").bytes().decode().strip()

    def close(self):
        try:
            self.session.close()
        except Exception:
            pass


class Engine:
    def __init__(self, path, pool_size, max_sessions):
        self.path = path
        self.pool = queue.Queue()
        self.all = []
        for _ in range(pool_size):
            es = EngineSession(path)
            self.pool.put(es)
            self.all.append(es)
        probe = self.all[0]
        self.version = probe.run("SELECT version()").bytes().decode().strip()
        self.timezone = probe.run("SELECT timezone()").bytes().decode().strip()
        self.named = {}            # session_id -> EngineSession
        self.named_lock = threading.Lock()
        self.max_sessions = max_sessions
        self.active = {}           # query_id -> start time
        self.active_lock = threading.Lock()

    def named_session(self, sid, check, timeout):
        with self.named_lock:
            es = self.named.get(sid)
            if es is None:
                if check:
                    raise CHError(E["SESSION_NOT_FOUND"],
                                  "DB::Exception: Session %s not found. (SESSION_NOT_FOUND)" % sid)
                if len(self.named) >= self.max_sessions:
                    self._reap_locked(force_oldest=True)
                es = EngineSession(self.path)
                self.named[sid] = es
            es.timeout = timeout
            es.last_used = time.monotonic()
            return es

    def close_named(self, sid):
        with self.named_lock:
            es = self.named.pop(sid, None)
        if es is not None:
            with es.lock:
                es.close()

    def _reap_locked(self, force_oldest=False):
        now = time.monotonic()
        idle = [(es.last_used, sid) for sid, es in self.named.items() if not es.lock.locked()]
        for last, sid in sorted(idle):
            es = self.named[sid]
            if force_oldest or now - last > es.timeout:
                del self.named[sid]
                es.close()
                force_oldest = False

    def reap(self):
        with self.named_lock:
            self._reap_locked()

    def register(self, qid):
        with self.active_lock:
            if qid in self.active:
                raise CHError(E["QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING"],
                              "DB::Exception: Query with id = %s is already running. "
                              "(QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING)" % qid)
            self.active[qid] = time.monotonic()

    def unregister(self, qid):
        with self.active_lock:
            self.active.pop(qid, None)

    def in_flight(self):
        with self.active_lock:
            return len(self.active)

    def close(self):
        for es in self.all:
            es.close()
        with self.named_lock:
            for es in self.named.values():
                es.close()
            self.named.clear()


# --- request body -------------------------------------------------------------

class Body:
    """The request body: Content-Length or chunked, optionally gzip/deflate."""

    def __init__(self, rfile, headers):
        self.rfile = rfile
        te = (headers.get("Transfer-Encoding") or "").lower()
        self.chunked = "chunked" in te
        cl = headers.get("Content-Length")
        self.remaining = int(cl) if (cl and not self.chunked) else (0 if not self.chunked else None)
        self.chunk_left = 0
        self.done = False
        enc = (headers.get("Content-Encoding") or "").lower().strip()
        if enc in ("gzip", "x-gzip", "deflate"):
            self.decomp = zlib.decompressobj(47)  # gzip or zlib header, auto-detected
        elif enc in ("", "identity", "none"):
            self.decomp = None
        else:
            raise CHError(E["BAD_ARGUMENTS"],
                          "DB::Exception: Unknown Content-Encoding %s. (BAD_ARGUMENTS)" % enc)
        self.consumed = not self.chunked and self.remaining == 0

    def _raw_read(self, n):
        if self.done:
            return b""
        if not self.chunked:
            if self.remaining <= 0:
                self.done = True
                return b""
            data = self.rfile.read(min(n, self.remaining))
            if not data:
                self.done = True
                return b""
            self.remaining -= len(data)
            if self.remaining == 0:
                self.done = True
            return data
        if self.chunk_left == 0:
            line = self.rfile.readline(65537)
            if not line:
                self.done = True
                return b""
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers up to the empty line
                    t = self.rfile.readline(65537)
                    if not t or t in (b"\r\n", b"\n"):
                        break
                self.done = True
                return b""
            self.chunk_left = size
        data = self.rfile.read(min(n, self.chunk_left))
        self.chunk_left -= len(data)
        if self.chunk_left == 0:
            self.rfile.readline(3)  # CRLF after the chunk
        return data

    def chunks(self, size=1 << 20):
        while True:
            data = self._raw_read(size)
            if not data:
                if self.decomp is not None:
                    tail = self.decomp.flush()
                    if tail:
                        yield tail
                self.consumed = True
                return
            if self.decomp is not None:
                data = self.decomp.decompress(data)
                if not data:
                    continue
            yield data

    def read_all(self):
        return b"".join(self.chunks())


# --- the handler ----------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "chdb-http-front"

    def version_string(self):
        return self.server_version

    # set on the class by main()
    engine = None
    users = {}
    display_name = socket.gethostname()

    def log_message(self, fmt, *args):  # BaseHTTPRequestHandler's own log
        LOG.debug("%s " + fmt, self.address_string(), *args)

    # - replies -

    def _send(self, status, body, headers, close=False):
        accept = (self.headers.get("Accept-Encoding") or "").lower()
        if headers.pop("_compress", False) and body:
            if "gzip" in accept:
                body = gzip.compress(body, compresslevel=3)
                headers["Content-Encoding"] = "gzip"
            elif "deflate" in accept:
                body = zlib.compress(body, 3)
                headers["Content-Encoding"] = "deflate"
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Connection", "Keep-Alive")
            self.send_header("Keep-Alive", "timeout=10")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_error(self, err, qid=None, close=False, fmt=None):
        body = ("Code: %d. %s (version %s)\n" % (err.code, err.message, self.engine.version)).encode()
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "X-ClickHouse-Server-Display-Name": self.display_name,
            "X-ClickHouse-Exception-Code": str(err.code),
        }
        if qid:
            headers["X-ClickHouse-Query-Id"] = qid
        if fmt:
            headers["X-ClickHouse-Format"] = fmt
        headers["X-ClickHouse-Timezone"] = self.engine.timezone
        status = http_status_for(err.code)
        if status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="ClickHouse server HTTP API"'
        self._send(status, body, headers, close=close)
        return status

    # - verbs -

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def _dispatch(self, method):
        url = urlsplit(self.path)
        if url.path in ("/ping", "/replicas_status") or (url.path == "/" and method in ("GET", "HEAD") and not url.query):
            self._send(200, b"Ok.\n", {"Content-Type": "text/html; charset=UTF-8"})
            return
        if url.path != "/":
            msg = ("There is no handle %s\n\nUse / or /ping for health checks.\n" % url.path).encode()
            self._send(404, msg, {"Content-Type": "text/plain; charset=UTF-8"}, close=True)
            return
        t0 = time.monotonic()
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        qid = params.get("query_id") or str(uuid.uuid4())
        status, code, summary, logged_query, user = 200, 0, "", "", "?"
        body = None
        try:
            body = Body(self.rfile, self.headers)
            user = self._authenticate(params)
            self._logged_query = params.get("query") or ""
            status, summary, logged_query = self._query(method, params, qid, body)
        except CHError as err:
            code = err.code
            logged_query = getattr(self, "_logged_query", "")
            close = body is None or not body.consumed
            try:
                status = self._send_error(err, qid, close=close)
            except OSError:
                status = 0
        except (BrokenPipeError, ConnectionResetError):
            status = 0
            self.close_connection = True
        except Exception as exc:  # a bug here, not an engine error
            LOG.exception("request %s failed", qid)
            code = E["UNKNOWN_EXCEPTION"]
            try:
                status = self._send_error(
                    CHError(code, "DB::Exception: %s. (UNKNOWN_EXCEPTION)" % exc), qid, close=True)
            except OSError:
                status = 0
        LOG.info("%s %s user=%s status=%s code=%s %.1fms %s %s", method, qid, user, status, code,
                 (time.monotonic() - t0) * 1000, summary,
                 " ".join(logged_query.split())[:300])

    def _authenticate(self, params):
        h = self.headers
        user = h.get("X-ClickHouse-User")
        password = h.get("X-ClickHouse-Key")
        if user is None and password is None:
            user = params.get("user")
            password = params.get("password")
        if user is None and password is None:
            auth = h.get("Authorization") or ""
            if auth[:6].lower() == "basic ":
                try:
                    dec = base64.b64decode(auth[6:].strip()).decode("utf-8")
                    user, _, password = dec.partition(":")
                except Exception:
                    user, password = None, None
        user = user or "default"
        password = password or ""
        expected = self.users.get(user)
        # A user without a password (ClickHouse's no_password) accepts any password.
        if expected is None or (expected != "" and password != expected):
            raise CHError(E["AUTHENTICATION_FAILED"],
                          "DB::Exception: %s: Authentication failed: password is incorrect, "
                          "or there is no user with such name. (AUTHENTICATION_FAILED)" % user)
        return user

    def _query(self, method, params, qid, body):
        engine = self.engine
        qparam = params.get("query")
        default_format = params.get("default_format") or "TabSeparated"
        settings = [(k, v) for k, v in params.items()
                    if k not in NON_SETTING_PARAMS and not k.startswith("param_")]
        for k, _ in settings:
            if not _SETTING_NAME_RE.match(k):
                raise CHError(115, "DB::Exception: Unknown setting '%s'. (UNKNOWN_SETTING)" % k)
        qparams = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        readonly = params.get("readonly", "0") not in ("", "0") or method in ("GET", "HEAD")
        compress = params.get("enable_http_compression", "0") not in ("", "0")

        # Split the statement from insert data: stream the body when the query
        # parameter is an INSERT that ends with FORMAT <name>.
        stream_insert = None
        if qparam:
            masked = mask_sql(qparam)
            w1, _ = first_words(masked)
            m = _TRAILING_FORMAT_RE.search(masked) if w1 == "INSERT" else None
            if m and len(qparam) <= MASK_LIMIT:
                stream_insert = (qparam[:m.start()].rstrip(), m.group(1))
                sql = qparam
            else:
                data = body.read_all()
                sql = qparam + ("\n" + data.decode("utf-8", "surrogateescape") if data else "")
                masked = mask_sql(sql)
        else:
            sql = body.read_all().decode("utf-8", "surrogateescape")
            masked = mask_sql(sql)
        w1, w2 = first_words(masked)
        self._logged_query = sql[:300]

        if not sql.strip():
            raise CHError(E["SYNTAX_ERROR"], "DB::Exception: Empty query. (SYNTAX_ERROR)")

        out_format = default_format
        if w1 != "INSERT":
            found = _ANY_FORMAT_RE.findall(masked)
            if found:
                out_format = found[-1]

        sid = params.get("session_id")
        if sid:
            timeout = float(params.get("session_timeout") or 60)
            es = engine.named_session(sid, params.get("session_check") == "1", timeout)
            if not es.lock.acquire(blocking=False):
                raise CHError(E["SESSION_IS_LOCKED"],
                              "DB::Exception: Session %s is locked by a concurrent client. "
                              "(SESSION_IS_LOCKED)" % sid)
            pooled = False
        else:
            es = engine.pool.get()
            es.lock.acquire()
            pooled = True

        engine.register(qid)
        set_names = []
        restore_to = None
        try:
            cls = es.conn.classify_query(stream_insert[0] if stream_insert else sql)
            if cls["statement_count"] > 1:
                pos = masked.find(";")
                pos = pos if pos >= 0 else len(sql)
                raise CHError(E["SYNTAX_ERROR"],
                              "DB::Exception: Syntax error (Multi-statements are not allowed): "
                              "failed at position %d (end of query): %s. . (SYNTAX_ERROR)"
                              % (pos + 1, sql[pos:pos + 40].replace("\n", " ")))
            qclass = int(cls["query_class"])
            if readonly and qclass in (1, 2):
                raise CHError(E["READONLY"],
                              "DB::Exception: Cannot execute query in readonly mode. (READONLY)")

            # per-request state: database, settings, a tag to find the query by
            es.use(params.get("database") or es.home_db)
            # a session keeps its own SETs: URL settings last for this query only
            restore_to = es.changed_settings() if (settings and not pooled) else None
            assigns = ["log_comment = " + sql_string(qid)]
            for k, v in settings:
                assigns.append("%s = %s" % (k, sql_string(v)))
                set_names.append(k)
            es.run("SET " + ", ".join(assigns))

            t0 = time.monotonic()
            result_rows = 0
            if stream_insert:
                payload, rows_written, bytes_written, rows_read, bytes_read = \
                    self._stream_insert(es, stream_insert, body)
            elif w1 == "KILL" and w2 == "QUERY":
                payload, rows_written, bytes_written, rows_read, bytes_read = \
                    self._kill(es, sql, masked, out_format, qparams)
            else:
                try:
                    res = es.run(sql, out_format if w1 != "INSERT" else default_format, qparams)
                except Exception as exc:
                    raise engine_error(exc)
                payload = res.bytes()
                rows_written, bytes_written = res.rows_written(), res.bytes_written()
                rows_read, bytes_read = res.storage_rows_read(), res.storage_bytes_read()
                result_rows = res.rows_read()
            elapsed_ns = int((time.monotonic() - t0) * 1e9)

            if w1 == "USE":
                es.actual_db = None
                if not pooled:
                    es.home_db = es.current_database()
                    es.actual_db = es.home_db
        finally:
            try:
                if set_names:
                    es.reset_settings(set_names, restore_to)
                if w1 == "SET" and pooled:
                    # without a session a SET lasts for its own request only
                    es.reset_to_baseline()
            finally:
                engine.unregister(qid)
                es.last_used = time.monotonic()
                es.lock.release()
                if pooled:
                    engine.pool.put(es)
                if sid and params.get("close_session") == "1":
                    engine.close_named(sid)

        summary = {
            "read_rows": str(rows_read), "read_bytes": str(bytes_read),
            "written_rows": str(rows_written), "written_bytes": str(bytes_written),
            "total_rows_to_read": str(rows_read), "result_rows": str(result_rows),
            "result_bytes": str(len(payload)), "elapsed_ns": str(elapsed_ns),
        }
        summary_json = json.dumps(summary, separators=(",", ":"))
        headers = {
            "Content-Type": content_type_for(out_format),
            "X-ClickHouse-Server-Display-Name": self.display_name,
            "X-ClickHouse-Query-Id": qid,
            "X-ClickHouse-Format": out_format,
            "X-ClickHouse-Timezone": engine.timezone,
            "X-ClickHouse-Summary": summary_json,
            "_compress": compress,
        }
        self._send(200, payload, headers)
        return 200, "written=%s read=%s" % (rows_written, rows_read), sql[:300]

    def _stream_insert(self, es, stream_insert, body):
        head, fmt = stream_insert
        try:
            ins = es.conn.send_insert(head, fmt)
        except Exception as exc:
            raise engine_error(exc)
        try:
            for chunk in body.chunks():
                es.conn.insert_append(ins, chunk)
            res = es.conn.insert_done(ins)
        except Exception as exc:
            try:
                es.conn.insert_cancel(ins)
            except Exception:
                pass
            raise engine_error(exc)
        return b"", res.rows_written(), res.bytes_written(), 0, 0

    def _kill(self, es, sql, masked, out_format, qparams):
        """KILL QUERY by the front's query ids.

        chDB gives each query its own id; the front tags every query with
        log_comment = <front query id>, so `query_id` in the WHERE clause is
        rewritten to Settings['log_comment'] and ids in the output mapped back.
        """
        try:
            raw = es.run("SELECT query_id, Settings['log_comment'] FROM system.processes",
                         "JSONCompactEachRow").bytes()
        except Exception as exc:
            raise engine_error(exc)
        back = {}
        for line in raw.splitlines():
            if line.strip():
                engine_id, front_id = json.loads(line)
                if front_id:
                    back[engine_id] = front_id
        spans = [m.span() for m in re.finditer(r"\bquery_id\b", masked)]
        for start, end in reversed(spans):
            sql = sql[:start] + "Settings['log_comment']" + sql[end:]
        try:
            res = es.run(sql, out_format, qparams)
        except Exception as exc:
            raise engine_error(exc)
        payload = res.bytes()
        for engine_id, front_id in back.items():
            payload = payload.replace(engine_id.encode(), front_id.encode())
        return payload, 0, 0, 0, 0


def load_users(args):
    users = {"default": ""}
    name = args.user or os.environ.get("MBG_CHDB_USER")
    if name:
        password = None
        if args.password_file:
            with open(args.password_file, encoding="utf-8") as f:
                password = f.read().rstrip("\r\n")
        elif os.environ.get("MBG_CHDB_PASSWORD") is not None:
            password = os.environ["MBG_CHDB_PASSWORD"]
        if not password:
            sys.exit("chdb_http: --user %s needs a password (--password-file or MBG_CHDB_PASSWORD)" % name)
        users[name] = password
    return users


def main():
    ap = argparse.ArgumentParser(description="ClickHouse HTTP interface in front of chDB")
    ap.add_argument("--host", default="127.0.0.1", help="listen address (loopback only by default)")
    ap.add_argument("--port", type=int, default=18123)
    ap.add_argument("--data", required=True, help="chDB data directory")
    ap.add_argument("--pool", type=int, default=6, help="engine sessions serving requests in parallel")
    ap.add_argument("--max-sessions", type=int, default=64, help="most session_id sessions kept")
    ap.add_argument("--user", help="an extra user (besides passwordless `default`)")
    ap.add_argument("--password-file", help="file holding that user's password")
    ap.add_argument("--log-file", help="log here instead of stderr")
    ap.add_argument("--pid-file", help="write the process id here")
    ap.add_argument("--debug", action="store_true")
    args = ap.parse_args()

    logging.basicConfig(
        filename=args.log_file, level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(threadName)s %(message)s")
    if args.host not in ("127.0.0.1", "localhost", "::1") and not args.host.startswith("127."):
        sys.exit("chdb_http: refusing to listen on %s: loopback only" % args.host)
    users = load_users(args)

    os.makedirs(args.data, exist_ok=True)
    t0 = time.monotonic()
    engine = Engine(os.path.abspath(args.data), max(1, args.pool), args.max_sessions)
    Handler.engine = engine
    Handler.users = users

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = 128

    server = Server((args.host, args.port), Handler)
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write("%d\n" % os.getpid())
    LOG.info("ClickHouse %s (chDB %s) on http://%s:%d, data %s, pool %d, users %s, ready in %.2fs",
             engine.version, getattr(chdb, "__version__", "?"), args.host, args.port,
             args.data, args.pool, sorted(users), time.monotonic() - t0)

    stopping = threading.Event()

    def on_signal(signum, _frame):
        if stopping.is_set():
            return
        stopping.set()
        LOG.info("signal %d: stopping", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def reaper():
        while not stopping.wait(5):
            try:
                engine.reap()
            except Exception:
                LOG.exception("session reaper")

    threading.Thread(target=reaper, name="reaper", daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        deadline = time.monotonic() + 10
        while engine.in_flight() and time.monotonic() < deadline:
            time.sleep(0.05)
        if engine.in_flight():
            LOG.warning("exiting with %d queries still running", engine.in_flight())
            logging.shutdown()
            os._exit(0)
        engine.close()
        if args.pid_file:
            try:
                os.unlink(args.pid_file)
            except OSError:
                pass
        LOG.info("stopped")
        logging.shutdown()


if __name__ == "__main__":
    main()
