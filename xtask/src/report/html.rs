//! A markdown report as a standalone HTML page (`report.html`,
//! `compare-<name>.html` beside their `.md`), for the results index. The
//! markdown stays the source of truth; this is a view of it.
//!
//! Reports quote run records (profile names, error messages, commands),
//! so nothing in them may become markup: raw HTML in the markdown is shown
//! as text, and a link or image whose address has a scheme other than
//! http, https or mailto (`javascript:`, `data:`) loses its address.

use super::format::Format;
use anyhow::Result;
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};
use pulldown_cmark_escape::{escape_href, escape_html};

/// A page around a markdown body: its title and the link back to the
/// index, relative to the page (None: no link).
pub struct HtmlPage<'a> {
    pub title: &'a str,
    pub index_href: Option<&'a str>,
}

impl Format for HtmlPage<'_> {
    type Input = str;

    fn render(&self, markdown: &str) -> Result<String> {
        let mut s = String::new();
        head(&mut s, self.title);
        if let Some(href) = self.index_href {
            s.push_str("<nav><a href=\"");
            s.push_str(&href_attr(href));
            s.push_str("\">← all runs</a></nav>\n");
        }
        s.push_str("<main>\n");
        s.push_str(&body(markdown));
        s.push_str("</main>\n</body>\n</html>\n");
        Ok(s)
    }
}

/// Markdown → HTML with raw HTML turned into text and unsafe addresses
/// dropped.
pub fn body(markdown: &str) -> String {
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events = Parser::new_ext(markdown, opts).map(|e| match e {
        Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        e => e,
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

/// The address if it is relative or http(s)/mailto, else an empty one.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let scheme_end = url.find(':');
    let path_start = url.find(['/', '?', '#']);
    let has_scheme = match (scheme_end, path_start) {
        (Some(c), Some(p)) => c < p,
        (Some(_), None) => true,
        _ => false,
    };
    if !has_scheme {
        return url;
    }
    let scheme = url[..scheme_end.unwrap_or(0)].to_ascii_lowercase();
    if matches!(scheme.as_str(), "http" | "https" | "mailto") {
        url
    } else {
        CowStr::Borrowed("")
    }
}

/// Text for an element or a quoted attribute.
pub fn esc(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    // Writing into a String cannot fail.
    let _ = escape_html(&mut s, text);
    s
}

/// An address for a double-quoted `href`/`src`.
pub fn href_attr(url: &str) -> String {
    let mut s = String::with_capacity(url.len());
    let _ = escape_href(&mut s, url);
    s
}

/// The document head with the one stylesheet of every page (inline: a page
/// needs no other file to look right).
pub fn head(s: &mut String, title: &str) {
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    s.push_str("<title>");
    s.push_str(&esc(title));
    s.push_str("</title>\n<style>\n");
    s.push_str(STYLE);
    s.push_str("</style>\n</head>\n<body>\n");
}

const STYLE: &str = "body { font: 15px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 78em; padding: 0 1em; color: #1b1b1b; }
table { border-collapse: collapse; margin: 0.8em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.55em; text-align: left; vertical-align: top; }
th { background: #f1f1f1; }
code { font-size: 92%; background: #f4f4f4; padding: 0 0.2em; }
img { max-width: 100%; height: auto; }
nav { margin-bottom: 1em; }
.v { font-weight: 600; padding: 0 0.3em; border-radius: 3px; white-space: nowrap; }
.v-regressed, .v-failed, .v-leak { background: #fbd5d5; color: #8a1010; }
.v-warn, .v-partial { background: #fdecc8; color: #7a4b00; }
.v-ok, .v-complete, .v-improved { background: #d7f0dc; color: #145c24; }
.v-none { background: #eee; color: #555; }
#latest { border: 1px solid #bbb; padding: 0.6em 0.9em; margin: 1em 0; background: #fafafa; }
ul.plain { margin: 0; padding-left: 1.1em; }
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_images_render() {
        let html =
            body("| a | b |\n|---|---|\n| 1 | 2 |\n\n![uss](charts/footprint-r0-timeline.png)\n");
        assert!(
            html.contains("<table>") && html.contains("<td>1</td>"),
            "{html}"
        );
        assert!(
            html.contains("<img src=\"charts/footprint-r0-timeline.png\" alt=\"uss\""),
            "{html}"
        );
    }

    #[test]
    fn raw_html_in_markdown_is_text() {
        let html = body("profile `x` <script>alert(1)</script> and <img src=x onerror=alert(2)>\n\n<div onclick=\"x()\">block</div>\n");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(!html.contains("<div"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
    }

    #[test]
    fn unsafe_addresses_are_dropped() {
        let html = body("[a](javascript:alert(1)) [b](JaVaScRiPt:x) ![c](data:image/svg+xml,x) [d](https://example.org/x) [e](charts/a:b.png) [f](mailto:a@b)");
        assert!(!html.to_lowercase().contains("javascript:"), "{html}");
        assert!(!html.contains("data:"), "{html}");
        assert!(html.contains("href=\"https://example.org/x\""), "{html}");
        assert!(html.contains("href=\"charts/a:b.png\""), "{html}");
        assert!(html.contains("href=\"mailto:a@b\""), "{html}");
    }

    #[test]
    fn page_escapes_its_title() {
        let p = HtmlPage {
            title: "run <b>&\"",
            index_href: Some("../index.html"),
        }
        .render("# x")
        .unwrap();
        assert!(p.contains("<title>run &lt;b&gt;&amp;&quot;</title>"), "{p}");
        assert!(p.contains("href=\"../index.html\""), "{p}");
    }
}
