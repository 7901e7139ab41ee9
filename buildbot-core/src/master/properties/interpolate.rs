//! Renderables: Buildbot's `Interpolate` mini-language and `Property`.
//!
//! Supported substitutions (each `%(...)s`; `%%` is a literal `%`):
//!
//! | form | meaning |
//! |---|---|
//! | `%(prop:name)s` | property value, `""` if unset |
//! | `%(prop:name:-default)s` | `default` if the property is unset |
//! | `%(prop:name:~default)s` | `default` if unset or false/empty |
//! | `%(prop:name:+replacement)s` | `replacement` if set, else `""` |
//! | `%(prop:name:?\|if_set\|if_unset)s` | ternary on "is set" (any delimiter but `(`) |
//! | `%(prop:name:#?\|if_true\|if_false)s` | ternary on truthiness |
//! | `%(src:codebase:attr)s`, `%(src::branch)s` | source stamp attribute (empty codebase) |
//! | `%(kw:name)s` | keyword argument |
//! | `%(worker:attr)s` | worker info (`os`, `host`, `admin`, ...) |
//! | `%(secret:name)s` | secret from a provider (redact it with [`Redactor`]) |
//!
//! The default and replacement texts are themselves interpolated, so
//! `%(prop:a:-%(prop:b)s)s` works as in Buildbot.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

use serde_json::Value;

/// A malformed `Interpolate` string.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InterpolateError {
    /// What is wrong (Buildbot's wording where it has one).
    pub message: String,
    /// Byte offset in the format string where the bad substitution starts.
    pub offset: usize,
}

/// Rendering failed (only secrets and integer conversions can fail).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// `%(secret:name)s` named a secret no provider knows.
    #[error("secret key {0} is not found in any provider")]
    SecretNotFound(String),
    /// A secrets provider failed.
    #[error("secrets provider failed for {name}: {message}")]
    SecretProvider {
        /// Secret name.
        name: String,
        /// Provider's message.
        message: String,
    },
    /// `%(...)d` on a value that is not a number.
    #[error("%d format: a number is required, not {0}")]
    NotANumber(String),
}

/// Everything a renderable can look at while being rendered: the build's properties, its
/// source stamps, keyword arguments, the worker's info and secrets.
pub trait RenderContext {
    /// A property value; `None` when unset.
    fn property(&self, name: &str) -> Option<Value>;
    /// An attribute (`branch`, `revision`, `repository`, `project`, `codebase`, ...) of the
    /// source stamp of `codebase` (`""` is the default codebase).
    fn sourcestamp_attr(&self, _codebase: &str, _attr: &str) -> Option<Value> {
        None
    }
    /// A keyword argument (`%(kw:name)s`) not given by the `Interpolate` itself.
    fn kwarg(&self, _name: &str) -> Option<Value> {
        None
    }
    /// An entry of the worker's info (`%(worker:os)s`).
    fn worker_info(&self, _attr: &str) -> Option<Value> {
        None
    }
    /// A secret's value, `Ok(None)` when unknown. Implementations should remember the
    /// secret for redaction (see [`Redactor`]).
    fn secret(&self, _name: &str) -> Result<Option<String>, RenderError> {
        Ok(None)
    }
}

/// Replaces secret values by `<name>` in text that may be shown or logged (Buildbot's
/// `cleanupTextFromSecrets`).
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    secrets: Vec<(String, String)>,
}

impl Redactor {
    /// An empty redactor.
    pub fn new() -> Self {
        Self::default()
    }

    /// Remembers a secret; blank values are ignored (as Buildbot does).
    pub fn add(&mut self, name: &str, value: &str) {
        if value.trim().is_empty() || self.secrets.iter().any(|(v, _)| v == value) {
            return;
        }
        self.secrets.push((value.to_owned(), format!("<{name}>")));
        // longest first, so a secret containing another is replaced whole
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
    }

    /// Whether no secret was added.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every known secret value replaced by `<name>`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (value, repl) in &self.secrets {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), repl);
            }
        }
        out
    }
}

