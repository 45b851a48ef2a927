//! The insurance catalogue held in memory: item code to its entries by validity.

use std::collections::HashMap;

use yibao_domain::Date;

use crate::records::CatalogueEntry;

/// The catalogue (医保目录), read-only while commands run. Small enough to hold whole (the
/// national catalogue has about 100 000 items).
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    entries: HashMap<String, Vec<CatalogueEntry>>,
    count: usize,
}

impl Catalogue {
    pub fn new(entries: impl IntoIterator<Item = CatalogueEntry>) -> Catalogue {
        let mut catalogue = Catalogue::default();
        for entry in entries {
            catalogue.insert(entry);
        }
        catalogue
    }

    /// Adds or replaces the entry with the same code and begin date.
    pub fn insert(&mut self, entry: CatalogueEntry) {
        let versions = self.entries.entry(entry.code.clone()).or_default();
        match versions.iter_mut().find(|existing| existing.begin == entry.begin) {
            Some(existing) => *existing = entry,
            None => {
                versions.push(entry);
                versions.sort_by_key(|e| e.begin);
                self.count += 1;
            }
        }
    }

    /// The entry for `code` valid on `day`.
    pub fn lookup(&self, code: &str, day: Date) -> Option<&CatalogueEntry> {
        self.entries.get(code)?.iter().rev().find(|entry| entry.begin <= day && day <= entry.end)
    }

    /// Every entry, ordered by code then begin date.
    pub fn entries(&self) -> Vec<&CatalogueEntry> {
        let mut all: Vec<&CatalogueEntry> = self.entries.values().flatten().collect();
        all.sort_by(|a, b| (&a.code, a.begin).cmp(&(&b.code, b.begin)));
        all
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}
