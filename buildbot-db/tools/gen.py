# Generates entity modules and PG/MySQL DDL from the SQLite DDL of Buildbot 4.3.
# Run once: python3 tools/gen.py (output checked in; re-run only if the schema changes).
import re, sys, os
HERE = os.path.dirname(__file__)
# a copy of the real Buildbot 4.3 dump (spec/fixtures/schema-sqlite.sql)
SRC = os.path.join(HERE, '..', 'tests', 'fixtures', 'schema-sqlite.sql')
OUT = os.path.join(HERE, '..', 'src')
sql = open(SRC).read()
stmts = [s.strip() for s in sql.split(';') if s.strip()]
tables = {}
order = []
indexes = []
for s in stmts:
    m = re.match(r'CREATE TABLE (\w+) \((.*)\)$', s, re.S)
    if m:
        name = m.group(1); body = m.group(2)
        cols = []; pk = []; fks = []; pkname = None
        for line in [l.strip().rstrip(',').strip() for l in body.split('\n') if l.strip()]:
            mm = re.match(r'(CONSTRAINT (\w+) )?PRIMARY KEY \(([^)]*)\)', line)
            if mm:
                pk = [c.strip() for c in mm.group(3).split(',')]; pkname = mm.group(2); continue
            mm = re.match(r'(CONSTRAINT (\w+) )?FOREIGN KEY\((\w+)\) REFERENCES (\w+) \((\w+)\) ON DELETE (CASCADE|SET NULL)', line)
            if mm:
                fks.append(dict(name=mm.group(2), col=mm.group(3), rt=mm.group(4), rc=mm.group(5), act=mm.group(6))); continue
            mm = re.match(r'(\w+) (INTEGER|SMALLINT|TEXT|BLOB|VARCHAR\(\d+\))( DEFAULT (\'[^\']*\'))?( NOT NULL)?$', line)
            assert mm, line
            cols.append(dict(name=mm.group(1), type=mm.group(2), default=mm.group(4), notnull=bool(mm.group(5))))
        tables[name] = dict(cols=cols, pk=pk, fks=fks, pkname=pkname, sqlite=s)
        order.append(name)
        continue
    m = re.match(r'CREATE (UNIQUE )?INDEX (\w+) ON (\w+) \(([^)]*)\)', s)
    assert m, s
    indexes.append(dict(unique=bool(m.group(1)), name=m.group(2), table=m.group(3), cols=[c.strip() for c in m.group(4).split(',')], sqlite=s))

LOGICAL_PK = {
 'build_properties': ['buildid','name'], 'buildset_properties': ['buildsetid','property_name'],
 'change_properties': ['changeid','property_name'], 'change_files': ['changeid','filename'],
 'change_users': ['changeid','uid'], 'logchunks': ['logid','first_line'], 'object_state': ['objectid','name'],
 'scheduler_changes': ['schedulerid','changeid'], 'users_info': ['uid','attr_type'], 'buildrequest_claims': ['brid'],
}
I32 = {('masters','active'), ('buildrequests','complete'), ('builds','results'), ('steps','results'), ('scheduler_changes','important')}
CODEBASE = ['codebases', 'codebase_commits', 'codebase_branches']

def is_serial(t):
    tb = tables[t]
    if len(tb['pk']) != 1: return False
    c = tb['pk'][0]
    col = [x for x in tb['cols'] if x['name'] == c][0]
    if col['type'] != 'INTEGER': return False
    return not any(f['col'] == c for f in tb['fks'])

def rust_ty(t, c):
    ty = c['type']
    if ty == 'INTEGER': r = 'i32' if (t, c['name']) in I32 else 'i64'
    elif ty == 'SMALLINT': r = 'i16'
    elif ty == 'BLOB': r = 'Vec<u8>'
    else: r = 'String'
    return r if c['notnull'] else f'Option<{r}>'

