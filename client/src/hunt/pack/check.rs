//! Checks of a pack before anything runs, each naming the file and line at fault:
//! - [`plan_order`]: the phases form a plan (one findings phase, last; names, tables,
//!   models and placeholders unique and well formed);
//! - [`sql_files`]: every `${NAME}` in a phase's SQL is a parameter or an earlier phase's
//!   value, and every table it reads is `events` or an earlier phase's table;
//! - [`plans`]: every phase plans against an empty `events` table of the lake schema,
//!   fits return a model, values a number, and the findings hold the declared columns.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::MemTable;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{
    Query, Spanned as _, Statement, TableFactor, Visit, Visitor,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;

use super::{Pack, Step, is_name, is_placeholder};
use crate::hunt::params::{Params, globals};

/// The table every hunt reads: the mapped events.
pub const EVENTS: &str = "events";

/// The phases form a plan: at least one, exactly one findings phase and it is the last;
/// phase names, tables, models and placeholders unique and well formed.
///
/// # Errors
/// The first fault, named by `hunt.toml` line.
pub fn plan_order(pack: &Pack, label: &str) -> Result<()> {
    let at = |line: usize| format!("{label}/hunt.toml:{line}");
    let Some(last) = pack.phases.last() else {
        bail!("{label}/hunt.toml: no [[phase]]: a hunt needs at least a findings phase");
    };
    if last.step != Step::Findings {
        bail!(
            "{}: the last phase, '{}', is not the findings phase (kind = \"findings\")",
            at(last.line),
            last.name
        );
    }
    let params: BTreeSet<String> = pack
        .parameters
        .iter()
        .map(|p| p.name.clone())
        .chain(globals().into_iter().map(|g| g.name))
        .collect();
    let (mut names, mut tables, mut models, mut placeholders) = (
        BTreeSet::new(),
        BTreeSet::new(),
        BTreeSet::new(),
        BTreeSet::new(),
    );
    let findings_last = pack.phases.len() - 1;
    for (i, phase) in pack.phases.iter().enumerate() {
        let here = at(phase.line);
        if !names.insert(phase.name.as_str()) {
            bail!("{here}: a second phase named '{}'", phase.name);
        }
        match &phase.step {
            Step::Findings if i != findings_last => {
                bail!(
                    "{here}: phase '{}' is a findings phase before the last",
                    phase.name
                )
            }
            Step::Findings => {}
            Step::Table { table, .. } => {
                if !is_name(table, '_') || table == EVENTS {
                    bail!(
                        "{here}: table {table:?} must be lower-case letters, digits and '_', \
                         and not {EVENTS}"
                    );
                }
                if !tables.insert(table.as_str()) {
                    bail!("{here}: table {table} is made by an earlier phase too");
                }
            }
            Step::Fit { model, placeholder } => {
                if !is_name(model, '_') {
                    bail!(
                        "{here}: model {model:?} must be lower-case letters, digits and '_'"
                    );
                }
                if !models.insert(model.as_str()) {
                    bail!("{here}: model {model} is trained by an earlier phase too");
                }
                check_placeholder(&here, placeholder, &params, &mut placeholders)?;
            }
            Step::Value { placeholder } => {
                check_placeholder(&here, placeholder, &params, &mut placeholders)?;
            }
        }
    }
    Ok(())
}

fn check_placeholder(
    here: &str,
    placeholder: &str,
    params: &BTreeSet<String>,
    seen: &mut BTreeSet<String>,
) -> Result<()> {
    if !is_placeholder(placeholder) {
        bail!(
            "{here}: placeholder {placeholder:?} must be upper-case letters, digits and '_'"
        );
    }
    if params.contains(placeholder) {
        bail!("{here}: placeholder {placeholder} is the name of a parameter");
    }
    if !seen.insert(placeholder.to_string()) {
        bail!("{here}: placeholder {placeholder} is set by an earlier phase too");
    }
    Ok(())
}

