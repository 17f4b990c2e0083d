//! Embeds the built-in hunt packs: every folder of the repository's `hunts/` becomes an
//! entry `(folder, [(file, text)])` of `$OUT_DIR/builtin_packs.rs`, read by
//! `hunt::pack`. Adding a pack is adding a folder; nothing here names one.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let manifest =
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let hunts = Path::new(&manifest).join("../hunts");
    println!("cargo:rerun-if-changed={}", hunts.display());
    let mut packs: Vec<_> = std::fs::read_dir(&hunts)
        .unwrap_or_else(|e| panic!("reading {}: {e}", hunts.display()))
        .map(|e| e.expect("a folder entry").path())
        .filter(|p| p.is_dir())
        .collect();
    packs.sort();
    let mut out = String::from("&[\n");
    for pack in &packs {
        println!("cargo:rerun-if-changed={}", pack.display());
        let name = pack
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a UTF-8 folder name");
        let mut files: Vec<_> = std::fs::read_dir(pack)
            .unwrap_or_else(|e| panic!("reading {}: {e}", pack.display()))
            .map(|e| e.expect("a file entry").path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        writeln!(out, "    ({name:?}, &[").expect("write to a String");
        for file in &files {
            println!("cargo:rerun-if-changed={}", file.display());
            let file_name = file
                .file_name()
                .and_then(|n| n.to_str())
                .expect("a UTF-8 file name");
            let path = file.canonicalize().expect("an existing file");
            writeln!(
                out,
                "        ({file_name:?}, include_str!({:?})),",
                path.display().to_string()
            )
            .expect("write to a String");
        }
        out.push_str("    ]),\n");
    }
    out.push(']');
    let target = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("builtin_packs.rs");
    std::fs::write(&target, out)
        .unwrap_or_else(|e| panic!("writing {}: {e}", target.display()));
}
