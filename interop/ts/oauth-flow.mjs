#!/usr/bin/env node
// Interop check: the official MCP TypeScript SDK's OAuth client against `gigamcp serve --demo`.
//
//   node oauth-flow.mjs <mcp-url> <username> <password>
//
// The SDK does everything OAuth itself (401 discovery, protected resource metadata, AS metadata,
// dynamic client registration, PKCE, token exchange); this script only plays the user's browser:
// `redirectToAuthorization` fetches the authorization URL with a cookie jar, posts the login and
// consent forms, and captures the redirect back to our redirect_uri. Exits 0 when the flow
// completes and `search_company_rag` ranks the incident response runbook first.
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const TAG = '[ts-sdk]';
const log = (...a) => console.error(TAG, ...a);

function fail(msg) {
  console.error(`${TAG} FAIL: ${msg}`);
  process.exit(1);
}

const [mcpUrl, username, password] = process.argv.slice(2);
if (!mcpUrl || !username || !password) {
  console.error('usage: node oauth-flow.mjs <mcp-url> <username> <password>');
  process.exit(2);
}

// Nothing listens here: the "browser" stops at the redirect and hands the code over directly.
const REDIRECT_URI = 'http://127.0.0.1:53682/callback';

// ---------------------------------------------------------------------------------------------
// A tiny browser: cookie jar, manual redirects, HTML form parsing.

const jar = new Map(); // name -> value (single loopback origin, so no domain/path matching)

function storeCookies(res) {
  for (const sc of res.headers.getSetCookie()) {
    const [pair, ...attrs] = sc.split(';');
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const expired = attrs.some((a) => /^\s*max-age\s*=\s*(0|-)/i.test(a));
    if (expired || value === '') jar.delete(name);
    else jar.set(name, value);
  }
}

function cookieHeader() {
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}

function decodeEntities(s) {
  return s
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(parseInt(d, 10)))
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function attr(tag, name) {
  const m = tag.match(new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i'));
  return m ? decodeEntities(m[1] ?? m[2] ?? m[3]) : undefined;
}

/** Every `<form>` in `html`: its action, method and named inputs / selects / buttons. */
function parseForms(html, pageUrl) {
  return [...html.matchAll(/<form\b[^>]*>([\s\S]*?)<\/form>/gi)].map((fm) => parseForm(fm, pageUrl));
}

function parseForm(fm, pageUrl) {
  const formTag = fm[0].slice(0, fm[0].indexOf('>') + 1);
  const body = fm[1];
  const fields = [];
  for (const m of body.matchAll(/<input\b[^>]*>/gi)) {
    const name = attr(m[0], 'name');
    if (name) fields.push([name, attr(m[0], 'value') ?? '', (attr(m[0], 'type') ?? 'text').toLowerCase()]);
  }
  for (const m of body.matchAll(/<select\b[^>]*>([\s\S]*?)<\/select>/gi)) {
    const name = attr(m[0], 'name');
    const opt = m[1].match(/<option\b[^>]*selected[^>]*>/i) ?? m[1].match(/<option\b[^>]*>/i);
    if (name && opt) fields.push([name, attr(opt[0], 'value') ?? '', 'select']);
  }
  const buttons = [];
  for (const m of body.matchAll(/<button\b[^>]*>/gi)) {
    const name = attr(m[0], 'name');
    if (name) buttons.push([name, attr(m[0], 'value') ?? '']);
  }
  return {
    action: new URL(attr(formTag, 'action') ?? pageUrl, pageUrl),
    method: (attr(formTag, 'method') ?? 'get').toLowerCase(),
    fields,
    buttons,
  };
}

/** What a person would read on the page: the error paragraph if there is one, else the text. */
function pageText(html) {
  const err = html.match(/<p class="error"[^>]*>([\s\S]*?)<\/p>/i);
  if (err) return decodeEntities(err[1].replace(/<[^>]+>/g, '')).trim();
  const main = html.replace(/<(style|script|head)\b[\s\S]*?<\/\1>/gi, '').replace(/<[^>]+>/g, ' ');
  return decodeEntities(main).replace(/\s+/g, ' ').trim().slice(0, 400);
}

/** One request, no redirect following, cookies in and out. */
async function request(url, init = {}) {
  const headers = new Headers(init.headers);
  const c = cookieHeader();
  if (c) headers.set('cookie', c);
  const res = await fetch(url, { ...init, headers, redirect: 'manual' });
  storeCookies(res);
  return res;
}

/**
 * Plays the user: follows redirects; signs in on the login form; approves on the consent form;
 * stops at the first redirect to REDIRECT_URI and returns that URL.
 */
async function browse(startUrl) {
  let url = new URL(startUrl);
  let init = { method: 'GET' };
  const seen = { login: 0, consent: 0 };
  for (let step = 0; step < 20; step++) {
    log(`${init.method} ${url.origin}${url.pathname}`);
    const res = await request(url, init);
    if (res.status >= 300 && res.status < 400) {
      const loc = res.headers.get('location');
      if (!loc) throw new Error(`${res.status} from ${url.pathname} without Location`);
      const next = new URL(loc, url);
      if (next.href.startsWith(REDIRECT_URI)) return next;
      // 303 (and 301/302 after POST) turns into GET; 307/308 would repeat the request.
      if (res.status === 307 || res.status === 308) {
        url = next;
      } else {
        url = next;
        init = { method: 'GET' };
      }
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) {
      throw new Error(`${init.method} ${url.pathname} -> ${res.status}: ${pageText(html)}`);
    }
    const forms = parseForms(html, url).filter((f) => f.method === 'post');
    const isLogin = (f) => ['username', 'password'].every((n) => f.fields.some(([m]) => m === n));
    const isConsent = (f) => f.buttons.some(([n, v]) => n === 'decision' && v === 'approve');
    const form = forms.find(isLogin) ?? forms.find(isConsent);
    if (!form) {
      throw new Error(`page ${url.pathname} has neither a login nor a consent form: ${pageText(html)}`);
    }
    const data = new URLSearchParams();
    if (isLogin(form)) {
      if (++seen.login > 1) {
        const err = html.match(/<p class="error"[^>]*>([\s\S]*?)<\/p>/i);
        throw new Error(`login form shown again${err ? `: ${decodeEntities(err[1])}` : ''}`);
      }
      for (const [n, v] of form.fields) {
        if (n === 'username') data.append(n, username);
        else if (n === 'password') data.append(n, password);
        else data.append(n, v);
      }
      log('submitting login form');
    } else {
      const approve = form.buttons.find(([n, v]) => n === 'decision' && v === 'approve');
      if (++seen.consent > 1) throw new Error('consent form shown again');
      for (const [n, v] of form.fields) data.append(n, v);
      data.append(...approve);
      log('approving consent form');
    }
    url = form.action;
    init = {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: url.origin },
      body: data.toString(),
    };
  }
  throw new Error('too many redirects / pages');
}

