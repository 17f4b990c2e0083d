//! `huntsman hunt new NAME`: a new pack that runs as it is, to change into a hunter's
//! own (rare outbound rhythms scored by an isolation forest; see `template/`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::{Pack, RESERVED, builtin, catalog, is_hunt_name};

/// The template's files: `{{NAME}}` is the hunt's name, `{{PREFIX}}` its parameters'
/// prefix (`MY_HUNT`), `{{TABLE}}` its tables' prefix (`my_hunt`).
const TEMPLATE: &[(&str, &str)] = &[
    ("hunt.toml", include_str!("template/hunt.toml")),
    ("01_rhythms.sql", include_str!("template/01_rhythms.sql")),
    (
        "02_fit_forest.sql",
        include_str!("template/02_fit_forest.sql"),
    ),
    ("03_findings.sql", include_str!("template/03_findings.sql")),
];

/// The template's files for a hunt called `name`.
fn render(name: &str) -> Vec<(&'static str, String)> {
    let prefix = name.to_ascii_uppercase().replace('-', "_");
    let table = name.replace('-', "_");
    TEMPLATE
        .iter()
        .map(|(file, text)| {
            let text = text
                .replace("{{NAME}}", name)
                .replace("{{PREFIX}}", &prefix)
                .replace("{{TABLE}}", &table);
            (*file, text)
        })
        .collect()
}

/// Writes a new pack called `name` into `parent/name` and checks that it loads beside
/// the built-in packs. Returns its folder.
///
/// # Errors
/// A name that is not a hunt name, is taken by a built-in hunt or would clash with its
/// parameters; a folder that exists; a file that cannot be written.
pub fn new_pack(name: &str, parent: &Path) -> Result<PathBuf> {
    if !is_hunt_name(name) {
        bail!(
            "hunt new {name:?}: a name is lower-case letters, digits and '-', starts with a \
             letter, and is not {}",
            RESERVED.join(" or ")
        );
    }
    let builtins = builtin()?;
    if builtins.iter().any(|p| p.name == name) {
        bail!(
            "hunt new {name}: a built-in hunt has that name; to change it, copy it with \
             `huntsman hunt --export DIR` and run the copy with --pack"
        );
    }
    let files = render(name);
    let toml = &files[0].1;
    let find = |f: &str| Ok(files.iter().find(|(n, _)| *n == f).map(|(_, t)| t.clone()));
    let pack = Pack::parse(name, toml, super::Source::Builtin, find)
        .with_context(|| format!("internal: the template for {name} does not load"))?;
    catalog(builtins.iter().chain([&pack]))
        .with_context(|| format!("hunt new {name}: choose another name"))?;
    let dir = parent.join(name);
    std::fs::create_dir_all(parent)
        .with_context(|| format!("creating {}", parent.display()))?;
    std::fs::create_dir(&dir)
        .with_context(|| format!("creating {} (it must not exist yet)", dir.display()))?;
    for (file, text) in &files {
        let path = dir.join(file);
        std::fs::write(&path, text)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_pack_loads_and_names_its_parameters_after_the_hunt() {
        let dir = tempfile::tempdir().unwrap();
        let made = new_pack("rare-rhythm", dir.path()).unwrap();
        let pack = Pack::load(&made).unwrap();
        assert_eq!(pack.name, "rare-rhythm");
        assert!(
            pack.parameters
                .iter()
                .all(|p| p.name.starts_with("RARE_RHYTHM_"))
        );
        assert_eq!(pack.phases.len(), 3);
        // A second scaffold never overwrites the first.
        let again = new_pack("rare-rhythm", dir.path()).unwrap_err();
        assert!(
            format!("{again:#}").contains("must not exist yet"),
            "{again:#}"
        );
    }

    #[test]
    fn names_that_are_taken_or_malformed_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for (name, needle) in [
            ("c2-beacon", "built-in hunt"),
            ("all", "lower-case"),
            ("Bad Name", "lower-case"),
            ("../escape", "lower-case"),
        ] {
            let err = new_pack(name, dir.path()).unwrap_err();
            assert!(format!("{err:#}").contains(needle), "{name}: {err:#}");
        }
    }
}
