//! Hunt packs: a hunt is a folder holding `hunt.toml` (what it looks for, its unit and
//! keys, typed parameters, ATT&CK ids, the ordered phases) and the SQL file of each
//! phase. The built-in hunts are packs in the repository's `hunts/` folder, embedded in
//! the binary; `huntsman hunt --pack DIR` runs a hunter's own. The format is documented
//! in `docs/packs.md`.
//!
//! A pack is checked before anything runs: [`Pack::parse`] checks the declaration and
//! each SQL file's placeholders and tables (see [`check`]); [`check::plans`] plans every
//! phase against an empty events table and checks the findings' declared columns.

pub mod check;
mod raw;
pub mod scaffold;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use toml::Spanned;

use super::params::{ParamSpec, globals};
use raw::{RawPack, is_attack_id, param_spec, phase};

/// Largest `hunt.toml` or SQL file a pack may hold.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// The built-in packs, as `(folder, [(file, text)])`, generated from `hunts/` at build
/// time.
const BUILTIN: &[(&str, &[(&str, &str)])] =
    include!(concat!(env!("OUT_DIR"), "/builtin_packs.rs"));

/// Where a pack came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Embedded in this binary from the repository's `hunts/<name>/`.
    Builtin,
    /// A folder given with `--pack`.
    Folder(PathBuf),
}

/// One step of a hunt's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Materialise the rows of a SQL file as a table later steps read.
    Table {
        /// Table name.
        table: String,
        /// When set, zero rows ends the hunt with an empty result and this explanation
        /// (later steps would have nothing to train or score on).
        empty: Option<String>,
    },
    /// Train a model; its stored location becomes `${placeholder}`.
    Fit {
        /// Model name (file `<model>.hntm`).
        model: String,
        /// Placeholder later SQL uses for the model's location.
        placeholder: String,
    },
    /// A single number becomes `${placeholder}`.
    Value {
        /// Placeholder.
        placeholder: String,
    },
    /// The findings: every scored entity with its evidence (the last step).
    Findings,
}

/// A phase: a named step and the SQL file it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// Name shown and timed.
    pub name: String,
    /// Its SQL file, relative to the pack.
    pub sql: String,
    /// What it does with the rows.
    pub step: Step,
    /// Line of its `[[phase]]` in `hunt.toml`.
    pub line: usize,
}

/// Line numbers in `hunt.toml` of the declarations checked against the findings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lines {
    /// `findings.entity`.
    pub entity: usize,
    /// `findings.score`.
    pub score: usize,
    /// `findings.flag`.
    pub flag: usize,
    /// `findings.display`.
    pub display: usize,
}

/// A loaded and checked hunt pack.
#[derive(Debug, Clone)]
pub struct Pack {
    /// The hunt's name (`huntsman hunt NAME`, the results folder).
    pub name: String,
    /// A short title.
    pub title: String,
    /// What one finding is (`account-week`, `process`, ...): evaluation keys the ground
    /// truth at this unit.
    pub unit: String,
    /// What the hunt looks for, and why that finds it.
    pub hypothesis: String,
    /// The MITRE ATT&CK technique ids every finding carries.
    pub attack: Vec<String>,
    /// Columns of `events` it reads (mapped with `--columns`/`--profile`).
    pub columns: Vec<String>,
    /// Columns identifying an entity in the findings.
    pub entity: Vec<String>,
    /// Ranking score column.
    pub score: String,
    /// Boolean column: the hunt's decision.
    pub flag: String,
    /// Columns printed in the terminal.
    pub display: Vec<String>,
    /// Its parameters.
    pub parameters: Vec<ParamSpec>,
    /// The plan.
    pub phases: Vec<Phase>,
    /// Its SQL files: name → text.
    pub files: BTreeMap<String, String>,
    /// Where it came from.
    pub source: Source,
    /// Where its declarations are, for messages.
    pub lines: Lines,
}