/// A ready-made [`RenderContext`] over owned maps, for tests and simple embedders.
#[derive(Debug, Default)]
pub struct SimpleRenderContext {
    /// Properties (`name → value`).
    pub properties: BTreeMap<String, Value>,
    /// Source stamps by codebase (`"" →{"branch": ...}`).
    pub sourcestamps: BTreeMap<String, serde_json::Map<String, Value>>,
    /// Keyword arguments.
    pub kwargs: BTreeMap<String, Value>,
    /// Worker info.
    pub worker_info: BTreeMap<String, Value>,
    /// Known secrets.
    pub secrets: BTreeMap<String, String>,
    /// Secrets used so far.
    pub used_secrets: Mutex<Redactor>,
}

impl SimpleRenderContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a property.
    pub fn with_property(mut self, name: &str, value: Value) -> Self {
        self.properties.insert(name.to_owned(), value);
        self
    }

    /// Text with the secrets used so far redacted.
    pub fn redact(&self, text: &str) -> String {
        match self.used_secrets.lock() {
            Ok(r) => r.redact(text),
            Err(p) => p.into_inner().redact(text),
        }
    }
}

impl RenderContext for SimpleRenderContext {
    fn property(&self, name: &str) -> Option<Value> {
        self.properties.get(name).cloned()
    }
    fn sourcestamp_attr(&self, codebase: &str, attr: &str) -> Option<Value> {
        self.sourcestamps.get(codebase)?.get(attr).cloned()
    }
    fn kwarg(&self, name: &str) -> Option<Value> {
        self.kwargs.get(name).cloned()
    }
    fn worker_info(&self, attr: &str) -> Option<Value> {
        self.worker_info.get(attr).cloned()
    }
    fn secret(&self, name: &str) -> Result<Option<String>, RenderError> {
        let v = self.secrets.get(name).cloned();
        if let Some(v) = &v {
            match self.used_secrets.lock() {
                Ok(mut r) => r.add(name, v),
                Err(p) => p.into_inner().add(name, v),
            }
        }
        Ok(v)
    }
}

/// Python truthiness of a JSON value (`None`, `False`, `0`, `""`, `[]`, `{}` are false).
pub fn is_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let a = f.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        return format!("{mant}e{sign}{digits:0>2}");
    }
    if f.fract() == 0.0 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

fn python_repr_into(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            let q = if s.contains('\'') && !s.contains('"') {
                '"'
            } else {
                '\''
            };
            out.push(q);
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if c == q => {
                        out.push('\\');
                        out.push(c);
                    }
                    c => out.push(c),
                }
            }
            out.push(q);
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_repr_into(x, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_repr_into(&Value::String(k.clone()), out);
                out.push_str(": ");
                python_repr_into(x, out);
            }
            out.push('}');
        }
        other => out.push_str(&python_str(other)),
    }
}

/// Python's `str()` of a JSON value, which is what `%s` produces in Buildbot
/// (`True`, `None`, `1.0`, `['a', 'b']`, ...).
pub fn python_str(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => {
            if n.is_f64() {
                python_float(n.as_f64().unwrap_or(0.0))
            } else {
                n.to_string()
            }
        }
        Value::String(s) => s.clone(),
        other => {
            let mut s = String::new();
            python_repr_into(other, &mut s);
            s
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Source {
    Prop(String),
    Src { codebase: String, attr: String },
    Worker(String),
    Kw(String),
    Secret(String),
}

#[derive(Clone, Debug, PartialEq)]
struct Lookup {
    source: Source,
    /// rendered when the key is missing (or false, with `default_when_false`)
    default: Option<Box<Interpolate>>,
    /// rendered instead of the value when the key is present (and true, with
    /// `default_when_false`)
    has_key: Option<Box<Interpolate>>,
    default_when_false: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum Part {
    Lit(String),
    Sub { lookup: Lookup, conv: char },
}

/// A parsed Buildbot `Interpolate` format string.
#[derive(Clone, Debug, PartialEq)]
pub struct Interpolate {
    fmt: String,
    parts: Vec<Part>,
    kwargs: BTreeMap<String, Renderable>,
}

impl fmt::Display for Interpolate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.fmt)
    }
}

fn is_identifier(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '-')
}

fn perr(message: String, offset: usize) -> InterpolateError {
    InterpolateError { message, offset }
}

