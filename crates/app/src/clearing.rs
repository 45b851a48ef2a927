//! Reconciliation's files: what an institution uploads (9101) and the detail file it sends to be
//! checked (3202) are kept the same way.

use yibao_domain::InstitutionCode;
use yibao_engine::commands::StoreFile;

/// Keeps a file an institution sent.
pub fn store_file(institution: InstitutionCode, filename: String, content: Vec<u8>) -> StoreFile {
    StoreFile { institution, filename, content }
}
