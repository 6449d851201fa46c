#!/usr/bin/env python3
"""Interop check: the official MCP Python SDK's OAuth client against `gigamcp serve --demo`.

    python oauth_flow.py <mcp-url> <username> <password>

The SDK does everything OAuth itself (401 discovery, protected resource metadata, AS metadata,
dynamic client registration, PKCE, token exchange, RFC 9207 `iss` check); this script only plays
the user's browser: `redirect_handler` fetches the authorization URL with a cookie jar, posts the
login and consent forms, and captures the redirect back to our redirect_uri; `callback_handler`
hands the code, state and iss to the SDK. Exits 0 when the flow completes and
`search_company_rag` ranks the incident response runbook first.

mcp 2.x is built on `httpx2` (the SDK's HTTP client); the "browser" uses it too.
"""

from __future__ import annotations

import html as htmllib
import re
import sys
import traceback
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import anyio
import httpx2
from mcp.client.auth import OAuthClientProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

TAG = "[py-sdk]"
# Nothing listens here: the "browser" stops at the redirect and hands the code over directly.
REDIRECT_URI = "http://127.0.0.1:53683/callback"


def log(msg: str) -> None:
    print(f"{TAG} {msg}", file=sys.stderr, flush=True)


class Failure(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# A tiny browser: cookie jar, manual redirects, HTML form parsing.


def _attr(tag: str, name: str) -> str | None:
    m = re.search(rf"""\s{name}\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", tag, re.I)
    if not m:
        return None
    return htmllib.unescape(next(g for g in m.groups() if g is not None))


def parse_forms(page: str, page_url: str) -> list[dict]:
    forms = []
    for fm in re.finditer(r"<form\b[^>]*>(.*?)</form>", page, re.I | re.S):
        form_tag = fm.group(0)[: fm.group(0).index(">") + 1]
        body = fm.group(1)
        fields: list[tuple[str, str]] = []
        for m in re.finditer(r"<input\b[^>]*>", body, re.I):
            name = _attr(m.group(0), "name")
            if name:
                fields.append((name, _attr(m.group(0), "value") or ""))
        for m in re.finditer(r"<select\b[^>]*>(.*?)</select>", body, re.I | re.S):
            name = _attr(m.group(0), "name")
            opt = re.search(r"<option\b[^>]*selected[^>]*>", m.group(1), re.I) or re.search(
                r"<option\b[^>]*>", m.group(1), re.I
            )
            if name and opt:
                fields.append((name, _attr(opt.group(0), "value") or ""))
        buttons = [
            (_attr(m.group(0), "name"), _attr(m.group(0), "value") or "")
            for m in re.finditer(r"<button\b[^>]*>", body, re.I)
            if _attr(m.group(0), "name")
        ]
        forms.append(
            {
                "action": urljoin(page_url, _attr(form_tag, "action") or page_url),
                "method": (_attr(form_tag, "method") or "get").lower(),
                "fields": fields,
                "buttons": buttons,
            }
        )
    return forms


def page_text(page: str) -> str:
    """What a person would read on the page: the error paragraph if there is one, else the text."""
    err = re.search(r'<p class="error"[^>]*>(.*?)</p>', page, re.I | re.S)
    if err:
        return htmllib.unescape(re.sub(r"<[^>]+>", "", err.group(1))).strip()
    body = re.sub(r"(?is)<(style|script|head)\b.*?</\1>", "", page)
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", body))).strip()[:400]


class Browser:
    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        # One loopback origin: a plain name -> value jar (no domain/path matching needed).
        self.jar: dict[str, str] = {}

    def _store(self, resp: httpx2.Response) -> None:
        for sc in resp.headers.get_list("set-cookie"):
            pair, *attrs = sc.split(";")
            if "=" not in pair:
                continue
            name, value = (s.strip() for s in pair.split("=", 1))
            expired = any(re.match(r"\s*max-age\s*=\s*(0|-)", a, re.I) for a in attrs)
            if expired or not value:
                self.jar.pop(name, None)
            else:
                self.jar[name] = value

    async def _request(self, http: httpx2.AsyncClient, method: str, url: str, **kw) -> httpx2.Response:
        headers = dict(kw.pop("headers", {}))
        if self.jar:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        resp = await http.request(method, url, headers=headers, follow_redirects=False, **kw)
        self._store(resp)
        return resp

    async def authorize(self, start_url: str) -> str:
        """Follow the authorization URL through login and consent; return the redirect_uri URL."""
        url, method, data = start_url, "GET", None
        seen_login = seen_consent = 0
        async with httpx2.AsyncClient(timeout=30) as http:
            for _ in range(20):
                p = urlparse(url)
                log(f"{method} {p.scheme}://{p.netloc}{p.path}")
                if data is None:
                    resp = await self._request(http, method, url)
                else:
                    resp = await self._request(
                        http,
                        method,
                        url,
                        content=urlencode(data).encode(),
                        headers={
                            "content-type": "application/x-www-form-urlencoded",
                            "origin": f"{p.scheme}://{p.netloc}",
                        },
                    )
                if 300 <= resp.status_code < 400:
                    loc = resp.headers.get("location")
                    if not loc:
                        raise Failure(f"{resp.status_code} from {p.path} without Location")
                    nxt = urljoin(url, loc)
                    if nxt.startswith(REDIRECT_URI):
                        return nxt
                    url = nxt
                    if resp.status_code not in (307, 308):
                        method, data = "GET", None
                    continue
                page = resp.text
                if resp.status_code != 200:
                    raise Failure(f"{method} {p.path} -> {resp.status_code}: {page_text(page)}")
                forms = [f for f in parse_forms(page, url) if f["method"] == "post"]
                login = next(
                    (f for f in forms if {"username", "password"} <= {n for n, _ in f["fields"]}),
                    None,
                )
                consent = next(
                    (f for f in forms if ("decision", "approve") in f["buttons"]),
                    None,
                )
                form = login or consent
                if form is None:
                    raise Failure(f"page {p.path} has neither a login nor a consent form: {page_text(page)}")
                fields: list[tuple[str, str]] = []
                if form is login:
                    seen_login += 1
                    if seen_login > 1:
                        err = re.search(r'<p class="error"[^>]*>(.*?)</p>', page, re.S)
                        raise Failure("login form shown again" + (f": {htmllib.unescape(err.group(1))}" if err else ""))
                    for n, v in form["fields"]:
                        fields.append((n, self.username if n == "username" else self.password if n == "password" else v))
                    log("submitting login form")
                else:
                    seen_consent += 1
                    if seen_consent > 1:
                        raise Failure("consent form shown again")
                    fields = list(form["fields"]) + [("decision", "approve")]
                    log("approving consent form")
                url, method, data = form["action"], "POST", fields
        raise Failure("too many redirects / pages")


# ---------------------------------------------------------------------------------------------
# The SDK's storage, all in memory.


class InMemoryStorage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        log(
            f"got tokens: token_type={tokens.token_type} expires_in={tokens.expires_in} "
            f"scope={tokens.scope} refresh={'yes' if tokens.refresh_token else 'no'}"
        )
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        log(
            f"registered client {client_info.client_id} "
            f"(token_endpoint_auth_method={client_info.token_endpoint_auth_method})"
        )
        self.client_info = client_info


async def run(mcp_url: str, username: str, password: str) -> None:
    browser = Browser(username, password)
    redirected: list[str] = []

    async def redirect_handler(authorization_url: str) -> None:
        q = parse_qs(urlparse(authorization_url).query)
        log(
            f"authorization request: resource={q.get('resource', [None])[0]} "
            f"scope={q.get('scope', [None])[0]} code_challenge_method={q.get('code_challenge_method', [None])[0]}"
        )
        redirected.append(await browser.authorize(authorization_url))

    async def callback_handler() -> AuthorizationCodeResult:
        if not redirected:
            raise Failure("callback_handler called before the authorization redirect completed")
        q = parse_qs(urlparse(redirected[-1]).query)
        if "error" in q:
            raise Failure(f"authorization error: {q['error'][0]}: {q.get('error_description', [''])[0]}")
        if "code" not in q:
            raise Failure(f"no code in redirect {redirected[-1]}")
        log("got authorization code")
        return AuthorizationCodeResult(
            code=q["code"][0],
            state=q.get("state", [None])[0],
            iss=q.get("iss", [None])[0],
        )

    storage = InMemoryStorage()
    provider = OAuthClientProvider(
        server_url=mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="gigamcp interop (Python SDK)",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )

    async with httpx2.AsyncClient(auth=provider, timeout=httpx2.Timeout(30, read=300)) as http:
        async with streamable_http_client(mcp_url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                log(
                    f"connected: server {init.server_info.name} {init.server_info.version}, "
                    f"protocol {init.protocol_version}"
                )
                tools = (await session.list_tools()).tools
                names = [t.name for t in tools]
                log(f"tools: {', '.join(names)}")
                if "search_company_rag" not in names:
                    raise Failure(f"search_company_rag not listed (got {names})")
                res = await session.call_tool("search_company_rag", {"query": "incident response runbook"})
                if res.is_error:
                    raise Failure(f"search_company_rag returned an error: {res.content}")
                results = (res.structured_content or {}).get("results") or []
                if not results:
                    raise Failure(f"no results: {res}")
                first = results[0]
                log(f"first result: {first['title']} <{first['url']}>")
                if first["title"] != "Incident Response Runbook":
                    raise Failure(f'expected "Incident Response Runbook" first, got {[r["title"] for r in results]}')

    if len(redirected) != 1:
        raise Failure(f"expected exactly one authorization redirect, saw {len(redirected)}")
    if storage.tokens is None:
        raise Failure("the SDK stored no tokens")
    print(f'{TAG} PASS: OAuth flow completed; search_company_rag ranked "{first["title"]}" first')


def _leaves(e: BaseException) -> list[BaseException]:
    """The real errors inside (possibly nested) exception groups from anyio task groups."""
    if isinstance(e, BaseExceptionGroup):
        return [leaf for sub in e.exceptions for leaf in _leaves(sub)]
    return [e]


def main() -> int:
    if len(sys.argv) != 4:
        print("usage: python oauth_flow.py <mcp-url> <username> <password>", file=sys.stderr)
        return 2
    try:
        anyio.run(run, *sys.argv[1:])
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: BLE001 - report anything, including exception groups
        for leaf in _leaves(e):
            if isinstance(leaf, Failure):
                print(f"{TAG} FAIL: {leaf}", file=sys.stderr)
            else:
                print("".join(traceback.format_exception(leaf)), file=sys.stderr)
                print(f"{TAG} FAIL: {type(leaf).__name__}: {leaf}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