/// Splits at the first `delim` outside parentheses (Buildbot's `_splitBalancedParen`).
fn split_balanced(delim: char, arg: &str) -> Result<Option<(&str, &str)>, ()> {
    let mut depth = 0i32;
    for (i, c) in arg.char_indices() {
        if c == '(' {
            depth += 1;
        }
        if c == ')' {
            depth -= 1;
            if depth < 0 {
                return Err(());
            }
        }
        if depth == 0 && c == delim {
            return Ok(Some((&arg[..i], &arg[i + c.len_utf8()..])));
        }
    }
    Ok(None)
}

impl Interpolate {
    /// Parses a format string.
    pub fn parse(fmt: &str) -> Result<Self, InterpolateError> {
        Self::parse_at(fmt, 0)
    }

    /// Parses a format string with keyword arguments for `%(kw:...)s`.
    pub fn with_kwargs(
        fmt: &str,
        kwargs: BTreeMap<String, Renderable>,
    ) -> Result<Self, InterpolateError> {
        let mut i = Self::parse(fmt)?;
        i.kwargs = kwargs;
        Ok(i)
    }

    /// The original format string.
    pub fn format_string(&self) -> &str {
        &self.fmt
    }

    /// Whether the string has no substitution at all (only text and `%%`).
    pub fn is_constant(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    fn parse_at(fmt: &str, base: usize) -> Result<Self, InterpolateError> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let bytes = fmt.as_bytes();
        let mut i = 0;
        while i < fmt.len() {
            let Some(rel) = fmt[i..].find('%') else {
                lit.push_str(&fmt[i..]);
                break;
            };
            lit.push_str(&fmt[i..i + rel]);
            let start = i + rel;
            match bytes.get(start + 1) {
                None => {
                    return Err(perr(
                        "incomplete format: '%' at end of string (write %% for a literal %)".into(),
                        base + start,
                    ));
                }
                Some(b'%') => {
                    lit.push('%');
                    i = start + 2;
                }
                Some(b'(') => {
                    let mut depth = 1;
                    let mut j = start + 2;
                    while j < fmt.len() && depth > 0 {
                        match bytes[j] {
                            b'(' => depth += 1,
                            b')' => depth -= 1,
                            _ => {}
                        }
                        j += 1;
                    }
                    if depth > 0 {
                        return Err(perr(
                            format!("incomplete format key in '{}'", &fmt[start..]),
                            base + start,
                        ));
                    }
                    let key = &fmt[start + 2..j - 1];
                    let conv = fmt[j..].chars().next();
                    let conv = match conv {
                        Some(c @ ('s' | 'r' | 'd' | 'i')) => c,
                        Some(c) => {
                            return Err(perr(
                                format!(
                                    "unsupported format character '{c}' after '%({key})' (use %(...)s)"
                                ),
                                base + start,
                            ));
                        }
                        None => {
                            return Err(perr(
                                format!(
                                    "incomplete format: '%({key})' needs a conversion such as 's'"
                                ),
                                base + start,
                            ));
                        }
                    };
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    let lookup = Self::parse_substitution(key, base + start + 2)?;
                    parts.push(Part::Sub { lookup, conv });
                    i = j + conv.len_utf8();
                }
                Some(_) => {
                    let c = fmt[start + 1..].chars().next().unwrap_or('%');
                    return Err(perr(
                        format!(
                            "positional substitution '%{c}' is not supported; write %% for a literal %"
                        ),
                        base + start,
                    ));
                }
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Interpolate {
            fmt: fmt.to_owned(),
            parts,
            kwargs: BTreeMap::new(),
        })
    }

    fn parse_substitution(key: &str, off: usize) -> Result<Lookup, InterpolateError> {
        let Some((sel, arg)) = key.split_once(':') else {
            return Err(perr(
                format!("invalid Interpolate substitution without selector '{key}'"),
                off,
            ));
        };
        let (source, repl) = match sel {
            "prop" | "secret" | "worker" | "kw" => {
                let (name, repl) = match arg.split_once(':') {
                    Some((n, r)) => (n, Some(r)),
                    None => (arg, None),
                };
                match sel {
                    "prop" => {
                        if !is_identifier(name) {
                            return Err(perr(
                                format!(
                                    "Property name must be alphanumeric for prop Interpolation '{arg}'"
                                ),
                                off,
                            ));
                        }
                        (Source::Prop(name.to_owned()), repl)
                    }
                    "kw" => {
                        if !is_identifier(name) {
                            return Err(perr(
                                format!(
                                    "Keyword must be alphanumeric for kw Interpolation '{arg}'"
                                ),
                                off,
                            ));
                        }
                        (Source::Kw(name.to_owned()), repl)
                    }
                    "worker" => (Source::Worker(name.to_owned()), repl),
                    _ => (Source::Secret(name.to_owned()), repl),
                }
            }
            "src" => {
                let mut it = arg.splitn(3, ':');
                let codebase = it.next().unwrap_or("");
                let Some(attr) = it.next() else {
                    return Err(perr(
                        format!(
                            "Must specify both codebase and attribute for src Interpolation '{arg}'"
                        ),
                        off,
                    ));
                };
                let repl = it.next();
                if !is_identifier(codebase) {
                    return Err(perr(
                        format!("Codebase must be alphanumeric for src Interpolation '{arg}'"),
                        off,
                    ));
                }
                if !is_identifier(attr) {
                    return Err(perr(
                        format!("Attribute must be alphanumeric for src Interpolation '{arg}'"),
                        off,
                    ));
                }
                (
                    Source::Src {
                        codebase: codebase.to_owned(),
                        attr: attr.to_owned(),
                    },
                    repl,
                )
            }
            other => {
                return Err(perr(format!("invalid Interpolate selector '{other}'"), off));
            }
        };
        let repl = repl.unwrap_or("-");
        // offset of the text after the pattern, for nested errors (approximate)
        let repl_off = off + key.len() - repl.len();
        let sub = |s: &str, skip: usize| -> Result<Option<Box<Interpolate>>, InterpolateError> {
            Ok(Some(Box::new(Interpolate::parse_at(s, repl_off + skip)?)))
        };
        if let Some(tail) = repl.strip_prefix('-') {
            Ok(Lookup {
                source,
                default: sub(tail, 1)?,
                has_key: None,
                default_when_false: false,
            })
        } else if let Some(tail) = repl.strip_prefix('~') {
            Ok(Lookup {
                source,
                default: sub(tail, 1)?,
                has_key: None,
                default_when_false: true,
            })
        } else if let Some(tail) = repl.strip_prefix('+') {
            Ok(Lookup {
                source,
                default: None,
                has_key: sub(tail, 1)?,
                default_when_false: false,
            })
        } else if let Some((tail, hash, skip)) = repl
            .strip_prefix('?')
            .map(|t| (t, false, 1))
            .or_else(|| repl.strip_prefix("#?").map(|t| (t, true, 2)))
        {
            let Some(delim) = tail.chars().next() else {
                return Err(perr(
                    format!("invalid Interpolate ternary expression '{tail}' (no delimiter)"),
                    off,
                ));
            };
            if delim == '(' {
                return Err(perr(
                    "invalid Interpolate ternary delimiter '('".into(),
                    off,
                ));
            }
            let rest = &tail[delim.len_utf8()..];
            match split_balanced(delim, rest) {
                Ok(Some((t, f))) => Ok(Lookup {
                    source,
                    has_key: sub(t, skip + delim.len_utf8())?,
                    default: sub(f, skip + delim.len_utf8() + t.len() + delim.len_utf8())?,
                    default_when_false: hash,
                }),
                _ => Err(perr(
                    format!(
                        "invalid Interpolate ternary expression '{rest}' with delimiter '{delim}'"
                    ),
                    off,
                )),
            }
        } else {
            let c: String = repl.chars().take(1).collect();
            Err(perr(format!("invalid Interpolate default type '{c}'"), off))
        }
    }

    /// Names of the secrets this string uses (so they can be fetched before rendering).
    pub fn secret_names(&self, out: &mut Vec<String>) {
        for p in &self.parts {
            if let Part::Sub { lookup, .. } = p {
                if let Source::Secret(n) = &lookup.source
                    && !out.contains(n)
                {
                    out.push(n.clone());
                }
                for i in lookup.default.iter().chain(lookup.has_key.iter()) {
                    i.secret_names(out);
                }
            }
        }
        for r in self.kwargs.values() {
            r.secret_names_into(out);
        }
    }

    /// Renders the string.
    pub fn render(&self, ctx: &dyn RenderContext) -> Result<String, RenderError> {
        self.render_with(ctx, &self.kwargs)
    }

    fn render_with(
        &self,
        ctx: &dyn RenderContext,
        kwargs: &BTreeMap<String, Renderable>,
    ) -> Result<String, RenderError> {
        let mut out = String::with_capacity(self.fmt.len());
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Sub { lookup, conv } => {
                    let v = lookup.eval(ctx, kwargs)?;
                    match conv {
                        's' => out.push_str(&python_str(&v)),
                        'r' => python_repr_into(&v, &mut out),
                        _ => match &v {
                            Value::Number(n) => {
                                if let Some(i) = n.as_i64() {
                                    out.push_str(&i.to_string());
                                } else {
                                    out.push_str(
                                        &(n.as_f64().unwrap_or(0.0).trunc() as i64).to_string(),
                                    );
                                }
                            }
                            Value::Bool(b) => out.push(if *b { '1' } else { '0' }),
                            other => return Err(RenderError::NotANumber(python_str(other))),
                        },
                    }
                }
            }
        }
        Ok(out)
    }
}

