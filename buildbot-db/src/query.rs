//! Generic filtered, ordered, paged queries for the REST API.

use sea_orm::sea_query::{Cond, Expr, ExprTrait};
use sea_orm::{EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select};

use crate::DbError;

/// Comparison of a [`Filter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// equal (several values: any of them)
    Eq,
    /// not equal (several values: none of them)
    Ne,
    /// less than
    Lt,
    /// less or equal
    Le,
    /// greater than
    Gt,
    /// greater or equal
    Ge,
    /// value in the set
    In,
    /// value not in the set
    NotIn,
    /// substring (any of the values)
    Contains,
}

/// One `field__op=value` condition. Values are text, converted by the field's type
/// (`true`/`false`/`1`/`0` for booleans, `null` for NULL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    /// REST field name (`builderid`, `complete`, ...).
    pub field: String,
    /// Comparison.
    pub op: Op,
    /// Values (at least one).
    pub values: Vec<String>,
}

/// Filters, order and paging applied to a collection query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// All must hold.
    pub filters: Vec<Filter>,
    /// `(field, descending)`, most significant first.
    pub order: Vec<(String, bool)>,
    /// Maximum rows.
    pub limit: Option<u64>,
    /// Rows to skip.
    pub offset: Option<u64>,
}

impl Query {
    /// An empty query (everything, by id).
    pub fn new() -> Query {
        Query::default()
    }

    /// Add a filter.
    pub fn filter<I, S>(mut self, field: &str, op: Op, values: I) -> Query
    where
        I: IntoIterator<Item = S>,
        S: ToString,
    {
        self.filters.push(Filter {
            field: field.to_owned(),
            op,
            values: values.into_iter().map(|v| v.to_string()).collect(),
        });
        self
    }

    /// Add `field = value`.
    pub fn eq(self, field: &str, value: impl ToString) -> Query {
        self.filter(field, Op::Eq, [value])
    }

    /// Order by `field` (descending when `desc`).
    pub fn order(mut self, field: &str, desc: bool) -> Query {
        self.order.push((field.to_owned(), desc));
        self
    }

    /// Limit the number of rows.
    pub fn limit(mut self, n: u64) -> Query {
        self.limit = Some(n);
        self
    }

    /// Skip rows.
    pub fn offset(mut self, n: u64) -> Query {
        self.offset = Some(n);
        self
    }
}

/// Type of a filterable field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    Int,
    Str,
    Bool,
}

/// How a REST field maps to SQL.
pub(crate) enum Field {
    /// A column (or expression) of a type.
    Col(Expr, Ty),
    /// A derived boolean: the expression that is true when the field is true.
    Cond(Expr),
}

fn bad(field: &str, v: &str) -> DbError {
    DbError::BadFilterValue {
        field: field.to_owned(),
        value: v.to_owned(),
    }
}

fn value(field: &str, ty: Ty, v: &str) -> Result<Option<sea_orm::Value>, DbError> {
    if v == "null" || v == "None" {
        return Ok(None);
    }
    Ok(Some(match ty {
        Ty::Int => v.parse::<i64>().map_err(|_| bad(field, v))?.into(),
        Ty::Str => v.to_owned().into(),
        Ty::Bool => match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => 1i64.into(),
            "false" | "0" | "no" | "off" | "" => 0i64.into(),
            _ => return Err(bad(field, v)),
        },
    }))
}

fn parse_bool(field: &str, v: &str) -> Result<bool, DbError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(bad(field, v)),
    }
}

