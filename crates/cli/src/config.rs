//! Configuration: defaults, then `yibao.toml` (or `--config`), then `YIBAO_*` environment
//! variables, then command-line flags; the later wins.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use yibao_store::Synchronous;

/// The default database of `serve`.
const DEFAULT_DB: &str = "./yibao-data/yibao.db";
/// The demo's own database: `--demo` never touches the default one.
const DEMO_DB: &str = "./yibao-data/demo.db";
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, Clone)]
pub struct Config {
    pub db: String,
    pub listen: String,
    pub policies: Vec<PathBuf>,
    pub synchronous: Synchronous,
}

/// What the command line says.
#[derive(Debug, Default)]
pub struct Overrides {
    pub db: Option<String>,
    pub listen: Option<String>,
    pub policies: Vec<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    db: Option<String>,
    listen: Option<String>,
    policies: Option<Vec<PathBuf>>,
    /// "full" (default) or "normal".
    synchronous: Option<String>,
}

fn synchronous(text: &str, source: &str) -> Result<Synchronous, String> {
    match text {
        "full" | "FULL" => Ok(Synchronous::Full),
        "normal" | "NORMAL" => Ok(Synchronous::Normal),
        other => Err(format!("{source}: synchronous {other:?} is not \"full\" or \"normal\"")),
    }
}

impl Config {
    pub fn load(path: Option<&Path>, overrides: Overrides, demo: bool) -> Result<Config, String> {
        let file = match path {
            Some(path) => Some(read(path)?),
            None if Path::new("yibao.toml").exists() && !demo => Some(read(Path::new("yibao.toml"))?),
            None => None,
        }
        .unwrap_or_default();
        let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let default_db = if demo { DEMO_DB } else { DEFAULT_DB };
        let db = overrides.db.or_else(|| env("YIBAO_DB")).or(file.db).unwrap_or_else(|| default_db.to_string());
        let listen = overrides
            .listen
            .or_else(|| env("YIBAO_LISTEN"))
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let policies = match overrides.policies.is_empty() {
            false => overrides.policies,
            true => match env("YIBAO_POLICIES") {
                Some(list) => list.split(',').map(|p| PathBuf::from(p.trim())).collect(),
                None => file.policies.unwrap_or_default(),
            },
        };
        let synchronous = match (env("YIBAO_SYNCHRONOUS"), file.synchronous) {
            (Some(text), _) => synchronous(&text, "YIBAO_SYNCHRONOUS")?,
            (None, Some(text)) => synchronous(&text, "configuration file")?,
            (None, None) => Synchronous::Full,
        };
        Ok(Config { db, listen, policies, synchronous })
    }
}

fn read(path: &Path) -> Result<File, String> {
    let text = std::fs::read_to_string(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    toml::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))
}