impl Lookup {
    fn eval(
        &self,
        ctx: &dyn RenderContext,
        kwargs: &BTreeMap<String, Renderable>,
    ) -> Result<Value, RenderError> {
        let found = match &self.source {
            Source::Prop(n) => ctx.property(n),
            Source::Src { codebase, attr } => ctx.sourcestamp_attr(codebase, attr),
            Source::Worker(a) => ctx.worker_info(a),
            Source::Kw(k) => match kwargs.get(k) {
                Some(r) => Some(r.render(ctx)?),
                None => ctx.kwarg(k),
            },
            Source::Secret(n) => match ctx.secret(n)? {
                Some(s) => Some(Value::String(s)),
                None => return Err(RenderError::SecretNotFound(n.clone())),
            },
        };
        let render_opt = |i: &Option<Box<Interpolate>>| -> Result<Value, RenderError> {
            match i {
                Some(i) => Ok(Value::String(i.render_with(ctx, kwargs)?)),
                None => Ok(Value::String(String::new())),
            }
        };
        let rv = match found {
            None => render_opt(&self.default)?,
            Some(v) => {
                if self.default_when_false {
                    if !is_truthy(&v) {
                        render_opt(&self.default)?
                    } else if self.has_key.is_some() {
                        render_opt(&self.has_key)?
                    } else {
                        v
                    }
                } else if self.has_key.is_some() {
                    render_opt(&self.has_key)?
                } else {
                    v
                }
            }
        };
        Ok(if rv.is_null() {
            Value::String(String::new())
        } else {
            rv
        })
    }
}