// ---------------------------------------------------------------------------------------------
// The SDK's OAuthClientProvider, all in memory.

class InMemoryProvider {
  constructor() {
    this._client = undefined;
    this._tokens = undefined;
    this._verifier = undefined;
    this._state = undefined;
    this.authorizationCode = undefined;
    this.redirects = 0;
  }
  get redirectUrl() {
    return REDIRECT_URI;
  }
  get clientMetadata() {
    return {
      client_name: 'gigamcp interop (TypeScript SDK)',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    };
  }
  state() {
    this._state = randomBytes(16).toString('hex');
    return this._state;
  }
  clientInformation() {
    return this._client;
  }
  saveClientInformation(info) {
    log(`registered client ${info.client_id} (token_endpoint_auth_method=${info.token_endpoint_auth_method})`);
    this._client = info;
  }
  tokens() {
    return this._tokens;
  }
  saveTokens(tokens) {
    log(`got tokens: token_type=${tokens.token_type} expires_in=${tokens.expires_in} scope=${tokens.scope} refresh=${tokens.refresh_token ? 'yes' : 'no'}`);
    this._tokens = tokens;
  }
  saveCodeVerifier(v) {
    this._verifier = v;
  }
  codeVerifier() {
    if (!this._verifier) throw new Error('no code verifier saved');
    return this._verifier;
  }
  async redirectToAuthorization(authorizationUrl) {
    this.redirects++;
    const p = authorizationUrl.searchParams;
    log(`authorization request: resource=${p.get('resource')} scope=${p.get('scope')} code_challenge_method=${p.get('code_challenge_method')}`);
    const back = await browse(authorizationUrl);
    const q = back.searchParams;
    if (q.get('error')) throw new Error(`authorization error: ${q.get('error')}: ${q.get('error_description')}`);
    if (q.get('state') !== this._state) throw new Error(`state mismatch: sent ${this._state}, got ${q.get('state')}`);
    const expectedIss = new URL(mcpUrl).origin;
    if (q.get('iss') !== expectedIss) throw new Error(`iss mismatch: expected ${expectedIss}, got ${q.get('iss')}`);
    const code = q.get('code');
    if (!code) throw new Error(`no code in redirect ${back.href}`);
    log('got authorization code');
    this.authorizationCode = code;
  }
}

// ---------------------------------------------------------------------------------------------

async function connect(provider) {
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
  const client = new Client({ name: 'gigamcp-interop-ts', version: '0.0.0' });
  await client.connect(transport);
  return { client, transport };
}

async function main() {
  const provider = new InMemoryProvider();
  let session;
  try {
    session = await connect(provider);
    fail('connected without authorization: expected a 401 challenge first');
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
    if (!provider.authorizationCode) throw new Error(`UnauthorizedError without a completed authorization: ${e.message}`);
  }
  // Redeem the code through the SDK, then reconnect with the tokens it saved.
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
  await transport.finishAuth(provider.authorizationCode);
  if (!provider.tokens()) fail('finishAuth saved no tokens');
  const client = new Client({ name: 'gigamcp-interop-ts', version: '0.0.0' });
  await client.connect(transport);
  session = { client, transport };
  const sv = client.getServerVersion();
  log(`connected: server ${sv?.name} ${sv?.version}`);

  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  log(`tools: ${names.join(', ')}`);
  if (!names.includes('search_company_rag')) fail(`search_company_rag not listed (got ${names.join(', ')})`);

  const res = await client.callTool({ name: 'search_company_rag', arguments: { query: 'incident response runbook' } });
  if (res.isError) fail(`search_company_rag returned an error: ${JSON.stringify(res.content)}`);
  const results = res.structuredContent?.results;
  if (!Array.isArray(results) || results.length === 0) fail(`no results: ${JSON.stringify(res).slice(0, 500)}`);
  const first = results[0];
  log(`first result: ${first.title} <${first.url}>`);
  if (first.title !== 'Incident Response Runbook') {
    fail(`expected "Incident Response Runbook" first, got ${JSON.stringify(results.map((r) => r.title))}`);
  }
  if (provider.redirects !== 1) fail(`expected exactly one authorization redirect, saw ${provider.redirects}`);
  await session.transport.terminateSession().catch(() => {});
  await session.client.close();
  console.log(`${TAG} PASS: OAuth flow completed; search_company_rag ranked "${first.title}" first`);
}

main().catch((e) => fail(e?.stack ?? String(e)));