/// Names a hunt cannot take: `huntsman hunt all` and `huntsman hunt new` mean something
/// else.
const RESERVED: &[&str] = &["all", "new"];

/// Whether `s` is a name of lower-case letters, digits and `sep`, starting with a letter.
fn is_name(s: &str, sep: char) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == sep)
        && s.len() <= 64
}

/// Whether `s` can name a hunt: lower-case letters, digits and `-`, starting with a
/// letter, not `all` or `new`.
pub fn is_hunt_name(s: &str) -> bool {
    is_name(s, '-') && !RESERVED.contains(&s)
}

/// Whether `s` is an upper-case placeholder name (`C2_KMEANS_K`).
pub fn is_placeholder(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= 64
}

/// 1-based line of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    let before = &text.as_bytes()[..offset.min(text.len())];
    before.iter().filter(|b| **b == b'\n').count() + 1
}

impl Pack {
    /// The built-in packs, parsed and checked once.
    ///
    /// # Errors
    /// A built-in pack that does not load (a bug the tests catch).
    pub fn builtin_named(name: &str) -> Result<&'static Pack> {
        builtin()?
            .iter()
            .find(|p| p.name == name)
            .with_context(|| format!("no built-in hunt {name}"))
    }

    /// Loads and checks the pack in folder `dir`.
    ///
    /// # Errors
    /// The folder or a file cannot be read, or the pack is not valid; the message names
    /// the file and line.
    pub fn load(dir: &Path) -> Result<Self> {
        let manifest = dir.join("hunt.toml");
        if !dir.is_dir() {
            bail!("pack {}: not a folder", dir.display());
        }
        let toml = read_capped(&manifest)?;
        let label = dir.display().to_string();
        let source = Source::Folder(dir.to_path_buf());
        Self::parse(&label, &toml, source, |file| {
            let path = dir.join(file);
            match path.metadata() {
                Ok(m) if m.is_file() => read_capped(&path).map(Some),
                Ok(_) => bail!("{}: not a file", path.display()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
            }
        })
    }

    /// Parses and checks a pack from its `hunt.toml` text; `read` returns a SQL file's
    /// text (`None` when the pack has no such file). `label` names the pack's folder in
    /// messages.
    ///
    /// # Errors
    /// The pack is not valid; the message names the file and line.
    pub fn parse(
        label: &str,
        toml_text: &str,
        source: Source,
        mut read: impl FnMut(&str) -> Result<Option<String>>,
    ) -> Result<Self> {
        let at =
            |offset: usize| format!("{label}/hunt.toml:{}", line_of(toml_text, offset));
        let raw: RawPack = toml::from_str(toml_text).map_err(|e| {
            let line = e.span().map_or(0, |s| line_of(toml_text, s.start));
            anyhow::anyhow!("{label}/hunt.toml:{line}: {}", e.message().trim())
        })?;
        let name = raw.name.get_ref().clone();
        if !is_hunt_name(&name) {
            bail!(
                "{}: name {name:?} must be lower-case letters, digits and '-', start with a \
                 letter, and not be {}",
                at(raw.name.span().start),
                RESERVED.join(" or ")
            );
        }
        if raw.unit.get_ref().trim().is_empty() {
            bail!("{}: unit is empty", at(raw.unit.span().start));
        }
        for id in &raw.attack {
            if !is_attack_id(id.get_ref()) {
                bail!(
                    "{}: {:?} is not an ATT&CK technique id (T1234 or T1234.001)",
                    at(id.span().start),
                    id.get_ref()
                );
            }
        }
        if raw.columns.is_empty() {
            bail!(
                "{label}/hunt.toml: columns is empty: list the events columns the hunt reads"
            );
        }
        let mut parameters = Vec::with_capacity(raw.parameters.len());
        for spanned in &raw.parameters {
            let spec = param_spec(spanned.get_ref(), &name)
                .with_context(|| at(spanned.span().start))?;
            if parameters.iter().any(|p: &ParamSpec| p.name == spec.name) {
                bail!(
                    "{}: parameter {} is declared twice",
                    at(spanned.span().start),
                    spec.name
                );
            }
            parameters.push(spec);
        }
        let mut phases = Vec::with_capacity(raw.phases.len());
        for spanned in &raw.phases {
            let line = line_of(toml_text, spanned.span().start);
            let phase = phase(spanned.get_ref(), line)
                .with_context(|| format!("{label}/hunt.toml:{line}"))?;
            phases.push(phase);
        }
        let findings = &raw.findings;
        let lines = Lines {
            entity: line_of(toml_text, findings.entity.span().start),
            score: line_of(toml_text, findings.score.span().start),
            flag: line_of(toml_text, findings.flag.span().start),
            display: findings
                .display
                .as_ref()
                .map_or(0, |d| line_of(toml_text, d.span().start)),
        };
        if findings.entity.get_ref().is_empty() {
            bail!(
                "{label}/hunt.toml:{}: findings.entity is empty",
                lines.entity
            );
        }
        let mut files = BTreeMap::new();
        for phase in &phases {
            if files.contains_key(&phase.sql) {
                continue;
            }
            let Some(text) = read(&phase.sql)? else {
                bail!(
                    "{label}/hunt.toml:{}: phase '{}' runs {}, which the pack does not hold",
                    phase.line,
                    phase.name,
                    phase.sql
                );
            };
            files.insert(phase.sql.clone(), text);
        }
        let pack = Self {
            name,
            title: raw.title,
            unit: raw.unit.into_inner(),
            hypothesis: raw.hypothesis.trim().to_string(),
            attack: raw.attack.into_iter().map(Spanned::into_inner).collect(),
            columns: raw.columns.into_iter().map(Spanned::into_inner).collect(),
            entity: raw.findings.entity.into_inner(),
            score: raw.findings.score.into_inner(),
            flag: raw.findings.flag.into_inner(),
            display: raw
                .findings
                .display
                .map(Spanned::into_inner)
                .unwrap_or_default(),
            parameters,
            phases,
            files,
            source,
            lines,
        };
        check::plan_order(&pack, label)?;
        check::sql_files(&pack, label)?;
        Ok(pack)
    }

    /// The text of one of the pack's SQL files.
    ///
    /// # Errors
    /// No such file (a phase names every file the pack loaded).
    pub fn file(&self, name: &str) -> Result<&str> {
        self.files
            .get(name)
            .map(String::as_str)
            .with_context(|| format!("internal: no SQL file {name} in {}", self.name))
    }

    /// The pack's folder for messages: `hunts/<name>` for a built-in one.
    pub fn label(&self) -> String {
        match &self.source {
            Source::Builtin => format!("hunts/{}", self.name),
            Source::Folder(dir) => dir.display().to_string(),
        }
    }

    /// The files of this pack that differ from the built-in pack of the same name (all of
    /// them, when there is none), for the run manifest.
    pub fn changed_files(&self) -> Vec<String> {
        let builtin = builtin()
            .ok()
            .and_then(|b| b.iter().find(|p| p.name == self.name));
        let mut changed: Vec<String> = self
            .files
            .iter()
            .filter(|(name, text)| {
                builtin.and_then(|b| b.files.get(*name)) != Some(*text)
            })
            .map(|(name, _)| name.clone())
            .collect();
        if builtin.is_some_and(|b| !same_declaration(b, self)) {
            changed.insert(0, "hunt.toml".to_string());
        }
        changed
    }

    /// Writes this pack's `hunt.toml` and SQL files into a new folder `dir`.
    ///
    /// # Errors
    /// `dir` exists, or a file cannot be written.
    pub fn export(&self, dir: &Path, toml_text: &str) -> Result<()> {
        std::fs::create_dir_all(dir.parent().unwrap_or(Path::new(".")))
            .with_context(|| format!("creating {}", dir.display()))?;
        std::fs::create_dir(dir).with_context(|| {
            format!("creating {} (it must not exist yet)", dir.display())
        })?;
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text)
                .with_context(|| format!("writing {}", path.display()))
        };
        write("hunt.toml", toml_text)?;
        for (name, text) in &self.files {
            write(name, text)?;
        }
        Ok(())
    }
}

