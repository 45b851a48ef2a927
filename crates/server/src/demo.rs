//! Loading the demo dataset (`DEMO.md`) into a fresh database, exactly once.

use yibao_engine::records::{Credential, CredentialKind};
use yibao_engine::{Submission, demo};
use yibao_store::Store;

use crate::Secrets;

/// The `meta` key marking which dataset a database holds.
const DATASET_KEY: &str = "dataset";
const DEMO: &str = "demo";

/// What [`ensure`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoState {
    /// The database was empty; the demo is now loaded.
    Loaded,
    /// The database already held the demo; nothing was changed.
    AlreadyThere,
}

/// Loads the demo into an empty database, accepts a database that holds it, and refuses any
/// other database (so `--demo` never mixes demo data into real data).
///
/// # Errors
/// A sentence saying why, for the operator.
pub async fn ensure(store: &Store, secrets: &Secrets) -> Result<DemoState, String> {
    ensure_region(store, secrets, None).await
}

/// As [`ensure`], for one deployment of two: only `region`'s institutions and persons (see
/// [`demo::commands_for`]).
///
/// # Errors
/// A sentence saying why, for the operator.
pub async fn ensure_region(store: &Store, secrets: &Secrets, region: Option<&str>) -> Result<DemoState, String> {
    let dataset = match region {
        None => DEMO.to_string(),
        Some(region) => format!("{DEMO}-{region}"),
    };
    let (marker, empty) = store
        .read(|r| Ok((r.meta(DATASET_KEY)?, r.is_empty()?)))
        .await
        .map_err(|error| format!("cannot read the database: {error}"))?;
    match (marker.as_deref(), empty) {
        (Some(marker), _) if marker == dataset => {
            for command in demo::upkeep(region) {
                store
                    .submit(Submission { envelope: None, command })
                    .await
                    .map_err(|error| format!("cannot keep the demo up to date: {}", error.en))?;
            }
            Ok(DemoState::AlreadyThere)
        }
        (_, true) => {
            for command in demo::commands_for(region) {
                store
                    .submit(Submission { envelope: None, command })
                    .await
                    .map_err(|error| format!("cannot load the demo: {}", error.en))?;
            }
            for credential in credentials(store, secrets, region).await? {
                store
                    .execute(yibao_app::access::put_credential(credential, demo::ACTOR.to_string()))
                    .await
                    .map_err(|error| format!("cannot load the demo credentials: {}", error.en))?;
            }
            store.set_meta(DATASET_KEY, &dataset).await.map_err(|error| format!("cannot mark the demo: {error}"))?;
            Ok(DemoState::Loaded)
        }
        (other, false) => Err(format!(
            "{} holds other data ({}); --demo loads only into an empty database or one that holds the demo",
            store.location(),
            other.map_or_else(|| "no dataset marker".to_string(), |marker| format!("dataset {marker:?}"))
        )),
    }
}

/// The demo's passwords and PINs (DEMO.md): every person's portal password `Demo@2026`
/// except 赵敏, who has only the initial password (ID digits 12–17, to be changed at first
/// use); every card's PIN `147258`; the operator `admin` with the privileged role and the
/// operator `reviewer` with the reviewer role.
async fn credentials(store: &Store, secrets: &Secrets, region: Option<&str>) -> Result<Vec<Credential>, String> {
    let secrets = secrets.clone();
    let region = region.map(str::to_string);
    let now = store.now();
    tokio::task::spawn_blocking(move || {
        let password = secrets.hash(demo::PASSWORD);
        let pin = secrets.hash(demo::CARD_PIN);
        let mut credentials = Vec::new();
        let credential = |subject: String, kind, hash: String, must_change, roles: Vec<String>| Credential {
            subject,
            kind,
            hash,
            must_change,
            failures: 0,
            locked_until: None,
            roles,
            updated_at: now,
        };
        for (index, person) in demo::PERSONS.iter().enumerate() {
            if region.as_deref().is_some_and(|region| region != person.admdvs) {
                continue;
            }
            let psn_no = demo::person_number(index);
            let portal = match person.never_logged_in {
                true => {
                    let id: yibao_domain::IdNumber = person.id_number.parse().expect("demo ID numbers are valid");
                    credential(psn_no, CredentialKind::Portal, secrets.hash(id.initial_password()), true, Vec::new())
                }
                false => credential(psn_no, CredentialKind::Portal, password.clone(), false, Vec::new()),
            };
            credentials.push(portal);
            credentials.push(credential(
                person.card_no.to_string(),
                CredentialKind::CardPin,
                pin.clone(),
                false,
                Vec::new(),
            ));
        }
        credentials.push(credential(
            demo::OPERATOR.to_string(),
            CredentialKind::Operator,
            password.clone(),
            false,
            vec!["operator".to_string(), crate::rest::PRIVILEGED.to_string()],
        ));
        // A second operator who reviews what others propose (payouts: four eyes).
        credentials.push(credential(
            demo::REVIEWER.to_string(),
            CredentialKind::Operator,
            password,
            false,
            vec!["operator".to_string(), crate::rest::REVIEWER.to_string()],
        ));
        credentials
    })
    .await
    .map_err(|error| format!("cannot hash the demo credentials: {error}"))
}
