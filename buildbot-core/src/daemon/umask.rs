//! The `umask` setting of a `buildbot.tac`, shared by both programs.

use serde::Deserialize;

/// Reads octal digits (`022`, `0o22`, `0`) as a umask; `None` for anything else or for a
/// value above `0o777`.
pub fn parse_octal(s: &str) -> Option<u32> {
    let digits = s.strip_prefix("0o").unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(digits, 8).ok().filter(|v| *v <= 0o777)
}

/// Serde `deserialize_with` for a tac's `umask`: a TOML integer (`0o022`), an octal string
/// (`"022"`, `"0o22"`) or the string `"None"` (no umask).
pub fn deserialize_umask<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(i64),
        Str(String),
    }
    match Raw::deserialize(d)? {
        Raw::Int(i) if (0..=0o777).contains(&i) => Ok(Some(i as u32)),
        Raw::Int(i) => Err(serde::de::Error::custom(format!(
            "umask {i} is out of range (write it in octal: umask = 0o022)"
        ))),
        Raw::Str(s) if s == "None" => Ok(None),
        Raw::Str(s) => parse_octal(&s)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("umask '{s}' is not an octal number"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_umasks() {
        assert_eq!(parse_octal("022"), Some(0o22));
        assert_eq!(parse_octal("0o22"), Some(0o22));
        assert_eq!(parse_octal("0"), Some(0));
        assert_eq!(parse_octal("rw"), None);
        assert_eq!(parse_octal("8"), None);
        assert_eq!(parse_octal("7777"), None);
    }
}