/// Whether two packs declare the same hunt (all but their files and source).
fn same_declaration(a: &Pack, b: &Pack) -> bool {
    a.unit == b.unit
        && a.attack == b.attack
        && a.columns == b.columns
        && a.entity == b.entity
        && a.score == b.score
        && a.flag == b.flag
        && a.display == b.display
        && a.parameters == b.parameters
        && a.phases
            .iter()
            .map(|p| (&p.name, &p.sql, &p.step))
            .eq(b.phases.iter().map(|p| (&p.name, &p.sql, &p.step)))
}

fn read_capped(path: &Path) -> Result<String> {
    let meta = path
        .metadata()
        .with_context(|| format!("reading {}", path.display()))?;
    if meta.len() > MAX_FILE_BYTES {
        bail!(
            "{}: {} bytes, more than a pack file may hold ({MAX_FILE_BYTES})",
            path.display(),
            meta.len()
        );
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// The CLI's settings and every parameter the built-in hunt packs declare.
///
/// # Errors
/// A built-in pack that does not load (a bug caught by the tests).
pub fn builtin_catalog() -> Result<Vec<ParamSpec>> {
    catalog(builtin()?)
}

/// The CLI's settings and every parameter `packs` declare, in pack order. Two packs may
/// declare the same parameter (the AD hunts share their week bucket) only alike.
///
/// # Errors
/// A parameter declared by two packs with a different type or default.
pub fn catalog<'a>(packs: impl IntoIterator<Item = &'a Pack>) -> Result<Vec<ParamSpec>> {
    let mut specs = globals();
    for pack in packs {
        for declared in &pack.parameters {
            match specs.iter_mut().find(|s| s.name == declared.name) {
                Some(known) if known.hunts.is_empty() => bail!(
                    "{}/hunt.toml: parameter {} is a setting of the CLI; name it otherwise",
                    pack.label(),
                    declared.name
                ),
                Some(known)
                    if known.kind != declared.kind
                        || known.default != declared.default =>
                {
                    bail!(
                        "{}/hunt.toml: parameter {} is also declared by {} with another type \
                         or default; rename one of them",
                        pack.label(),
                        declared.name,
                        known.hunts.join(", ")
                    )
                }
                Some(known) => {
                    if !known.hunts.contains(&pack.name) {
                        known.hunts.push(pack.name.clone());
                    }
                }
                None => specs.push(declared.clone()),
            }
        }
    }
    Ok(specs)
}

/// The built-in packs, parsed and checked once.
///
/// # Errors
/// A built-in pack that does not load (a bug the tests catch).
pub fn builtin() -> Result<&'static [Pack]> {
    static PACKS: OnceLock<std::result::Result<Vec<Pack>, String>> = OnceLock::new();
    PACKS
        .get_or_init(|| {
            BUILTIN
                .iter()
                .map(|(folder, files)| {
                    let find = |name: &str| {
                        files.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
                    };
                    let toml = find("hunt.toml").unwrap_or_default();
                    let label = format!("hunts/{folder}");
                    Pack::parse(&label, toml, Source::Builtin, |f| {
                        Ok(find(f).map(String::from))
                    })
                    .map_err(|e| format!("built-in pack: {e:#}"))
                })
                .collect()
        })
        .as_deref()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// The `hunt.toml` text of built-in pack `name`.
pub fn builtin_toml(name: &str) -> Option<&'static str> {
    BUILTIN
        .iter()
        .find(|(folder, _)| *folder == name)
        .and_then(|(_, files)| files.iter().find(|(n, _)| *n == "hunt.toml"))
        .map(|(_, text)| *text)
}

#[cfg(test)]
mod tests;
