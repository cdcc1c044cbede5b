//! Locating the workspace binaries the tests run.
//!
//! `env!("CARGO_BIN_EXE_<name>")` exists only for binaries of the package under test, and this
//! crate tests binaries of other packages. Guessing a path next to the test executable would
//! run a stale binary when only the test was rebuilt. So the harness asks cargo itself, once per
//! test process: `cargo build -p <package> --bin <name> --message-format=json` with the cargo
//! that runs the tests (`$CARGO`) and the same profile, and takes the `executable` path cargo
//! reports. That is a no-op when the binary is fresh, and always runs the current code.
//! `LEDGER_TEST_BIN_<NAME>` (e.g. `LEDGER_TEST_BIN_LEDGER_NODE`) overrides the lookup with a
//! prebuilt binary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// One line of cargo's JSON messages, reduced to what the lookup reads.
#[derive(Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    target: Option<Target>,
    #[serde(default)]
    executable: Option<PathBuf>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

fn cache() -> &'static Mutex<HashMap<String, PathBuf>> {
    static CACHE: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The path of the binary `name` of workspace package `package`, built if needed.
///
/// # Errors
/// When cargo fails to build it or reports no executable.
pub fn binary(package: &str, name: &str) -> Result<PathBuf> {
    let variable = format!("LEDGER_TEST_BIN_{}", name.to_uppercase().replace('-', "_"));
    if let Some(path) = std::env::var_os(&variable) {
        return Ok(PathBuf::from(path));
    }
    // Holding the lock while building keeps parallel tests from racing to build.
    let mut cache = cache()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(path) = cache.get(name) {
        return Ok(path.clone());
    }
    let path = build(package, name)?;
    cache.insert(name.to_owned(), path.clone());
    Ok(path)
}

fn build(package: &str, name: &str) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--message-format=json-render-diagnostics",
            "-p",
            package,
            "--bin",
            name,
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let output = command
        .output()
        .with_context(|| format!("running cargo to build {name}"))?;
    if !output.status.success() {
        bail!(
            "cargo build of {package}/{name} failed ({}); see its output above",
            output.status
        );
    }
    executable_in(&output.stdout, name)
        .with_context(|| format!("cargo built {package} but reported no executable {name}"))
}

fn executable_in(messages: &[u8], name: &str) -> Option<PathBuf> {
    messages
        .split(|byte| *byte == b'\n')
        .filter_map(|line| serde_json::from_slice::<Message>(line).ok())
        .filter(|message| message.reason == "compiler-artifact")
        .filter(|message| {
            message
                .target
                .as_ref()
                .is_some_and(|target| target.name == name && target.kind.iter().any(|k| k == "bin"))
        })
        .find_map(|message| message.executable)
}
