//! Helpers shared by the query modules.

/// Find-or-create (spec §1): select by unique key; insert if missing; on a unique violation
/// (another master won the race) select again.
macro_rules! find_or_create {
    ($conn:expr, $op:expr, $entity:ty, $cond:expr, $am:expr, $id:ident) => {{
        let mut result: Option<i64> = None;
        let cond = $cond;
        for _attempt in 0..5 {
            if let Some(m) = <$entity as sea_orm::EntityTrait>::find()
                .filter(cond.clone())
                .one($conn)
                .await
                .map_err(|source| $crate::DbError::Query { op: $op, source })?
            {
                result = Some(m.$id);
                break;
            }
            match <$entity as sea_orm::EntityTrait>::insert($am.clone())
                .exec($conn)
                .await
            {
                Ok(r) => {
                    result = Some(r.last_insert_id);
                    break;
                }
                Err(e) if $crate::error::is_unique_violation(&e) => continue,
                Err(source) => return Err($crate::DbError::Query { op: $op, source }),
            }
        }
        result.ok_or_else(|| $crate::DbError::Conflict {
            op: $op,
            reason: "find-or-create kept conflicting".to_owned(),
        })?
    }};
}
pub(crate) use find_or_create;

/// Non-zero is true.
pub(crate) fn flag<T: Into<i64>>(v: T) -> bool {
    v.into() != 0
}

/// Optional non-zero is true (NULL = false).
pub(crate) fn oflag<T: Into<i64>>(v: Option<T>) -> bool {
    v.map(|x| x.into() != 0).unwrap_or(false)
}

/// Split a list into batches (SQL parameter limits).
pub(crate) const BATCH: usize = 100;

/// `json.dumps` as Python writes it: `", "` and `": "` separators, non-ASCII escaped.
pub(crate) fn py_json(v: &serde_json::Value) -> String {
    use serde_json::ser::Formatter;
    use std::io::Write;
    struct Py;
    impl Formatter for Py {
        fn begin_array_value<W: ?Sized + Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            if first { Ok(()) } else { w.write_all(b", ") }
        }
        fn begin_object_key<W: ?Sized + Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            if first { Ok(()) } else { w.write_all(b", ") }
        }
        fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
            w.write_all(b": ")
        }
        fn write_string_fragment<W: ?Sized + Write>(
            &mut self,
            w: &mut W,
            fragment: &str,
        ) -> std::io::Result<()> {
            for c in fragment.chars() {
                if c.is_ascii() {
                    w.write_all(&[c as u8])?;
                } else {
                    let mut buf = [0u16; 2];
                    for u in c.encode_utf16(&mut buf) {
                        write!(w, "\\u{u:04x}")?;
                    }
                }
            }
            Ok(())
        }
    }
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Py);
    // Serializing a Value into a Vec cannot fail.
    let _ = serde::Serialize::serialize(v, &mut ser);
    String::from_utf8(out).unwrap_or_default()
}

/// Properties as stored in `buildset_properties` / `change_properties`: `[value, source]`.
pub(crate) fn encode_sourced(value: &serde_json::Value, source: &str) -> String {
    py_json(&serde_json::json!([value, source]))
}

/// Read `[value, source]` leniently (anything else is `(raw, default_source)`).
pub(crate) fn decode_sourced(text: &str, default_source: &str) -> (serde_json::Value, String) {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(mut a)) if a.len() == 2 => {
            let src = a.pop().unwrap_or_default();
            let val = a.pop().unwrap_or_default();
            (
                val,
                src.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| src.to_string()),
            )
        }
        Ok(v) => (v, default_source.to_owned()),
        Err(_) => (
            serde_json::Value::String(text.to_owned()),
            default_source.to_owned(),
        ),
    }
}

/// Sourced properties: `name → (value, source)`.
pub type Properties = std::collections::BTreeMap<String, (serde_json::Value, String)>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_json() {
        let v = serde_json::json!(["spec good", "Force Build Form"]);
        assert_eq!(py_json(&v), r#"["spec good", "Force Build Form"]"#);
        let v = serde_json::json!({"a": 1, "b": [true, null], "c": "é😀"});
        assert_eq!(
            py_json(&v),
            r#"{"a": 1, "b": [true, null], "c": "\u00e9\ud83d\ude00"}"#
        );
        assert_eq!(
            decode_sourced(r#"["JIRA-1", "Change"]"#, "x"),
            (serde_json::json!("JIRA-1"), "Change".into())
        );
        assert_eq!(decode_sourced("5", "Change").1, "Change");
    }
}
