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
    /// Where the server secret (the password pepper) lives when `YIBAO_SECRET` is not set.
    pub secret_file: Option<PathBuf>,
    /// Other deployments (cross-region treatment), from `[[peers]]`.
    pub peers: Vec<PeerConfig>,
    /// Where the public reaches the server (`https://…` behind a TLS proxy: secure cookies,
    /// HSTS).
    pub public_url: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Where notifications are delivered, from `[[webhooks]]`.
    pub webhooks: Vec<yibao_server::webhooks::WebhookSettings>,
}

/// A peer deployment: the region it holds, its URL, the secret shared with it.
#[derive(Clone)]
pub struct PeerConfig {
    pub admdvs: String,
    pub url: Option<String>,
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for PeerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConfig").field("admdvs", &self.admdvs).field("url", &self.url).finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PeerFile {
    admdvs: String,
    url: Option<String>,
    /// The shared secret itself, or
    secret: Option<String>,
    /// the name of an environment variable holding it.
    secret_env: Option<String>,
}

/// A webhook: `name`, `url` (https://), `secret` or `secret_env`, and optionally `kinds`,
/// `from` ("newest", the default, or "start"), `ca_file`, `insecure`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookFile {
    name: String,
    url: String,
    secret: Option<String>,
    secret_env: Option<String>,
    kinds: Option<Vec<String>>,
    from: Option<String>,
    ca_file: Option<PathBuf>,
    insecure: Option<bool>,
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
    secret_file: Option<PathBuf>,
    peers: Option<Vec<PeerFile>>,
    webhooks: Option<Vec<WebhookFile>>,
    public_url: Option<String>,
    trusted_proxies: Option<Vec<String>>,
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
        let secret_file = env("YIBAO_SECRET_FILE").map(PathBuf::from).or(file.secret_file);
        let mut peers = Vec::new();
        for peer in file.peers.unwrap_or_default() {
            let secret = match (peer.secret, peer.secret_env) {
                (Some(secret), None) => secret,
                (None, Some(name)) => env(&name).ok_or_else(|| format!("peer {}: {name} is not set", peer.admdvs))?,
                _ => return Err(format!("peer {}: give exactly one of secret and secret_env", peer.admdvs)),
            };
            peers.push(PeerConfig { admdvs: peer.admdvs, url: peer.url, secret: secret.into_bytes() });
        }
        let public_url = env("YIBAO_PUBLIC_URL").or(file.public_url);
        if let Some(url) = &public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(format!("public_url {url:?} must start with https:// or http://"));
        }
        let proxies = match env("YIBAO_TRUSTED_PROXIES") {
            Some(list) => list.split(',').map(|item| item.trim().to_string()).filter(|item| !item.is_empty()).collect(),
            None => file.trusted_proxies.unwrap_or_default(),
        };
        let trusted_proxies = proxies
            .iter()
            .map(|text| text.parse().map_err(|_| format!("trusted_proxies: {text:?} is not an IP address")))
            .collect::<Result<Vec<std::net::IpAddr>, String>>()?;
        let mut webhooks = Vec::new();
        for hook in file.webhooks.unwrap_or_default() {
            let secret = match (hook.secret, hook.secret_env) {
                (Some(secret), None) => secret,
                (None, Some(name)) => env(&name).ok_or_else(|| format!("webhook {}: {name} is not set", hook.name))?,
                _ => return Err(format!("webhook {}: give exactly one of secret and secret_env", hook.name)),
            };
            let from_start = match hook.from.as_deref() {
                None | Some("newest") => false,
                Some("start") => true,
                Some(other) => {
                    return Err(format!("webhook {}: from {other:?} is not \"newest\" or \"start\"", hook.name));
                }
            };
            let settings = yibao_server::webhooks::WebhookSettings {
                name: hook.name,
                url: hook.url,
                secret: secret.into_bytes(),
                kinds: hook.kinds.unwrap_or_default(),
                from_start,
                ca_file: hook.ca_file,
                insecure: hook.insecure.unwrap_or(false),
            };
            // Checked now, so a bad hook stops the start-up with its reason.
            yibao_server::webhooks::Webhook::new(settings.clone())?;
            if webhooks.iter().any(|other: &yibao_server::webhooks::WebhookSettings| other.name == settings.name) {
                return Err(format!(
                    "webhook {}: two hooks with one name would share one place in the outbox",
                    settings.name
                ));
            }
            webhooks.push(settings);
        }
        Ok(Config { db, listen, policies, synchronous, secret_file, peers, public_url, trusted_proxies, webhooks })
    }
}

fn read(path: &Path) -> Result<File, String> {
    let text = std::fs::read_to_string(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    toml::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))
}

/// The server secret: `YIBAO_SECRET` (at least 32 characters), or the secret file; for a
/// SQLite database without either, a file beside the database, created on first start.
pub fn server_secret(config: &Config) -> Result<Vec<u8>, String> {
    if let Some(secret) = std::env::var("YIBAO_SECRET").ok().filter(|s| !s.is_empty()) {
        return Ok(secret.into_bytes());
    }
    let path = match &config.secret_file {
        Some(path) => path.clone(),
        None if config.db.starts_with("postgres") => {
            return Err("set YIBAO_SECRET or secret_file: a PostgreSQL deployment needs a server secret kept outside the database".into());
        }
        None => Path::new(&config.db).with_file_name("secret.key"),
    };
    if path.exists() {
        let text =
            std::fs::read_to_string(&path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        return Ok(text.trim().as_bytes().to_vec());
    }
    let secret: String = yibao_server::secret::token();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
    }
    write_private(&path, &secret).map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    tracing::info!(path = %path.display(), "created a new server secret");
    Ok(secret.into_bytes())
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::{Config, Overrides};

    fn load(text: &str) -> Result<Config, String> {
        let dir = std::env::temp_dir().join(format!("yibao-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.toml", text.len()));
        std::fs::write(&path, text).unwrap();
        let loaded = Config::load(Some(&path), Overrides::default(), false);
        let _ = std::fs::remove_file(&path);
        loaded
    }

    #[test]
    fn webhooks_are_read_and_checked_at_start_up() {
        let good = "[[webhooks]]\nname = \"sms\"\nurl = \"https://sms.example.cn/in\"\nsecret = \"0123456789abcdef\"\nkinds = [\"settlement\"]\nfrom = \"start\"\n";
        let config = load(good).unwrap();
        assert_eq!(config.webhooks.len(), 1);
        assert!(config.webhooks[0].from_start);
        let plain = load(&good.replace("https://", "http://")).unwrap_err();
        assert!(plain.contains("insecure = true"), "{plain}");
        let from = load(&good.replace("\"start\"", "\"yesterday\"")).unwrap_err();
        assert!(from.contains("yesterday"), "{from}");
        let both = load(&format!("{good}secret_env = \"X\"\n")).unwrap_err();
        assert!(both.contains("exactly one"), "{both}");
        let kind = load(&good.replace("\"settlement\"", "\"sms\"")).unwrap_err();
        assert!(kind.contains("not a notification kind"), "{kind}");
        let twice = load(&format!("{good}{good}")).unwrap_err();
        assert!(twice.contains("one name"), "{twice}");
    }
}