/// Any step/scheduler/reporter argument that may depend on the build: a constant, an
/// `Interpolate` string, a `Property` reference, or a list/map of those.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Renderable {
    /// A constant (strings without `%(` are constants too).
    Value(Value),
    /// An `Interpolate` format string.
    Interpolate(Interpolate),
    /// Buildbot's `Property(name, default, defaultWhenFalse)`; TOML:
    /// `{ property = "name", default = ..., defaultWhenFalse = true }`.
    Property {
        /// Property name.
        name: String,
        /// Rendered when the property is unset (or false, see below).
        default: Box<Renderable>,
        /// Use the default when the value is false/empty too (Buildbot's default: true).
        default_when_false: bool,
    },
    /// A list whose items are rendered.
    List(Vec<Renderable>),
    /// A map whose values are rendered.
    Map(BTreeMap<String, Renderable>),
}

impl From<&str> for Renderable {
    fn from(s: &str) -> Self {
        Renderable::Value(Value::from(s))
    }
}

impl From<String> for Renderable {
    fn from(s: String) -> Self {
        Renderable::Value(Value::from(s))
    }
}

impl From<Value> for Renderable {
    fn from(v: Value) -> Self {
        Renderable::Value(v)
    }
}

impl Renderable {
    /// A string argument: an `Interpolate` if it contains `%(`, else a constant.
    pub fn parse_str(s: &str) -> Result<Self, InterpolateError> {
        if s.contains("%(") {
            Ok(Renderable::Interpolate(Interpolate::parse(s)?))
        } else {
            Ok(Renderable::Value(Value::from(s)))
        }
    }

