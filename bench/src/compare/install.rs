//! Finds PostgreSQL with PostGIS and pg_trgm on this machine, installing them from Debian's
//! packages when missing (`apt-get`, through `sudo` unless this process is root).
//!
//! pg_trgm, btree_gist and fuzzystrmatch ship with the server package (Debian's
//! `postgresql-NN`); PostGIS is `postgresql-NN-postgis-3`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use tracing::info;

/// A PostgreSQL installation: its major version and where its programs are.
#[derive(Debug, Clone)]
pub struct Installation {
    /// Major version (15 on Debian 12).
    pub major: u32,
    /// `/usr/lib/postgresql/{major}/bin`.
    pub bin: PathBuf,
}

impl Installation {
    /// The path of one of its programs (`initdb`, `pg_ctl`, `postgres`).
    pub fn program(&self, name: &str) -> PathBuf {
        self.bin.join(name)
    }
}

const LIB: &str = "/usr/lib/postgresql";
const SHARE: &str = "/usr/share/postgresql";

/// Installed server majors, newest first.
fn servers() -> Vec<u32> {
    let mut majors: Vec<u32> = std::fs::read_dir(LIB)
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .filter(|m: &u32| Path::new(LIB).join(format!("{m}/bin/postgres")).is_file())
                .collect()
        })
        .unwrap_or_default();
    majors.sort_unstable_by(|a, b| b.cmp(a));
    majors
}

/// Whether extension `name` can be created: its control file, and the library it names
/// (`module_pathname = '$libdir/...'`). A removed PostGIS package leaves the control file
/// behind (it belongs to the `-scripts` package), so the file alone proves nothing.
fn has_extension(major: u32, name: &str) -> bool {
    let control = Path::new(SHARE).join(format!("{major}/extension/{name}.control"));
    let Ok(text) = std::fs::read_to_string(control) else {
        return false;
    };
    let module = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("module_pathname"))
        .filter_map(|rest| rest.split('\'').nth(1))
        .next();
    match module.and_then(|m| m.strip_prefix("$libdir/")) {
        Some(lib) => Path::new(LIB)
            .join(format!("{major}/lib/{lib}.so"))
            .is_file(),
        None => true,
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .is_some_and(|s| s.trim() == "0")
}

fn apt_get(packages: &[String]) -> Result<()> {
    let sudo = !is_root();
    let run = |args: &[&str]| -> Result<()> {
        let mut cmd = if sudo {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        } else {
            Command::new("apt-get")
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        let status = cmd
            .status()
            .with_context(|| format!("running apt-get {}", args.join(" ")))?;
        if !status.success() {
            bail!("apt-get {} failed ({status})", args.join(" "));
        }
        Ok(())
    };
    info!(packages = %packages.join(" "), sudo, "installing from Debian's packages");
    run(&["update", "-qq"])?;
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(packages.iter().map(String::as_str));
    run(&args)
}

/// The newest installed PostgreSQL that has PostGIS, pg_trgm, btree_gist and
/// fuzzystrmatch, installing the server and PostGIS first when they are missing.
pub fn ensure() -> Result<Installation> {
    if servers().is_empty() {
        apt_get(&["postgresql".into(), "postgresql-contrib".into()])?;
    }
    let major = *servers()
        .first()
        .context("no PostgreSQL server under /usr/lib/postgresql after installing it")?;
    if !has_extension(major, "postgis") {
        apt_get(&[format!("postgresql-{major}-postgis-3")])?;
    }
    for extension in ["postgis", "pg_trgm", "btree_gist", "fuzzystrmatch"] {
        if !has_extension(major, extension) {
            bail!(
                "PostgreSQL {major} has no {extension} extension under {SHARE}/{major}/extension"
            );
        }
    }
    Ok(Installation {
        major,
        bin: Path::new(LIB).join(format!("{major}/bin")),
    })
}

/// Whether the programs of this process must run as the `postgres` system user (the server
/// refuses to run as root).
pub fn as_postgres_user() -> bool {
    is_root()
}