# ---------------- entities
mods = []
for t in sorted(order):
    tb = tables[t]
    pk = tb['pk'] or LOGICAL_PK[t]
    lines = [f'//! Entity for table `{t}`.', '', 'use sea_orm::entity::prelude::*;', '',
             '/// One row of `%s`.' % t,
             '#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]',
             f'#[sea_orm(table_name = "{t}")]', 'pub struct Model {']
    for c in tb['cols']:
        attrs = []
        if c['name'] in pk:
            attrs.append('primary_key')
            if not (len(pk) == 1 and is_serial(t)): attrs.append('auto_increment = false')
        field = c['name']
        if field == 'type':
            attrs.append('column_name = "type"'); field = 'log_type'
        lines.append(f'    /// Column `{c["name"]}`.')
        if attrs: lines.append(f'    #[sea_orm({", ".join(attrs)})]')
        lines.append(f'    pub {field}: {rust_ty(t, c)},')
    lines += ['}', '', '/// No relations are declared; joins are written explicitly.',
              '#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]', 'pub enum Relation {}', '',
              'impl ActiveModelBehavior for ActiveModel {}', '']
    open(os.path.join(OUT, 'entities', f'{t}.rs'), 'w').write('\n'.join(lines))
    mods.append(t)
mod = ['//! sea-orm entities, one module per table of Buildbot 4.3 (`spec/data-model.md`).', '//!',
       '//! Tables without a primary key get the logical composite key suggested by the spec in the',
       '//! entity only; the physical DDL is the one of `schema-sqlite.sql`.', '#![allow(missing_docs)]', '']
for t in mods: mod.append(f'pub mod {t};')
open(os.path.join(OUT, 'entities', 'mod.rs'), 'w').write('\n'.join(mod) + '\n')

# ---------------- DDL per backend
def ddl(backend, which):
    out = []
    fk_out = []
    q = (lambda s: f'"{s}"') if backend == 'pg' else ((lambda s: f'`{s}`') if backend == 'mysql' else (lambda s: s))
    sel = [t for t in order if (t in CODEBASE) == (which == 'codebases')]
    for t in sel:
        tb = tables[t]
        if backend == 'sqlite':
            out.append(tb['sqlite'])
        else:
            parts = []
            serial = is_serial(t)
            for c in tb['cols']:
                ty = c['type']
                if ty == 'INTEGER':
                    if backend == 'pg':
                        ty = 'INTEGER' if (t, c['name']) in I32 else 'BIGINT'
                        if serial and c['name'] == tb['pk'][0]: ty = 'BIGSERIAL'
                    else:
                        ty = 'INTEGER'
                elif ty == 'BLOB':
                    ty = 'BYTEA' if backend == 'pg' else ('LONGBLOB' if t == 'build_data' else 'MEDIUMBLOB')
                s = f'{q(c["name"])} {ty}'
                if c['default'] is not None: s += f' DEFAULT {c["default"]}'
                if c['notnull']: s += ' NOT NULL'
                if backend == 'mysql' and serial and c['name'] == tb['pk'][0]: s += ' AUTO_INCREMENT'
                parts.append(s)
            if tb['pk']:
                cn = f'CONSTRAINT {q(tb["pkname"])} ' if tb['pkname'] else ''
                parts.append(f'{cn}PRIMARY KEY ({", ".join(q(c) for c in tb["pk"])})')
            tail = ' ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin' if backend == 'mysql' else ''
            out.append(f'CREATE TABLE {q(t)} (\n\t' + ', \n\t'.join(parts) + f'\n){tail}')
            for i, f in enumerate(tb['fks']):
                name = f['name'] or (f'{t}_{f["col"]}_fkey' if backend == 'pg' else f'{t}_ibfk_{i+1}')
                fk_out.append(f'ALTER TABLE {q(t)} ADD CONSTRAINT {q(name)} FOREIGN KEY({q(f["col"])}) REFERENCES {q(f["rt"])} ({q(f["rc"])}) ON DELETE {f["act"]}')
        for ix in indexes:
            if ix['table'] != t: continue
            if backend == 'sqlite': out.append(ix['sqlite']); continue
            cols = []
            for c in ix['cols']:
                col = [x for x in tb['cols'] if x['name'] == c][0]
                cols.append(q(c) + ('(255)' if backend == 'mysql' and col['type'] == 'TEXT' else ''))
            u = 'UNIQUE ' if ix['unique'] else ''
            out.append(f'CREATE {u}INDEX {q(ix["name"])} ON {q(t)} ({", ".join(cols)})')
    return ';\n'.join(out + fk_out) + ';\n'

for b in ['sqlite', 'pg', 'mysql']:
    for w in ['base', 'codebases']:
        open(os.path.join(OUT, 'migrations', 'sql', f'{w}.{b}.sql'), 'w').write(ddl(b, w))
print(len(order), 'tables', len(indexes), 'indexes')
