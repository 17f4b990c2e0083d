//! Real Arrow clients from PyPI (pyarrow, the ADBC Flight SQL driver) in a virtual
//! environment, for the Flight SQL tests.
//!
//! The interpreter is `$HUNTSMAN_PYTHON`, else `$HOME/.cache/huntsman/venv/bin/python`,
//! which is created (`python3 -m venv`, `pip install -r tests/python/requirements.txt`,
//! once per machine) when it is missing or lacks the clients; `.ci/run` creates it up
//! front.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// `tests/python` in the source tree.
pub fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python")
}

fn has_clients(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import pyarrow.flight, adbc_driver_flightsql.dbapi"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The interpreter with the clients, creating the virtual environment when needed.
///
/// # Errors
/// `$HUNTSMAN_PYTHON` lacks the clients, or creating the environment fails; the message
/// says how to create it by hand.
pub fn python() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("HUNTSMAN_PYTHON") {
        let path = PathBuf::from(path);
        if !has_clients(&path) {
            bail!(
                "HUNTSMAN_PYTHON={} cannot import pyarrow.flight and adbc_driver_flightsql: \
                 pip install -r tests/python/requirements.txt",
                path.display()
            );
        }
        return Ok(path);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let venv = home.join(".cache/huntsman/venv");
    let python = venv.join("bin/python");
    static CREATE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _once = CREATE.lock().unwrap_or_else(|p| p.into_inner());
    if has_clients(&python) {
        return Ok(python);
    }
    eprintln!(
        "creating the Python clients' environment in {}",
        venv.display()
    );
    let requirements = python_dir().join("requirements.txt");
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .context("running python3 -m venv")?;
    let installed = made.success()
        && Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "-r"])
            .arg(&requirements)
            .status()
            .context("running pip install")?
            .success();
    if !installed || !has_clients(&python) {
        bail!(
            "could not create {} with the Arrow clients; create it by hand: python3 -m venv \
             {0} && {0}/bin/pip install -r {1}",
            venv.display(),
            requirements.display()
        );
    }
    Ok(python)
}

/// Runs `tests/python/<script>` with `args`, killed after `limit`.
///
/// # Errors
/// No interpreter, or the script cannot be started or runs past `limit`.
pub fn run_script(script: &str, args: &[String], limit: Duration) -> Result<Output> {
    let python = python()?;
    let mut child = Command::new(&python)
        .arg(python_dir().join(script))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {} {script}", python.display()))?;
    // Read both pipes while waiting, so a chatty script cannot block on a full pipe.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let err = stderr.join().unwrap_or_default();
            bail!(
                "{script} {} ran past {limit:?}; stderr:\n{}",
                args.first().map_or("", String::as_str),
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}
