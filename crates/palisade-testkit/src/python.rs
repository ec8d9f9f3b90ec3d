//! Finding a Python package for the checks that run an official provider
//! SDK against a fake server: those checks skip, saying why, where the
//! package is missing.

use std::process::Command;

/// The installed version of the Python package `name` (imported by that
/// name, its `__version__` read), or why it cannot be used: `python3` not
/// runnable, or the package not installed.
///
/// ```
/// // A name no one installs: the reason says so.
/// let reason = palisade_testkit::python::package_version("no_such_package_xyz").unwrap_err();
/// assert!(reason.contains("no_such_package_xyz") || reason.contains("python3"), "{reason}");
/// ```
pub fn package_version(name: &str) -> Result<String, String> {
    let script = format!("import {name}; print({name}.__version__)");
    match Command::new("python3").args(["-c", &script]).output() {
        Err(e) => Err(format!("python3 not runnable: {e}")),
        Ok(out) if !out.status.success() => {
            Err(format!("the `{name}` Python package is not installed"))
        }
        Ok(out) => Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned()),
    }
}
