//! A table of the working set: rows loaded from the store, changed in memory, with an undo log
//! for per-command savepoints and the list of rows to write back.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

/// Rows by key. A key maps to `Some(row)`, or to `None` when the store was asked and has no
/// such row; a key not in the map was never asked for.
#[derive(Debug)]
pub struct Table<K, V> {
    rows: HashMap<K, Option<V>>,
    /// Previous state of each change, newest last: (key, previous row, was it dirty before).
    undo: Vec<(K, Option<V>, bool)>,
    dirty: Vec<K>,
    dirty_set: HashSet<K>,
}

impl<K: Eq + Hash + Clone, V: Clone> Default for Table<K, V> {
    fn default() -> Self {
        Table { rows: HashMap::new(), undo: Vec::new(), dirty: Vec::new(), dirty_set: HashSet::new() }
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Table<K, V> {
    /// `None` when the key was never loaded; `Some(None)` when it is known to be absent.
    pub fn get(&self, key: &K) -> Option<Option<&V>> {
        self.rows.get(key).map(Option::as_ref)
    }

    pub fn is_loaded(&self, key: &K) -> bool {
        self.rows.contains_key(key)
    }

    /// Records what the store holds for `key`. Keeps a row already changed in memory.
    pub fn loaded(&mut self, key: K, row: Option<V>) {
        self.rows.entry(key).or_insert(row);
    }

    /// Sets the row for `key`, remembering the previous one for rollback.
    pub fn put(&mut self, key: K, row: V) {
        self.change(key, Some(row));
    }

    /// A mutable reference to an existing row; the change is recorded as by [`Table::put`].
    pub fn modify(&mut self, key: &K) -> Option<&mut V> {
        let previous = self.rows.get(key)?.as_ref()?.clone();
        let was_dirty = self.dirty_set.contains(key);
        self.undo.push((key.clone(), Some(previous), was_dirty));
        if !was_dirty {
            self.dirty_set.insert(key.clone());
            self.dirty.push(key.clone());
        }
        self.rows.get_mut(key).and_then(Option::as_mut)
    }

    fn change(&mut self, key: K, row: Option<V>) {
        let previous = self.rows.insert(key.clone(), row).flatten();
        let was_dirty = self.dirty_set.contains(&key);
        self.undo.push((key.clone(), previous, was_dirty));
        if !was_dirty {
            self.dirty_set.insert(key.clone());
            self.dirty.push(key);
        }
    }

    pub fn savepoint(&self) -> usize {
        self.undo.len()
    }

    /// Undoes every change made after `savepoint`.
    pub fn rollback(&mut self, savepoint: usize) {
        while self.undo.len() > savepoint {
            let (key, previous, was_dirty) = self.undo.pop().expect("len > savepoint");
            self.rows.insert(key.clone(), previous);
            if !was_dirty {
                self.dirty_set.remove(&key);
                let last = self.dirty.pop();
                debug_assert!(last.as_ref() == Some(&key), "dirty keys are undone in reverse order");
            }
        }
    }

    /// The rows changed since the table was made, in the order they were first changed, with
    /// their final state (`None`: delete).
    pub fn changes(&self) -> Vec<(K, Option<V>)> {
        self.dirty.iter().map(|key| (key.clone(), self.rows.get(key).cloned().flatten())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_restores_rows_and_dirtiness() {
        let mut table: Table<u8, &str> = Table::default();
        table.loaded(1, Some("a"));
        table.loaded(2, None);
        table.put(1, "b");
        let savepoint = table.savepoint();
        table.put(1, "c");
        table.put(2, "x");
        table.put(1, "d");
        table.rollback(savepoint);
        assert_eq!(table.get(&1), Some(Some(&"b")));
        assert_eq!(table.get(&2), Some(None));
        assert_eq!(table.changes(), vec![(1, Some("b"))]);
        table.rollback(0);
        assert!(table.changes().is_empty());
        assert_eq!(table.get(&1), Some(Some(&"a")));
    }
}