/// One `${NAME}` in a SQL text: its name and 1-based line.
pub fn placeholders(sql: &str) -> std::result::Result<Vec<(String, usize)>, usize> {
    let mut found = Vec::new();
    let mut rest = sql;
    let mut offset = 0;
    while let Some(start) = rest.find("${") {
        let line = super::line_of(sql, offset + start);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(line);
        };
        found.push((after[..end].to_string(), line));
        offset += start + 2 + end + 1;
        rest = &after[end + 1..];
    }
    Ok(found)
}

/// Every `${NAME}` in each phase's SQL is a parameter of the pack, a CLI setting or a
/// value an earlier phase made; every table a phase reads is `events`, an earlier phase's
/// table, or a name the statement itself defines (a `WITH` query).
///
/// # Errors
/// The first fault, named by SQL file and line.
pub fn sql_files(pack: &Pack, label: &str) -> Result<()> {
    let mut known: BTreeSet<String> = pack
        .parameters
        .iter()
        .map(|p| p.name.clone())
        .chain(globals().into_iter().map(|g| g.name))
        .collect();
    let mut tables: Vec<String> = vec![EVENTS.to_string()];
    for phase in &pack.phases {
        let text = pack.file(&phase.sql)?;
        let file = format!("{label}/{}", phase.sql);
        let found = placeholders(text).map_err(|line| {
            anyhow::anyhow!("{file}:{line}: '${{' is never closed by '}}'")
        })?;
        for (name, line) in &found {
            if !known.contains(name) {
                bail!(
                    "{file}:{line}: ${{{name}}} is neither a parameter of the pack nor the \
                     value of an earlier phase"
                );
            }
        }
        // Placeholders become numbers: the statement still parses where a value stood.
        let mut plain = text.to_string();
        for (name, _) in &found {
            plain = plain.replace(&format!("${{{name}}}"), "0");
        }
        let statements = DFParser::parse_sql_with_dialect(&plain, &GenericDialect {})
            .map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
        if statements.is_empty() {
            bail!("{file}: holds no SQL statement");
        }
        for statement in &statements {
            let DfStatement::Statement(statement) = statement else {
                continue;
            };
            let mut reads = Reads::default();
            let _ = statement.visit(&mut reads);
            if let Statement::CreateView(view) = statement.as_ref() {
                tables.push(view.name.to_string().to_ascii_lowercase());
            }
            for (table, line) in reads.tables {
                if !tables.contains(&table) && !reads.defined.contains(&table) {
                    bail!(
                        "{file}:{line}: phase '{}' reads table {table}, which no earlier \
                         phase makes (it may read {})",
                        phase.name,
                        tables.join(", ")
                    );
                }
            }
        }
        match &phase.step {
            Step::Table { table, .. } => tables.push(table.clone()),
            Step::Fit { placeholder, .. } | Step::Value { placeholder } => {
                known.insert(placeholder.clone());
            }
            Step::Findings => {}
        }
    }
    Ok(())
}

/// The tables a statement reads (name, line) and the names it defines itself.
#[derive(Default)]
struct Reads {
    tables: Vec<(String, usize)>,
    defined: BTreeSet<String>,
}

impl Visitor for Reads {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.defined.insert(ident_name(&cte.alias.name));
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table {
            name, args: None, ..
        } = factor
            && let Some(last) = name.0.last().and_then(|p| p.as_ident())
        {
            let line = usize::try_from(name.span().start.line).unwrap_or(0);
            self.tables.push((ident_name(last), line));
        }
        ControlFlow::Continue(())
    }
}

/// An identifier as DataFusion resolves it: quoted names keep their case.
fn ident_name(ident: &datafusion::sql::sqlparser::ast::Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_ascii_lowercase()
    }
}