fn condition(f: &Filter, field: Field) -> Result<Cond, DbError> {
    let name = f.field.as_str();
    if f.values.is_empty() {
        return Err(bad(name, ""));
    }
    match field {
        Field::Cond(c) => {
            let wanted: Vec<bool> = f
                .values
                .iter()
                .map(|v| parse_bool(name, v))
                .collect::<Result<_, _>>()?;
            let positive = match f.op {
                Op::Eq | Op::In => true,
                Op::Ne | Op::NotIn => false,
                _ => return Err(bad(name, &format!("operator {:?} on a boolean", f.op))),
            };
            let match_true = wanted.contains(&true) == positive;
            let match_false = wanted.contains(&false) == positive;
            let c = match (match_true, match_false) {
                (true, true) => Cond::all().add(Expr::val(1).eq(1)),
                (false, false) => Cond::all().add(Expr::val(1).eq(0)),
                (true, false) => Cond::all().add(c),
                (false, true) => Cond::all().add(c.not()),
            };
            Ok(c)
        }
        Field::Col(e, ty) => {
            let vals: Vec<Option<sea_orm::Value>> = f
                .values
                .iter()
                .map(|v| value(name, ty, v))
                .collect::<Result<_, _>>()?;
            let has_null = vals.iter().any(Option::is_none);
            let non_null: Vec<sea_orm::Value> = vals.iter().flatten().cloned().collect();
            let one = || non_null.first().cloned().ok_or_else(|| bad(name, "null"));
            Ok(match f.op {
                Op::Eq | Op::In => {
                    let mut c = Cond::any();
                    if has_null {
                        c = c.add(e.clone().is_null());
                    }
                    if !non_null.is_empty() {
                        c = c.add(e.is_in(non_null));
                    }
                    c
                }
                Op::Ne | Op::NotIn => {
                    let mut c = Cond::all();
                    if has_null {
                        c = c.add(e.clone().is_not_null());
                    }
                    if !non_null.is_empty() {
                        c = c.add(
                            Cond::any()
                                .add(e.clone().is_not_in(non_null))
                                .add(e.is_null()),
                        );
                    }
                    c
                }
                Op::Lt => Cond::all().add(e.lt(one()?)),
                Op::Le => Cond::all().add(e.lte(one()?)),
                Op::Gt => Cond::all().add(e.gt(one()?)),
                Op::Ge => Cond::all().add(e.gte(one()?)),
                Op::Contains => {
                    let mut c = Cond::any();
                    for v in &f.values {
                        let pat = format!(
                            "%{}%",
                            v.replace('\\', "\\\\")
                                .replace('%', "\\%")
                                .replace('_', "\\_")
                        );
                        c = c.add(
                            e.clone()
                                .like(sea_orm::sea_query::LikeExpr::new(pat).escape('\\')),
                        );
                    }
                    c
                }
            })
        }
    }
}

/// Apply `q` to `sel`; `lookup` maps REST field names of `resource` to SQL; `default_order`
/// is the id column (ascending) used last for a stable order.
pub(crate) fn apply<E: EntityTrait>(
    mut sel: Select<E>,
    q: &Query,
    resource: &'static str,
    lookup: impl Fn(&str) -> Option<Field>,
    default_order: Expr,
) -> Result<Select<E>, DbError> {
    let unknown = |field: &str| DbError::UnknownField {
        resource,
        field: field.to_owned(),
    };
    for f in &q.filters {
        let field = lookup(&f.field).ok_or_else(|| unknown(&f.field))?;
        sel = sel.filter(condition(f, field)?);
    }
    for (name, desc) in &q.order {
        let e = match lookup(name).ok_or_else(|| unknown(name))? {
            Field::Col(e, _) | Field::Cond(e) => e,
        };
        sel = sel.order_by(e, if *desc { Order::Desc } else { Order::Asc });
    }
    sel = sel.order_by(default_order, Order::Asc);
    if let Some(l) = q.limit {
        sel = sel.limit(l);
    }
    if let Some(o) = q.offset {
        if q.limit.is_none() {
            sel = sel.limit(i64::MAX as u64);
        }
        sel = sel.offset(o);
    }
    Ok(sel)
}

/// `Expr::col((Entity, Column))` shorthand.
pub(crate) fn col<E: EntityTrait, C: sea_orm::ColumnTrait>(e: E, c: C) -> Expr {
    Expr::col((e, c))
}
