/**
 * The dashboard's HTML: the page shell every view is drawn into by the client bundle, the
 * login form, and the security headers every dashboard answer carries. The HTML here is
 * constant text: no request or task data is ever written into it (the client draws data
 * with DOM text nodes only), and the CSP allows no inline script or style at all.
 */
import type { FastifyReply } from 'fastify';

/**
 * Browser paths the client draws (the shell answers each of them). A new view adds its
 * path here and its entry in client/views.ts.
 */
export const PAGE_PATHS = ['/', '/queues/*', '/workers', '/schedules', '/broadcast', '/demo'] as const;

/** No inline script or style, no plugins, no framing, requests only to this origin; Trusted Types forbid HTML-string sinks. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

export function securityHeaders(reply: FastifyReply, { cache }: { cache: boolean }): void {
  void reply
    .header('content-security-policy', CONTENT_SECURITY_POLICY)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cross-origin-resource-policy', 'same-origin')
    .header('cache-control', cache ? 'no-cache' : 'no-store');
}

const HEAD = `<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/ui/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/ui/assets/app.css">`;

export const SHELL = `<!doctype html>
<html lang="en">
<head>
${HEAD}
<title>Errand</title>
<script src="/ui/assets/app.js" defer></script>
</head>
<body>
<div id="app"><p class="boot">Loading the dashboard…</p></div>
<noscript><p class="boot">The Errand dashboard needs JavaScript.</p></noscript>
</body>
</html>
`;

const LOGIN_FLASH = {
  wrong: "That token is not one of the gateway's tokens. Try again.",
  blocked: 'Too many failed logins from this address: try again in a minute.',
} as const;

/** The login form. It posts to its own URL, so a `?next=` path survives the round trip. */
export function loginPage(flash: keyof typeof LOGIN_FLASH | false): string {
  return `<!doctype html>
<html lang="en">
<head>
${HEAD}
<title>Log in · Errand</title>
</head>
<body class="login">
<main class="login-box">
<h1><span class="brand">Errand</span> dashboard</h1>
${flash ? `<p class="flash flash-error" role="alert">${LOGIN_FLASH[flash]}</p>\n` : ''}<form method="post">
<label for="token">Gateway token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
</form>
<p class="hint">The token is the gateway's <code>ERRAND_TOKEN</code> (or a scoped token). The login lasts 12 hours in this browser, until you log out.</p>
</main>
</body>
</html>
`;
}

export const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Errand</title></head>
<body><h1>The dashboard is not built</h1>
<p>Its browser code is missing from dist/dashboard/assets. Run <code>npm run build</code> (or <code>npm start</code>, which builds), then reload.</p>
</body></html>
`;
