//! Turns the inputs given on the command line into files: paths, folders and glob patterns.
//!
//! Shells usually expand patterns, but not on every platform or when quoted, so ingest
//! expands `*`, `?` (within one path component, not matching a leading `.`) and `**` (any
//! number of folders) itself. A folder stands for the input files under it.

use std::path::{Component, Path, PathBuf};

/// File extensions ingest reads when it walks a folder.
pub const INPUT_EXTENSIONS: [&str; 5] = ["json", "jsonl", "ndjson", "gz", "evtx"];

/// What one input stands for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Expanded {
    /// Files to read, sorted.
    Files(Vec<PathBuf>),
    /// A pattern or folder that gave no file; says why.
    Nothing(String),
}

/// Expands one input.
pub(crate) fn expand(input: &Path) -> Expanded {
    if input.is_dir() {
        let mut files = Vec::new();
        walk_dir(input, &mut files);
        files.sort();
        return if files.is_empty() {
            Expanded::Nothing(format!(
                "folder has no input files (*.{})",
                INPUT_EXTENSIONS.join(", *.")
            ))
        } else {
            Expanded::Files(files)
        };
    }
    let text = input.to_string_lossy();
    if input.exists() || !text.contains(['*', '?']) {
        // A missing plain path is reported when it is opened.
        return Expanded::Files(vec![input.to_path_buf()]);
    }
    let mut base = PathBuf::new();
    let mut pattern = Vec::new();
    for comp in input.components() {
        let s = comp.as_os_str().to_string_lossy();
        if pattern.is_empty() && !s.contains(['*', '?']) {
            base.push(comp);
        } else if let Component::Normal(_) = comp {
            pattern.push(s.into_owned());
        } else {
            return Expanded::Nothing(
                "pattern has a special folder after a wildcard".into(),
            );
        }
    }
    if base.as_os_str().is_empty() {
        base.push(".");
    }
    let mut files = Vec::new();
    glob_walk(&base, &pattern, &mut files);
    files.sort();
    files.dedup();
    if files.is_empty() {
        Expanded::Nothing("no file matches this pattern".into())
    } else {
        Expanded::Files(files)
    }
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

fn walk_dir(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if is_hidden(&path) {
            continue;
        }
        if path.is_dir() {
            walk_dir(&path, out);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| INPUT_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
        {
            out.push(path);
        }
    }
}

fn glob_walk(dir: &Path, pattern: &[String], out: &mut Vec<PathBuf>) {
    let Some((first, rest)) = pattern.split_first() else {
        if dir.is_file() {
            out.push(dir.to_path_buf());
        }
        return;
    };
    if first == "**" {
        // Zero folders, then one more level of `**`.
        glob_walk(dir, rest, out);
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && !is_hidden(&path) {
                glob_walk(&path, pattern, out);
            }
        }
        return;
    }
    if !first.contains(['*', '?']) {
        let next = dir.join(first);
        if next.exists() {
            glob_walk(&next, rest, out);
        }
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') && !first.starts_with('.') {
            continue;
        }
        if wildcard_match(first, name) {
            glob_walk(&entry.path(), rest, out);
        }
    }
}

/// Whether `name` matches `pattern`, where `*` is any run of characters and `?` one.
pub(crate) fn wildcard_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_a_shell() {
        assert!(wildcard_match("*.json", "a.json"));
        assert!(wildcard_match("*.json", ".json"));
        assert!(!wildcard_match("*.json", "a.json.gz"));
        assert!(wildcard_match("a?c*", "abcdef"));
        assert!(wildcard_match("*a*b*", "xxaxxbxx"));
        assert!(!wildcard_match("*a*b", "xxaxxbxx"));
        assert!(wildcard_match("*", ""));
    }

    #[test]
    fn patterns_folders_and_misses() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("x").join("y");
        std::fs::create_dir_all(&sub).expect("mkdir");
        for f in ["a.json", "b.jsonl", "c.txt", ".hidden.json"] {
            std::fs::write(dir.path().join(f), "").expect("write");
        }
        std::fs::write(sub.join("d.evtx"), "").expect("write");
        let Expanded::Files(files) = expand(&dir.path().join("*.json*")) else {
            panic!("files")
        };
        let names: Vec<_> = files.iter().filter_map(|p| p.file_name()).collect();
        assert_eq!(names, ["a.json", "b.jsonl"]);
        let Expanded::Files(files) = expand(&dir.path().join("**").join("*.evtx")) else {
            panic!("files")
        };
        assert_eq!(files, [sub.join("d.evtx")]);
        let Expanded::Files(files) = expand(dir.path()) else {
            panic!("files")
        };
        assert_eq!(files.len(), 3);
        assert!(matches!(
            expand(&dir.path().join("*.csv")),
            Expanded::Nothing(_)
        ));
        let missing = dir.path().join("missing.json");
        assert_eq!(expand(&missing), Expanded::Files(vec![missing]));
    }
}
