//! The page templates ([`Pages`]): tera templates compiled into the binary, each replaceable
//! by a file of the same name in `BASEDIR/templates/`, picked up on the next page view. An
//! override that fails to parse or render is logged and reported on the page, and the
//! built-in version is used.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use buildbot_core::master::MasterHandle;
use buildbot_core::master::config::MasterConfig;
use serde_json::{Value, json};

/// The built-in templates: `(name, text)`.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../../templates/layout.html")),
    ("macros.html", include_str!("../../templates/macros.html")),
    ("forms.html", include_str!("../../templates/forms.html")),
    ("root.html", include_str!("../../templates/root.html")),
    ("about.html", include_str!("../../templates/about.html")),
    (
        "builders.html",
        include_str!("../../templates/builders.html"),
    ),
    ("builder.html", include_str!("../../templates/builder.html")),
    ("build.html", include_str!("../../templates/build.html")),
    ("log.html", include_str!("../../templates/log.html")),
    ("workers.html", include_str!("../../templates/workers.html")),
    ("worker.html", include_str!("../../templates/worker.html")),
    ("changes.html", include_str!("../../templates/changes.html")),
    ("pending.html", include_str!("../../templates/pending.html")),
    ("masters.html", include_str!("../../templates/masters.html")),
    ("grid.html", include_str!("../../templates/grid.html")),
    (
        "waterfall.html",
        include_str!("../../templates/waterfall.html"),
    ),
    ("error.html", include_str!("../../templates/error.html")),
];

/// Which override files were seen, with their modification time and size.
type Signature = Vec<(String, Option<SystemTime>, u64)>;

/// The templates: the built-in set and the set with `BASEDIR/templates/` overrides.
pub(crate) struct Pages {
    dir: PathBuf,
    builtin: Arc<tera::Tera>,
    /// The overridden set for the override files last seen (`None`: no overrides, or they
    /// failed to parse; the message is then in `.2`).
    current: Mutex<(Signature, Option<Arc<tera::Tera>>, Option<String>)>,
}

impl std::fmt::Debug for Pages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages").field("dir", &self.dir).finish()
    }
}

fn new_tera(templates: &[(String, String)]) -> Result<tera::Tera, tera::Error> {
    let mut t = tera::Tera::default();
    t.autoescape_on(vec![".html"]);
    t.set_escape_fn(escape_html);
    t.add_raw_templates(templates.iter().map(|(n, s)| (n.as_str(), s.as_str())))?;
    Ok(t)
}

/// HTML escaping of `&`, `<`, `>`, `"` and `'` (enough in text and quoted attributes;
/// unlike tera's default, `/` stays readable in URLs).
fn escape_html(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// The message of a tera error with its causes.
fn error_chain(e: &tera::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

impl Pages {
    /// The built-in templates, with overrides looked for in `BASEDIR/templates/`.
    pub(crate) fn new(handle: &MasterHandle) -> Self {
        let builtin: Vec<(String, String)> = TEMPLATES
            .iter()
            .map(|(n, s)| ((*n).to_owned(), (*s).to_owned()))
            .collect();
        let builtin = match new_tera(&builtin) {
            Ok(t) => t,
            Err(e) => {
                // only reachable if a built-in template is broken; the tests render each one
                log::error!("built-in web templates do not parse: {}", error_chain(&e));
                tera::Tera::default()
            }
        };
        Pages {
            dir: handle.basedir().join("templates"),
            builtin: Arc::new(builtin),
            current: Mutex::new((Vec::new(), None, None)),
        }
    }

    /// The override files present now.
    fn signature(&self) -> Signature {
        let mut sig = Vec::new();
        for (name, _) in TEMPLATES {
            if let Ok(md) = std::fs::metadata(self.dir.join(name))
                && md.is_file()
            {
                sig.push(((*name).to_owned(), md.modified().ok(), md.len()));
            }
        }
        sig
    }

    /// The template set to use and the override problem to report, if any.
    fn templates(&self) -> (Arc<tera::Tera>, Option<String>) {
        let sig = self.signature();
        let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if cur.0 != sig || (sig.is_empty() && cur.1.is_some()) {
            let (tera, problem) = if sig.is_empty() {
                (None, None)
            } else {
                let mut all: Vec<(String, String)> = Vec::new();
                let mut problem = None;
                for (name, text) in TEMPLATES {
                    let text = if sig.iter().any(|(n, ..)| n == name) {
                        match std::fs::read_to_string(self.dir.join(name)) {
                            Ok(t) => t,
                            Err(e) => {
                                problem = Some(format!(
                                    "cannot read {}: {e}",
                                    self.dir.join(name).display()
                                ));
                                (*text).to_owned()
                            }
                        }
                    } else {
                        (*text).to_owned()
                    };
                    all.push(((*name).to_owned(), text));
                }
                match new_tera(&all) {
                    Ok(t) => (Some(Arc::new(t)), problem),
                    Err(e) => {
                        let msg = format!(
                            "template override in {} does not parse: {}",
                            self.dir.display(),
                            error_chain(&e)
                        );
                        log::error!("{msg}; using the built-in templates");
                        (None, Some(msg))
                    }
                }
            };
            *cur = (sig, tera, problem);
        }
        (
            cur.1.clone().unwrap_or_else(|| self.builtin.clone()),
            cur.2.clone(),
        )
    }

    /// Renders `name` with `ctx` (plus the common values); the built-in template is used if
    /// an override fails, and the failure is shown on the page.
    pub(crate) fn render(
        &self,
        cfg: &MasterConfig,
        name: &str,
        mut ctx: Value,
    ) -> Result<String, String> {
        let (tera, mut problem) = self.templates();
        if let Value::Object(m) = &mut ctx {
            m.insert("site_title".into(), json!(cfg.title));
            m.insert("site_title_url".into(), json!(cfg.title_url));
            m.insert("version".into(), json!(env!("CARGO_PKG_VERSION")));
        }
        let render = |t: &tera::Tera, ctx: &Value| -> Result<String, String> {
            let c = tera::Context::from_value(ctx.clone()).map_err(|e| error_chain(&e))?;
            t.render(name, &c).map_err(|e| error_chain(&e))
        };
        if !Arc::ptr_eq(&tera, &self.builtin) {
            match render(&tera, &ctx) {
                Ok(s) => return Ok(s),
                Err(e) => {
                    let msg = format!("template override for {name} failed: {e}");
                    log::error!("{msg}; using the built-in template");
                    problem = Some(msg);
                }
            }
        }
        if let (Some(p), Value::Object(m)) = (problem, &mut ctx) {
            m.insert("template_error".into(), json!(p));
        }
        render(&self.builtin, &ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_templates_parse_and_escape() {
        let all: Vec<(String, String)> = TEMPLATES
            .iter()
            .map(|(n, s)| ((*n).to_owned(), (*s).to_owned()))
            .collect();
        let t = new_tera(&all).expect("built-in templates parse");
        let ctx = tera::Context::from_value(json!({
            "status": 404, "reason": "Not Found", "message": "<b>\"x\" & 'y'</b>",
            "site_title": "T", "site_title_url": "/", "version": "0",
        }))
        .unwrap();
        let out = t.render("error.html", &ctx).unwrap();
        assert!(
            out.contains("&lt;b&gt;&quot;x&quot; &amp; &#x27;y&#x27;&lt;/b&gt;"),
            "{out}"
        );
    }
}
