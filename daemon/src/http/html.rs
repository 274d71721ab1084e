//! Hand-written HTML with one escaping rule: every dynamic value goes through [`esc`] (text and
//! attribute values alike, since it escapes `& < > " '`). The page frame, navigation and the
//! stylesheet are here; everything is served by the binary (no CDN, no JavaScript needed).

use std::borrow::Cow;
use std::fmt::Write;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::i18n::Lang;
use crate::store::Role;

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Percent-encodes a query-string value.
pub fn url_enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Who is looking at a page, for the frame.
pub struct Viewer<'a> {
    /// Operator name.
    pub name: &'a str,
    /// Their role.
    pub role: Role,
    /// The session's CSRF token, for the logout form.
    pub csrf: &'a str,
}

/// What the frame needs besides the body.
pub struct Frame<'a> {
    /// Page language.
    pub lang: Lang,
    /// Title (plain text).
    pub title: &'a str,
    /// Office name.
    pub office: &'a str,
    /// Which navigation entry is current (its path).
    pub current: &'a str,
    /// The logged-in operator, if any.
    pub viewer: Option<Viewer<'a>>,
    /// Reload the page every this many seconds.
    pub refresh_s: Option<u32>,
    /// The current path and query without `lang`, for the language switch.
    pub here: &'a str,
}