/// Plans every phase of `pack` against an empty `events` table of the lake schema, with
/// the values of `params`: fits must return a model (a binary column), values a number,
/// and the findings must hold every column `hunt.toml` declares. Nothing runs on data.
///
/// # Errors
/// A phase that does not plan, or a result of the wrong shape, named by file and line.
pub async fn plans(pack: &Pack, params: &Params) -> Result<()> {
    let label = pack.label();
    let ctx = SessionContext::new();
    huntsman_udfs::register_all_on_context(&ctx);
    let schema = crate::schema::lake_schema();
    let events = MemTable::try_new(schema.clone(), vec![vec![]])?;
    ctx.register_table(EVENTS, Arc::new(events))?;
    let mut extra = BTreeMap::new();
    for phase in &pack.phases {
        let file = format!("{label}/{}", phase.sql);
        let sql = params
            .render(pack.file(&phase.sql)?, &extra)
            .with_context(|| file.clone())?;
        let df = plan_last(&ctx, &sql).await.map_err(|e| {
            // DataFusion nests its causes and lists the valid fields on lines of their
            // own: the innermost cause, on one line, says what is wrong.
            let cause = e.root_cause().to_string();
            let cause = cause.split_whitespace().collect::<Vec<_>>().join(" ");
            anyhow::anyhow!("{file}: phase '{}' does not plan: {cause}", phase.name)
        })?;
        let fields = df.schema().fields().clone();
        let first = fields.first().map(|f| f.data_type().clone());
        match &phase.step {
            Step::Table { table, .. } => {
                ctx.register_table(table, df.into_view())?;
            }
            Step::Fit { placeholder, .. } => {
                if !matches!(first, Some(DataType::Binary | DataType::LargeBinary)) {
                    bail!(
                        "{file}: fit phase '{}' must return the model (one binary column), \
                         not {}",
                        phase.name,
                        describe(first.as_ref())
                    );
                }
                extra.insert(
                    placeholder.clone(),
                    "'model-of-an-earlier-phase.hntm'".into(),
                );
            }
            Step::Value { placeholder } => {
                if !first
                    .as_ref()
                    .is_some_and(|t| t.is_numeric() || t.is_integer())
                {
                    bail!(
                        "{file}: value phase '{}' must return a number, not {}",
                        phase.name,
                        describe(first.as_ref())
                    );
                }
                extra.insert(placeholder.clone(), "1".into());
            }
            Step::Findings => check_findings(pack, &label, &file, &df)?,
        }
    }
    Ok(())
}

fn describe(t: Option<&DataType>) -> String {
    t.map_or("no column".to_string(), |t| t.to_string())
}

/// Plans the statements of `sql`; all but the last run (on empty tables) so that a view
/// one defines is there for the next.
async fn plan_last(ctx: &SessionContext, sql: &str) -> Result<DataFrame> {
    let statements = DFParser::parse_sql(sql)?;
    let count = statements.len();
    let mut last = None;
    for (i, statement) in statements.into_iter().enumerate() {
        let plan = ctx.state().statement_to_plan(statement).await?;
        let df = ctx.execute_logical_plan(plan).await?;
        if i + 1 < count {
            df.collect().await?;
        } else {
            last = Some(df);
        }
    }
    last.context("holds no SQL statement")
}

fn check_findings(pack: &Pack, label: &str, file: &str, df: &DataFrame) -> Result<()> {
    let schema = df.schema();
    let made: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let lines = &pack.lines;
    let declared = pack
        .entity
        .iter()
        .map(|c| ("findings.entity", c, lines.entity))
        .chain([
            ("findings.score", &pack.score, lines.score),
            ("findings.flag", &pack.flag, lines.flag),
        ])
        .chain(
            pack.display
                .iter()
                .map(|c| ("findings.display", c, lines.display)),
        );
    for (what, column, line) in declared {
        if !made.contains(&column.as_str()) {
            bail!(
                "{label}/hunt.toml:{line}: {what} names {column}, which the findings \
                 ({file}) do not hold; they hold {}",
                made.join(", ")
            );
        }
    }
    let type_of = |name: &str| {
        schema
            .field_with_unqualified_name(name)
            .map(|f| f.data_type().clone())
    };
    if let Ok(t) = type_of(&pack.flag)
        && t != DataType::Boolean
    {
        bail!(
            "{label}/hunt.toml:{}: findings.flag {} is {t} in {file}, not boolean",
            lines.flag,
            pack.flag
        );
    }
    if let Ok(t) = type_of(&pack.score)
        && !t.is_numeric()
    {
        bail!(
            "{label}/hunt.toml:{}: findings.score {} is {t} in {file}, not a number",
            lines.score,
            pack.score
        );
    }
    Ok(())
}