    /// Builds a renderable from a JSON value: strings as in [`Renderable::parse_str`],
    /// `{"property": ...}` objects as `Property`, `{"interpolate": ..., "kw": {...}}` as an
    /// `Interpolate` with keyword arguments, other arrays/objects recursively.
    pub fn from_json(v: &Value) -> Result<Self, InterpolateError> {
        match v {
            Value::String(s) => Self::parse_str(s),
            Value::Array(a) => Ok(Renderable::List(
                a.iter().map(Self::from_json).collect::<Result<_, _>>()?,
            )),
            Value::Object(o) => {
                if let Some(Value::String(name)) = o.get("property") {
                    let default = match o.get("default") {
                        Some(d) => Self::from_json(d)?,
                        None => Renderable::Value(Value::Null),
                    };
                    let dwf = o
                        .get("defaultWhenFalse")
                        .and_then(Value::as_bool)
                        .unwrap_or(true);
                    return Ok(Renderable::Property {
                        name: name.clone(),
                        default: Box::new(default),
                        default_when_false: dwf,
                    });
                }
                if let Some(Value::String(fmt)) = o.get("interpolate") {
                    let mut kw = BTreeMap::new();
                    if let Some(Value::Object(k)) = o.get("kw") {
                        for (name, val) in k {
                            kw.insert(name.clone(), Self::from_json(val)?);
                        }
                    }
                    return Ok(Renderable::Interpolate(Interpolate::with_kwargs(fmt, kw)?));
                }
                let mut m = BTreeMap::new();
                for (k, val) in o {
                    m.insert(k.clone(), Self::from_json(val)?);
                }
                Ok(Renderable::Map(m))
            }
            other => Ok(Renderable::Value(other.clone())),
        }
    }

