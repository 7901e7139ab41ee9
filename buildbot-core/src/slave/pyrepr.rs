//! Python-style `repr` and shell quoting, for header lines identical to the Python worker's.

use rmpv::Value;

/// `repr()` of a Python `bytes` object.
pub(crate) fn bytes_repr(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut s = String::from("b");
    s.push(quote);
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            c if c as char == quote => {
                s.push('\\');
                s.push(quote);
            }
            0x20..=0x7e => s.push(c as char),
            c => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push(quote);
    s
}

/// `repr()` of a Python `str`.
pub(crate) fn str_repr(t: &str) -> String {
    let quote = if t.contains('\'') && !t.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut s = String::new();
    s.push(quote);
    for c in t.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '\t' => s.push_str("\\t"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            c if c == quote => {
                s.push('\\');
                s.push(quote);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                s.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => s.push(c),
        }
    }
    s.push(quote);
    s
}

/// `repr()` of a Python float.
pub(crate) fn float_repr(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// `repr()` of a decoded msgpack value as the Python worker would see it.
pub(crate) fn value_repr(v: &Value) -> String {
    match v {
        Value::Nil => "None".into(),
        Value::Boolean(true) => "True".into(),
        Value::Boolean(false) => "False".into(),
        Value::Integer(i) => i.to_string(),
        Value::F32(f) => float_repr(f64::from(*f)),
        Value::F64(f) => float_repr(*f),
        Value::String(s) => str_repr(s.as_str().unwrap_or_default()),
        Value::Binary(b) => bytes_repr(b),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(value_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Map(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", value_repr(k), value_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Ext(_, _) => "<ext>".into(),
    }
}

/// Number as Python prints it in `f"{value}"` (int stays int, float keeps `.0`).
pub(crate) fn number_display(v: &Value) -> String {
    match v {
        Value::Integer(i) => i.to_string(),
        Value::F64(f) => float_repr(*f),
        Value::F32(f) => float_repr(f64::from(*f)),
        other => value_repr(other),
    }
}

/// `shlex.quote` of one argument, with the worker's rule that empty arguments show as `""`.
pub(crate) fn shell_quote(arg: &str) -> String {
    if arg.is_empty() {
        return "\"\"".into();
    }
    if arg
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c))
    {
        return arg.to_string();
    }
    format!("'{}'", arg.replace('\'', "'\"'\"'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reprs() {
        assert_eq!(bytes_repr(b"echo"), "b'echo'");
        assert_eq!(
            bytes_repr(b"printf 'a\\r\\nb\\rc\\r'; echo"),
            "b\"printf 'a\\\\r\\\\nb\\\\rc\\\\r'; echo\""
        );
        assert_eq!(shell_quote("hello world"), "'hello world'");
        assert_eq!(
            shell_quote("['obfuscated', 'secret', 'XXX']"),
            "'['\"'\"'obfuscated'\"'\"', '\"'\"'secret'\"'\"', '\"'\"'XXX'\"'\"']'"
        );
        assert_eq!(str_repr("my.log"), "'my.log'");
    }
}
