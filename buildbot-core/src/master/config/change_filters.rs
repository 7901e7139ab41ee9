//! What a change-driven scheduler accepts and how it weighs a change: Buildbot's
//! `ChangeFilter` (`change_filter = { branch = "main", category_re = "..." }`) and
//! `fileIsImportant`/`onlyImportant` as path patterns.

use serde_json::Value;

use super::args::ComponentArgs;

/// One field's tests of a [`ChangeFilter`] (`branch`, `branch_not_eq`, `branch_re`,
/// `branch_not_re`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldFilter {
    /// The value must be one of these.
    pub eq: Option<Vec<String>>,
    /// The value must be none of these.
    pub not_eq: Option<Vec<String>>,
    /// The value must match this regular expression.
    pub re: Option<String>,
    /// The value must not match this regular expression.
    pub not_re: Option<String>,
}

impl FieldFilter {
    /// Whether the field is not tested.
    pub fn is_empty(&self) -> bool {
        self.eq.is_none() && self.not_eq.is_none() && self.re.is_none() && self.not_re.is_none()
    }
}

/// Buildbot's `ChangeFilter` (`change_filter = { branch = "main" }`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChangeFilter {
    /// Tests on `project`.
    pub project: FieldFilter,
    /// Tests on `repository`.
    pub repository: FieldFilter,
    /// Tests on `branch`.
    pub branch: FieldFilter,
    /// Tests on `category`.
    pub category: FieldFilter,
    /// Tests on `codebase`.
    pub codebase: FieldFilter,
}

impl ChangeFilter {
    /// A filter accepting changes on one branch.
    pub fn branch(name: impl Into<String>) -> Self {
        ChangeFilter {
            branch: FieldFilter {
                eq: Some(vec![name.into()]),
                ..FieldFilter::default()
            },
            ..ChangeFilter::default()
        }
    }
}

/// `fileIsImportant` as path patterns (Buildbot's is a Python callable over the change):
/// a change is important when one of its files matches an `include` pattern (any file when
/// there is none) and no `exclude` pattern; a change that lists no files is important.
/// Patterns are `fnmatch`-style (`*` and `?`; `*` also matches `/`), as a Python
/// `fileIsImportant` written with `fnmatch` would test them.
///
/// ```toml
/// fileIsImportant = { include = ["src/*", "*.c"], exclude = ["docs/*", "*.md"] }
/// onlyImportant = true   # unimportant changes are not even recorded
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileImportance {
    /// A file must match one of these (none: every file).
    pub include: Vec<String>,
    /// A file must match none of these.
    pub exclude: Vec<String>,
}

impl FileImportance {
    /// Whether a change with these files is important.
    pub fn is_important<S: AsRef<str>>(&self, files: &[S]) -> bool {
        let any = |pats: &[String], f: &str| {
            pats.iter()
                .any(|p| crate::util::fnmatch(p.as_bytes(), f.as_bytes()))
        };
        files.is_empty()
            || files.iter().any(|f| {
                let f = f.as_ref();
                (self.include.is_empty() || any(&self.include, f)) && !any(&self.exclude, f)
            })
    }
}

/// How a change-driven scheduler weighs changes: `fileIsImportant` and `onlyImportant`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Importance {
    /// `fileIsImportant` (`None`: every change is important).
    pub file_is_important: Option<FileImportance>,
    /// `onlyImportant`: unimportant changes are dropped instead of built along.
    pub only_important: bool,
}

impl Importance {
    /// Whether a change with these files is important.
    pub fn is_important<S: AsRef<str>>(&self, files: &[S]) -> bool {
        self.file_is_important
            .as_ref()
            .is_none_or(|f| f.is_important(files))
    }
}

fn field_filter(a: &mut ComponentArgs<'_>, field: &str) -> FieldFilter {
    let f = FieldFilter {
        eq: a.str_list(field),
        not_eq: a.str_list(&format!("{field}_not_eq")),
        re: a.str(&format!("{field}_re")),
        not_re: a.str(&format!("{field}_not_re")),
    };
    for (key, re) in [("re", &f.re), ("not_re", &f.not_re)] {
        if let Some(re) = re
            && let Err(e) = regex::Regex::new(re)
        {
            a.error(
                &format!("{field}_{key}"),
                format!("ChangeFilter: '{field}_{key}' is not a valid regular expression: {e}"),
                None,
            );
        }
    }
    if a.has(&format!("{field}_fn")) {
        a.error(
            &format!("{field}_fn"),
            format!(
                "ChangeFilter: '{field}_fn' is a Python callable and cannot be written in TOML"
            ),
            Some(format!(
                "use '{field}', '{field}_not_eq', '{field}_re' or '{field}_not_re'"
            )),
        );
    }
    f
}

pub(crate) fn change_filter(a: &mut ComponentArgs<'_>) -> ChangeFilter {
    if a.has("filter_fn") {
        a.error(
            "filter_fn",
            "ChangeFilter: 'filter_fn' is a Python callable and cannot be written in TOML",
            None,
        );
    }
    ChangeFilter {
        project: field_filter(a, "project"),
        repository: field_filter(a, "repository"),
        branch: field_filter(a, "branch"),
        category: field_filter(a, "category"),
        codebase: field_filter(a, "codebase"),
    }
}

/// `fileIsImportant` (a table of path patterns, see [`FileImportance`]) and
/// `onlyImportant`.
pub(crate) fn importance(a: &mut ComponentArgs<'_>) -> Importance {
    let file_is_important = match a.json("fileIsImportant") {
        None => None,
        Some(Value::Object(_)) => a.table("fileIsImportant", |t| FileImportance {
            include: t.str_list("include").unwrap_or_default(),
            exclude: t.str_list("exclude").unwrap_or_default(),
        }),
        Some(_) => {
            a.error(
                "fileIsImportant",
                format!(
                    "{}: 'fileIsImportant' is a Python callable in Buildbot; here it is a table of path patterns",
                    a.label()
                ),
                Some("e.g. fileIsImportant = { include = [\"src/*\"], exclude = [\"*.md\"] }".into()),
            );
            None
        }
    };
    Importance {
        file_is_important,
        only_important: a.bool("onlyImportant", false),
    }
}