/// A full HTML page.
pub fn page(f: &Frame<'_>, body: &str) -> String {
    let l = f.lang;
    let mut out = String::with_capacity(body.len() + 4096);
    let _ = write!(
        out,
        r#"<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">{refresh}
<title>{title} · Hadir</title><link rel="stylesheet" href="/static/hadir.css"></head><body>
<header><a class="brand" href="/">Hadir</a><span class="office">{office}</span>"#,
        lang = l.code(),
        refresh = f
            .refresh_s
            .map(|s| format!(r#"<meta http-equiv="refresh" content="{s}">"#))
            .unwrap_or_default(),
        title = esc(f.title),
        office = esc(f.office),
    );
    if let Some(v) = &f.viewer {
        out.push_str("<nav>");
        let admin_nav: &[(&str, &str, &str)] = if v.role >= Role::Admin {
            &[("/operators", "Operator", "Operators")]
        } else {
            &[]
        };
        for (path, id, en) in NAV.iter().chain(admin_nav) {
            let cls = if *path == f.current {
                r#" class="current""#
            } else {
                ""
            };
            let _ = write!(out, r#"<a href="{path}"{cls}>{}</a>"#, l.t(id, en));
        }
        out.push_str("</nav>");
        let _ = write!(
            out,
            r#"<div class="who"><a href="/password" title="{chg}">{name}</a> <span class="role">{role}</span>
<form method="post" action="/logout" class="inline"><input type="hidden" name="_csrf" value="{csrf}"><button type="submit" class="link">{logout}</button></form>"#,
            chg = l.t("Ganti kata sandi", "Change password"),
            name = esc(v.name),
            role = v.role.as_str(),
            csrf = esc(v.csrf),
            logout = l.t("Keluar", "Log out"),
        );
    } else {
        out.push_str(r#"<div class="who">"#);
    }
    let sep = if f.here.contains('?') { '&' } else { '?' };
    let _ = write!(
        out,
        r#" <span class="lang"><a href="{here}{sep}lang=id" lang="id">ID</a>|<a href="{here}{sep}lang=en" lang="en">EN</a></span></div></header>
<main><h1>{title}</h1>
{body}</main><footer>Hadir {ver}</footer></body></html>"#,
        here = esc(f.here),
        title = esc(f.title),
        ver = env!("CARGO_PKG_VERSION"),
    );
    out
}

/// Navigation: path, Indonesian, English.
const NAV: &[(&str, &str, &str)] = &[
    ("/", "Dasbor", "Dashboard"),
    ("/attendance", "Kehadiran", "Attendance"),
    ("/review", "Tinjauan", "Review"),
    ("/leave", "Izin & Dinas", "Leave & travel"),
    ("/employees", "Pegawai", "Employees"),
    ("/schedules", "Jadwal & Libur", "Schedules & holidays"),
    ("/recap", "Rekap", "Recap"),
    ("/audit", "Jejak Audit", "Audit log"),
];

/// An HTML response with a status.
pub fn respond(status: StatusCode, html: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            // Nothing but our own stylesheet and images; no scripts, no framing.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "same-origin"),
        ],
        html,
    )
        .into_response()
}

/// A hidden CSRF field.
pub fn csrf_field(csrf: &str) -> String {
    format!(
        r#"<input type="hidden" name="_csrf" value="{}">"#,
        esc(csrf)
    )
}

/// A message box (`ok` or `error`).
pub fn notice(kind: &str, text: &str) -> String {
    format!(
        r#"<p class="notice {kind}" role="status">{}</p>"#,
        esc(text)
    )
}

/// `<option>`s for a select, marking `selected`.
pub fn options(items: &[(&str, &str)], selected: &str) -> String {
    let mut out = String::new();
    for (value, label) in items {
        let sel = if *value == selected { " selected" } else { "" };
        let _ = write!(
            out,
            r#"<option value="{}"{sel}>{}</option>"#,
            esc(value),
            esc(label)
        );
    }
    out
}

/// The stylesheet (served at `/static/hadir.css`).
pub const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f23;background:#f4f6f8}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.4em .9em;padding:.6em 1em;background:#0b5d3b;color:#fff}
header a{color:#fff;text-decoration:none}
.brand{font-weight:700;font-size:1.25em}
.office{opacity:.85}
nav{display:flex;flex-wrap:wrap;gap:.2em .35em;flex:1;font-size:.95em}
nav a{padding:.2em .4em;border-radius:4px}
nav a.current,nav a:hover{background:rgba(255,255,255,.18)}
.who{display:flex;gap:.5em;align-items:center}
.role{font-size:.8em;background:rgba(255,255,255,.2);padding:0 .4em;border-radius:3px}
main{max-width:1200px;margin:0 auto;padding:1em 1.2em 3em}
h1{font-size:1.5em;margin:.3em 0 .6em}
h2{font-size:1.15em;margin:1.4em 0 .5em}
table{border-collapse:collapse;width:100%;background:#fff;margin:.4em 0 1em}
th,td{border-bottom:1px solid #e1e4e8;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:.8em;margin-bottom:1em}
.card{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:.7em .9em}
.card .n{font-size:1.9em;font-weight:700}
.card .l{color:#57606a}
.ok{color:#116329}.bad{color:#b42318}.warn{color:#9a6700}
.verdict-accepted{color:#116329}.verdict-rejected{color:#b42318}.verdict-needs-review{color:#9a6700;font-weight:600}
form.box{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:1em;margin:.6em 0 1.2em;max-width:760px}
form.box label{display:block;margin:.4em 0 .1em;font-weight:600}
input,select,textarea{font:inherit;padding:.35em .45em;border:1px solid #b8c0c8;border-radius:4px;max-width:100%}
textarea{width:100%;min-height:3em}
button{font:inherit;padding:.4em .9em;border:0;border-radius:4px;background:#0b5d3b;color:#fff;cursor:pointer}
button.reject{background:#b42318}
button.link{background:none;color:inherit;padding:0;text-decoration:underline}
form.inline{display:inline}
.notice{padding:.6em .9em;border-radius:5px;background:#fff;border:1px solid #e1e4e8}
.notice.error{border-color:#b42318;color:#b42318}
.notice.ok{border-color:#116329}
.muted{color:#57606a;font-size:.9em}
.row{display:flex;flex-wrap:wrap;gap:.6em;align-items:end}
.evidence{font-size:.88em;color:#3d444d}
img.selfie{max-width:160px;border-radius:4px;border:1px solid #ccc}
footer{text-align:center;color:#8c959f;font-size:.8em;padding:1em}
.login{max-width:380px;margin:3em auto}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_neutralises_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert!(matches!(esc("Siti Rahma"), Cow::Borrowed(_)));
        assert_eq!(url_enc("a b/ü"), "a%20b%2F%C3%BC");
    }
}