    /// The value if it needs no rendering.
    pub fn as_constant(&self) -> Option<&Value> {
        match self {
            Renderable::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Whether rendering can only give one value.
    pub fn is_constant(&self) -> bool {
        match self {
            Renderable::Value(_) => true,
            Renderable::Interpolate(i) => i.is_constant() && i.kwargs.is_empty(),
            Renderable::Property { .. } => false,
            Renderable::List(l) => l.iter().all(Renderable::is_constant),
            Renderable::Map(m) => m.values().all(Renderable::is_constant),
        }
    }

    /// Names of the secrets used anywhere inside.
    pub fn secret_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.secret_names_into(&mut out);
        out
    }

    fn secret_names_into(&self, out: &mut Vec<String>) {
        match self {
            Renderable::Interpolate(i) => i.secret_names(out),
            Renderable::Property { default, .. } => default.secret_names_into(out),
            Renderable::List(l) => l.iter().for_each(|r| r.secret_names_into(out)),
            Renderable::Map(m) => m.values().for_each(|r| r.secret_names_into(out)),
            Renderable::Value(_) => {}
        }
    }

    /// Renders to a JSON value.
    pub fn render(&self, ctx: &dyn RenderContext) -> Result<Value, RenderError> {
        Ok(match self {
            Renderable::Value(v) => v.clone(),
            Renderable::Interpolate(i) => Value::String(i.render(ctx)?),
            Renderable::Property {
                name,
                default,
                default_when_false,
            } => {
                let v = ctx.property(name);
                match v {
                    Some(v) if !*default_when_false || is_truthy(&v) => v,
                    _ => default.render(ctx)?,
                }
            }
            Renderable::List(l) => {
                Value::Array(l.iter().map(|r| r.render(ctx)).collect::<Result<_, _>>()?)
            }
            Renderable::Map(m) => Value::Object(
                m.iter()
                    .map(|(k, r)| Ok((k.clone(), r.render(ctx)?)))
                    .collect::<Result<_, RenderError>>()?,
            ),
        })
    }

    /// Renders and converts to text as `%s` would (`null` gives `""`).
    pub fn render_string(&self, ctx: &dyn RenderContext) -> Result<String, RenderError> {
        Ok(match self.render(ctx)? {
            Value::Null => String::new(),
            v => python_str(&v),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> SimpleRenderContext {
        let mut c = SimpleRenderContext::new()
            .with_property("branch", json!("main"))
            .with_property("empty", json!(""))
            .with_property("zero", json!(0))
            .with_property("none", Value::Null)
            .with_property("flag", json!(true))
            .with_property("num", json!(3))
            .with_property("fl", json!(1.0))
            .with_property("list", json!(["a", "b"]));
        let mut ss = serde_json::Map::new();
        ss.insert("branch".into(), json!("trunk"));
        ss.insert("revision".into(), json!("abc123"));
        c.sourcestamps.insert(String::new(), ss.clone());
        ss.insert("branch".into(), json!("lib-main"));
        c.sourcestamps.insert("lib".into(), ss);
        c.kwargs.insert("who".into(), json!("ctx-kw"));
        c.worker_info.insert("os".into(), json!("linux"));
        c.secrets.insert("token".into(), "s3cr3t".into());
        c
    }

    fn r(s: &str) -> String {
        Interpolate::parse(s).unwrap().render(&ctx()).unwrap()
    }

    #[test]
    fn plain_prop() {
        assert_eq!(r("b=%(prop:branch)s"), "b=main");
        assert_eq!(r("[%(prop:missing)s]"), "[]");
        assert_eq!(r("[%(prop:none)s]"), "[]");
        assert_eq!(r("%(prop:flag)s %(prop:num)s %(prop:fl)s"), "True 3 1.0");
        assert_eq!(r("%(prop:list)s"), "['a', 'b']");
        assert_eq!(r("100%% %(prop:num)d"), "100% 3");
        assert_eq!(r("%(prop:branch)r"), "'main'");
    }

    #[test]
    fn minus_default_only_when_unset() {
        assert_eq!(r("%(prop:missing:-dflt)s"), "dflt");
        assert_eq!(r("%(prop:empty:-dflt)s"), "");
        assert_eq!(r("%(prop:zero:-dflt)s"), "0");
        assert_eq!(r("%(prop:branch:-dflt)s"), "main");
        // nested interpolation in the default
        assert_eq!(r("%(prop:missing:-%(prop:branch)s!)s"), "main!");
    }

    #[test]
    fn tilde_default_when_false() {
        assert_eq!(r("%(prop:missing:~dflt)s"), "dflt");
        assert_eq!(r("%(prop:empty:~dflt)s"), "dflt");
        assert_eq!(r("%(prop:zero:~dflt)s"), "dflt");
        assert_eq!(r("%(prop:branch:~dflt)s"), "main");
    }

    #[test]
    fn plus_replacement_when_set() {
        assert_eq!(r("%(prop:branch:+yes)s"), "yes");
        assert_eq!(r("%(prop:empty:+yes)s"), "yes");
        assert_eq!(r("[%(prop:missing:+yes)s]"), "[]");
    }

    #[test]
    fn ternaries() {
        assert_eq!(r("%(prop:branch:?|set|unset)s"), "set");
        assert_eq!(r("%(prop:empty:?|set|unset)s"), "set");
        assert_eq!(r("%(prop:missing:?|set|unset)s"), "unset");
        assert_eq!(r("%(prop:branch:#?|t|f)s"), "t");
        assert_eq!(r("%(prop:empty:#?|t|f)s"), "f");
        assert_eq!(r("%(prop:missing:#?|t|f)s"), "f");
        // other delimiters, and the delimiter inside parentheses does not split
        assert_eq!(r("%(prop:branch:?:a:b)s"), "a");
        assert_eq!(r("%(prop:branch:?|%(prop:num)s|x)s"), "3");
        assert_eq!(r("%(prop:missing:?|(a|b)|c|d)s"), "c|d");
    }

    #[test]
    fn src_kw_worker_secret() {
        assert_eq!(r("%(src::branch)s"), "trunk");
        assert_eq!(r("%(src:lib:branch)s"), "lib-main");
        assert_eq!(r("%(src:lib:revision)s"), "abc123");
        assert_eq!(r("[%(src:nope:branch)s]"), "[]");
        assert_eq!(r("%(src:nope:branch:-none)s"), "none");
        assert_eq!(r("%(worker:os)s"), "linux");
        assert_eq!(r("%(kw:who)s"), "ctx-kw");
        let mut kw = BTreeMap::new();
        kw.insert("who".to_owned(), Renderable::from("own"));
        let i = Interpolate::with_kwargs("%(kw:who)s", kw).unwrap();
        assert_eq!(i.render(&ctx()).unwrap(), "own");

        let c = ctx();
        let i = Interpolate::parse("token=%(secret:token)s").unwrap();
        let out = i.render(&c).unwrap();
        assert_eq!(out, "token=s3cr3t");
        assert_eq!(c.redact(&out), "token=<token>");
        let mut names = Vec::new();
        i.secret_names(&mut names);
        assert_eq!(names, ["token"]);
        let e = Interpolate::parse("%(secret:nope)s")
            .unwrap()
            .render(&c)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "secret key nope is not found in any provider"
        );
    }

    #[test]
    fn parse_errors() {
        let e = |s: &str| Interpolate::parse(s).unwrap_err().message;
        assert_eq!(
            e("%(nope)s"),
            "invalid Interpolate substitution without selector 'nope'"
        );
        assert_eq!(e("%(foo:x)s"), "invalid Interpolate selector 'foo'");
        assert_eq!(
            e("%(prop:a b)s"),
            "Property name must be alphanumeric for prop Interpolation 'a b'"
        );
        assert_eq!(
            e("%(src:x)s"),
            "Must specify both codebase and attribute for src Interpolation 'x'"
        );
        assert_eq!(e("%(prop:x:*y)s"), "invalid Interpolate default type '*'");
        assert_eq!(
            e("%(prop:x:?(a)(b))s"),
            "invalid Interpolate ternary delimiter '('"
        );
        assert_eq!(
            e("%(prop:x:?(a(b)s"),
            "incomplete format key in '%(prop:x:?(a(b)s'"
        );
        assert_eq!(
            e("%(prop:x:?|ab)s"),
            "invalid Interpolate ternary expression 'ab' with delimiter '|'"
        );
        assert_eq!(
            e("50% %(prop:x)s"),
            "positional substitution '% ' is not supported; write %% for a literal %"
        );
        assert_eq!(e("%(prop:x"), "incomplete format key in '%(prop:x'");
        assert_eq!(
            e("%(prop:x)q"),
            "unsupported format character 'q' after '%(prop:x)' (use %(...)s)"
        );
        assert_eq!(Interpolate::parse("ab %(foo)s").unwrap_err().offset, 5);
    }

    #[test]
    fn property_renderable_and_lists() {
        let c = ctx();
        let p = Renderable::from_json(&json!({"property": "empty", "default": "d"})).unwrap();
        assert_eq!(p.render(&c).unwrap(), json!("d"));
        let p = Renderable::from_json(
            &json!({"property": "empty", "default": "d", "defaultWhenFalse": false}),
        )
        .unwrap();
        assert_eq!(p.render(&c).unwrap(), json!(""));
        let p = Renderable::from_json(&json!({"property": "num"})).unwrap();
        assert_eq!(p.render(&c).unwrap(), json!(3));
        let p = Renderable::from_json(&json!({"property": "missing"})).unwrap();
        assert_eq!(p.render(&c).unwrap(), Value::Null);

        let cmd =
            Renderable::from_json(&json!(["make", "BRANCH=%(prop:branch)s", {"property": "num"}]))
                .unwrap();
        assert!(!cmd.is_constant());
        assert_eq!(cmd.render(&c).unwrap(), json!(["make", "BRANCH=main", 3]));
        let env =
            Renderable::from_json(&json!({"A": "%(prop:branch)s", "B": ["x", "%(worker:os)s"]}))
                .unwrap();
        assert_eq!(
            env.render(&c).unwrap(),
            json!({"A": "main", "B": ["x", "linux"]})
        );
        let k = Renderable::from_json(
            &json!({"interpolate": "%(kw:a)s-%(prop:branch)s", "kw": {"a": "%(prop:num)s"}}),
        )
        .unwrap();
        assert_eq!(k.render(&c).unwrap(), json!("3-main"));
        // strings without %( are literals, even with a lone %
        assert_eq!(
            Renderable::parse_str("printf '%d'").unwrap(),
            Renderable::from("printf '%d'")
        );
    }

    #[test]
    fn python_str_matches_python() {
        assert_eq!(python_str(&json!(1.5)), "1.5");
        assert_eq!(python_str(&json!(2.0)), "2.0");
        assert_eq!(python_str(&json!(1e20)), "1e+20");
        assert_eq!(python_str(&json!(0.00001)), "1e-05");
        assert_eq!(
            python_str(&json!({"a": [1, "x", null, false]})),
            "{'a': [1, 'x', None, False]}"
        );
        assert_eq!(python_str(&json!("it's")), "it's");
        assert_eq!(python_str(&json!(["it's"])), "[\"it's\"]");
    }
}
