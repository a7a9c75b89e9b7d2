//! Stamps the git commit the binary is built from into `llmsweep --version`
//! (`LLMSWEEP_GIT_COMMIT`): `git rev-parse` of the source tree, no network; `unknown` when the
//! source is not a git checkout (a crate tarball) or git is missing.

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=LLMSWEEP_GIT_COMMIT={commit}");
    // A new commit (or a checkout) changes HEAD or the ref it points to.
    for path in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
